package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// checkCommandLines makes every command's argument errors say what the
// command wants, and refuses negative value bounds (--max-depth -1 and the
// like), which would otherwise be taken silently as "no bound" or "nothing".
func checkCommandLines(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Name() == "completion" && c.Parent() == root {
			refuseUnknownShells(c)
			return
		}
		args := c.Args
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := checkBounds(cmd); err != nil {
				return err
			}
			if args == nil {
				return nil
			}
			if err := args(cmd, a); err != nil {
				return fmt.Errorf("%s: %v; usage: %s (see '%s --help')", strings.TrimPrefix(cmd.CommandPath(), root.Name()+" "), err, cmd.UseLine(), cmd.CommandPath())
			}
			return nil
		}
	}
	walk(root)
}

// boundFlags are the value-printing limits, which are counts.
var boundFlags = []string{"max-depth", "max-length", "max-string", "max-repr"}

func checkBounds(cmd *cobra.Command) error {
	for _, name := range boundFlags {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed {
			continue
		}
		if strings.HasPrefix(f.Value.String(), "-") {
			return fmt.Errorf("--%s %s: want 0 or more", name, f.Value.String())
		}
	}
	return nil
}

// refuseUnknownShells makes 'completion tcsh' an error: cobra's completion
// command prints its help and exits 0 for a shell it has no subcommand for.
func refuseUnknownShells(c *cobra.Command) {
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, a []string) error {
		if len(a) == 0 {
			return cmd.Help()
		}
		var shells []string
		for _, sub := range cmd.Commands() {
			shells = append(shells, sub.Name())
		}
		return fmt.Errorf("completion %q: no completion for that shell; want one of %s", a[0], strings.Join(shells, ", "))
	}
}
