package core

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A bundle is an uncompressed tar whose first member is the manifest
// (pycore-bundle.json), then the core, then the files the core maps under
// files/<n>-<basename>. Tar keeps each member's bytes contiguous, so
// opening maps the bundle once and slices members out of it: nothing is
// extracted. Member names are only keys into the tar; nothing is ever
// written under them.
const (
	bundleFormat       = "pycore-bundle"
	bundleVersion      = 1
	bundleManifestName = "pycore-bundle.json"
	bundleCoreName     = "core"
	maxManifestSize    = 16 << 20
	maxBundleMembers   = 1 << 16
	tarBlockSize       = 512
)

// KindObject is the BundleFile kind of an ELF file the core maps.
const KindObject = "object"

// KindDebug is the BundleFile kind of a detached debug file (symbols/ finds them).
const KindDebug = "debug"

// BundleFile is one file of a bundle besides the core.
type BundleFile struct {
	RecordedPath string // the path the process knew it by ("" if it was not mapped)
	// LocalPath: for WriteBundle, the file to copy in (unless Data is set);
	// for a file read from a bundle, "<bundle path>#<member name>".
	LocalPath string
	Kind      string // KindObject or KindDebug
	BuildID   []byte
	Data      []byte // contents; set for files of an open bundle (valid until Close)
}

type bundleInfo struct {
	path     string
	files    []BundleFile
	warnings []Warning
}

type bundleManifest struct {
	Format  string               `json:"format"`
	Version int                  `json:"version"`
	Core    string               `json:"core"`
	Files   []bundleManifestFile `json:"files"`
}

type bundleManifestFile struct {
	Member       string `json:"member"`
	RecordedPath string `json:"recorded_path,omitempty"`
	Kind         string `json:"kind"`
	BuildID      string `json:"build_id,omitempty"`
	Size         int64  `json:"size"`
}

// isBundle reports whether data is a tar whose first member is the manifest.
func isBundle(data []byte) bool {
	return len(data) >= tarBlockSize && string(data[257:262]) == "ustar" && cString(data[:100]) == bundleManifestName
}

// readBundle indexes the members of a bundle mapped at data and returns the
// files it holds and the core image.
func readBundle(data []byte, path string) (*bundleInfo, []byte, error) {
	r := bytes.NewReader(data)
	tr := tar.NewReader(r)
	members := map[string][]byte{}
	var man bundleManifest
	var truncated string
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("bundle: tar member %d: %w", i, err)
		}
		if i >= maxBundleMembers {
			return nil, nil, fmt.Errorf("bundle: more than %d members", maxBundleMembers)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		// tar.Reader reads nothing ahead (and seeks over skipped data), so
		// the reader's position is where this member's bytes start.
		off := r.Size() - int64(r.Len())
		if h.Size < 0 {
			return nil, nil, fmt.Errorf("bundle: member %q has negative size %d", h.Name, h.Size)
		}
		if _, dup := members[h.Name]; dup {
			return nil, nil, fmt.Errorf("bundle: member %q appears twice", h.Name)
		}
		if h.Size > int64(len(data))-off {
			// A cut bundle: keep what there is of this member (a cut core
			// is still worth reading) and stop, nothing follows it.
			if i == 0 {
				return nil, nil, fmt.Errorf("bundle truncated: manifest at offset %d needs %d bytes, the file has %d", off, h.Size, len(data))
			}
			truncated = fmt.Sprintf("bundle truncated: member %q at offset %d needs %d bytes, the file has %d", h.Name, off, h.Size, len(data))
			members[h.Name] = data[off:]
			break
		}
		body := data[off : off+h.Size]
		members[h.Name] = body
		if i == 0 {
			if h.Name != bundleManifestName {
				return nil, nil, fmt.Errorf("bundle: first member is %q, want %s", h.Name, bundleManifestName)
			}
			if h.Size > maxManifestSize {
				return nil, nil, fmt.Errorf("bundle: manifest of %d bytes is larger than %d", h.Size, maxManifestSize)
			}
			if err := json.Unmarshal(body, &man); err != nil {
				return nil, nil, fmt.Errorf("bundle: manifest: %w", err)
			}
		}
	}
	if man.Format != bundleFormat {
		return nil, nil, fmt.Errorf("bundle: manifest format is %q, want %q", man.Format, bundleFormat)
	}
	if man.Version != bundleVersion {
		return nil, nil, fmt.Errorf("bundle: format version %d, this pycore reads version %d", man.Version, bundleVersion)
	}
	core, ok := members[man.Core]
	if !ok {
		return nil, nil, fmt.Errorf("bundle: manifest names core member %q, which the tar does not have", man.Core)
	}
	b := &bundleInfo{path: path}
	if truncated != "" {
		b.warnings = append(b.warnings, Warning{Kind: WarnBundle, Text: truncated})
	}
	for _, f := range man.Files {
		body, ok := members[f.Member]
		if !ok && truncated != "" {
			b.warnings = append(b.warnings, Warning{Kind: WarnBundle, Text: fmt.Sprintf("bundle: member %q (%s %s) is lost past the cut", f.Member, f.Kind, f.RecordedPath)})
			continue
		}
		if !ok {
			return nil, nil, fmt.Errorf("bundle: manifest names member %q (%s %s), which the tar does not have", f.Member, f.Kind, f.RecordedPath)
		}
		if int64(len(body)) < f.Size && truncated != "" {
			b.warnings = append(b.warnings, Warning{Kind: WarnBundle, Text: fmt.Sprintf("bundle: member %q (%s %s) is cut short; not used", f.Member, f.Kind, f.RecordedPath)})
			continue
		}
		if int64(len(body)) != f.Size {
			return nil, nil, fmt.Errorf("bundle: member %q is %d bytes, the manifest says %d", f.Member, len(body), f.Size)
		}
		var id []byte
		if f.BuildID != "" {
			var err error
			if id, err = hex.DecodeString(f.BuildID); err != nil {
				return nil, nil, fmt.Errorf("bundle: member %q: build ID %q: %w", f.Member, f.BuildID, err)
			}
		}
		b.files = append(b.files, BundleFile{
			RecordedPath: f.RecordedPath,
			LocalPath:    path + "#" + f.Member,
			Kind:         f.Kind,
			BuildID:      id,
			Data:         body,
		})
	}
	return b, core, nil
}

