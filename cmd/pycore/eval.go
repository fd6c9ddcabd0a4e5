package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/query"
	"github.com/pycore/pycore/render"
	"github.com/pycore/pycore/session"
	"github.com/pycore/pycore/typesys"
)

func init() { register(func() *cobra.Command { return newEvalCommand(&querySource{}) }) }

// querySource is how the expression commands (eval, ptype, rd) get their
// core: from the command line (an argument, --core or $PYCORE_CORE), or,
// inside the shell, the shell's open session.
type querySource struct {
	ff    fileFlags
	core  string
	shell *session.Query // set inside the shell: no core argument, no file flags
}

const coreEnv = "PYCORE_CORE"

func (qs *querySource) register(cmd *cobra.Command) {
	if qs.shell != nil {
		return
	}
	qs.ff.register(cmd)
	cmd.Flags().StringVar(&qs.core, "core", "", "the core (or bundle) to read; default: the first argument, else $"+coreEnv)
}

// coreUsage is the paragraph every expression command's help shares.
const coreUsage = `The core may be given as the first argument, with --core, or in $PYCORE_CORE,
so that after 'export PYCORE_CORE=core.1234' a command needs only its
expression. A core without CPython in it still opens: every symbol and
debug-info variable of its files can be read.`

// open finds the core and opens it; rest are the arguments after the core.
// The returned function closes what was opened.
func (qs *querySource) open(args []string) (q *session.Query, rest []string, done func(), err error) {
	if qs.shell != nil {
		return qs.shell, args, func() {}, nil
	}
	path, rest, err := qs.corePath(args)
	if err != nil {
		return nil, nil, nil, err
	}
	opts, err := qs.ff.options("")
	if err != nil {
		return nil, nil, nil, err
	}
	s, pyErr, err := session.OpenAny(path, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	held := holdOutput(qs.ff.cmd, s.Core)
	return session.NewQuery(s, opts.Types, pyErr), rest, func() { held.release(); s.Close() }, nil
}

// corePath picks the core: --core; else the first argument if it names a
// file (and is not the only argument while $PYCORE_CORE is set); else $PYCORE_CORE.
func (qs *querySource) corePath(args []string) (string, []string, error) {
	if qs.ff.pid >= 0 {
		return qs.ff.livePath(), args, nil
	}
	if qs.core != "" {
		return qs.core, args, nil
	}
	env := os.Getenv(coreEnv)
	if len(args) > 0 && (env == "" || len(args) > 1) {
		if fi, err := os.Stat(args[0]); err == nil && !fi.IsDir() {
			return args[0], args[1:], nil
		}
	}
	if env != "" {
		return env, args, nil
	}
	if len(args) == 0 {
		return "", nil, errors.New("no core: give it as the first argument, with --core, or in $" + coreEnv)
	}
	if _, err := os.Stat(args[0]); err != nil {
		return "", nil, fmt.Errorf("no core: %v (give the core as the first argument, with --core, or in $%s)", err, coreEnv)
	}
	return "", nil, fmt.Errorf("no core: %s is a directory (give the core as the first argument, with --core, or in $%s)", args[0], coreEnv)
}

// formatFlags are the printing options of eval (and the shell's print).
type formatFlags struct {
	json      bool
	jsonLines bool
	depth     int
	hex       bool
	noTypes   bool
	limit     int
}

func (f *formatFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print one JSON document: an array of one object per expression")
	fl.BoolVar(&f.jsonLines, "json-lines", false, "print one JSON object per expression, one per line, as each is evaluated")
	cmd.MarkFlagsMutuallyExclusive("json", "json-lines")
	fl.IntVar(&f.depth, "depth", typesys.DefaultFormat().Depth, "levels of nested structs and arrays printed member by member")
	fl.BoolVarP(&f.hex, "hex", "x", false, "print integers in hexadecimal")
	fl.BoolVar(&f.noTypes, "no-types", false, "do not print each member's type")
	fl.IntVar(&f.limit, "limit", typesys.DefaultFormat().ArrayLimit, "array elements printed")
}

func (f *formatFlags) options(q *session.Query) typesys.FormatOptions {
	o := q.FormatOptions()
	o.Depth, o.Hex, o.MemberTypes, o.ArrayLimit = f.depth, f.hex, !f.noTypes, f.limit
	if o.Depth < 0 {
		o.Depth = 0
	}
	return o
}

func newEvalCommand(qs *querySource) *cobra.Command {
	var ff formatFlags
	use := "eval [CORE] EXPR..."
	if qs.shell != nil {
		use = "eval EXPR"
	}
	cmd := &cobra.Command{
		Use:     use,
		Aliases: []string{"p", "print"},
		Short:   "Evaluate C expressions over the core's memory, typed by its debug info",
		Long:    evalHelp(),
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, exprs, done, err := qs.open(args)
			if err != nil {
				return err
			}
			defer done()
			if qs.shell != nil {
				// In the shell the rest of the line is one expression.
				exprs = []string{strings.Join(exprs, " ")}
			}
			if len(exprs) == 0 {
				return errors.New("no expression to evaluate")
			}
			out := &output{w: cmd.OutOrStdout(), errw: cmd.ErrOrStderr(), json: ff.json || ff.jsonLines, opts: ff.options(q), core: q.S.Core}
			if ff.json {
				out.collect = []any{}
			}
			failed := 0
			for _, e := range exprs {
				r, err := q.Eval(e)
				if err == nil {
					err = out.result(r)
				}
				if err == nil {
					continue
				}
				if len(exprs) == 1 && !out.json {
					return err // printed once, by the caller
				}
				failed++
				out.evalError(e, err)
			}
			out.flushCollected()
			if failed > 0 {
				return fmt.Errorf("%d of %d expressions failed", failed, len(exprs))
			}
			return nil
		},
	}
	qs.register(cmd)
	ff.register(cmd)
	return cmd
}

