/*
 * sidecar_module.c: realtime._sidecar, the WebSocket sidecar's extension
 * module (PEP 489 multi-phase init): its one type, Server (server_py.c).
 * The channel layer the views use is the other module, realtime._redislayer
 * (csrc/layer/module.c).
 */
#include "server_py.h"

static int
sidecar_exec(PyObject *module)
{
    return ph_server_py_add(module);
}

static PyModuleDef_Slot sidecar_slots[] = {
    {Py_mod_exec, sidecar_exec},
    {0, NULL},
};

PyDoc_STRVAR(sidecar_doc,
"partyhub's WebSocket sidecar (libwebsockets on a libuv loop, hiredis):\n"
"Server.");

static struct PyModuleDef sidecar_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "realtime._sidecar",
    .m_doc = sidecar_doc,
    .m_size = 0,
    .m_slots = sidecar_slots,
};

/* Module entry point (PEP 489): returns the definition; sidecar_exec()
 * adds the Server type. */
PyMODINIT_FUNC
PyInit__sidecar(void)
{
    return PyModuleDef_Init(&sidecar_module);
}