// BundleFiles returns the files of the bundle the process was opened from
// (nil if it was not). Their Data is valid until Close.
func (p *Process) BundleFiles() []BundleFile {
	if p.bundle == nil {
		return nil
	}
	return append([]BundleFile(nil), p.bundle.files...)
}

// ExtraFile returns the contents of a bundled file of the given kind whose
// build ID is buildID (any build ID if buildID is nil), or nil. This is how
// detached debug files travel with a core.
func (p *Process) ExtraFile(kind string, buildID []byte) []byte {
	if p.bundle == nil {
		return nil
	}
	for _, f := range p.bundle.files {
		if f.Kind == kind && (buildID == nil || bytes.Equal(f.BuildID, buildID)) {
			return f.Data
		}
	}
	return nil
}

// WriteBundle writes a self-contained bundle of p to path: the core, every
// object file found for it, the extra files of the bundle p came from (if
// any), and extra. The file appears atomically (written aside, then renamed).
func WriteBundle(p *Process, path string, extra []BundleFile) (err error) {
	if p.closed.Load() {
		return errors.New("write bundle: the core is closed")
	}
	type entry struct {
		BundleFile
		size int64
	}
	var entries []entry
	seen := map[string]bool{}
	for _, o := range p.Objects {
		if o.Status != FileFound || o.Data == nil || seen[o.Path] {
			continue
		}
		seen[o.Path] = true
		id := o.BuildID
		if id == nil {
			id = buildIDFrom(sliceAt(o.Data))
		}
		entries = append(entries, entry{BundleFile{RecordedPath: o.Path, Kind: KindObject, BuildID: id, Data: o.Data}, int64(len(o.Data))})
	}
	if p.bundle != nil {
		for _, f := range p.bundle.files {
			if f.Kind != KindObject && f.Data != nil {
				entries = append(entries, entry{f, int64(len(f.Data))})
			}
		}
	}
	for _, f := range extra {
		if f.Kind == "" {
			return fmt.Errorf("write bundle: extra file %s has no kind", f.LocalPath)
		}
		size := int64(len(f.Data))
		if f.Data == nil {
			st, err := os.Stat(f.LocalPath)
			if err != nil {
				return fmt.Errorf("write bundle: extra file: %w", err)
			}
			if !st.Mode().IsRegular() {
				return fmt.Errorf("write bundle: extra file %s is not a regular file", f.LocalPath)
			}
			size = st.Size()
			if f.BuildID == nil {
				f.BuildID = fileBuildID(f.LocalPath)
			}
		}
		entries = append(entries, entry{f, size})
	}

	man := bundleManifest{Format: bundleFormat, Version: bundleVersion, Core: bundleCoreName}
	for i, e := range entries {
		man.Files = append(man.Files, bundleManifestFile{
			Member:       memberName(i, e.name()),
			RecordedPath: e.RecordedPath,
			Kind:         e.Kind,
			BuildID:      hex.EncodeToString(e.BuildID),
			Size:         e.size,
		})
	}
	manJSON, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("write bundle: manifest: %w", err)
	}

	// The bundle is written beside path and renamed over it: renaming over a
	// device or FIFO (-o /dev/null as root) would replace the device itself.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("write bundle: %s exists and is not a regular file", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	tw := tar.NewWriter(bw)
	now := time.Now().Truncate(time.Second)
	header := func(name string, size int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: now})
	}
	if err := header(bundleManifestName, int64(len(manJSON))); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if _, err := tw.Write(manJSON); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := header(bundleCoreName, int64(len(p.core))); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if _, err := tw.Write(p.core); err != nil {
		return fmt.Errorf("write bundle: core: %w", err)
	}
	for i, e := range entries {
		if err := header(man.Files[i].Member, e.size); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
		if e.Data != nil {
			_, err = tw.Write(e.Data)
		} else {
			err = copyFileInto(tw, e.LocalPath, e.size)
		}
		if err != nil {
			return fmt.Errorf("write bundle: %s: %w", man.Files[i].Member, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// memberName makes a short, plain tar member name for file i.
func memberName(i int, base string) string {
	clean := strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '.' || r == '-' || r == '_' || r == '+' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, base)
	name := fmt.Sprintf("files/%d-%s", i, clean)
	if len(name) > 99 { // stay within a plain ustar name field
		name = name[:99]
	}
	return name
}

func (f BundleFile) name() string {
	for _, p := range []string{f.RecordedPath, f.LocalPath} {
		if p != "" {
			return filepath.Base(strings.TrimSuffix(p, deletedSuffix))
		}
	}
	return "file"
}

// copyFileInto copies exactly size bytes of the file at path to w.
func copyFileInto(w io.Writer, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s changed size while being bundled (%d bytes, expected %d)", path, n, size)
	}
	return nil
}

// fileBuildID reads the build ID of an ELF file on disk, nil if none.
func fileBuildID(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return buildIDFrom(func(off, n uint64) []byte {
		if n > maxObjNoteBytes {
			return nil
		}
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, int64(off)); err != nil {
			return nil
		}
		return buf
	})
}
