/* module.c - realtime._redislayer (the channel layer the views use):
 * module definition and bindings only.
 *
 * Multi-phase init (PEP 489). All state lives in sc_state (module.h); the
 * types come from pylayer.c, the codecs from mpack_*.c, the hash from
 * chash.c. The module-level functions below are thin wrappers that expose
 * the codecs and checks to Python for tests and tools. */
#include "module.h"

#include "chash.h"
#include "mpack_dec.h"
#include "mpack_enc.h"
#include "pylayer.h"
#include "rscripts.h"

/* The same patterns as channels.layers.BaseChannelLayer. Only used for
 * non-ASCII names (names.c handles ASCII), where Python's Unicode-aware
 * \d and \w must decide. */
#define CHANNEL_NAME_REGEX "^[a-zA-Z\\d\\-_.]+(\\![\\d\\w\\-_.]*)?$"
#define GROUP_NAME_REGEX "^[a-zA-Z\\d\\-_.]+$"

static sc_state *
get_state(PyObject *module)
{
    return (sc_state *)PyModule_GetState(module);
}

PyDoc_STRVAR(packb_doc,
"packb(obj) -> bytes\n\n"
"Encode like msgpack.packb(obj) (same bytes), from C.");

static PyObject *
sc_packb(PyObject *Py_UNUSED(module), PyObject *obj)
{
    mpe_encoder *e = PyMem_RawMalloc(sizeof(mpe_encoder));
    PyObject *result = NULL;
    if (e == NULL) {
        return PyErr_NoMemory();
    }
    mpe_encoder_init(e);
    if (mpe_encode(e, obj) == 0) {
        result = PyBytes_FromStringAndSize(e->buf.data, (Py_ssize_t)e->buf.len);
    }
    mpe_encoder_free(e);
    PyMem_RawFree(e);
    return result;
}

PyDoc_STRVAR(unpackb_doc,
"unpackb(data) -> object\n\n"
"Decode one msgpack value with the bounded reader (ValueError on bad,\n"
"hostile or trailing data).");

static PyObject *
sc_unpackb(PyObject *Py_UNUSED(module), PyObject *data)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    PyObject *obj = mpd_decode(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return obj;
}

PyDoc_STRVAR(consistent_hash_doc,
"consistent_hash(name, ring_size) -> int\n\n"
"channels_redis's host index for `name` (str or bytes).");

static PyObject *
sc_consistent_hash(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    int ring;
    if (!PyArg_ParseTuple(args, "s*i:consistent_hash", &view, &ring)) {
        return NULL;
    }
    int idx = chash_index(view.buf, (size_t)view.len, ring);
    PyBuffer_Release(&view);
    return PyLong_FromLong(idx);
}

PyDoc_STRVAR(valid_channel_name_doc,
"valid_channel_name(name, receive=False) -> True\n\n"
"Same check as channels' require_valid_channel_name (TypeError if not).");

