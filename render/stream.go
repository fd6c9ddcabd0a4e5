package render

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/native"
)

// WriteSnapshot writes s as one JSON document indented by two spaces, what
// a json.Encoder would write of SnapshotOf(s), converting and encoding one
// thread at a time so that the whole document is never in memory.
func WriteSnapshot(w io.Writer, s *cpython.Snapshot) error {
	return writeStreamed(w, headOf(s), "threads", s.Threads, ThreadOf, tailOf(s))
}

// WriteNativeSnapshot writes s as WriteSnapshot does, the threads with
// their native stacks: the snapshot's members, then "threads", then the
// crash (the order it has always had).
func WriteNativeSnapshot(w io.Writer, s *native.Snapshot) error {
	head := struct {
		SnapshotHead
		SnapshotTail
	}{headOf(s.Snapshot), tailOf(s.Snapshot)}
	return writeStreamed(w, head, "threads", s.Threads, NativeThreadOf, crashTail(s))
}

// writeStreamed writes the object whose members are head's, then key: an
// array of conv of each item, then tail's. head and tail are structs;
// head has at least one member. Each is encoded by one json.Encoder, whose
// output for an object is "{\n  members\n}\n": head without its closing
// line, the items at the array's indent, tail without its opening brace.
func writeStreamed[T, J any](w io.Writer, head any, key string, items []T, conv func(T) J, tail any) error {
	var buf bytes.Buffer
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(head); err != nil {
		return err
	}
	h := bytes.TrimSuffix(buf.Bytes(), []byte("\n}\n"))
	if len(h) == buf.Len() || len(h) < 2 {
		return fmt.Errorf("JSON of %T is not an object with members", head)
	}
	bw.Write(h)
	fmt.Fprintf(bw, ",\n  %q: [", key)
	enc.SetIndent("    ", "  ")
	for k, it := range items {
		buf.Reset()
		if err := enc.Encode(conv(it)); err != nil {
			return err
		}
		if k > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	if len(items) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteByte(']')
	buf.Reset()
	enc.SetIndent("", "  ")
	if err := enc.Encode(tail); err != nil {
		return err
	}
	if t := buf.Bytes(); !bytes.Equal(t, []byte("{}\n")) {
		bw.WriteByte(',')
		bw.Write(t[1:])
	} else {
		bw.WriteString("\n}\n")
	}
	return bw.Flush()
}
