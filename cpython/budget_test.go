package cpython

import (
	"strings"
	"testing"
)

// A forged core can point many thread states at one long frame chain; the
// per-chain bound then multiplies. One snapshot spends from one budget.
func TestFrameBudgetIsSharedByAllThreads(t *testing.T) {
	p := &Process{frameBudget: 4}
	for i := 0; i < 3; i++ {
		if err := p.spendFrame(); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := p.spendFrame(); err == nil || !strings.Contains(err.Error(), "frames in all threads") {
			t.Fatalf("after the budget, got %v", err)
		}
	}
	if err := (&Process{}).spendFrame(); err != nil {
		t.Fatalf("outside a snapshot: %v", err)
	}
}
