package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// textFrameVars is one frame of threads --locals text: the names under
// "Arguments:" and under "Locals:", and which were <unbound>.
type textFrameVars struct {
	args, locals []string
	unbound      map[string]bool
}

var textVarRE = regexp.MustCompile(`^      (\S+) = (.*)$`)

// textLocals parses threads --locals text into each thread's frames,
// outermost first, by ident.
func textLocals(text string) map[uint64][]textFrameVars {
	out := map[uint64][]textFrameVars{}
	var id uint64
	var cur *textFrameVars
	section := ""
	for _, line := range strings.Split(text, "\n") {
		if m := textThreadRE.FindStringSubmatch(line); m != nil {
			id, _ = strconv.ParseUint(m[1], 0, 64)
			cur = nil
			continue
		}
		switch {
		case strings.HasPrefix(line, "  File "):
			out[id] = append(out[id], textFrameVars{unbound: map[string]bool{}})
			cur = &out[id][len(out[id])-1]
			section = ""
		case cur == nil:
		case line == "    Arguments:" || line == "    Locals:":
			section = line
		case textVarRE.MatchString(line):
			m := textVarRE.FindStringSubmatch(line)
			switch section {
			case "    Arguments:":
				cur.args = append(cur.args, m[1])
			case "    Locals:":
				cur.locals = append(cur.locals, m[1])
			default: // under no heading: wrong, and shown so in the comparison
				cur.locals = append(cur.locals, "(no heading) "+m[1])
			}
			if m[2] == "<unbound>" {
				cur.unbound[m[1]] = true
			}
		case !strings.HasPrefix(line, "    "):
			cur = nil
		}
	}
	return out
}

// checkLocalsLabels reads threads --locals text, with and without
// --unbound, and checks every frame's "Arguments:" against the parameters
// inspect.getargs() gave for its code inside the program, and "Locals:"
// against its other variables: the unbound ones (the program saw them
// missing from f_locals) left out by default, shown as <unbound> with
// --unbound.
func checkLocalsLabels(t *testing.T, o *localsOracle, core string, args []string) {
	t.Helper()
	for _, withUnbound := range []bool{false, true} {
		argv := append(append([]string{"threads"}, roomyLocals...), args...)
		if withUnbound {
			argv = append(argv, "--unbound")
		}
		got := textLocals(runText(t, append(argv, core)...))
		sawUnbound := false
		for ident, frames := range o.Threads {
			id, _ := strconv.ParseUint(ident, 10, 64)
			tf := got[id]
			if len(tf) != len(frames) {
				t.Errorf("%v: thread %s: %d frames in the text, the oracle has %d", argv, ident, len(tf), len(frames))
				continue
			}
			for i, of := range frames {
				g := tf[len(tf)-1-i] // the text is outermost first
				isArg := map[string]bool{}
				for _, a := range of.Arguments {
					isArg[a] = true
				}
				var wantArgs, wantLocals, wantUnbound []string
				for _, l := range of.Locals {
					if !l.Bound {
						if !withUnbound {
							continue
						}
						wantUnbound = append(wantUnbound, l.Name)
					}
					if isArg[l.Name] {
						wantArgs = append(wantArgs, l.Name)
					} else {
						wantLocals = append(wantLocals, l.Name)
					}
				}
				// The arguments in the order of the signature inspect gives.
				var ordered []string
				for _, a := range of.Arguments {
					for _, w := range wantArgs {
						if w == a {
							ordered = append(ordered, a)
						}
					}
				}
				var gotUnbound []string
				for _, n := range append(append([]string{}, g.args...), g.locals...) {
					if g.unbound[n] {
						gotUnbound = append(gotUnbound, n)
					}
				}
				where := fmt.Sprintf("%v: thread %s frame %s", argv[len(argv)-1], ident, of.Function)
				if withUnbound {
					where += " (--unbound)"
				}
				if strings.Join(g.args, ",") != strings.Join(ordered, ",") {
					t.Errorf("%s: Arguments: %v, want %v (inspect: %v)", where, g.args, ordered, of.Arguments)
				}
				if strings.Join(g.locals, ",") != strings.Join(wantLocals, ",") {
					t.Errorf("%s: Locals: %v, want %v", where, g.locals, wantLocals)
				}
				if strings.Join(gotUnbound, ",") != joinSorted(wantUnbound, append(append([]string{}, ordered...), wantLocals...)) {
					t.Errorf("%s: <unbound> %v, want %v", where, gotUnbound, wantUnbound)
				}
				sawUnbound = sawUnbound || len(wantUnbound) > 0
			}
		}
		if withUnbound && !sawUnbound {
			t.Errorf("locals.py has no unbound variable: --unbound is not exercised")
		}
	}
}

// joinSorted lists names in the order they have in order.
func joinSorted(names, order []string) string {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []string
	for _, n := range order {
		if want[n] {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}