// errSilent fails a command whose error was already printed.
var errSilent = errors.New("")

func evalHelp() string {
	var b strings.Builder
	b.WriteString(`Evaluate C expressions over the memory of the process the core was made of,
and print each one's type and value: structs member by member (nested to
--depth), pointers with the symbol they point into, char pointers and arrays
as strings.

` + coreUsage + `

Names: every symbol of the process's ELF files and every global variable of
their debug info (typed by it; without debug info a symbol is an address of
no type: cast it, e.g. *(PyTypeObject *)&PyLong_Type). A name with odd
characters can be quoted with backquotes: ` + "`completed.0`" + `.
When the core is of CPython:
`)
	for _, c := range session.ConvenienceNames {
		fmt.Fprintf(&b, "  %-9s %s\n", c.Name, c.Doc)
	}
	b.WriteString(`
Operators, as in C and with C's precedence:
  x.m  x->m     member (both follow a pointer: a.b.c works for a->b.c)
  x[i]          array element, or *(x + i) for a pointer
  * & - + ! ~   dereference, address, negation, logical and bitwise not
  (T)x          cast: numbers and pointers convert, memory is re-viewed as T
  * / % + -     arithmetic; pointer + n steps by the pointed-to size, p - q counts elements
  << >>  < <= > >= == !=  & ^ |  && ||  ?:
  sizeof(T) sizeof x    offsetof(T, member)
Literals: 42 0x2a 052 42u 42l 'c' '\n' "text" 1.5. Integers are typed as C
types them and mix by C's usual conversions (int, unsigned int, long,
unsigned long); == and != between a string and a char pointer or array
compare the text. T is a type as C writes it: struct _ts *, PyObject *,
unsigned long, const char *.

Functions:
`)
	for _, bi := range allBuiltinDocs() {
		fmt.Fprintf(&b, "  %s\n      %s\n", bi.Usage, bi.Doc)
	}
	b.WriteString(`
Errors point at the part of the expression they are about, suggest near
names, and say why memory could not be read (not in the core, a filtered
segment, a file that was not found).

--json prints one document, an array of one object per expression, in the
order given (also for one expression, so a script reads every answer the
same way); --json-lines prints the same objects one per line, each as soon
as it is evaluated:
  {"expr": "...", "type": "struct _ts *", "address": null, "value": 140234...}
"address" is where the value is in memory (null for a computed value). Read
from a running process (--pid), every object also has "live": {"pid",
"nonblocking", "paused_ms"}, how long the process was stopped. A
pointer's value is its integer; a struct's an object of its members (in
order), an array's a list, both nested to --depth; an enum's the
enumerator's name. For a string (char pointer or array) "value" is the
text, "address" where the text is, and "bytes" its raw bytes in hex. A list
from list() is {"type": "list", "items": [...]}; pyobj/repr/hex give
{"type": "text"}, pystr/string {"type": "string"}. An expression that fails
gives {"expr": "...", "error": "..."}.`)
	return b.String()
}

