package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/cpython"
)

func init() { register(newHeapCommand) }

func newHeapCommand() *cobra.Command {
	var ff fileFlags
	var asJSON bool
	var top, limit int
	var typeName string
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
(--limit N, default 25).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if top <= 0 || limit <= 0 {
				return fmt.Errorf("--top and --limit must be positive")
			}
			s, err := ff.open(args)
			if err != nil {
				return err
			}
			defer s.Close()
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
			stats.Notes = append(stats.Notes, s.Core.Warnings...)
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
						Type      string   `json:"type"`
						Count     int      `json:"count"`
						Instances []jo     `json:"instances"`
						Notes     []string `json:"notes,omitempty"`
					}{Type: typeName, Count: len(inst), Instances: []jo{}, Notes: stats.Notes}
					for i, o := range inst {
						if i >= limit {
							break
						}
						out.Instances = append(out.Instances, jo{fmt.Sprintf("%#x", uint64(o.Address)), o.Size, s.Python.Object(o.Address, cpython.DefaultReprOptions).Repr})
					}
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
				return enc.Encode(stats)
			}
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
	return cmd
}
