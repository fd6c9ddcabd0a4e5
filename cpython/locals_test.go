package cpython

import (
	"strings"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/internal/pytest"
)

// A frame or code object whose memory is not in the core (a corrupt
// pointer, a page gcore could not read) gives locals that say why they are
// missing, never a panic or made-up values; so do exceptions.
func TestLocalsAndExceptionsOfUnreadableMemorySayWhy(t *testing.T) {
	for _, interp := range pytest.Selected(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "locals", pytest.Kernel)
			p := openProcess(t, c.Path, interp, TypesBuiltin)
			snap, err := p.SnapshotWith(SnapshotOptions{Locals: true})
			if err != nil {
				t.Fatal(err)
			}
			var frame *Frame
			for _, th := range snap.Threads {
				for i := range th.Frames {
					if th.Frames[i].Function == "many_types" {
						frame = &th.Frames[i]
					}
				}
			}
			if frame == nil || len(frame.Locals) < 30 || frame.LocalsError != "" {
				t.Fatalf("many_types' frame: %+v", frame)
			}
			dl, err := newDetailLayout(p)
			if err != nil {
				t.Fatal(err)
			}
			lr, err := p.newLocalsReader(dl, ReprOptions{})
			if err != nil {
				t.Fatal(err)
			}

			const nowhere = core.Address(0x10)
			moved := Frame{Function: frame.Function, Code: frame.Code, Address: nowhere}
			lr.frameLocals(&moved)
			if len(moved.Locals) != len(frame.Locals) {
				t.Fatalf("a frame out of the core lists %d locals, want the code's %d", len(moved.Locals), len(frame.Locals))
			}
			for _, l := range moved.Locals {
				if l.Unbound || l.Value == nil || !strings.Contains(l.Value.Error, "slot") || !strings.Contains(l.Value.Repr, "<unreadable object at") {
					t.Errorf("%s of a frame out of the core: %+v", l.Name, l.Value)
				}
			}

			lost := Frame{Function: frame.Function, Code: nowhere, Address: frame.Address}
			lr.frameLocals(&lost)
			if len(lost.Locals) != 0 || !strings.Contains(lost.LocalsError, "code object at 0x10") {
				t.Errorf("a code object out of the core: locals %v, error %q", lost.Locals, lost.LocalsError)
			}

			er, err := p.newExcReader(dl)
			if err != nil {
				t.Fatal(err)
			}
			e := er.read(nowhere, 0, newExcWalk(), false)
			if e.Error == "" || !strings.Contains(e.Error, "0x10") {
				t.Errorf("an exception out of the core: %+v", e)
			}
			if tb, _ := er.traceback(nowhere); len(tb) == 0 || !strings.Contains(tb[0].Error, "traceback at 0x10") {
				t.Errorf("a traceback out of the core: %+v", tb)
			}
		})
	}
}
