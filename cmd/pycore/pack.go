package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/symbols"
)

func countFound(c *core.Process) int {
	n := 0
	for _, o := range c.Objects {
		if o.Status == core.FileFound {
			n++
		}
	}
	return n
}

func init() { register(newPackCommand) }

func newPackCommand() *cobra.Command {
	var ff fileFlags
	var out string
	var noDebug bool
	cmd := &cobra.Command{
		Use:   "pack CORE [EXECUTABLE] -o FILE",
		Short: "Bundle a core with the files it maps, to read it on another machine",
		Long: `Write a self-contained bundle: the core plus every ELF file it maps (found as
'pycore threads' finds them) with their build IDs. Any pycore opens the bundle
wherever it accepts a core, with no Python or libraries installed.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("pack: -o FILE is required")
			}
			exe := ""
			if len(args) > 1 {
				exe = args[1]
			}
			c, err := core.Open(args[0], core.Options{Sysroot: ff.sysroot, LibPaths: ff.libPaths, Executable: exe})
			if err != nil {
				return err
			}
			defer c.Close()
			var extra []core.BundleFile
			if !noDebug {
				// Detached debug files travel too, so eval and ptype have DWARF elsewhere.
				syms, err := symbols.Load(c, symbols.Options{DebugDirs: ff.debugDirs})
				if err != nil {
					return err
				}
				defer syms.Close()
				for _, m := range syms.Modules {
					if m.ELF == nil {
						continue
					}
					if f := m.FindDebugFile(); f != "" && !strings.Contains(f, "#") {
						extra = append(extra, core.BundleFile{Kind: core.KindDebug, LocalPath: f, BuildID: m.BuildID})
					}
				}
			}
			if err := core.WriteBundle(c, out, extra); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%d mapped files, %d debug files)\n", out, countFound(c), len(extra))
			for _, w := range c.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			return nil
		},
	}
	ff.register(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the bundle to `FILE`")
	cmd.Flags().BoolVar(&noDebug, "no-debug-files", false, "leave detached debug files out of the bundle")
	return cmd
}
