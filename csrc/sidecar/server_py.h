/*
 * server_py: the Python binding of the sidecar server,
 * realtime._sidecar.Server.
 */
#ifndef PH_SERVER_PY_H
#define PH_SERVER_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/*
 * Create the Server heap type for module and add it as module.Server.
 * Call once from the module's exec slot. Returns 0, or -1 with an
 * exception set.
 */
int ph_server_py_add(PyObject *module);

#endif /* PH_SERVER_PY_H */
