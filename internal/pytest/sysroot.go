package pytest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

var sysrootMu sync.Mutex

// StrippedSysroot returns a directory that mirrors the absolute paths of i's ELF files
// (Files) with stripped copies: `strip --strip-all`, so no .symtab and no DWARF, while
// .dynsym and the build ID note stay. Analysing a core with --sysroot DIR then shows what
// pycore can do without debug info. The directory is cached under CacheDir()/sysroots,
// keyed by the files' paths, sizes, times and build IDs, and built atomically (safe for
// concurrent tests and processes).
func StrippedSysroot(i Interpreter) (string, error) {
	files, err := i.Files()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	ids := make([]string, len(files))
	for n, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("stripped sysroot: %w", err)
		}
		if ids[n], err = BuildID(f); err != nil {
			return "", fmt.Errorf("stripped sysroot: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s\x00", f, fi.Size(), fi.ModTime().UnixNano(), ids[n])
	}
	base := filepath.Join(CacheDir(), "sysroots")
	dir := filepath.Join(base, fmt.Sprintf("%s-%x", i.Name(), h.Sum(nil)[:8]))

	sysrootMu.Lock()
	defer sysrootMu.Unlock()
	if fileExists(filepath.Join(dir, ".complete")) {
		return dir, nil
	}
	strip, err := exec.LookPath("strip")
	if err != nil {
		return "", fmt.Errorf("stripped sysroot: strip not found (apt-get install binutils): %w", err)
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(base, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for n, f := range files {
		if !filepath.IsAbs(f) {
			return "", fmt.Errorf("stripped sysroot: %s is not an absolute path", f)
		}
		dst := filepath.Join(tmp, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		out, err := exec.Command(strip, "--strip-all", "-o", dst, f).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("strip --strip-all %s: %w: %s", f, err, strings.TrimSpace(string(out)))
		}
		// A copy that lost its build ID could not be matched to the core's mappings.
		if id, err := BuildID(dst); err != nil || id != ids[n] {
			return "", fmt.Errorf("stripped %s has build ID %q, the original %q (%v)", f, id, ids[n], err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), []byte(strings.Join(files, "\n")+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process built it meanwhile: use theirs.
		if fileExists(filepath.Join(dir, ".complete")) {
			return dir, nil
		}
		return "", fmt.Errorf("stripped sysroot: %w", errors.Join(err, os.RemoveAll(dir)))
	}
	return dir, nil
}
