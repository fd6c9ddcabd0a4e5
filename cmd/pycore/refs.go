package main

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/render"
)

func init() {
	register(newRefsCommand)
	register(newPathCommand)
}

// parseObjectAddr reads ADDR: hex with 0x, or decimal as id() prints it.
func parseObjectAddr(s string) (core.Address, error) {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("%q is not an object address (give it as 0x7f... or as the decimal id())", s)
	}
	return core.Address(v), nil
}

type jsonRef struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Via     string `json:"via"`
}

func toJSONRefs(refs []cpython.HeapRef) []jsonRef {
	out := []jsonRef{}
	for _, r := range refs {
		a := ""
		if r.Address != 0 {
			a = fmt.Sprintf("%#x", uint64(r.Address))
		}
		out = append(out, jsonRef{a, r.Type, r.Via})
	}
	return out
}

func newRefsCommand() *cobra.Command {
	var ff fileFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "refs CORE ADDR [EXECUTABLE]",
		Short: "List the objects that refer to the object at ADDR, and how",
		Long: `List the referrers of the Python object at ADDR (as 'pycore heap --type'
or id() gives it): every object the heap walk finds that refers to it, with
how -- [3] a list or tuple index, ['key'] a dict value, key a dict key,
global "NAME" a module global, .attr an instance attribute or slot, __dict__,
a C type's member by name, +0x18 a field by offset -- as gc.get_referrers
would list them. References from C code and 3.11+ frames' locals are not
listed (they are not objects).`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := parseObjectAddr(args[1])
			if err != nil {
				return err
			}
			s, err := ff.open(append(args[:1:1], args[2:]...))
			if err != nil {
				return err
			}
			defer ff.close(s)
			refs, stats, err := s.Python.Referrers(target)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				out := struct {
					Target    string       `json:"target"`
					Referrers []jsonRef    `json:"referrers"`
					Objects   int64        `json:"objects"`
					Live      *render.Live `json:"live,omitempty"`
				}{fmt.Sprintf("%#x", uint64(target)), toJSONRefs(refs), stats.Objects, resumeForOutput(s.Core)}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprintf(w, "%d referrer(s) of %s (of %d objects found)\n", len(refs), s.Python.Object(target, cpython.ReprOptions{MaxDepth: 1, MaxLength: 4, MaxString: 60, MaxTotal: 120}).Repr, stats.Objects)
			for _, r := range refs {
				fmt.Fprintf(w, "%#x  %-28s %s\n", uint64(r.Address), r.Type, r.Via)
			}
			return nil
		},
	}
	ff.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}

func newPathCommand() *cobra.Command {
	var ff fileFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "path CORE ADDR [EXECUTABLE]",
		Short: "Show why the object at ADDR is alive: a shortest chain of references from a module",
		Long: `Show a shortest chain of references from a root to the Python object at
ADDR, as objgraph's find_backref_chain does: the root is sys.modules, then a
module, its __dict__, and each object after it; every line says how it
refers to the next ([3], ['key'], global "NAME", .attr, __dict__, ...).
--json gives {"path": [{"address", "type", "via"}, ...]}, root first, ADDR
last. Chains through threads' frames and C code are not searched yet.`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := parseObjectAddr(args[1])
			if err != nil {
				return err
			}
			s, err := ff.open(append(args[:1:1], args[2:]...))
			if err != nil {
				return err
			}
			defer ff.close(s)
			path, err := s.Python.PathTo(target)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				out := struct {
					Path []jsonRef    `json:"path"`
					Live *render.Live `json:"live,omitempty"`
				}{toJSONRefs(path), resumeForOutput(s.Core)}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			for _, r := range path {
				a := "-"
				if r.Address != 0 {
					a = fmt.Sprintf("%#x", uint64(r.Address))
				}
				fmt.Fprintf(w, "%-16s %-28s %s\n", a, r.Type, r.Via)
			}
			return nil
		},
	}
	ff.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}
