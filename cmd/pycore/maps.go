package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/pycore/pycore/internal/textable"
	"github.com/spf13/cobra"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/render"
	"github.com/pycore/pycore/session"
	"github.com/pycore/pycore/symbols"
)

func init() { register(newMapsCommand) }

func newMapsCommand() *cobra.Command {
	var ff fileFlags
	var coreFlag string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "maps [CORE]",
		Short: "List the process's mappings and where each one's bytes come from",
		Long: `List the process's memory mappings like /proc/PID/maps, and for each one
where its bytes come from: the core ("core"), the mapped file on this machine
("file": the core left them out, as it does read-only file mappings), both,
or nowhere ("missing": filtered from the core and no file to read them from).

A second table lists the mapped files: the build ID the core recorded, the
file used on this machine, and whether its build ID matches ("yes"), could
not be checked because the core lacks the page holding it ("unchecked"), or
no matching file was found ("missing", "mismatch"), with the reason.

The core may be given as the first argument, with --core, or in $PYCORE_CORE.
A core of any program works: no CPython is needed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, _, err := fileCmdCore(&ff, coreFlag, args, 0)
			if err != nil {
				return err
			}
			s, err := openFileCmd(&ff, path)
			if err != nil {
				return err
			}
			defer ff.close(s)
			return runMaps(cmd.OutOrStdout(), s, asJSON)
		},
	}
	ff.register(cmd)
	cmd.Flags().StringVar(&coreFlag, "core", "", "the core (or bundle) to read; default: the first argument, else $PYCORE_CORE")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}

// MapsReport is what maps prints.
type MapsReport struct {
	Mappings []MapEntry   `json:"mappings"`
	Files    []FileEntry  `json:"files"`
	Live     *render.Live `json:"live,omitempty"` // read from a running process
}

// MapEntry is one mapping of the process.
type MapEntry struct {
	Start      uint64 `json:"start"`
	End        uint64 `json:"end"`
	Perm       string `json:"perm"`       // "r-x"
	PermKnown  bool   `json:"perm_known"` // false: not recorded in the core, taken from the file
	Offset     uint64 `json:"offset"`     // file offset of Start
	Path       string `json:"path,omitempty"`
	Source     string `json:"source"`     // core, file, core+file, missing
	CoreBytes  uint64 `json:"core_bytes"` // bytes of it in the core, from Start
	BuildID    string `json:"build_id,omitempty"`
	FileMatch  string `json:"file_match,omitempty"` // yes, unchecked, missing, mismatch; "" for anonymous mappings
	MissingWhy string `json:"missing_why,omitempty"`
}

// FileEntry is one ELF file the process mapped.
type FileEntry struct {
	Path         string `json:"path"`
	BuildID      string `json:"build_id,omitempty"`       // as the core recorded it
	LocalPath    string `json:"local_path,omitempty"`     // the file used on this machine
	LocalBuildID string `json:"local_build_id,omitempty"` // that file's build ID
	Match        string `json:"match"`
	Why          string `json:"why,omitempty"` // why missing or mismatch
	DebugFile    string `json:"debug_file,omitempty"`
}

// mapsFileMatch says whether the file on this machine is the one the process mapped.
func mapsFileMatch(o *core.Object, mod *symbols.Module) string {
	switch o.Status {
	case core.FileMissing:
		return "missing"
	case core.FileMismatch:
		return "mismatch"
	}
	if len(o.BuildID) == 0 {
		return "unchecked"
	}
	if mod != nil && len(mod.BuildID) > 0 && !bytes.Equal(mod.BuildID, o.BuildID) {
		return "mismatch"
	}
	return "yes"
}

// BuildMapsReport builds the report of a session's mappings and files.
func BuildMapsReport(s *session.Session) MapsReport {
	mods := map[*core.Object]*symbols.Module{}
	if s.Syms != nil {
		for _, m := range s.Syms.Modules {
			if m.Object != nil {
				mods[m.Object] = m
			}
		}
	}
	rep := MapsReport{Mappings: []MapEntry{}, Files: []FileEntry{}}
	for _, mp := range s.Core.Mappings {
		e := MapEntry{Start: uint64(mp.Start), End: uint64(mp.End), Perm: mp.Perm.String(), PermKnown: mp.PermKnown(),
			Offset: mp.FileOffset, Path: mp.Path, Source: mp.Source().String(), CoreBytes: min(mp.CoreSize, mp.Size())}
		if o := mp.Object; o != nil {
			e.BuildID = hex.EncodeToString(o.BuildID)
			e.FileMatch = mapsFileMatch(o, mods[o])
		}
		if src := mp.Source(); src == core.Missing || src == core.FromBoth {
			// The read error says why the rest is not there.
			var b [1]byte
			if _, err := s.Core.ReadAt(b[:], mp.Start.Add(int64(e.CoreBytes))); err != nil {
				var re *core.ReadError
				if errors.As(err, &re) {
					e.MissingWhy = re.Reason
				} else {
					e.MissingWhy = err.Error()
				}
			}
		}
		rep.Mappings = append(rep.Mappings, e)
	}
	for _, o := range s.Core.Objects {
		mod := mods[o]
		f := FileEntry{Path: o.Path, BuildID: hex.EncodeToString(o.BuildID), LocalPath: o.LocalPath, Match: mapsFileMatch(o, mod)}
		if mod != nil && o.Status == core.FileFound {
			f.LocalBuildID = hex.EncodeToString(mod.BuildID)
			f.DebugFile = mod.DebugFile()
		}
		if f.Match == "missing" || f.Match == "mismatch" {
			f.Why = o.StatusMsg
		}
		rep.Files = append(rep.Files, f)
	}
	return rep
}

// runMaps prints the mappings of an open session; the shell calls it too.
func runMaps(w io.Writer, s *session.Session, asJSON bool) error {
	rep := BuildMapsReport(s)
	rep.Live = resumeForOutput(s.Core)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	table := textable.New(w)
	table.Header("Start", "End", "Perm", "Offset", "Source", "Path")
	guessed := false
	for _, e := range rep.Mappings {
		perm := e.Perm
		if !e.PermKnown {
			perm += "*"
			guessed = true
		}
		if err := table.Append(fmt.Sprintf("%#x", e.Start), fmt.Sprintf("%#x", e.End), perm,
			fmt.Sprintf("%#x", e.Offset), e.Source, e.Path); err != nil {
			return err
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	if guessed {
		fmt.Fprintln(w, "* protection not recorded in the core: taken from the file's program headers")
	}
	for _, e := range rep.Mappings {
		if e.MissingWhy != "" {
			fmt.Fprintf(w, "%#x-%#x: %s missing: %s\n", e.Start, e.End, mapsHumanBytes(e.End-e.Start-e.CoreBytes), e.MissingWhy)
		}
	}
	fmt.Fprintln(w)
	files := textable.New(w)
	files.Header("File", "Build ID", "Match", "Used")
	for _, f := range rep.Files {
		used := f.LocalPath
		if f.Why != "" {
			used = f.Why
		}
		if err := files.Append(f.Path, f.BuildID, f.Match, used); err != nil {
			return err
		}
	}
	return files.Render()
}

func mapsHumanBytes(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
