/*
 * server_py.c: realtime._sidecar.Server, a thin binding over server.h.
 *
 *   srv = Server(port=8001, redis_port=6379, ...)   # binds now; OSError on failure
 *   srv.serve()        # blocks with the GIL released until stop()
 *   srv.stop()         # any thread; idempotent
 *   srv.drain(seconds) # any thread: stop accepting, close 1012 over the window
 *   srv.stats()        # dict of counters
 *   srv.drain_logs()   # [(levelno, message), ...] from the C log ring
 *
 * serve() does not return to the interpreter until the server stops, so a
 * Python signal handler cannot run in the serving thread: run serve() in a
 * worker thread and call stop() from the main thread's signal handler.
 */
#include "server_py.h"

#include <limits.h>

#include "pyhost.h"
#include "server.h"

typedef struct {
    PyObject_HEAD
    ph_server *srv;
    int serving;          /* serve() in progress (guarded by the GIL) */
    int served;           /* serve() already ran: the loop is gone */
    Py_buffer restarts;   /* worker_restarts' memory (obj NULL: none) */
} ServerObject;

static void
Server_dealloc(ServerObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    /* serve() holds a reference, so we are never freed while serving. */
    ph_server_free(self->srv);
    if (self->restarts.obj != NULL) {
        PyBuffer_Release(&self->restarts);
    }
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* Copy a str-or-None keyword into *out (borrowed UTF-8, lives as long as obj). */
static int
opt_str(PyObject *obj, const char **out)
{
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "expected str or None");
        return -1;
    }
    *out = PyUnicode_AsUTF8(obj);
    return *out == NULL ? -1 : 0;
}

/* Setting converters by table type (ph_settings.def); ranges are checked
 * by ph_server_new from the same table. */
