package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update", false, "rewrite README.md's generated output blocks from the real commands")

// readmeMarker introduces a README block whose output is generated: the
// fenced block after it holds `$ pycore ARGS` lines (and `$ export NAME=VALUE`
// lines), and the lines under each command are that command's real output,
// cut to the 1-based line ranges the marker gives per command (`;`
// separates commands, `all` keeps everything, `a-` runs to the end). A cut
// is shown as a line `...`.
var readmeMarker = regexp.MustCompile(`^<!-- pycore-output: (.*) -->$`)

// TestREADMEOutput runs every command of the README's marked blocks (on the
// shipped sample core, which needs no Python) and compares the block with
// what pycore prints, so the README's examples cannot drift from the
// program. `go test ./e2e -run TestREADMEOutput -update` rewrites them.
func TestREADMEOutput(t *testing.T) {
	path := filepath.Join("..", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var out []string
	blocks := 0
	// Like one shell session: an export holds for the blocks after it.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PYCORE_CORE=") {
			env = append(env, kv)
		}
	}
	for i := 0; i < len(lines); i++ {
		out = append(out, lines[i])
		m := readmeMarker.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "```" {
			t.Fatalf("README.md:%d: a pycore-output marker must be followed by a ``` line", i+1)
		}
		end := i + 2
		for end < len(lines) && lines[end] != "```" {
			end++
		}
		if end == len(lines) {
			t.Fatalf("README.md:%d: unterminated block", i+2)
		}
		blocks++
		old := lines[i+2 : end]
		got, err := renderREADMEBlock(m[1], old, &env)
		if err != nil {
			t.Fatalf("README.md:%d: %v", i+1, err)
		}
		if !*updateREADME && strings.Join(got, "\n") != strings.Join(old, "\n") {
			t.Errorf("README.md:%d: the block differs from what pycore prints (go test ./e2e -run TestREADMEOutput -update rewrites it):\n%s",
				i+3, lineDiff(old, got))
		}
		out = append(out, "```")
		out = append(out, got...)
		out = append(out, "```")
		i = end
	}
	// The first threads example, the JSON, the native stacks and the eval
	// session at least; a lost marker must not make the test pass vacuously.
	if blocks < 4 {
		t.Errorf("README.md has %d pycore-output blocks, want at least 4", blocks)
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// renderREADMEBlock runs the commands of one block and prints it again with
// their real output, cut as spec says.
func renderREADMEBlock(spec string, block []string, env *[]string) ([]string, error) {
	specs := strings.Split(spec, ";")
	var out []string
	cmd := 0
	for _, l := range block {
		switch {
		case strings.HasPrefix(l, "$ export "):
			*env = append(*env, strings.TrimPrefix(l, "$ export "))
			out = append(out, l)
		case strings.HasPrefix(l, "$ pycore "):
			if cmd >= len(specs) {
				return nil, fmt.Errorf("more commands than line ranges in the marker (%q)", spec)
			}
			args, err := splitShell(strings.TrimPrefix(l, "$ pycore "))
			if err != nil {
				return nil, fmt.Errorf("%s: %v", l, err)
			}
			c := exec.Command(pycoreBin, args...)
			c.Dir = ".."
			c.Env = *env
			// Errors are part of the examples: the output is what a
			// terminal shows, stdout and stderr, whatever the exit status.
			text, _ := c.CombinedOutput()
			cut, err := cutLines(strings.Split(strings.TrimSuffix(string(text), "\n"), "\n"), strings.TrimSpace(specs[cmd]))
			if err != nil {
				return nil, err
			}
			if cmd > 0 {
				out = append(out, "")
			}
			out = append(out, l)
			out = append(out, cut...)
			cmd++
		}
	}
	if cmd != len(specs) {
		return nil, fmt.Errorf("%d commands in the block, %d line ranges in the marker", cmd, len(specs))
	}
	return out, nil
}

// cutLines keeps the ranges of spec ("all", or "1-27, 53-") and writes "..."
// where lines were left out.
func cutLines(lines []string, spec string) ([]string, error) {
	if spec == "all" {
		return lines, nil
	}
	var out []string
	next := 1 // the first line not yet shown or cut
	for _, r := range strings.Split(spec, ",") {
		r = strings.TrimSpace(r)
		lo, hi, dash := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < next {
			return nil, fmt.Errorf("bad line range %q in %q", r, spec)
		}
		b := a
		if dash {
			b = len(lines)
			if hi != "" {
				if b, err = strconv.Atoi(hi); err != nil || b < a {
					return nil, fmt.Errorf("bad line range %q in %q", r, spec)
				}
			}
		}
		if b > len(lines) {
			return nil, fmt.Errorf("line range %q: the output has only %d lines", r, len(lines))
		}
		if a > next {
			out = append(out, "...")
		}
		out = append(out, lines[a-1:b]...)
		next = b + 1
	}
	if next <= len(lines) {
		out = append(out, "...")
	}
	return out, nil
}

// splitShell splits a command line as sh would for the README's simple
// quoting: words, '...' and "..." (no escapes inside single quotes).
func splitShell(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case '\'', '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated %c", c)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case '#':
			if !inWord {
				i = len(s)
				continue
			}
			cur.WriteByte(c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(want, got []string) string {
	var b bytes.Buffer
	shown := 0
	for i := 0; i < len(want) || i < len(got); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n  README: %q\n  pycore: %q\n", i+1, w, g)
			if shown++; shown == 5 {
				break
			}
		}
	}
	return b.String()
}
