// Package pyobj reads and renders Python objects from a process's memory:
// the object reader (Reader: type kinds and names, ints, str through the
// one PEP 393 decoder, bytes, tuples, lists, dicts, instance attributes,
// module dicts, threading._active) and the renderer, which shows an object
// as repr() does and reads only through the reader.
//
// It sits on core/, typesys/ and cpython/abi (whose Objects are the offsets
// it reads with) and below the walker in cpython, which makes one Reader per
// process and hands it what only the walker knows in a Proc: the memory
// reader and str layout, the type source, the flavor's repr rules, the
// thread names of every interpreter and where a frame object is. It never
// imports cpython.
package pyobj
