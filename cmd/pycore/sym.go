package main

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/render"
	"github.com/pycore/pycore/session"
	"github.com/pycore/pycore/symbols"
)

func init() { register(newSymCommand) }

// fileCmdCore picks the core for a command that takes operands after it:
// --core, else the first of operands+1 arguments, else $PYCORE_CORE.
func fileCmdCore(ff *fileFlags, coreFlag string, args []string, operands int) (string, []string, error) {
	switch {
	case ff.pid >= 0:
		if len(args) != operands {
			return "", nil, fmt.Errorf("want %d arguments after --pid, got %d", operands, len(args))
		}
		return ff.livePath(), args, nil
	case coreFlag != "":
		if len(args) != operands {
			return "", nil, fmt.Errorf("want %d arguments after --core, got %d", operands, len(args))
		}
		return coreFlag, args, nil
	case len(args) == operands+1:
		return args[0], args[1:], nil
	case len(args) == operands:
		if env := os.Getenv("PYCORE_CORE"); env != "" {
			return env, args, nil
		}
		return "", nil, errors.New("no core: give it as the first argument, with --core, or in $PYCORE_CORE")
	}
	return "", nil, fmt.Errorf("want the core and %d more arguments, got %d arguments", operands, len(args))
}

// openFileCmd opens a core for the commands about its files (sym, maps):
// the process image and its symbols, not CPython (which they do not need,
// and whose debug info can take seconds to index), so any program's core
// opens.
func openFileCmd(ff *fileFlags, path string) (*session.Session, error) {
	opts, err := ff.options("")
	if err != nil {
		return nil, err
	}
	copts := core.Options{Sysroot: opts.Sysroot, LibPaths: opts.LibPaths, Executable: opts.Executable}
	var c *core.Process
	if opts.Live {
		c, err = core.OpenPID(opts.PID, copts, core.LiveOptions{NonBlocking: opts.NonBlocking})
	} else {
		c, err = core.Open(path, copts)
	}
	if err != nil {
		return nil, err
	}
	syms, err := symbols.Load(c, symbols.Options{DebugDirs: opts.DebugDirs, Debuginfod: opts.Debuginfod})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ff.held = holdOutput(ff.cmd, c)
	return &session.Session{Core: c, Syms: syms}, nil
}

