package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// maxBaselineSize bounds the baseline file read into memory.
const maxBaselineSize = 256 << 20

// LoadBaseline reads an earlier report written with --format json.
func LoadBaseline(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBaselineSize+1))
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	if len(data) > maxBaselineSize {
		return nil, fmt.Errorf("baseline %s: larger than %d MiB; is it a report?", path, maxBaselineSize>>20)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("baseline %s: not a JSON report (pycore report --format json): %w", path, err)
	}
	if r.Format != ReportFormat {
		return nil, fmt.Errorf("baseline %s: format is %q, want %q (write it with pycore report --format json)", path, r.Format, ReportFormat)
	}
	if r.Version != ReportVersion {
		return nil, fmt.Errorf("baseline %s: report version %d, this pycore writes version %d: signatures are not comparable", path, r.Version, ReportVersion)
	}
	for i, g := range r.Groups {
		if g == nil || g.Signature.Text == "" {
			return nil, fmt.Errorf("baseline %s: group %d has no signature text", path, i+1)
		}
	}
	r.Baseline = path
	return &r, nil
}

// Comparable says whether the baseline's signatures were made the way o
// makes them; groups of different depths or line settings never match.
func (b *Report) Comparable(o SignatureOptions) error {
	depth := o.Depth
	if depth <= 0 {
		depth = DefaultDepth
	}
	if b.SignatureDepth != depth {
		return fmt.Errorf("baseline %s was made with --signature-depth %d, this run uses %d: signatures are not comparable", b.Baseline, b.SignatureDepth, depth)
	}
	if b.WithLines != o.WithLines {
		return fmt.Errorf("baseline %s was made with --with-lines=%t, this run uses %t: signatures are not comparable", b.Baseline, b.WithLines, o.WithLines)
	}
	return nil
}

// markNew flags the groups of rep whose signature base has no group of, and
// lists base's groups that rep lacks as Gone.
func markNew(rep, base *Report) {
	rep.Baseline = base.Baseline
	old := map[string]bool{}
	for _, g := range base.Groups {
		old[g.Signature.Text] = true
	}
	now := map[string]bool{}
	for _, g := range rep.Groups {
		now[g.Signature.Text] = true
		g.New = !old[g.Signature.Text]
	}
	for _, g := range base.Groups {
		if !now[g.Signature.Text] {
			gone := *g
			gone.New = false // it may have been new in the baseline's own run
			rep.Gone = append(rep.Gone, &gone)
		}
	}
}
