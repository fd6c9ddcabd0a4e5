package abi

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"
)

// Version is a CPython version, as PY_VERSION_HEX encodes it.
type Version struct {
	Major, Minor, Micro int
	Level               string // "a", "b", "rc" or "" for a final release
	Serial              int
}

// VersionFromHex decodes PY_VERSION_HEX (0x030d12f0 is 3.13.18).
func VersionFromHex(h uint64) (Version, error) {
	v := Version{Major: int(h >> 24 & 0xff), Minor: int(h >> 16 & 0xff), Micro: int(h >> 8 & 0xff), Serial: int(h & 0xf)}
	switch h >> 4 & 0xf {
	case 0xa:
		v.Level = "a"
	case 0xb:
		v.Level = "b"
	case 0xc:
		v.Level = "rc"
	case 0xf:
		v.Serial = 0
	default:
		return Version{}, fmt.Errorf("version hex %#x: bad release level", h)
	}
	if h>>32 != 0 || v.Major != 3 && v.Major != 2 {
		return Version{}, fmt.Errorf("version hex %#x is not a CPython version", h)
	}
	return v, nil
}

var versionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?(?:(a|b|rc)(\d+))?`) })

// ParseVersion parses "3.12.1", "3.13.0rc3" or "3.9".
func ParseVersion(s string) (Version, error) {
	m := versionRE().FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%q is not a Python version", s)
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Micro, _ = strconv.Atoi(m[3])
	v.Level = m[4]
	v.Serial, _ = strconv.Atoi(m[5])
	return v, nil
}

// String is "3.13.5", or "3.9" when only the minor version is known (Micro < 0).
func (v Version) String() string {
	if v.Micro < 0 {
		return fmt.Sprintf("%d.%d", v.Major, v.Minor)
	}
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Micro)
	if v.Level != "" {
		s += fmt.Sprintf("%s%d", v.Level, v.Serial)
	}
	return s
}

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// Is reports whether v is exactly major.minor.
func (v Version) Is(major, minor int) bool { return v.Major == major && v.Minor == minor }

// Series is "3.12": the release series of v, for messages.
func (v Version) Series() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }
