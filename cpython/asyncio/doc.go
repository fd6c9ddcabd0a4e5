// Package asyncio finds a process's asyncio event loops and tasks, what
// each task's coroutines are doing and who awaits whom (pycore tasks).
//
// It sits on top of the walker: it imports cpython, cpython/pyobj and
// cpython/abi, and nothing in cpython imports it. Of the walker it needs
// only what a few exported methods of cpython.Process give:
//   - the process's fields (memory, types, symbols, runtime, version) and
//     Flavor, to find _asyncio's layouts and the task lists;
//   - Snapshot, for the threads whose running loops and tasks it reads and
//     whose frames are the running task's stack;
//   - Reader, the object reader, for task names, sets, dicts and types;
//   - Lookup, for PyCoro_Type and PyMethod_Type;
//   - FrameObjectChain and InterpreterFrame, to read a suspended coroutine's
//     frame as the walker reads a thread's;
//   - FrameLocals, to fill coroutine frames' locals as SnapshotWith does;
//   - StructOf and ModuleDWARFTypes, for structs from the types, pycore's
//     tables or _asyncio's own DWARF;
//   - Once, to keep the coroutine layout per process, worked out once.
package asyncio
