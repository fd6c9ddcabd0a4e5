/* A C extension whose object struct the end-to-end tests read by name from
 * a core: built with -g against the interpreter's headers by the test. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum point_tag { RED, GREEN, BLUE };

typedef struct {
	PyObject_HEAD
	long x;
	double y;
	char name[16];
	enum point_tag tag;
	PyObject *label;
} PointObject;

static PointObject *last_point;
static int points_made;

static int Point_init(PointObject *self, PyObject *args, PyObject *kwds)
{
	const char *name;
	if (!PyArg_ParseTuple(args, "lds", &self->x, &self->y, &name))
		return -1;
	strncpy(self->name, name, sizeof self->name - 1);
	self->tag = RED;
	self->label = PyUnicode_FromString(name);
	if (!self->label)
		return -1;
	last_point = self;
	points_made++;
	return 0;
}

static void Point_dealloc(PointObject *self)
{
	Py_XDECREF(self->label);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject PointType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "pointext.Point",
	.tp_basicsize = sizeof(PointObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Point_init,
	.tp_dealloc = (destructor)Point_dealloc,
};

static struct PyModuleDef pointext_module = {
	PyModuleDef_HEAD_INIT, "pointext", NULL, -1, NULL,
};

PyMODINIT_FUNC PyInit_pointext(void)
{
	if (PyType_Ready(&PointType) < 0)
		return NULL;
	PyObject *m = PyModule_Create(&pointext_module);
	if (!m)
		return NULL;
	Py_INCREF(&PointType);
	if (PyModule_AddObject(m, "Point", (PyObject *)&PointType) < 0)
		return NULL;
	return m;
}