static int
set_int(PyObject *v, const char *name, int *out)
{
    long n = PyLong_AsLong(v);

    if (n == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (n < INT_MIN || n > INT_MAX) {
        PyErr_Format(PyExc_ValueError, "%s out of range", name);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static int
set_size(PyObject *v, const char *name, size_t *out)
{
    long long n = PyLong_AsLongLong(v);

    if (n == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (n < 0) {
        PyErr_Format(PyExc_ValueError, "%s out of range", name);
        return -1;
    }
    *out = (size_t)n;
    return 0;
}

static int
set_float(PyObject *v, const char *name, double *out)
{
    (void)name;
    *out = PyFloat_AsDouble(v);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static int
set_str(PyObject *v, const char *name, const char **out)
{
    (void)name;
    return opt_str(v, out);
}

/* Read the table's settings from kwds into cfg and drop them from rest
 * (a copy of kwds). Strings are borrowed from kwds. */
static int
settings_from_kwargs(PyObject *kwds, PyObject *rest, ph_server_config *cfg)
{
    PyObject *v;

    if (kwds == NULL) {
        return 0;
    }
#define PH_SETTING(name, type, dflt, low, high) \
    if ((v = PyDict_GetItemString(kwds, #name)) != NULL) { \
        if (v != Py_None && set_##type(v, #name, &cfg->name) < 0) { \
            return -1; \
        } \
        if (PyDict_DelItemString(rest, #name) < 0) { \
            return -1; \
        } \
    }
#include "ph_settings.def"
#undef PH_SETTING
    return 0;
}

static PyObject *
Server_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    /* Beside these, every setting of realtime/settings_table.py. */
    static char *kwlist[] = {
        "host", "port", "redis_host", "redis_port", "redis_db", "prefix",
        "allowed_origins", "client_types", "server_version",
        "session_key_prefix", "state_key_prefix", "log_level", "capacity",
        "expiry", "group_expiry", "group_refresh", "backlog", "redis_hosts",
        "private_key_prefix", "worker_restarts", "max_json_depth", "ready_key", NULL
    };
    PyObject *host = NULL, *redis_host = NULL, *prefix = NULL;
    PyObject *origins = NULL, *types = NULL, *version = NULL;
    PyObject *skey = NULL, *stkey = NULL;
    PyObject *pvkey = NULL, *restarts = NULL, *rdkey = NULL;
    PyObject *hosts = NULL, *rest;
    ph_redis_host *redis_hosts = NULL;
    ph_server_config cfg;
    ServerObject *self;
    char err[256];
    int ok;

    ph_server_config_defaults(&cfg);
    rest = kwds != NULL ? PyDict_Copy(kwds) : PyDict_New();
    if (rest == NULL) {
        return NULL;
    }
    ok = settings_from_kwargs(kwds, rest, &cfg) == 0
         && PyArg_ParseTupleAndKeywords(
                args, rest, "|$OiOiiOOOOOOiiiiiiOOOiO", kwlist,
                &host, &cfg.port, &redis_host, &cfg.redis_port, &cfg.redis_db,
                &prefix, &origins, &types, &version, &skey, &stkey,
                &cfg.log_level, &cfg.capacity, &cfg.expiry, &cfg.group_expiry,
                &cfg.group_refresh, &cfg.backlog, &hosts, &pvkey, &restarts,
                &cfg.max_json_depth, &rdkey);
    Py_DECREF(rest);                   /* what it holds, kwds holds too */
    if (!ok) {
        return NULL;
    }
    if (opt_str(host, &cfg.host) < 0 || opt_str(redis_host, &cfg.redis_host) < 0
        || opt_str(prefix, &cfg.prefix) < 0
        || opt_str(origins, &cfg.allowed_origins) < 0
        || opt_str(types, &cfg.client_types) < 0
        || opt_str(version, &cfg.server_version) < 0
        || opt_str(skey, &cfg.session_key_prefix) < 0
        || opt_str(stkey, &cfg.state_key_prefix) < 0
        || opt_str(pvkey, &cfg.private_key_prefix) < 0
        || opt_str(rdkey, &cfg.ready_key) < 0) {
        return NULL;
    }
    if (hosts != NULL && hosts != Py_None
        && ph_redis_hosts_from_py(hosts, "redis_hosts", PH_REDIS_SHARDS_MAX,
                                  &redis_hosts, &cfg.nredis_hosts) < 0) {
        return NULL;
    }
    cfg.redis_hosts = redis_hosts;

    self = (ServerObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyMem_RawFree(redis_hosts);
        return NULL;
    }
    if (restarts != NULL && restarts != Py_None) {
        /* Shared memory the supervisor writes (realtime.supervisor
         * SharedCount): held, and read on the loop, until we are freed. */
        if (PyObject_GetBuffer(restarts, &self->restarts, PyBUF_SIMPLE) < 0) {
            PyMem_RawFree(redis_hosts);
            Py_DECREF(self);
            return NULL;
        }
        if (self->restarts.len < (Py_ssize_t)sizeof(uint64_t)
            || (uintptr_t)self->restarts.buf % _Alignof(uint64_t) != 0) {
            PyErr_SetString(PyExc_ValueError, "worker_restarts must be an "
                            "aligned buffer of at least 8 bytes");
            PyMem_RawFree(redis_hosts);
            Py_DECREF(self);
            return NULL;
        }
        cfg.worker_restarts = (const _Atomic uint64_t *)self->restarts.buf;
    }
    /* Binding and lws set-up are quick, but do them without the GIL. */
    Py_BEGIN_ALLOW_THREADS
    self->srv = ph_server_new(&cfg, err, sizeof(err));
    Py_END_ALLOW_THREADS
    PyMem_RawFree(redis_hosts);        /* copied by ph_server_new */
    if (self->srv == NULL) {
        PyErr_SetString(PyExc_OSError, err);
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

PyDoc_STRVAR(serve_doc,
"serve()\n--\n\nRun the server until stop() is called (GIL released).\n"
"Can be called once per Server.");

static PyObject *
Server_serve(ServerObject *self, PyObject *Py_UNUSED(ignored))
{
    int rc;

    if (self->serving || self->served) {
        PyErr_SetString(PyExc_RuntimeError, "serve() can only run once");
        return NULL;
    }
    self->serving = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = ph_server_run(self->srv);
    Py_END_ALLOW_THREADS
    self->serving = 0;
    self->served = 1;
    if (rc < 0) {
        PyErr_SetString(PyExc_RuntimeError, "server could not run");
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(stop_doc,
"stop()\n--\n\nAsk the server to stop (any thread; returns at once).");

static PyObject *
Server_stop(ServerObject *self, PyObject *Py_UNUSED(ignored))
{
    ph_server_stop(self->srv);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(drain_window_doc,
"drain(seconds)\n--\n\nStart draining over `seconds` (0..3600; any thread;\n"
"returns at once): stop accepting, tell every socket its turn\n"
"(server.draining), close each with 1012 at that turn. A second call is\n"
"ignored. stop() still ends the server.");

static PyObject *
Server_drain(ServerObject *self, PyObject *arg)
{
    double seconds = PyFloat_AsDouble(arg);

    if (seconds == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (!(seconds >= 0.0 && seconds <= 3600.0)) {
        PyErr_SetString(PyExc_ValueError, "drain seconds must be in 0..3600");
        return NULL;
    }
    ph_server_drain(self->srv, (uint64_t)(seconds * 1000.0));
    Py_RETURN_NONE;
}

PyDoc_STRVAR(stats_doc, "stats()\n--\n\nCounters as a dict.");

static PyObject *
Server_stats(ServerObject *self, PyObject *Py_UNUSED(ignored))
{
    ph_server_stats s;
    PyObject *stats, *v = NULL;

    ph_server_stats_get(self->srv, &s);
    stats = Py_BuildValue(
        "{s:i,s:O,s:i,s:i,s:i,s:K,s:K,s:K,s:O}",
        "port", s.port, "redis_up", s.redis_up ? Py_True : Py_False,
        "redis_shards", s.redis_shards, "redis_shards_up", s.redis_shards_up,
        "redis_home_shard", s.redis_home_shard,
        "connections", (unsigned long long)s.connections,
        "log_dropped", (unsigned long long)s.log_dropped,
        "nofile_limit", (unsigned long long)s.nofile_limit,
        "draining", s.draining ? Py_True : Py_False);
    if (stats == NULL) {
        return NULL;
    }
    /* And every counter of realtime/counters_table.py. */
#define PH_COUNTER(name, metric, kind, help) \
    v = PyLong_FromUnsignedLongLong((unsigned long long)s.name); \
    if (v == NULL || PyDict_SetItemString(stats, #name, v) < 0) { \
        goto error; \
    } \
    Py_CLEAR(v);
#include "ph_counters.def"
#undef PH_COUNTER
    return stats;
error:
    Py_XDECREF(v);
    Py_DECREF(stats);
    return NULL;
}

PyDoc_STRVAR(drain_doc,
"drain_logs(max=1000)\n--\n\nPop up to max lines from the C log ring as\n"
"[(levelno, message), ...]; levels are logging's numbers.");

static PyObject *
Server_drain_logs(ServerObject *self, PyObject *args)
{
    Py_ssize_t max = 1000, i;
    PyObject *list, *item;
    char line[PH_LOG_LINE_MAX];
    int level;

    if (!PyArg_ParseTuple(args, "|n", &max)) {
        return NULL;
    }
    list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (i = 0; i < max; i++) {
        if (!ph_log_pop(ph_server_log(self->srv), &level, line, sizeof(line))) {
            break;
        }
        item = Py_BuildValue("(is)", level, line);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    return list;
}

static PyMethodDef Server_methods[] = {
    {"serve", (PyCFunction)Server_serve, METH_NOARGS, serve_doc},
    {"stop", (PyCFunction)Server_stop, METH_NOARGS, stop_doc},
    {"drain", (PyCFunction)Server_drain, METH_O, drain_window_doc},
    {"stats", (PyCFunction)Server_stats, METH_NOARGS, stats_doc},
    {"drain_logs", (PyCFunction)Server_drain_logs, METH_VARARGS, drain_doc},
    {NULL, NULL, 0, NULL}
};

PyDoc_STRVAR(Server_doc,
"Server(*, host='0.0.0.0', port=8001, redis_host='127.0.0.1', redis_port=6379, ...)\n"
"--\n\n"
"The partyhub WebSocket sidecar (libwebsockets on a libuv loop). Binds at\n"
"construction (OSError with the reason on failure); serve() runs it.\n"
"Keywords mirror ph_server_config in csrc/sidecar/server.h; redis_hosts\n"
"is a list of dicts as realtime.redis_hosts.RedisHost.as_c() makes them\n"
"(csrc/common/pyhost.h) that replaces redis_host/redis_port/redis_db.");

static PyType_Slot Server_slots[] = {
    {Py_tp_new, Server_new},
    {Py_tp_dealloc, Server_dealloc},
    {Py_tp_methods, Server_methods},
    {Py_tp_doc, (void *)Server_doc},
    {0, NULL}
};

static PyType_Spec Server_spec = {
    .name = "realtime._sidecar.Server",
    .basicsize = sizeof(ServerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Server_slots,
};

/*
 * Create the Server heap type for module and add it as module.Server.
 * Call once from the module's exec slot. Returns 0, or -1 with an
 * exception set.
 */
int
ph_server_py_add(PyObject *module)
{
    PyObject *type = PyType_FromModuleAndSpec(module, &Server_spec, NULL);
    int rc;

    if (type == NULL) {
        return -1;
    }
    rc = PyModule_AddObjectRef(module, "Server", type);
    Py_DECREF(type);
    return rc;
}
