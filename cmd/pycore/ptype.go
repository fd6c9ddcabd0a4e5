package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/query"
	"github.com/pycore/pycore/session"
	"github.com/pycore/pycore/typesys"
)

func init() { register(func() *cobra.Command { return newPtypeCommand(&querySource{}) }) }

func newPtypeCommand(qs *querySource) *cobra.Command {
	var expand int
	var asJSON bool
	use := "ptype [CORE] TYPE|EXPR"
	if qs.shell != nil {
		use = "ptype TYPE|EXPR"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: "Print a type's layout: members with offsets and sizes",
		Long: `Print the layout of a type, or of an expression's type, the way gdb's
'ptype /o' does: each member with its offset and size, holes between members,
bitfields with their bit offsets, and the total size. Anonymous structs and
unions are shown in place; --expand N also expands N levels of named ones.

TYPE is written as in C: 'struct _ts', PyThreadState, 'PyObject *',
'unsigned long'. Anything else is evaluated as an expression (see
'pycore eval --help') and its type shown; for a pointer, the type it points to
is laid out too.

Types come from the debug info of the process's files; without it, CPython's
structs come from pycore's layout tables or the interpreter's own debug
offsets (3.13+), which describe only some members: the layout says so, and
the bytes no known member covers are marked unknown.

` + coreUsage,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, rest, done, err := qs.open(args)
			if err != nil {
				return err
			}
			defer done()
			if len(rest) == 0 {
				return errors.New("no type or expression")
			}
			t, what, err := typeOrExprType(q, strings.Join(rest, " "))
			if err != nil {
				return err
			}
			if asJSON {
				out := &output{w: cmd.OutOrStdout(), errw: cmd.ErrOrStderr(), json: true, core: q.S.Core}
				out.writeJSON(layoutJSON(what, t, expand))
				out.flushCollected()
				return nil
			}
			fmt.Fprint(cmd.OutOrStdout(), typesys.FormatLayout(t, typesys.LayoutOptions{Expand: expand}))
			return nil
		},
	}
	qs.register(cmd)
	cmd.Flags().IntVar(&expand, "expand", 0, "levels of named struct and union members to expand in place")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the layout as JSON")
	return cmd
}

// typeOrExprType reads src as a type name, else as an expression whose type
// is wanted.
func typeOrExprType(q *session.Query, src string) (*typesys.Type, string, error) {
	t, isType, err := q.Env().ParseType(src)
	if isType {
		return t, src, err
	}
	t, err = q.Env().TypeOf(src)
	if err != nil {
		var qe *query.Error
		if errors.As(err, &qe) && strings.HasPrefix(qe.Msg, "unknown name") {
			qe.Msg = "no type or value named " + strings.TrimPrefix(qe.Msg, "unknown name ")
		}
		return nil, "", err
	}
	return t, src, nil
}

// layoutJSON is a type's layout as data: its members, nested.
func layoutJSON(expr string, t *typesys.Type, expand int) typesys.Object {
	obj := typesys.Object{{Key: "expr", Value: expr}, {Key: "type", Value: t.String()}}
	r := t.Resolve()
	if r == nil {
		return obj
	}
	obj = append(obj, typesys.Field{Key: "kind", Value: r.Kind.String()}, typesys.Field{Key: "size", Value: r.Size})
	if r.Partial != "" {
		obj = append(obj, typesys.Field{Key: "partial", Value: r.Partial})
	}
	if r.Kind == typesys.Pointer {
		if e := r.Elem.Resolve(); e != nil && (e.Kind == typesys.Struct || e.Kind == typesys.Union) {
			obj = append(obj, typesys.Field{Key: "target", Value: layoutJSON(r.Elem.String(), r.Elem, expand)})
		}
	}
	if r.Kind == typesys.Enum {
		var es []typesys.Object
		for _, e := range r.Enumerators {
			es = append(es, typesys.Object{{Key: "name", Value: e.Name}, {Key: "value", Value: e.Value}})
		}
		obj = append(obj, typesys.Field{Key: "enumerators", Value: es})
	}
	if r.Kind == typesys.Struct || r.Kind == typesys.Union {
		obj = append(obj, typesys.Field{Key: "members", Value: membersJSON(r, 0, expand, 0)})
	}
	return obj
}

func membersJSON(r *typesys.Type, base int64, expand, depth int) []typesys.Object {
	out := []typesys.Object{}
	for _, m := range r.Members {
		mo := typesys.Object{{Key: "name", Value: m.Name}, {Key: "type", Value: m.Type.String()},
			{Key: "offset", Value: base + m.Offset}, {Key: "size", Value: m.Type.Resolve().Size}}
		if m.BitSize > 0 {
			mo = append(mo, typesys.Field{Key: "bit_offset", Value: m.BitOffset}, typesys.Field{Key: "bit_size", Value: m.BitSize})
		}
		mr := m.Type.Resolve()
		if mr != nil && (mr.Kind == typesys.Struct || mr.Kind == typesys.Union) && len(mr.Members) > 0 &&
			(m.Name == "" || depth < expand) && depth < 16 {
			mo = append(mo, typesys.Field{Key: "members", Value: membersJSON(mr, base+m.Offset, expand, depth+1)})
		}
		out = append(out, mo)
	}
	return out
}