func newSymCommand() *cobra.Command {
	var ff fileFlags
	var coreFlag string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sym [CORE] NAME|ADDR",
		Short: "Find a symbol's address, or the symbol at an address",
		Long: `Translate between symbols and addresses in the process, like crash's sym:
a NAME prints its address, size and kind in every mapped file that defines it;
an ADDR (0x... or decimal) prints the symbol containing it and the offset into
it. Both say which file and section the address is in; an address outside
every file says which mapping holds it, if any.

The core may be given as the first argument, with --core, or in $PYCORE_CORE.
A core of any program works: no CPython is needed.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, rest, err := fileCmdCore(&ff, coreFlag, args, 1)
			if err != nil {
				return err
			}
			s, err := openFileCmd(&ff, path)
			if err != nil {
				return err
			}
			defer ff.close(s)
			return runSym(cmd.OutOrStdout(), s, rest[0], asJSON)
		},
	}
	ff.register(cmd)
	cmd.Flags().StringVar(&coreFlag, "core", "", "the core (or bundle) to read; default: the first argument, else $PYCORE_CORE")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of matches")
	return cmd
}

// SymMatch is one answer of sym: a symbol (Name set) or a bare address.
type SymMatch struct {
	Query   string `json:"query"`
	Address uint64 `json:"address"`
	Name    string `json:"name,omitempty"`
	Offset  uint64 `json:"offset"`         // from the symbol's start
	Size    uint64 `json:"size,omitempty"` // the symbol's size
	Kind    string `json:"kind,omitempty"` // "function" or "object"
	Module  string `json:"module,omitempty"`
	Section string `json:"section,omitempty"`
	// Mapping describes where an address outside every file is: an
	// anonymous mapping's range and protection, or "not mapped".
	Mapping string `json:"mapping,omitempty"`
	// Live says how a running process was read, and how long it was stopped.
	Live *render.Live `json:"live,omitempty"`
}

// runSym answers one sym query (a symbol name or an address) over an open
// session; the shell calls it too.
func runSym(w io.Writer, s *session.Session, arg string, asJSON bool) error {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return errors.New("sym: no symbol name or address")
	}
	var matches []SymMatch
	if addr, ok := symParseAddress(arg); ok {
		m := symAt(s, arg, addr)
		if m.Module == "" && m.Mapping == "not mapped" {
			// As for a name that is not there: no answer is an error, not an empty success.
			return fmt.Errorf("sym: %s is not mapped in the process: no file or memory there ('pycore maps' lists what is)", arg)
		}
		matches = []SymMatch{m}
	} else {
		syms := s.Syms.LookupAll(arg)
		if len(syms) == 0 {
			return symNotFound(s, arg)
		}
		for _, sym := range syms {
			m := SymMatch{Query: arg, Address: uint64(sym.Addr), Name: sym.Name, Size: sym.Size, Kind: symKind(sym)}
			if sym.Module != nil {
				m.Module, m.Section = sym.Module.Path, symSection(sym.Module, sym.Addr)
			}
			matches = append(matches, m)
		}
	}
	live := resumeForOutput(s.Core)
	if asJSON {
		for i := range matches {
			matches[i].Live = live
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(matches)
	}
	for _, m := range matches {
		fmt.Fprintln(w, m.String())
	}
	return nil
}

// symParseAddress reads 0x-prefixed hex or decimal.
func symParseAddress(s string) (core.Address, bool) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		u, err := strconv.ParseUint(s[2:], 16, 64)
		return core.Address(u), err == nil
	}
	if s[0] >= '0' && s[0] <= '9' {
		u, err := strconv.ParseUint(s, 10, 64)
		return core.Address(u), err == nil
	}
	return 0, false
}

func symKind(sym symbols.Symbol) string {
	if sym.Func {
		return "function"
	}
	return "object"
}

// symAt describes an address: the symbol containing it, else its file and
// section, else its mapping.
func symAt(s *session.Session, query string, addr core.Address) SymMatch {
	m := SymMatch{Query: query, Address: uint64(addr)}
	if mod := s.Syms.Module(addr); mod != nil {
		m.Module, m.Section = mod.Path, symSection(mod, addr)
		if sym, off, ok := mod.Symbolize(addr); ok {
			m.Name, m.Offset, m.Size, m.Kind = sym.Name, off, sym.Size, symKind(sym)
		}
		return m
	}
	if mp := s.Core.FindMapping(addr); mp != nil {
		what := "anonymous mapping"
		if mp.Path != "" {
			what = "mapping of " + mp.Path
		}
		m.Mapping = fmt.Sprintf("%s %s-%s %s", what, mp.Start, mp.End, mp.Perm)
	} else {
		m.Mapping = "not mapped"
	}
	return m
}

// String is the human form: "NAME = ADDR ..." for a name, "ADDR = NAME+OFF ..." for an address.
func (m SymMatch) String() string {
	var b strings.Builder
	switch {
	case m.Name != "" && m.Query == m.Name:
		fmt.Fprintf(&b, "%s = %#x (%s", m.Name, m.Address, m.Kind)
		if m.Size > 0 {
			fmt.Fprintf(&b, ", %d bytes", m.Size)
		}
		b.WriteString(")")
	case m.Name != "":
		fmt.Fprintf(&b, "%#x = %s", m.Address, m.Name)
		if m.Offset > 0 {
			fmt.Fprintf(&b, "+%#x", m.Offset)
		}
		fmt.Fprintf(&b, " (%s", m.Kind)
		if m.Size > 0 {
			fmt.Fprintf(&b, ", %d bytes", m.Size)
		}
		b.WriteString(")")
	case m.Module != "":
		fmt.Fprintf(&b, "%#x (no symbol)", m.Address)
	default:
		fmt.Fprintf(&b, "%#x is in no mapped file: %s", m.Address, m.Mapping)
	}
	if m.Module != "" {
		fmt.Fprintf(&b, " in %s", m.Module)
		if m.Section != "" {
			fmt.Fprintf(&b, " [%s]", m.Section)
		}
	}
	return b.String()
}

// symCommonSections are tried by name for files without section headers
// (Module.Section then looks in the detached debug file).
var symCommonSections = []string{".text", ".rodata", ".data", ".bss", ".PyRuntime", ".data.rel.ro", ".got", ".got.plt", ".plt", ".init_array", ".fini_array", ".tbss", ".tdata", ".eh_frame", ".dynamic"}

// symSection names the allocated section of mod holding addr, "" if none.
func symSection(mod *symbols.Module, addr core.Address) string {
	if mod.ELF == nil {
		return ""
	}
	link := uint64(addr) - mod.Bias
	best := ""
	if len(mod.ELF.Sections) > 1 {
		for _, sec := range mod.ELF.Sections {
			if sec.Flags&elf.SHF_ALLOC == 0 || sec.Size == 0 || sec.Flags&elf.SHF_TLS != 0 {
				continue
			}
			if sec.Addr <= link && link-sec.Addr < sec.Size {
				best = sec.Name
			}
		}
		return best
	}
	for _, name := range symCommonSections {
		if sec, ok := mod.Section(name); ok && sec.Addr <= addr && uint64(addr-sec.Addr) < sec.Size {
			return name
		}
	}
	return ""
}

// symNotFound says a name is defined nowhere, with near names if any.
func symNotFound(s *session.Session, name string) error {
	lower := strings.ToLower(name)
	seen := map[string]bool{}
	var near []string
	for _, m := range s.Syms.Modules {
		for _, sym := range m.Symbols() {
			if !seen[sym.Name] && strings.Contains(strings.ToLower(sym.Name), lower) {
				seen[sym.Name] = true
				near = append(near, sym.Name)
			}
		}
	}
	sort.Slice(near, func(i, j int) bool {
		if len(near[i]) != len(near[j]) {
			return len(near[i]) < len(near[j])
		}
		return near[i] < near[j]
	})
	msg := fmt.Sprintf("no symbol %q in the %d files of the core", name, len(s.Syms.Modules))
	var missing []string
	for _, m := range s.Syms.Modules {
		if m.ELF == nil {
			missing = append(missing, m.Path)
		}
	}
	if len(missing) > 0 {
		msg += fmt.Sprintf(" (%d not found on this machine, e.g. %s)", len(missing), missing[0])
	}
	if len(near) > 0 {
		if len(near) > 5 {
			near = near[:5]
		}
		msg += "; similar: " + strings.Join(near, ", ")
	}
	return errors.New(msg)
}
