package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/query"
	"github.com/pycore/pycore/session"
	"github.com/pycore/pycore/typesys"
)

func init() { register(func() *cobra.Command { return newRdCommand(&querySource{}) }) }

// Bounds of one dump.
const (
	maxDumpBytes     = 1 << 20
	defaultDumpBytes = 64
	maxDefaultDump   = 4096 // a type's size as the default count is capped here
)

func newRdCommand(qs *querySource) *cobra.Command {
	var w8, w4, w2, w1, asJSON, noSymbols bool
	use := "rd [CORE] ADDR|EXPR [COUNT]"
	if qs.shell != nil {
		use = "rd ADDR|EXPR [COUNT]"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: "Dump memory as hex words with an ASCII column, like crash's rd",
		Long: `Dump COUNT units of memory (8-byte words unless -4, -2 or -1 says otherwise)
starting at an address, 16 bytes a line, with the bytes as ASCII beside them
and, for 8-byte words, the symbol each word points into.

The start is an expression (see 'pycore eval --help'): a pointer dumps what it
points at, a number is an address, anything else in memory (a variable, a
struct member, an array) dumps itself. Without COUNT the dump covers the
type's size (of the pointed-to type for a pointer, at most 4096 bytes), or
64 bytes for a bare address. An expression with spaces is quoted, or its
last word must not be a number.

Bytes the core does not have print as ?? and the reason is given below the
dump (not in the core, filtered from it, file not found).

` + coreUsage,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			width := 8
			switch {
			case w4:
				width = 4
			case w2:
				width = 2
			case w1:
				width = 1
			}
			_ = w8
			q, rest, done, err := qs.open(args)
			if err != nil {
				return err
			}
			defer done()
			if len(rest) == 0 {
				return errors.New("no address or expression")
			}
			count := -1
			if len(rest) > 1 {
				if n, err := strconv.ParseInt(rest[len(rest)-1], 0, 64); err == nil {
					if n <= 0 || n*int64(width) > maxDumpBytes {
						return fmt.Errorf("count %d: want 1 to %d units of %d bytes", n, maxDumpBytes/width, width)
					}
					count = int(n)
					rest = rest[:len(rest)-1]
				}
			}
			expr := strings.Join(rest, " ")
			addr, size, err := dumpStart(q, expr)
			if err != nil {
				return err
			}
			if count < 0 {
				count = (size + width - 1) / width
			}
			d := dumpMemory(q, addr, width, count, !noSymbols)
			if asJSON {
				out := &output{w: cmd.OutOrStdout(), errw: cmd.ErrOrStderr(), json: true, core: q.S.Core}
				out.writeJSON(d.json(expr))
				out.flushCollected()
				return nil
			}
			d.write(cmd.OutOrStdout())
			return nil
		},
	}
	qs.register(cmd)
	fl := cmd.Flags()
	fl.BoolVarP(&w8, "64", "8", false, "8-byte words (the default)")
	fl.BoolVarP(&w4, "32", "4", false, "4-byte words")
	fl.BoolVarP(&w2, "16", "2", false, "2-byte words")
	fl.BoolVarP(&w1, "bytes", "1", false, "single bytes")
	fl.BoolVar(&asJSON, "json", false, "print the dump as JSON")
	fl.BoolVar(&noSymbols, "no-symbols", false, "do not name the symbols words point into")
	return cmd
}

// dumpStart evaluates the start of a dump and the default size.
func dumpStart(q *session.Query, expr string) (core.Address, int, error) {
	r, err := q.Eval(expr)
	if err != nil {
		return 0, 0, err
	}
	if r.Kind == query.StringResult && r.Value.Type != nil {
		r = query.ValueOf(r.Value)
	}
	if r.Kind != query.ValueResult {
		return 0, 0, fmt.Errorf("%s is not an address", expr)
	}
	v := r.Value
	t := v.Type.Resolve()
	sizeOf := func(t *typesys.Type) int {
		if t == nil || t.Resolve() == nil || t.Resolve().Size <= 0 {
			return defaultDumpBytes
		}
		return int(min(t.Resolve().Size, maxDefaultDump))
	}
	switch {
	case t != nil && t.Kind == typesys.Pointer:
		p, err := v.Ptr()
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", expr, err)
		}
		return p, sizeOf(t.Elem), nil
	case v.InMemory:
		return v.Addr, sizeOf(v.Type), nil
	case t != nil && (t.Kind == typesys.Int || t.Kind == typesys.Enum):
		u, err := v.Uint()
		if err != nil {
			return 0, 0, err
		}
		return core.Address(u), defaultDumpBytes, nil
	}
	return 0, 0, fmt.Errorf("%s is a computed %s, not an address", expr, v.Type)
}

