// Package core reads the image of a process from an ELF core file: its memory
// (the core's segments spliced with the ELF files the process had mapped), its
// threads and registers, and the signal that killed it.
//
// There is nothing Python-specific here. The Memory interface is all the layers
// above need, so a live process could stand behind it later.
package core
