// Package cpython reads what a CPython interpreter was doing from the image
// of its process (a core, or a stopped live process): its runtime,
// interpreters and threads, each thread's Python frames, locals and
// exceptions, the objects of its heap, and any object as
// repr() shows it. It sits on core/, symbols/ and typesys/; native/, render/,
// session/ and the command line sit on it.
//
// The map, bottom up; each floor reads through the ones below it and never
// up:
//
//	abi/             what differs between CPython versions and builds (its own
//	                 package): version detection, the Flavor chosen once per
//	                 process, the generated layout tables, _Py_DebugOffsets, the
//	                 line-table decoders, and the offsets every reader uses
//	                 grouped per CPython struct (Objects, Detail, StrOffsets).
//	                 Nothing above it checks a version.
//	pyobj/           Python objects (its own package, on abi, core/ and
//	                 typesys/, never on cpython): the object reader (Reader,
//	                 one per process from Process.reader): type kinds and
//	                 names, ints, str through the one PEP 393 decoder (which
//	                 code names use too), bytes, tuples, dicts, instance
//	                 attributes, module dicts, threading._active; and the
//	                 renderer, an object as repr() shows it, reading only
//	                 through the reader. What it needs of the process comes in
//	                 a pyobj.Proc.
//	reader.go        the walker's side of it: the process's one Reader,
//	                 Process.Object, Repr, ReadStr, ThreadNames, and where a
//	                 frame object is (for its repr).
//	runtime*.go, walk.go, tstate.go, frames.go, codereader.go
//	                 the walker: _PyRuntime, interpreters, thread states, frames,
//	                 code objects' names (codereader.go) and lines
//	                 (Process.Snapshot).
//	locals.go, exceptions.go, procinfo.go, gil.go, gc.go
//	                 what the walker's threads and interpreters hold, read through
//	                 the object reader: locals, exceptions raised or handled, the
//	                 command line, the GIL, the collector.
//	heap*.go, obmalloc.go
//	                 the heap walk (every object the collector or pymalloc
//	                 holds), referrers and reference chains.
//	remoteexec.go    PEP 768: running a script inside a live 3.14+ process.
//	asyncio/         event loops and tasks (asyncio.Tasks; its own package, on
//	                 top): on the walker through a few exported methods of
//	                 Process (above.go), the object reader and abi; nothing in
//	                 cpython imports it.
//
// Words: "object" here means a Python object (pyobj's reader and
// renderer); core/objects.go's objects are the ELF files a process mapped.
// The str layout is abi's StrOffsets.
package cpython
