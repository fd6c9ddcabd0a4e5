//go:build !unix

package symbols

import (
	"fmt"
	"os"
)

// mmapFile reads the whole file where mmap is not available.
func mmapFile(path string) ([]byte, func() error, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%s: empty file", path)
	}
	return data, func() error { return nil }, nil
}
