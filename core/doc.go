// Package core reads the image of a process from an ELF core file: its memory
// (the core's segments spliced with the ELF files the process had mapped), its
// threads and registers, and the signal that killed it.
//
// Open takes x86-64 cores written by the kernel or by gdb's gcore, plain or
// compressed (gzip, zstd, xz, lz4: told apart by content), and pycore
// bundles (WriteBundle): a tar of the core and the files it maps, read in
// place. Files are mapped, never read whole. Each mapped ELF file is looked
// for on this machine (Options) and used only if its build ID matches the
// one in the core; ranges the core left out are read from it, and a range
// neither holds fails with a ReadError that says which file was missing.
//
// There is nothing Python-specific here. The Memory interface is all the layers
// above need, so a live process could stand behind it later.
package core
