package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/render"
	"github.com/pycore/pycore/session"
)

func init() { register(newHeapCommand) }

func newHeapCommand() *cobra.Command {
	var ff fileFlags
	var asJSON bool
	var top, limit int
	var typeName string
	var summary bool
	cmd := &cobra.Command{
		Use:   "heap CORE [EXECUTABLE]",
		Short: "Count the live Python objects by type, with their sizes",
		Long: `Count the live Python objects of a core dump by type: how many, and their
total size as sys.getsizeof gives it, largest first (--top N, default 25),
then a line for all of them. Types are named as Python names them
(module.QualName, built-ins by their name).

Objects are found on the GC's lists (every tracked container) and through the
references of the objects found (strs, ints, floats, bytes, untracked tuples).
Objects only C code or a 3.11+ frame's locals refer to are not counted yet;
free-threaded builds are not read yet.

--type NAME lists the instances of one type: address, size and a bounded repr
(--limit N, default 25).

--summary says where the process's mapped memory went, adding up to the
whole: pymalloc's arenas (with the bytes of blocks in use and free, as
sys._debugmallocstats() counts them; read from the interpreter's debug
info), thread stacks, the rest of anonymous memory (the C heap, large
objects, other mmaps), and mapped files (the largest named); then the
Python objects the walk finds.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if top <= 0 || limit <= 0 {
				return fmt.Errorf("--top and --limit must be positive")
			}
			s, err := ff.open(args)
			if err != nil {
				return err
			}
			defer ff.close(s)
			if summary {
				// The mappings are sorted even where the objects cannot be walked
				// (free-threaded builds): the walk's failure is a note then.
				stats, err := s.Python.WalkHeap(nil)
				if err != nil {
					stats = &cpython.HeapStats{Notes: []string{fmt.Sprintf("Python objects not walked: %v", err)}}
				}
				stats.Notes = append(stats.Notes, s.Core.WarningTexts()...)
				mem := s.Memory()
				return writeMemory(cmd.OutOrStdout(), mem, stats, asJSON, top, resumeForOutput(s.Core))
			}
			var inst []cpython.HeapObject
			var stats *cpython.HeapStats
			if typeName != "" {
				// Names are known once the walk is over: keep this type's
				// objects by type address, resolved below.
				var all []cpython.HeapObject
				stats, err = s.Python.WalkHeap(func(o cpython.HeapObject) { all = append(all, o) })
				if err == nil {
					names := map[uint64]string{}
					for _, o := range all {
						n, ok := names[uint64(o.Type)]
						if !ok {
							n = s.Python.TypeName(o.Type)
							names[uint64(o.Type)] = n
						}
						if n == typeName {
							inst = append(inst, o)
						}
					}
				}
			} else {
				stats, err = s.Python.WalkHeap(nil)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			stats.Notes = append(stats.Notes, s.Core.WarningTexts()...)
			w := cmd.OutOrStdout()
			if typeName != "" {
				sort.Slice(inst, func(i, j int) bool { return inst[i].Address < inst[j].Address })
				if asJSON {
					type jo struct {
						Address string `json:"address"`
						Size    int64  `json:"size"`
						Repr    string `json:"repr"`
					}
					out := struct {
						Type      string       `json:"type"`
						Count     int          `json:"count"`
						Instances []jo         `json:"instances"`
						Notes     []string     `json:"notes,omitempty"`
						Live      *render.Live `json:"live,omitempty"`
					}{Type: typeName, Count: len(inst), Instances: []jo{}, Notes: stats.Notes}
					for i, o := range inst {
						if i >= limit {
							break
						}
						out.Instances = append(out.Instances, jo{fmt.Sprintf("%#x", uint64(o.Address)), o.Size, s.Python.Object(o.Address, cpython.DefaultReprOptions).Repr})
					}
					out.Live = resumeForOutput(s.Core)
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					return enc.Encode(out)
				}
				if len(inst) == 0 {
					return fmt.Errorf("%s: no live objects of type %q (names are as 'pycore heap' prints them)", args[0], typeName)
				}
				fmt.Fprintf(w, "%d object(s) of type %s\n", len(inst), typeName)
				for i, o := range inst {
					if i >= limit {
						fmt.Fprintf(w, "... %d more (--limit)\n", len(inst)-limit)
						break
					}
					fmt.Fprintf(w, "%#x  %8d  %s\n", uint64(o.Address), o.Size, s.Python.Object(o.Address, cpython.DefaultReprOptions).Repr)
				}
				return nil
			}
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(render.HeapOf(stats, resumeForOutput(s.Core)))
			}
			resumeForOutput(s.Core)
			fmt.Fprintf(w, "%12s %14s  %s\n", "count", "bytes", "type")
			for i, t := range stats.Types {
				if i >= top {
					fmt.Fprintf(w, "... %d more type(s) (--top)\n", len(stats.Types)-top)
					break
				}
				fmt.Fprintf(w, "%12d %14d  %s\n", t.Count, t.Bytes, t.Type)
			}
			fmt.Fprintf(w, "%12d %14d  total (%d types; found on %s)\n", stats.Objects, stats.Bytes, len(stats.Types), stats.Method)
			for _, n := range stats.Notes {
				fmt.Fprintf(w, "note: %s\n", n)
			}
			return nil
		},
	}
	ff.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	cmd.Flags().IntVar(&top, "top", 25, "show the `N` types with the most bytes")
	cmd.Flags().IntVar(&limit, "limit", 25, "with --type, list at most `N` instances")
	cmd.Flags().StringVar(&typeName, "type", "", "list the instances of the type `NAME` (as the table names it)")
	cmd.Flags().BoolVar(&summary, "summary", false, "say where the mapped memory went: pymalloc arenas, stacks, other anonymous memory, files")
	cmd.MarkFlagsMutuallyExclusive("summary", "type")
	return cmd
}

// writeMemory prints heap --summary.
func writeMemory(w io.Writer, m *session.Memory, stats *cpython.HeapStats, asJSON bool, top int, live *render.Live) error {
	if asJSON {
		out := struct {
			Total       uint64               `json:"total"`
			Kinds       []session.MemoryKind `json:"kinds"`
			Files       []session.MemoryFile `json:"files"`
			Obmalloc    *render.Obmalloc     `json:"obmalloc,omitempty"`
			ObmallocErr string               `json:"obmalloc_error,omitempty"`
			Objects     int64                `json:"python_objects"`
			Bytes       int64                `json:"python_object_bytes"`
			Live        *render.Live         `json:"live,omitempty"`
		}{m.Total, m.Kinds, m.Files, render.ObmallocOf(m.Obmalloc), m.ObmallocErr, stats.Objects, stats.Bytes, live}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	mib := func(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	pct := func(b uint64) float64 {
		if m.Total == 0 {
			return 0
		}
		return 100 * float64(b) / float64(m.Total)
	}
	fmt.Fprintf(w, "%s mapped (%d bytes)\n", mib(m.Total), m.Total)
	for _, k := range m.Kinds {
		fmt.Fprintf(w, "%12s %5.1f%%  %s", mib(k.Bytes), pct(k.Bytes), k.Kind)
		switch k.Kind {
		case session.KindArenas:
			if o := m.Obmalloc; o != nil {
				fmt.Fprintf(w, ": %d arenas of %d KiB\n", o.Arenas, o.ArenaSize>>10)
				fmt.Fprintf(w, "%21s%d bytes in allocated blocks, %d bytes in available blocks, %d used and %d free pools of %d KiB\n",
					"", o.AllocatedBytes, o.AvailableBytes, o.UsedPools, o.FreePools, o.PoolSize>>10)
				if o.Unreadable > 0 {
					fmt.Fprintf(w, "%21s%d arenas or pools could not be read\n", "", o.Unreadable)
				}
			} else {
				fmt.Fprintf(w, ": not known (%s)\n", m.ObmallocErr)
			}
		case session.KindFiles:
			fmt.Fprintf(w, " (%d mappings of %d files)\n", k.Count, len(m.Files))
			for i, f := range m.Files {
				if i >= min(top, 5) {
					fmt.Fprintf(w, "%21s... %d more files\n", "", len(m.Files)-i)
					break
				}
				fmt.Fprintf(w, "%21s%10s  %s\n", "", mib(f.Bytes), f.Path)
			}
		default:
			fmt.Fprintf(w, " (%d mapping%s)\n", k.Count, plural(k.Count))
		}
	}
	fmt.Fprintf(w, "Python objects found: %d, %d bytes (%s; pycore heap lists them by type)\n", stats.Objects, stats.Bytes, stats.Method)
	for _, n := range stats.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
