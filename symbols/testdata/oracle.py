# Oracle for the symbols tests: prints, as one JSON line, what the running
# interpreter itself knows about its addresses (via ctypes and the dynamic
# loader), then waits for a command on stdin: "abort" dumps core, anything
# else (or EOF) exits.
import ctypes
import json
import os
import sys


def data_addr(name):
    try:
        return ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, name))
    except ValueError:
        return None


def func_addr(lib, name):
    return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value


class DlPhdrInfo(ctypes.Structure):
    _fields_ = [
        ("dlpi_addr", ctypes.c_void_p),
        ("dlpi_name", ctypes.c_char_p),
        ("dlpi_phdr", ctypes.c_void_p),
        ("dlpi_phnum", ctypes.c_uint16),
    ]


CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(DlPhdrInfo), ctypes.c_size_t, ctypes.c_void_p)
objects = []


def on_object(info, size, data):
    name = info.contents.dlpi_name.decode() if info.contents.dlpi_name else ""
    if name == "":
        name = "/proc/self/exe"  # the main program
    if os.path.exists(name):
        objects.append({"path": os.path.realpath(name), "bias": info.contents.dlpi_addr or 0})
    return 0


libc = ctypes.CDLL(None)
cb = CALLBACK(on_object)
libc.dl_iterate_phdr(cb, None)

out = {
    "pid": os.getpid(),
    "version": "%d.%d" % sys.version_info[:2],
    "_PyRuntime": data_addr("_PyRuntime"),
    "PyLong_Type": data_addr("PyLong_Type"),
    "Py_Initialize": func_addr(ctypes.pythonapi, "Py_Initialize"),
    # From libc itself: in a non-PIE program dlsym(RTLD_DEFAULT) gives the PLT stub.
    "malloc": func_addr(ctypes.CDLL("libc.so.6"), "malloc"),
    "objects": objects,
}
with open("/proc/self/maps") as f:
    out["maps"] = f.read()
sys.stdout.write(json.dumps(out) + "\n")
sys.stdout.flush()
if sys.stdin.readline().strip() == "abort":
    os.abort()
