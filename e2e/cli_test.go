package e2e

import (
	"os/exec"
	"testing"
)

// `pycore --version` prints what `pycore version` prints (issue 17, item 13: it
// was an unknown flag).
func TestVersionFlagMatchesVersionCommand(t *testing.T) {
	flag, err := exec.Command(pycoreBin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("pycore --version: %v\n%s", err, flag)
	}
	cmd, err := exec.Command(pycoreBin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("pycore version: %v\n%s", err, cmd)
	}
	if string(flag) != string(cmd) || len(cmd) < len("pycore x\n") {
		t.Fatalf("pycore --version printed %q, pycore version %q", flag, cmd)
	}
}
