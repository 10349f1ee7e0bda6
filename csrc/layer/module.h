/* module.h - the state of the realtime._redislayer module. */
#ifndef PARTYHUB_MODULE_H
#define PARTYHUB_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Everything the module owns; reached from a type with
 * PyType_GetModuleState(). Traverse/clear in module.c walk every field. */
typedef struct sc_state {
    PyTypeObject *layer_type;      /* RedisLayer */
    PyTypeObject *conn_type;       /* _Conn (one per thread per layer) */
    PyObject *RedisUnavailable;    /* subclass of ConnectionError */
    PyObject *RedisReplyError;     /* subclass of RuntimeError */
    PyObject *local_type;          /* threading.local */
    PyObject *channel_regex;       /* for non-ASCII names: Python's re */
    PyObject *group_regex;
    PyObject *str_conn;            /* "conn" */
    PyObject *str_asgi_channel;    /* "__asgi_channel__" */
    PyObject *str_match;           /* "match" */
} sc_state;

#endif
