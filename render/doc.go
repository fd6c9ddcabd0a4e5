// Package render turns the model that packages cpython and native read from
// a core (snapshots, threads, frames, exceptions, locals, objects) into what
// pycore prints: the JSON documents of --json, with their own types and the
// converters from the model, and the one traceback printer that threads,
// the shell, report and exception chains share.
//
// It sits above cpython and native (it reads their values, never the core)
// and below session, report and cmd/pycore, which choose what to print. The
// model types carry no JSON tags: the schema is written here once, so a
// field renamed in the model cannot change the output, and a field added to
// it is printed only when a converter says so.
package render
