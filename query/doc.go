// Package query is pycore's expression language: C-like expressions (member
// access, indexing, casts, pointer arithmetic, calls of built-in functions)
// parsed (Parse) and evaluated over typesys values in a process's memory
// (Env), with completion and suggestions for mistyped names. It knows nothing
// of CPython: the names, types and extra built-ins come from its Env, which
// session/ fills with the CPython roots. It sits on core/ and typesys/, below
// session/ and the command line's eval, ptype and rd.
package query
