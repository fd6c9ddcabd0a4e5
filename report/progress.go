package report

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress draws a one-line progress bar (for a terminal: it rewrites its line
// with a carriage return). Use Update as Options.Progress and Finish at the end.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	start   time.Time
	last    time.Time
	drawn   bool
	every   time.Duration
	barCols int
}

// NewProgress draws on w, at most ten times a second.
func NewProgress(w io.Writer) *Progress {
	return &Progress{w: w, start: time.Now(), every: 100 * time.Millisecond, barCols: 30}
}

// Update redraws the bar for done of total cores, unreadable of them bad.
func (p *Progress) Update(done, total, unreadable int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.drawn && done < total && now.Sub(p.last) < p.every {
		return
	}
	p.last, p.drawn = now, true
	filled := 0
	if total > 0 {
		filled = done * p.barCols / total
	}
	elapsed := now.Sub(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed
	}
	eta := "--:--"
	if rate > 0 && done < total {
		left := time.Duration(float64(total-done) / rate * float64(time.Second))
		eta = fmt.Sprintf("%d:%02d", int(left.Minutes()), int(left.Seconds())%60)
	} else if done == total {
		eta = "0:00"
	}
	fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %d/%d cores, %d unreadable, %.1f/s, ETA %s",
		strings.Repeat("#", filled), strings.Repeat(".", p.barCols-filled), done, total, unreadable, rate, eta)
}

// Finish erases the bar.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}
