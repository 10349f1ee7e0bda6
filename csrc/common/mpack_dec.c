/* mpack_dec.c - msgpack bytes -> Python objects.
 *
 * Built on mpack_read.c, which checks each count against the bytes left
 * before we size a list or dict from it, so hostile input cannot make us
 * allocate more than the input justifies. Recursion depth is bounded by
 * MPR_MAX_DEPTH. */
#include "mpack_dec.h"

#include "mpack_read.h"

static PyObject *
decode_error(mpr_status st)
{
    PyErr_SetString(PyExc_ValueError, mpr_strerror(st));
    return NULL;
}

static PyObject *decode_value(mpr_cursor *c, int depth);

static PyObject *
decode_array(mpr_cursor *c, uint32_t count, int depth)
{
    PyObject *list = PyList_New((Py_ssize_t)count);
    if (list == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < count; i++) {
        PyObject *item = decode_value(c, depth);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);   /* steals item */
    }
    return list;
}

static PyObject *
decode_map(mpr_cursor *c, uint32_t count, int depth)
{
    PyObject *dict = PyDict_New();
    PyObject *key = NULL, *value = NULL;
    if (dict == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < count; i++) {
        key = decode_value(c, depth);
        if (key == NULL) {
            goto error;
        }
        /* msgpack's strict_map_key (the default): only str or bytes keys. */
        if (!PyUnicode_CheckExact(key) && !PyBytes_CheckExact(key)) {
            PyErr_Format(PyExc_ValueError,
                         "%.100s is not allowed for map key",
                         Py_TYPE(key)->tp_name);
            goto error;
        }
        value = decode_value(c, depth);
        if (value == NULL || PyDict_SetItem(dict, key, value) < 0) {
            goto error;
        }
        Py_CLEAR(key);
        Py_CLEAR(value);
    }
    return dict;
error:
    Py_XDECREF(key);
    Py_XDECREF(value);
    Py_DECREF(dict);
    return NULL;
}

static PyObject *
decode_value(mpr_cursor *c, int depth)
{
    mpr_item it;
    mpr_status st = mpr_next(c, &it);
    if (st != MPR_OK) {
        return decode_error(st);
    }
    switch (it.type) {
    case MPR_NIL:
        Py_RETURN_NONE;
    case MPR_BOOL:
        return PyBool_FromLong(it.v.b);
    case MPR_INT:
        return PyLong_FromLongLong(it.v.i);
    case MPR_UINT:
        return PyLong_FromUnsignedLongLong(it.v.u);
    case MPR_FLOAT:
        return PyFloat_FromDouble(it.v.f);
    case MPR_STR:
        return PyUnicode_DecodeUTF8((const char *)it.v.s.ptr,
                                    (Py_ssize_t)it.v.s.len, NULL);
    case MPR_BIN:
        return PyBytes_FromStringAndSize((const char *)it.v.s.ptr,
                                         (Py_ssize_t)it.v.s.len);
    case MPR_ARRAY:
    case MPR_MAP:
        if (depth >= MPR_MAX_DEPTH) {
            return decode_error(MPR_ERR_DEPTH);
        }
        if (it.type == MPR_ARRAY) {
            return decode_array(c, it.v.count, depth + 1);
        }
        return decode_map(c, it.v.count, depth + 1);
    case MPR_EXT:
        PyErr_Format(PyExc_ValueError, "unsupported msgpack ext type %d",
                     (int)it.ext_type);
        return NULL;
    }
    PyErr_SetString(PyExc_SystemError, "unknown msgpack item");
    return NULL;
}

/* Decode exactly one msgpack value from `len` bytes at `data`, like
 * msgpack.unpackb(data) with its defaults (str -> str, bin -> bytes,
 * array -> list, map -> dict with str or bytes keys). Returns a new
 * reference, or NULL with ValueError set for truncated, malformed,
 * over-counted, too deeply nested input, trailing bytes or ext types, and
 * UnicodeDecodeError for bad UTF-8. Memory use is bounded by a small
 * multiple of `len` (every count is checked against the bytes left first). */
PyObject *
mpd_decode(const char *data, size_t len)
{
    mpr_cursor c;
    mpr_init(&c, data, len);
    PyObject *obj = decode_value(&c, 0);
    if (obj != NULL && c.p != c.end) {
        Py_DECREF(obj);
        return decode_error(MPR_ERR_TRAILING);
    }
    return obj;
}
