package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"strings"
)

// dwarfSuffix is the DWARF section a section holds ("info" for .debug_info
// or .zdebug_info), "" if none.
func dwarfSuffix(name string) string {
	switch {
	case strings.HasPrefix(name, ".debug_"):
		return name[len(".debug_"):]
	case strings.HasPrefix(name, ".zdebug_"):
		return name[len(".zdebug_"):]
	}
	return ""
}

// dwarfSections are the sections debug/dwarf uses: the ones dwarf.New takes,
// then the ones it takes through AddSection. Others (.debug_loclists,
// .debug_frame, ...) are never read, so never decompressed.
var (
	dwarfNewSections   = []string{"abbrev", "info", "str", "line", "ranges"}
	dwarfAddedSections = []string{"addr", "line_str", "str_offsets", "rnglists"}
)

// loadDWARF builds the DWARF of f. Sections stored as is are used in place
// (slices of the mapped file, no copy); compressed ones (SHF_COMPRESSED zlib
// or zstd, or GNU .zdebug) are decompressed. The sections are returned too,
// by suffix ("info"), nil for relocatable objects.
func loadDWARF(file string, f *elf.File, data []byte) (d *dwarf.Data, secs map[string][]byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, secs, err = nil, nil, fmt.Errorf("%s: corrupt DWARF: %v", file, r)
		}
	}()
	if f.Type == elf.ET_REL {
		// Relocatable objects need relocations applied: let debug/elf do it.
		d, err := f.DWARF()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: DWARF: %w", file, err)
		}
		return d, nil, nil
	}
	secs = map[string][]byte{}
	var types []*elf.Section
	for _, s := range f.Sections {
		suffix := dwarfSuffix(s.Name)
		if suffix == "types" {
			types = append(types, s)
			continue
		}
		if !contains(dwarfNewSections, suffix) && !contains(dwarfAddedSections, suffix) {
			continue
		}
		if _, dup := secs[suffix]; dup || s.Type == elf.SHT_NOBITS {
			continue
		}
		b, err := sectionBytes(file, data, s)
		if err != nil {
			return nil, nil, fmt.Errorf("reading DWARF: %w", err)
		}
		secs[suffix] = b
	}
	d, err = dwarf.New(secs["abbrev"], nil, nil, secs["info"], secs["line"], nil, secs["ranges"], secs["str"])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: DWARF: %w", file, err)
	}
	for _, name := range dwarfAddedSections {
		if b, ok := secs[name]; ok {
			if err := d.AddSection(".debug_"+name, b); err != nil {
				return nil, nil, fmt.Errorf("%s: DWARF section .debug_%s: %w", file, name, err)
			}
		}
	}
	for i, s := range types {
		b, err := sectionBytes(file, data, s)
		if err != nil {
			return nil, nil, fmt.Errorf("reading DWARF: %w", err)
		}
		if err := d.AddTypes(fmt.Sprintf("types-%d", i), b); err != nil {
			return nil, nil, fmt.Errorf("%s: DWARF section %s: %w", file, s.Name, err)
		}
	}
	return d, secs, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
