package cpython

import (
	"testing"
	"time"
)

func TestCoredumpTimeFromSystemdFileNames(t *testing.T) {
	pid := 4242
	other := 4243
	at := time.Date(2026, 12, 7, 23, 10, 5, 123456000, time.UTC)
	usec := "1796685005123456"
	if at.UnixMicro() != 1796685005123456 {
		t.Fatalf("test's own timestamp is wrong: %d", at.UnixMicro())
	}
	name := "core.python3\\x2e12.0.0123456789abcdef0123456789abcdef.4242." + usec
	for _, tc := range []struct {
		name string
		path string
		pid  *int
		want bool
	}{
		{"a zstd core of that pid is dated", "/var/lib/systemd/coredump/" + name + ".zst", &pid, true},
		{"an uncompressed one too", name, &pid, true},
		{"an lz4 one too", name + ".lz4", &pid, true},
		{"a name of another pid is not", name + ".zst", &other, false},
		{"a core without psinfo is not", name + ".zst", nil, false},
		{"a plain core file is not", "/tmp/core.4242", &pid, false},
		{"a gzip suffix systemd does not write is not", name + ".gz", &pid, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := coredumpTime(tc.path, tc.pid)
			if ok != tc.want {
				t.Fatalf("coredumpTime(%q) ok=%v, want %v", tc.path, ok, tc.want)
			}
			if ok && !got.Equal(at) {
				t.Errorf("coredumpTime(%q) = %v, want %v", tc.path, got, at)
			}
		})
	}
}

func TestTrimPartialRuneKeepsWholeCharacters(t *testing.T) {
	snake := "dír-🐍"
	for _, tc := range []struct{ in, want string }{
		{snake, snake},
		{snake[:len(snake)-1], "dír-"},
		{snake[:len(snake)-3], "dír-"},
		{"dí"[:2], "d"},
		{"plain", "plain"},
		{"", ""},
		{"bad\xff", "bad\xff"}, // not a cut sequence: left as is
	} {
		if got := trimPartialRune(tc.in); got != tc.want {
			t.Errorf("trimPartialRune(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