static PyObject *
sc_valid_channel_name(PyObject *module, PyObject *args)
{
    PyObject *name;
    int receive = 0;
    if (!PyArg_ParseTuple(args, "O|p:valid_channel_name", &name, &receive)) {
        return NULL;
    }
    if (pylayer_check_channel(get_state(module), name, receive) < 0) {
        return NULL;
    }
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(valid_group_name_doc,
"valid_group_name(name) -> True\n\n"
"Same check as channels' require_valid_group_name (TypeError if not).");

static PyObject *
sc_valid_group_name(PyObject *module, PyObject *name)
{
    if (pylayer_check_group(get_state(module), name) < 0) {
        return NULL;
    }
    Py_RETURN_TRUE;
}

static PyMethodDef sc_methods[] = {
    {"packb", sc_packb, METH_O, packb_doc},
    {"unpackb", sc_unpackb, METH_O, unpackb_doc},
    {"consistent_hash", sc_consistent_hash, METH_VARARGS, consistent_hash_doc},
    {"valid_channel_name", sc_valid_channel_name, METH_VARARGS,
     valid_channel_name_doc},
    {"valid_group_name", sc_valid_group_name, METH_O, valid_group_name_doc},
    {NULL, NULL, 0, NULL},
};

static PyObject *
compile_regex(PyObject *re, const char *pattern)
{
    return PyObject_CallMethod(re, "compile", "s", pattern);
}

/* LUA_SCRIPTS: {name: Lua source} of every script in rscripts.c, for the
 * Python code that runs one (by SHA1, e.g. redis-py's register_script). */
static int
add_lua_scripts(PyObject *module)
{
    PyObject *scripts = PyDict_New(), *source = NULL;
    int rc = -1;

    if (scripts == NULL) {
        return -1;
    }
    for (int i = 0; i < RS_COUNT; i++) {
        source = PyUnicode_FromString(rs_source((rs_script)i));
        if (source == NULL
            || PyDict_SetItemString(scripts, rs_name((rs_script)i), source) < 0) {
            goto error;
        }
        Py_CLEAR(source);
    }
    rc = PyModule_AddObjectRef(module, "LUA_SCRIPTS", scripts);
error:
    Py_XDECREF(source);
    Py_DECREF(scripts);
    return rc;
}

static int
sc_exec(PyObject *module)
{
    sc_state *st = get_state(module);
    PyObject *re = NULL, *threading = NULL;
    int rc = -1;

    st->str_conn = PyUnicode_InternFromString("conn");
    st->str_asgi_channel = PyUnicode_InternFromString("__asgi_channel__");
    st->str_match = PyUnicode_InternFromString("match");
    if (!st->str_conn || !st->str_asgi_channel || !st->str_match) {
        goto error;
    }
    re = PyImport_ImportModule("re");
    threading = PyImport_ImportModule("threading");
    if (re == NULL || threading == NULL) {
        goto error;
    }
    st->channel_regex = compile_regex(re, CHANNEL_NAME_REGEX);
    st->group_regex = compile_regex(re, GROUP_NAME_REGEX);
    st->local_type = PyObject_GetAttrString(threading, "local");
    if (!st->channel_regex || !st->group_regex || !st->local_type) {
        goto error;
    }
    st->RedisUnavailable = PyErr_NewExceptionWithDoc(
        "realtime._redislayer.RedisUnavailable",
        "Redis could not be reached (refused, timed out, connection lost or "
        "AUTH refused).",
        PyExc_ConnectionError, NULL);
    st->RedisReplyError = PyErr_NewExceptionWithDoc(
        "realtime._redislayer.RedisReplyError",
        "Redis answered a layer command with an error.",
        PyExc_RuntimeError, NULL);
    if (!st->RedisUnavailable || !st->RedisReplyError) {
        goto error;
    }
    if (PyModule_AddObjectRef(module, "RedisUnavailable",
                              st->RedisUnavailable) < 0 ||
        PyModule_AddObjectRef(module, "RedisReplyError",
                              st->RedisReplyError) < 0) {
        goto error;
    }
    if (pylayer_add_types(module, st) < 0) {
        goto error;
    }
    if (PyModule_AddIntConstant(module, "MAX_DEPTH_ENCODE", MPE_MAX_DEPTH) < 0) {
        goto error;
    }
    if (add_lua_scripts(module) < 0) {
        goto error;
    }
    rc = 0;
error:
    Py_XDECREF(re);
    Py_XDECREF(threading);
    return rc;
}

static int
sc_traverse(PyObject *module, visitproc visit, void *arg)
{
    sc_state *st = get_state(module);
    Py_VISIT(st->layer_type);
    Py_VISIT(st->conn_type);
    Py_VISIT(st->RedisUnavailable);
    Py_VISIT(st->RedisReplyError);
    Py_VISIT(st->local_type);
    Py_VISIT(st->channel_regex);
    Py_VISIT(st->group_regex);
    Py_VISIT(st->str_conn);
    Py_VISIT(st->str_asgi_channel);
    Py_VISIT(st->str_match);
    return 0;
}

static int
sc_clear(PyObject *module)
{
    sc_state *st = get_state(module);
    Py_CLEAR(st->layer_type);
    Py_CLEAR(st->conn_type);
    Py_CLEAR(st->RedisUnavailable);
    Py_CLEAR(st->RedisReplyError);
    Py_CLEAR(st->local_type);
    Py_CLEAR(st->channel_regex);
    Py_CLEAR(st->group_regex);
    Py_CLEAR(st->str_conn);
    Py_CLEAR(st->str_asgi_channel);
    Py_CLEAR(st->str_match);
    return 0;
}

static void
sc_free(void *module)
{
    sc_clear((PyObject *)module);
}

static PyModuleDef_Slot sc_slots[] = {
    {Py_mod_exec, sc_exec},
    {0, NULL},
};

PyDoc_STRVAR(module_doc,
"partyhub's C extension: a channels_redis-compatible Redis channel layer\n"
"(RedisLayer) and the msgpack codec it uses.");

static struct PyModuleDef sc_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "realtime._redislayer",
    .m_doc = module_doc,
    .m_size = sizeof(sc_state),
    .m_methods = sc_methods,
    .m_slots = sc_slots,
    .m_traverse = sc_traverse,
    .m_clear = sc_clear,
    .m_free = sc_free,
};

/* Module entry point (PEP 489 multi-phase init): returns the definition;
 * sc_exec() fills the module state. */
PyMODINIT_FUNC
PyInit__redislayer(void)
{
    return PyModuleDef_Init(&sc_module);
}
