// Package abi is pycore's one home for what differs between CPython versions
// and builds: version detection, the generated struct layout tables, the
// _Py_DebugOffsets decoder, and the types built from either. It sits at the
// bottom of cpython/: it imports core/, symbols/ and typesys/ and nothing of
// cpython, and everything above it asks it rather than checking versions.
package abi
