package cpython

import "github.com/pycore/pycore/cpython/abi"

// The per-version knowledge lives in package abi; these names keep the code
// that has not moved to it yet compiling.
type (
	Version        = abi.Version
	VersionLayouts = abi.VersionLayouts
	StructLayout   = abi.StructLayout
	MemberLayout   = abi.MemberLayout
	DebugOffsets   = abi.DebugOffsets
	TypeSource     = abi.TypeSource
	dwarfTypes     = abi.DWARFSource
)

const maxStructSize = abi.MaxStructSize

var (
	ParseVersion     = abi.ParseVersion
	VersionFromHex   = abi.VersionFromHex
	tableFor         = abi.TableFor
	buildKind        = abi.BuildKind
	readDebugOffsets = abi.ReadDebugOffsets
	sortedKeys       = abi.SortedKeys[int]
)

func newLayoutTypes(vl *VersionLayouts, ptrSize int) (*abi.LayoutTypes, error) {
	return abi.NewLayoutTypes(vl, ptrSize)
}