// allBuiltinDocs lists every built-in function, CPython's included.
func allBuiltinDocs() []*query.Builtin {
	all := query.GenericBuiltins()
	all = append(all, session.PythonBuiltinDocs()...)
	return all
}

// output prints results as text or JSON: every expression command prints
// through it.
type output struct {
	w, errw io.Writer
	json    bool
	opts    typesys.FormatOptions
	// collect, when not nil, gathers the JSON objects for flushCollected to
	// write as one array (--json); nil writes each on its own line.
	collect []any
	// core, when a running process, adds "live" (how it was read, how long
	// it was stopped) to every JSON object. While it is stopped the objects
	// wait in pending: flushCollected resumes it, then writes them.
	core    *core.Process
	pending []any
}

// flushCollected lets a stopped process run on, then writes the gathered
// objects: as one indented JSON array (--json), or one per line.
func (o *output) flushCollected() {
	live := resumeForOutput(o.core)
	pending := o.pending
	o.pending = nil
	for _, v := range pending {
		o.encode(withLive(v, live))
	}
	if o.collect == nil {
		return
	}
	for i := range o.collect {
		o.collect[i] = withLive(o.collect[i], live)
	}
	enc := json.NewEncoder(o.w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(o.collect); err != nil {
		fmt.Fprintf(o.errw, "pycore: JSON: %v\n", err)
	}
	o.collect = nil
}

// withLive adds the "live" member to a JSON object of a running process.
func withLive(v any, live *render.Live) any {
	if obj, ok := v.(typesys.Object); ok && live != nil {
		return append(obj, typesys.Field{Key: "live", Value: live})
	}
	return v
}

func (o *output) evalError(expr string, err error) {
	if o.json {
		obj := typesys.Object{{Key: "expr", Value: expr}}
		var qe *query.Error
		if errors.As(err, &qe) && qe.Src == expr {
			obj = append(obj, typesys.Field{Key: "error", Value: qe.Msg},
				typesys.Field{Key: "span", Value: []int{qe.Pos, qe.End}})
		} else {
			obj = append(obj, typesys.Field{Key: "error", Value: err.Error()})
		}
		o.writeJSON(obj)
		return
	}
	fmt.Fprintf(o.errw, "pycore: %v\n", err)
}

func (o *output) writeJSON(v any) {
	if o.collect != nil {
		o.collect = append(o.collect, v)
		return
	}
	if o.core != nil && o.core.Stopped() {
		o.pending = append(o.pending, v)
		return
	}
	o.encode(withLive(v, liveInfo(o.core)))
}

// encode writes one JSON object on a line.
func (o *output) encode(v any) {
	enc := json.NewEncoder(o.w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(o.errw, "pycore: JSON: %v\n", err)
	}
}

// result prints one expression's result.
func (o *output) result(r query.Result) error {
	if o.json {
		v, err := jsonResult(r, o.opts)
		if err != nil {
			return err
		}
		o.writeJSON(v)
		return nil
	}
	switch r.Kind {
	case query.TextResult:
		fmt.Fprintf(o.w, "%s = %s\n", r.Expr, r.Text)
	case query.StringResult:
		fmt.Fprintf(o.w, "%s = %s\n", r.Expr, quoteString(r.Text))
	case query.ListResult:
		typ := "items"
		if len(r.Items) > 0 && r.Items[0].Kind == query.ValueResult {
			typ = "items of (" + r.Items[0].Value.Type.String() + ")"
		}
		fmt.Fprintf(o.w, "%s = %d %s\n", r.Expr, len(r.Items), typ)
		for i, it := range r.Items {
			if it.Kind == query.TextResult { // e.g. native_frames()'s
				fmt.Fprintf(o.w, "  [%d] %s\n", i, it.Text)
				continue
			}
			s, err := typesys.FormatValue(it.Value, o.opts)
			if err != nil {
				s = "<unreadable: " + err.Error() + ">"
			}
			fmt.Fprintf(o.w, "  [%d] %s\n", i, s)
		}
		if r.Note != "" {
			fmt.Fprintf(o.w, "  (%s)\n", r.Note)
		}
	default:
		s, err := typesys.Format(r.Value, o.opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.w, "%s = %s\n", r.Expr, s)
	}
	return nil
}

// quoteString quotes decoded text for display as a C string.
func quoteString(s string) string { return typesys.QuoteC([]byte(s)) }

// jsonResult is the JSON object for one result.
func jsonResult(r query.Result, opts typesys.FormatOptions) (any, error) {
	switch r.Kind {
	case query.TextResult:
		obj := typesys.Object{{Key: "expr", Value: r.Expr}, {Key: "type", Value: "text"}, {Key: "value", Value: r.Text}}
		if r.Data != nil {
			obj = append(obj, typesys.Field{Key: "data", Value: r.Data})
		}
		return obj, nil
	case query.StringResult:
		obj := typesys.Object{{Key: "expr", Value: r.Expr}, {Key: "type", Value: "string"}}
		var addr any
		if r.Value.Type != nil {
			if p, err := r.Value.Ptr(); err == nil {
				addr = uint64(p)
			} else if r.Value.InMemory {
				addr = uint64(r.Value.Addr)
			}
		}
		return append(obj, typesys.Field{Key: "address", Value: addr}, typesys.Field{Key: "value", Value: r.Text}), nil
	case query.ListResult:
		items := make([]any, 0, len(r.Items))
		for _, it := range r.Items {
			if it.Kind == query.TextResult {
				obj := typesys.Object{{Key: "text", Value: it.Text}}
				if it.Data != nil {
					obj = append(obj, typesys.Field{Key: "data", Value: it.Data})
				}
				items = append(items, obj)
				continue
			}
			j, err := typesys.JSONOf(it.Value, opts)
			if err != nil {
				items = append(items, map[string]string{"error": err.Error()})
				continue
			}
			items = append(items, j)
		}
		obj := typesys.Object{{Key: "expr", Value: r.Expr}, {Key: "type", Value: "list"}, {Key: "items", Value: items}}
		if r.Note != "" {
			obj = append(obj, typesys.Field{Key: "note", Value: r.Note})
		}
		return obj, nil
	}
	j, err := typesys.JSONOf(r.Value, opts)
	if err != nil {
		return nil, err
	}
	obj := typesys.Object{{Key: "expr", Value: r.Expr}, {Key: "type", Value: j.Type}, {Key: "address", Value: j.Address}, {Key: "value", Value: j.Value}}
	if j.Bytes != nil {
		obj = append(obj, typesys.Field{Key: "bytes", Value: *j.Bytes})
	}
	if j.Truncated {
		obj = append(obj, typesys.Field{Key: "truncated", Value: true})
	}
	return obj, nil
}
