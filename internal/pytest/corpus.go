package pytest

import (
	"fmt"
	"os"
	"path/filepath"
)

// ReportScenarioDir holds the scenario programs of the `pycore report` corpus
// (testdata/scenarios/report): crash sites that are not part of Scenarios().
func ReportScenarioDir() string { return filepath.Join(ScenarioDir(), "report") }

// MakeCoreIn is MakeCore for corpora made outside a single test (in a sync.Once, a
// TestMain or a benchmark): the scenario comes from dir (its pycore_oracle.py from
// ScenarioDir when dir has none), files go to a new directory under tmp, which the
// caller removes, and failures are returned. Calls may run concurrently; at most
// PYCORE_JOBS programs run at once.
func MakeCoreIn(tmp, dir string, i Interpreter, scenario string, kind CoreKind) (*Core, error) {
	if kind == Kernel || kind == Sent {
		if err := kernelCoresUsable(); err != nil {
			return nil, fmt.Errorf("kernel cores: %w", err)
		}
	}
	d, err := os.MkdirTemp(tmp, scenario+"-")
	if err != nil {
		return nil, err
	}
	return makeCore(d, dir, i, scenario, kind)
}

// KernelCoresUsable says why the kernel would not write cores of scenario programs
// to files here (nil when it would); MakeCore skips kernel cores then.
func KernelCoresUsable() error { return kernelCoresUsable() }
