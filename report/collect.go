package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pycore/pycore/core"
)

// Input is one file to analyse. Err is set when the path could not even be
// listed or opened; it then becomes an Unreadable entry like any bad core.
type Input struct {
	Path string
	Err  error
}

// Collect expands the command line's paths into the files to read: files as
// named, directories recursively in lexical order (symbolic links to files are
// followed, links to directories are not, so a loop cannot trap the walk).
// glob, if not "", filters the files found in directories by their base name
// (filepath.Match syntax); files named on the command line are always read. A
// path given twice is read once. Paths that cannot be read are returned as
// Inputs with Err, so they are reported and the batch goes on.
func Collect(paths []string, glob string) ([]Input, error) {
	if glob != "" {
		if _, err := filepath.Match(glob, ""); err != nil {
			return nil, fmt.Errorf("--glob %q: %w", glob, err)
		}
	}
	var out []Input
	seen := map[string]bool{}
	add := func(path string, err error) {
		key := path
		if abs, aerr := filepath.Abs(path); aerr == nil {
			key = abs
		}
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, Input{Path: path, Err: err})
	}
	for _, root := range paths {
		fi, err := os.Stat(root)
		switch {
		case err != nil:
			add(root, err)
			continue
		case !fi.IsDir():
			if !fi.Mode().IsRegular() {
				add(root, fmt.Errorf("not a regular file (%s)", core.FileKind(fi.Mode())))
			} else {
				add(root, nil)
			}
			continue
		}
		walkRoot := root
		if li, err := os.Lstat(root); err == nil && li.Mode()&fs.ModeSymlink != 0 {
			// WalkDir does not follow a link even at the root; a trailing slash makes lstat do it.
			walkRoot = root + string(filepath.Separator)
		}
		walkErr := filepath.WalkDir(walkRoot, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				// An unreadable directory (or entry) is reported; the walk goes on.
				add(path, err)
				if d != nil && d.IsDir() && path != walkRoot {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if glob != "" {
				if ok, _ := filepath.Match(glob, d.Name()); !ok {
					return nil
				}
			}
			mode := d.Type()
			if mode&fs.ModeSymlink != 0 {
				fi, err := os.Stat(path)
				if err != nil {
					add(path, fmt.Errorf("broken symbolic link: %w", err))
					return nil
				}
				if fi.IsDir() {
					return nil
				}
				mode = fi.Mode().Type()
			}
			if !mode.IsRegular() {
				add(path, fmt.Errorf("not a regular file (%s)", core.FileKind(mode)))
				return nil
			}
			add(path, nil)
			return nil
		})
		if walkErr != nil && !errors.Is(walkErr, fs.SkipDir) {
			add(root, walkErr)
		}
	}
	return out, nil
}
