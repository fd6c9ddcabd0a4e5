package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/core"
)

func newPackCommand() *cobra.Command {
	var ff fileFlags
	var out string
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
			if err := core.WriteBundle(c, out, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", out)
			for _, w := range c.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			return nil
		},
	}
	ff.register(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the bundle to `FILE`")
	return cmd
}
