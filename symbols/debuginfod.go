package symbols

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Debuginfod fetches detached debug files by build ID from debuginfod
// servers (GET URL/buildid/ID/debuginfo) when a module's are not on this
// machine, caching them as elfutils' client does: CacheDir/ID/debuginfo.
type Debuginfod struct {
	URLs     []string
	CacheDir string
	Timeout  time.Duration // per request; 0: DefaultDebuginfodTimeout
	MaxSize  int64         // per file; 0: DefaultDebuginfodMaxSize
	// Log, if set, is told what was fetched and what failed (one line each).
	Log io.Writer

	mu sync.Mutex // serializes Log and cache writes
}

// Bounds on a fetch: a server that is slow or sends too much must not hold
// up or fill the machine.
const (
	DefaultDebuginfodTimeout = 30 * time.Second
	DefaultDebuginfodMaxSize = 1 << 30
)

// DebuginfodFromEnv is the configuration elfutils' client takes from the
// environment: DEBUGINFOD_URLS (space-separated), DEBUGINFOD_CACHE_PATH
// (default $XDG_CACHE_HOME/debuginfod_client, else
// ~/.cache/debuginfod_client) and DEBUGINFOD_TIMEOUT (seconds). It is nil
// when DEBUGINFOD_URLS is unset or empty: then nothing is fetched.
func DebuginfodFromEnv() *Debuginfod {
	urls := strings.Fields(os.Getenv("DEBUGINFOD_URLS"))
	if len(urls) == 0 {
		return nil
	}
	return NewDebuginfod(urls)
}

// NewDebuginfod is a client of urls with the cache and timeout of the
// environment (see DebuginfodFromEnv).
func NewDebuginfod(urls []string) *Debuginfod {
	d := &Debuginfod{URLs: urls, CacheDir: os.Getenv("DEBUGINFOD_CACHE_PATH")}
	if d.CacheDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			d.CacheDir = filepath.Join(dir, "debuginfod_client")
		}
	}
	var secs int
	if _, err := fmt.Sscanf(os.Getenv("DEBUGINFOD_TIMEOUT"), "%d", &secs); err == nil && secs > 0 {
		d.Timeout = time.Duration(secs) * time.Second
	}
	return d
}

func (d *Debuginfod) logf(format string, args ...any) {
	if d.Log == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.Log, "pycore: debuginfod: "+format+"\n", args...)
}

// cachePath is where the debug file of build ID id is cached.
func (d *Debuginfod) cachePath(id []byte) string {
	return filepath.Join(d.CacheDir, hex.EncodeToString(id), "debuginfo")
}

// fetch returns the path of the cached debug file of build ID id, fetching
// it from the first server that has it. label names the module in messages.
func (d *Debuginfod) fetch(id []byte, label string) (string, error) {
	if d.CacheDir == "" {
		return "", errors.New("debuginfod: no cache directory (set DEBUGINFOD_CACHE_PATH)")
	}
	path := d.cachePath(id)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
		return path, nil
	}
	timeout, limit := d.Timeout, d.MaxSize
	if timeout <= 0 {
		timeout = DefaultDebuginfodTimeout
	}
	if limit <= 0 {
		limit = DefaultDebuginfodMaxSize
	}
	var errs []string
	for _, base := range d.URLs {
		url := strings.TrimSuffix(base, "/") + "/buildid/" + hex.EncodeToString(id) + "/debuginfo"
		n, err := d.get(url, path, timeout, limit)
		if err == nil {
			d.logf("fetched the debug info of %s (%d bytes) from %s", label, n, base)
			return path, nil
		}
		errs = append(errs, err.Error())
	}
	err := fmt.Errorf("debuginfod: no debug info for %s (build ID %x): %s", label, id, strings.Join(errs, "; "))
	d.logf("%v", err)
	return "", err
}

// get downloads url into path (through a temporary file, so that an
// interrupted download is never taken for a debug file) and returns its
// size.
func (d *Debuginfod) get(url, path string, timeout time.Duration, limit int64) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	if resp.ContentLength > limit {
		return 0, fmt.Errorf("%s: %d bytes, more than the bound of %d", url, resp.ContentLength, limit)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("debuginfod cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".debuginfo-*")
	if err != nil {
		return 0, fmt.Errorf("debuginfod cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, limit+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", url, err)
	}
	if n > limit {
		return 0, fmt.Errorf("%s: more than the bound of %d bytes", url, limit)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("debuginfod cache: %w", err)
	}
	return n, nil
}

// debuginfodFile fetches (or finds in the cache) the module's debug file
// from its debuginfod servers and opens it.
func (m *Module) debuginfodFile() (*debugFile, error) {
	if m.debuginfod == nil || len(m.BuildID) == 0 {
		return nil, errors.New("no debuginfod")
	}
	path, err := m.debuginfod.fetch(m.BuildID, m.name())
	if err != nil {
		return nil, err
	}
	return m.openDebugCandidate(path)
}
