// Command genlayouts writes cpython/abi/layouts_gen.go: the layouts of CPython's
// runtime structs (offsets and types of their members) for each CPython build
// it is given, read from the DWARF of those builds.
//
// Inputs are found by default: pyenv's shared builds of 3.6-3.13 under
// $PYENV_ROOT (or ~/.pyenv), and Debian release builds unpacked by
// testdata/pythons/fetch.sh under $PYCORE_CACHE/pythons (or
// ~/.cache/pycore/pythons) whose executable has a detached debug file. More
// can be named with -in PATH=LABEL, where LABEL starts with the exact version:
//
//	go run ./internal/genlayouts -o layouts_gen.go -in /x/abcd.debug="3.11.2 debian-bookworm"
//
// Free-threaded and Py_DEBUG builds get tables of their own (their structs
// differ), labelled by ABI flags: the json of build-ft.sh's builds and of the
// Debian debug interpreters says so, -in takes "3.13.5t" or "3.11.2d".
//
// The run fails rather than write a table missing one of the minors 3.6-3.13,
// or one of requiredFlavors, so that regenerating on a machine without the
// builds cannot silently drop versions; -allow-missing overrides that.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

type options struct {
	pyenvRoot    string // "" or "none": do not look
	cacheDir     string // "" or "none": do not look
	extra        []string
	allowMissing bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	var opt options
	var out string
	var verbose bool
	var extra multiFlag
	flag.StringVar(&out, "o", "", "output file (\"-\" for stdout)")
	flag.StringVar(&opt.pyenvRoot, "pyenv", defaultDir("PYENV_ROOT", ".pyenv"), "pyenv root to search for builds (\"none\" to skip)")
	flag.StringVar(&opt.cacheDir, "cache", defaultDir("PYCORE_CACHE", filepath.Join(".cache", "pycore")), "pycore cache with Debian builds under pythons/ (\"none\" to skip)")
	flag.Var(&extra, "in", "another build: PATH=LABEL, LABEL = \"VERSION [ORIGIN]\" (repeatable)")
	flag.BoolVar(&opt.allowMissing, "allow-missing", false, "write the table even if some of 3.6-3.13 (or the required free-threaded and debug builds) have no build")
	flag.BoolVar(&verbose, "v", false, "say which inputs were used or skipped")
	flag.Parse()
	opt.extra = extra
	if out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: genlayouts -o FILE [-pyenv DIR] [-cache DIR] [-in PATH=LABEL]... [-allow-missing]")
		os.Exit(2)
	}
	ins, notes, err := discover(opt)
	if verbose {
		for _, n := range notes {
			fmt.Fprintln(os.Stderr, "genlayouts:", n)
		}
		for _, in := range ins {
			fmt.Fprintf(os.Stderr, "genlayouts: %s: %s\n", in.Version, in.Path)
		}
	}
	if err != nil {
		fatal(err)
	}
	src, err := generate(ins)
	if err != nil {
		fatal(err)
	}
	if out == "-" {
		_, err = os.Stdout.Write(src)
	} else {
		err = writeIfChanged(out, src)
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "genlayouts:", err)
	os.Exit(1)
}

// discover lists the input builds, sorted, and notes about skipped ones.
func discover(opt options) ([]input, []string, error) {
	var ins []input
	var notes []string
	if enabled(opt.pyenvRoot) {
		p, n, err := pyenvInputs(opt.pyenvRoot)
		if err != nil {
			return nil, nil, err
		}
		ins, notes = append(ins, p...), append(notes, n...)
	}
	if enabled(opt.cacheDir) {
		d, n, err := debianInputs(opt.cacheDir)
		if err != nil {
			return nil, nil, err
		}
		ins, notes = append(ins, d...), append(notes, n...)
	}
	for _, s := range opt.extra {
		in, err := flagInput(s)
		if err != nil {
			return nil, nil, err
		}
		ins = append(ins, in)
	}
	sortInputs(ins)
	seen := map[string]bool{}
	have := map[string]bool{}
	for _, in := range ins {
		if seen[in.Source] {
			return nil, nil, fmt.Errorf("two inputs are both described as %q (%s)", in.Source, in.Path)
		}
		seen[in.Source] = true
		have[in.key()] = true
	}
	if !opt.allowMissing {
		var missing []string
		for m := firstMinor; m <= lastMinor; m++ {
			if !have[fmt.Sprintf("3.%d", m)] {
				missing = append(missing, fmt.Sprintf("3.%d", m))
			}
		}
		for _, k := range requiredFlavors {
			if !have[k] {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			var looked []string
			if enabled(opt.pyenvRoot) {
				looked = append(looked, filepath.Join(opt.pyenvRoot, "versions"))
			}
			if enabled(opt.cacheDir) {
				looked = append(looked, filepath.Join(opt.cacheDir, "pythons"))
			}
			if len(opt.extra) > 0 {
				looked = append(looked, "the -in flags")
			}
			if len(looked) == 0 {
				looked = append(looked, "nowhere, -pyenv and -cache are off")
			}
			return ins, notes, fmt.Errorf("no build with DWARF found for %s (looked in: %s); pass -allow-missing to write a table without them",
				strings.Join(missing, ", "), strings.Join(looked, ", "))
		}
	}
	return ins, notes, nil
}

func enabled(dir string) bool { return dir != "" && dir != "none" }

// generate reads every input's DWARF and renders the file.
func generate(ins []input) ([]byte, error) {
	tables, err := buildTables(ins)
	if err != nil {
		return nil, err
	}
	return render(tables)
}

// buildTables reads every input's DWARF, a few at a time.
func buildTables(ins []input) ([]versionTable, error) {
	if len(ins) == 0 {
		return nil, errors.New("no input builds")
	}
	tables := make([]versionTable, len(ins))
	errs := make([]error, len(ins))
	sem := make(chan struct{}, max(1, min(runtime.NumCPU(), 4)))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ls, err := buildLayouts(in)
			if err != nil {
				errs[i] = fmt.Errorf("%s (%s): %w", in.Version, in.Origin, err)
				return
			}
			tables[i] = versionTable{in: in, structs: ls}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return tables, nil
}

// writeIfChanged leaves an identical file untouched, and replaces a changed
// one atomically.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".genlayouts-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
