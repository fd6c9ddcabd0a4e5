package report

import (
	"io"
	"os"
	"testing"
)

// Writing a report to /dev/null must leave /dev/null a device: renaming a
// temporary file over it (as root) would replace it with a regular file.
func TestAtomicWriteToADeviceWritesInPlace(t *testing.T) {
	before, err := os.Stat(os.DevNull)
	if err != nil || before.Mode()&os.ModeDevice == 0 {
		t.Skipf("%s is not a device here (%v)", os.DevNull, err)
	}
	if err := WriteFileAtomic(os.DevNull, func(w io.Writer) error {
		_, err := io.WriteString(w, "report\n")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(os.DevNull)
	if err != nil || after.Mode()&os.ModeDevice == 0 {
		t.Fatalf("%s is no longer a device: %v %v", os.DevNull, after.Mode(), err)
	}
}