// dump is memory read for display: units of width bytes, nil where unreadable.
type dump struct {
	addr    core.Address
	width   int
	units   []*uint64
	raw     []byte
	ok      []bool
	symbols map[int]string // unit index -> symbol
	errs    []string
}

func dumpMemory(q *session.Query, addr core.Address, width, count int, symbolize bool) *dump {
	n := width * count
	d := &dump{addr: addr, width: width, raw: make([]byte, n), ok: make([]bool, n), symbols: map[int]string{}}
	r := q.S.Core.Reader()
	seen := map[string]bool{}
	// Read line by line; a line that fails is read unit by unit, so a dump
	// that runs off the end of a mapping still shows what is there.
	for off := 0; off < n; off += 16 {
		end := min(off+16, n)
		if err := r.Read(d.raw[off:end], addr.Add(int64(off))); err == nil {
			for i := off; i < end; i++ {
				d.ok[i] = true
			}
			continue
		}
		for u := off; u < end; u += width {
			if err := r.Read(d.raw[u:u+width], addr.Add(int64(u))); err != nil {
				var re *core.ReadError
				msg := err.Error()
				if errors.As(err, &re) {
					msg = re.Reason
				}
				if !seen[msg] && len(d.errs) < 8 {
					seen[msg] = true
					d.errs = append(d.errs, fmt.Sprintf("%s: %s", addr.Add(int64(u)), msg))
				}
				continue
			}
			for i := u; i < u+width; i++ {
				d.ok[i] = true
			}
		}
	}
	for u := 0; u < count; u++ {
		b := d.raw[u*width : (u+1)*width]
		if !d.ok[u*width] {
			d.units = append(d.units, nil)
			continue
		}
		var v uint64
		for i := width - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		d.units = append(d.units, &v)
		if symbolize && width == 8 && v != 0 {
			if s := q.Symbolize(core.Address(v)); s != "" {
				d.symbols[u] = s
			}
		}
	}
	return d
}

func (d *dump) write(w io.Writer) {
	perLine := 16 / d.width
	for first := 0; first < len(d.units); first += perLine {
		last := min(first+perLine, len(d.units))
		var b strings.Builder
		fmt.Fprintf(&b, "%s:  ", d.addr.Add(int64(first*d.width)))
		for u := first; u < first+perLine; u++ {
			if u > first {
				b.WriteByte(' ')
			}
			switch {
			case u >= last:
				b.WriteString(strings.Repeat(" ", 2*d.width))
			case d.units[u] == nil:
				b.WriteString(strings.Repeat("?", 2*d.width))
			default:
				fmt.Fprintf(&b, "%0*x", 2*d.width, *d.units[u])
			}
		}
		b.WriteString("   ")
		for i := first * d.width; i < last*d.width; i++ {
			c := d.raw[i]
			switch {
			case !d.ok[i]:
				b.WriteByte('?')
			case c >= 0x20 && c < 0x7f:
				b.WriteByte(c)
			default:
				b.WriteByte('.')
			}
		}
		for u := first; u < last; u++ {
			if s, ok := d.symbols[u]; ok {
				fmt.Fprintf(&b, "  [%d] %s", u-first, s)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	for _, e := range d.errs {
		fmt.Fprintf(w, "unreadable from %s\n", e)
	}
}

func (d *dump) json(expr string) typesys.Object {
	units := make([]any, len(d.units))
	for i, u := range d.units {
		if u != nil {
			units[i] = *u
		}
	}
	syms := typesys.Object{}
	for i := range d.units {
		if s, ok := d.symbols[i]; ok {
			syms = append(syms, typesys.Field{Key: strconv.Itoa(i), Value: s})
		}
	}
	obj := typesys.Object{{Key: "expr", Value: expr}, {Key: "address", Value: uint64(d.addr)},
		{Key: "width", Value: d.width}, {Key: "units", Value: units}, {Key: "symbols", Value: syms}}
	if len(d.errs) > 0 {
		obj = append(obj, typesys.Field{Key: "errors", Value: d.errs})
	}
	return obj
}
