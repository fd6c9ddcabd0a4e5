package query

import (
	"sort"
	"strings"

	"github.com/pycore/pycore/typesys"
)

// MaxCompletions bounds the candidates Complete returns.
const MaxCompletions = 200

var completionKeywords = []string{"sizeof", "struct", "union", "enum", "unsigned", "signed",
	"char", "short", "int", "long", "float", "double", "void", "_Bool", "const"}

// Complete proposes how to finish the word at the end of src: a member name
// after '.' or '->' (the expression before it is evaluated for its type),
// else a root name, built-in function or keyword. word is the partial word
// the candidates replace; candidates are whole words, sorted.
func (e *Env) Complete(src string) (word string, cands []string) {
	i := len(src)
	for i > 0 && isIdentByte(src[i-1]) {
		i--
	}
	word = src[i:]
	if i > 0 && word != "" && src[i-1] >= '0' && src[i-1] <= '9' {
		return word, nil
	}
	var base string
	switch {
	case strings.HasSuffix(src[:i], "->"):
		base = src[:i-2]
	case strings.HasSuffix(src[:i], ".") && !strings.HasSuffix(src[:i], ".."):
		base = src[:i-1]
	default:
		names := append(append([]string{}, completionKeywords...), e.BuiltinNames()...)
		if e.RootNames != nil {
			names = append(names, e.RootNames()...)
		}
		return word, withPrefix(names, word)
	}
	start := postfixStart(base)
	expr := strings.TrimSpace(base[start:])
	if expr == "" {
		return word, nil
	}
	t, err := e.TypeOf(expr)
	if err != nil {
		return word, nil
	}
	r := t.Resolve()
	if r != nil && r.Kind == typesys.Pointer {
		t = r.Elem
	}
	return word, withPrefix(t.MemberNames(), word)
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// postfixStart finds where the postfix expression ending src begins: back
// over names, '.', '->', and balanced (...) and [...].
func postfixStart(src string) int {
	i := len(src)
	for i > 0 {
		c := src[i-1]
		switch {
		case isIdentByte(c):
			i--
		case c == '.':
			i--
		case c == '>' && i >= 2 && src[i-2] == '-':
			i -= 2
		case c == ')' || c == ']':
			open := byte('(')
			if c == ']' {
				open = '['
			}
			depth := 0
			j := i - 1
			for ; j >= 0; j-- {
				switch src[j] {
				case c:
					depth++
				case open:
					depth--
				}
				if depth == 0 {
					break
				}
			}
			if j < 0 {
				return i
			}
			i = j
		default:
			return i
		}
	}
	return i
}

func withPrefix(names []string, prefix string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	if len(out) > MaxCompletions {
		out = out[:MaxCompletions]
	}
	return out
}
