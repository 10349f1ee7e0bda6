/*
 * sidecar_pymod: a stand-in module, _sidecar_server_test, that registers
 * only the Server type, so the binding can be tested before module.c's
 * exec slot calls ph_server_py_add(). Built by mk/sidecar.mk.
 */
#include "server_py.h"

static int
exec_slot(PyObject *module)
{
    return ph_server_py_add(module);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_slot},
    {0, NULL}
};

static struct PyModuleDef def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_sidecar_server_test",
    .m_size = 0,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__sidecar_server_test(void)
{
    return PyModuleDef_Init(&def);
}
