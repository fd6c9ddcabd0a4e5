package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pycore/pycore/report"
)

func init() { register(newReportCommand) }

// reportMemoryLimit is report's soft memory limit (GOMEMLIMIT overrides it).
const reportMemoryLimit = 80 << 20

// reportFormats are the --format values and what writes them.
var reportFormats = map[string]func(io.Writer, *report.Report) error{
	"table":    report.WriteTable,
	"json":     report.WriteJSON,
	"markdown": report.WriteMarkdown,
	"html":     report.WriteHTML,
	"jsonl":    nil, // written core by core while the run goes
}

func newReportCommand() *cobra.Command {
	var ff fileFlags
	var (
		format, output, glob, baseline string
		jobs, depth                    int
		withLines, noProgress          bool
	)
	cmd := &cobra.Command{
		Use:   "report PATH...",
		Short: "Group many cores by crash signature: how many distinct crashes, how often, where",
		Long: `Read many cores (or bundles from 'pycore pack', or compressed cores; directories
are searched recursively) and group them by crash signature: a table of groups
by count with the Python versions, first and last core time (file modification
time, UTC) and an example core of each, then each group's stack, ending with
the exception its thread was raising or handling, if any.

` + wrapText(report.Rule(report.SignatureOptions{}), 79) + `

--signature-depth sets how many frames count, --with-lines adds line numbers.
Each group shows its signature in full and which thread it came from.

Cores are read in parallel (-j), one open core per worker, closed before the
next, so memory stays flat however many there are. A file that cannot be read
is listed under "unreadable" with the reason; it never stops the batch. The
report is always written; pycore then exits 1 if a path named on the command
line does not exist or no core at all was readable, else 0. With -o the report is written to a
temporary file and renamed into place, so an interrupted run leaves none.
A progress bar is drawn on stderr when stderr is a terminal.

Formats: table (default; with -o, the one FILE's extension names: .html,
.json, .jsonl, .md), json (one document; --baseline reads it back),
jsonl (one line per core, in input order, as they are done), markdown, html
(one self-contained file: bar chart of counts, expandable stacks).
--baseline OLD.json marks the groups that OLD.json does not have as new.`,
		Example: `  pycore report /var/crash/cores
  pycore report --glob 'core.*' -j 4 dumps/ -o report.html --format html
  pycore report cores/ --format json -o today.json --baseline yesterday.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("format") && output != "" {
				format = formatFromExtension(output)
			}
			write, ok := reportFormats[format]
			if !ok {
				return fmt.Errorf("--format %q: want table, json, jsonl, markdown or html", format)
			}
			if depth < 1 {
				return fmt.Errorf("--signature-depth %d: want 1 or more", depth)
			}
			if jobs < 1 {
				return fmt.Errorf("--jobs %d: want 1 or more", jobs)
			}
			sopts, err := ff.options("")
			if err != nil {
				return err
			}
			opts := report.Options{Session: sopts, Jobs: jobs,
				Signature: report.SignatureOptions{Depth: depth, WithLines: withLines}}
			if baseline != "" {
				if opts.Baseline, err = report.LoadBaseline(baseline); err != nil {
					return err
				}
				if err := opts.Baseline.Comparable(opts.Signature); err != nil {
					return err
				}
			}
			inputs, err := report.Collect(args, glob)
			if err != nil {
				return err
			}
			if len(inputs) == 0 {
				return fmt.Errorf("no files found in %q (--glob %q)", args, glob)
			}

			// From here on an interrupt stops the run cleanly: no temporary file left.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			var file *report.AtomicFile
			if output != "" {
				if file, err = report.CreateAtomic(output); err != nil {
					return err
				}
				defer file.Abort() // no-op once committed
				out = file
			}
			if format == "jsonl" {
				lines := report.NewJSONLines(out)
				opts.OnCore = lines.Write
			}
			// JSON lines streamed to the terminal the bar is drawn on would be
			// interleaved with it; they show the progress themselves.
			streamsToTTY := format == "jsonl" && output == "" && isTerminalWriter(cmd.OutOrStdout())
			var bar *report.Progress
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && !noProgress && !streamsToTTY && isTerminal(f) {
				bar = report.NewProgress(f)
				opts.Progress = bar.Update
				defer bar.Finish()
			}

			if os.Getenv("GOMEMLIMIT") == "" {
				// A soft limit keeps the peak flat however many cores: without one
				// the collector's goal is twice the heap live at the last collection,
				// and one that ran while a zstd window (43 MiB) was live let garbage
				// pile up to twice that (corpus of 34 cores: 90 MiB; 300: 115 MiB;
				// with the limit 82 and 95 MiB, the CPU the same).
				debug.SetMemoryLimit(reportMemoryLimit)
			}
			rep, err := report.Run(ctx, inputs, opts)
			if bar != nil {
				bar.Finish() // before the report goes to the same terminal
			}
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return errors.New("interrupted: no report written")
				}
				return err
			}
			if write != nil {
				if err := write(out, rep); err != nil {
					return err
				}
			}
			if file != nil {
				if err := file.Commit(); err != nil {
					return err
				}
			}
			// The report is written whatever was found; the exit status says
			// whether the batch was what was asked for (as grep does for a
			// missing file it was given).
			return batchError(args, inputs, rep)
		},
	}
	ff.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "table", "output `FORMAT`: table, json, jsonl, markdown or html")
	fl.StringVarP(&output, "output", "o", "", "write the report to `FILE` (atomically) instead of stdout")
	fl.IntVarP(&jobs, "jobs", "j", runtime.NumCPU(), "read `N` cores at once")
	fl.StringVar(&glob, "glob", "", "in directories, read only files whose name matches `PATTERN` (e.g. 'core*'); named files are always read")
	fl.IntVar(&depth, "signature-depth", report.DefaultDepth, "put the innermost `N` Python frames in a signature")
	fl.BoolVar(&withLines, "with-lines", false, "put line numbers in signatures")
	fl.StringVar(&baseline, "baseline", "", "mark groups not in `OLD.json` (an earlier --format json report) as new")
	fl.BoolVar(&noProgress, "no-progress", false, "draw no progress bar, even on a terminal")
	return cmd
}

// formatFromExtension picks the report format that -o FILE's extension
// names, so that '-o report.html' is not a text table; else the default.
func formatFromExtension(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".html", ".htm":
		return "html"
	case ".json":
		return "json"
	case ".jsonl", ".ndjson":
		return "jsonl"
	case ".md", ".markdown":
		return "markdown"
	}
	return "table"
}

// batchError is the run's failure once its report is out: a path named on
// the command line that does not exist, or no readable core at all.
func batchError(args []string, inputs []report.Input, rep *report.Report) error {
	named := map[string]bool{}
	for _, a := range args {
		named[a] = true
	}
	var missing []string
	for _, in := range inputs {
		if named[in.Path] && errors.Is(in.Err, fs.ErrNotExist) {
			missing = append(missing, in.Path)
		}
	}
	switch {
	case len(missing) == 1:
		return fmt.Errorf("%s: no such file or directory (the other paths were reported)", missing[0])
	case len(missing) > 1:
		return fmt.Errorf("%d paths do not exist: %s (the other paths were reported)", len(missing), strings.Join(missing, ", "))
	case rep.Readable == 0:
		return fmt.Errorf("no readable core among the %d files (see \"unreadable\" in the report for why)", rep.Total)
	}
	return nil
}

// wrapText breaks text into lines of at most width columns at spaces.
func wrapText(text string, width int) string {
	var b strings.Builder
	col := 0
	for i, word := range strings.Fields(text) {
		n := utf8.RuneCountInString(word)
		if i > 0 {
			if col+1+n > width {
				b.WriteByte('\n')
				col = 0
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(word)
		col += n
	}
	return b.String()
}

func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
