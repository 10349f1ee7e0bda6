/* mpack_enc.c - Python objects -> msgpack bytes, byte-identical to Python
 * msgpack 1.x packb() with its defaults (use_bin_type=True,
 * use_single_float=False, strict_types=False).
 *
 * msgpack-c's packer does the byte layout; it picks the smallest encoding
 * for ints, strs, bins, arrays and maps exactly like Python's msgpack (tests
 * compare the bytes for many values). This file only walks Python objects,
 * in the same type order as msgpack's Packer._pack: None, bool, int, float,
 * bytes/bytearray, str, dict, list/tuple. */
#include "mpack_enc.h"

#include <string.h>

/* Append `len` bytes to `b`. Returns 0, or -1 on out-of-memory (no Python
 * exception is set: callable without the GIL). */
int
mpe_buf_append(mpe_buf *b, const void *data, size_t len)
{
    if (len > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < len) {
            if (cap > ((size_t)-1) / 2) {
                return -1;
            }
            cap *= 2;
        }
        char *p = PyMem_RawRealloc(b->data, cap);
        if (p == NULL) {
            return -1;
        }
        b->data = p;
        b->cap = cap;
    }
    if (len > 0) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
    }
    return 0;
}

/* Release the buffer's memory and reset it to empty. Never fails. */
void
mpe_buf_free(mpe_buf *b)
{
    PyMem_RawFree(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* msgpack_packer write callback: append to the mpe_buf passed as data. */
static int
packer_write(void *data, const char *buf, size_t len)
{
    return mpe_buf_append((mpe_buf *)data, buf, len);
}

/* Prepare `e` for use (empty buffer, no slots). Never fails. Pair with
 * mpe_encoder_free(). */
void
mpe_encoder_init(mpe_encoder *e)
{
    memset(e, 0, sizeof(*e));
    msgpack_packer_init(&e->pk, &e->buf, packer_write);
}

/* Free the encoder's buffer. Never fails. */
void
mpe_encoder_free(mpe_encoder *e)
{
    mpe_buf_free(&e->buf);
}

/* Declare that top-level `key` (borrowed, must stay alive while encoding)
 * holds a placeholder of kind `kind`. Returns 0, or -1 if all slots are
 * taken (ValueError set). */
int
mpe_add_slot(mpe_encoder *e, PyObject *key, mpe_cut_kind kind)
{
    for (int i = 0; i < MPE_MAX_CUTS; i++) {
        if (e->slot_key[i] == NULL) {
            e->slot_key[i] = key;
            e->slot_kind[i] = kind;
            return 0;
        }
    }
    PyErr_SetString(PyExc_ValueError, "too many placeholder keys");
    return -1;
}

static int
no_memory(void)
{
    PyErr_NoMemory();
    return -1;
}

/* Build "message['a'][3]" from the path stack, levels 1..upto. Returns a
 * new str or NULL with an exception set. */
static PyObject *
path_repr(const mpe_encoder *e, int upto)
{
    PyObject *parts = PyList_New(0);
    PyObject *sep = NULL, *joined = NULL, *piece = NULL;
    if (parts == NULL) {
        return NULL;
    }
    piece = PyUnicode_FromString("message");
    if (piece == NULL || PyList_Append(parts, piece) < 0) {
        goto error;
    }
    Py_CLEAR(piece);
    for (int d = 1; d <= upto; d++) {
        if (e->path_key[d] != NULL) {
            piece = PyUnicode_FromFormat("[%R]", e->path_key[d]);
        }
        else {
            piece = PyUnicode_FromFormat("[%zd]", e->path_index[d]);
        }
        if (piece == NULL || PyList_Append(parts, piece) < 0) {
            goto error;
        }
        Py_CLEAR(piece);
    }
    sep = PyUnicode_FromString("");
    if (sep == NULL) {
        goto error;
    }
    joined = PyUnicode_Join(sep, parts);
error:
    Py_XDECREF(piece);
    Py_XDECREF(sep);
    Py_DECREF(parts);
    return joined;
}

/* Raise `exc` with "<what> at <path>". Always returns -1. */
static int
fail_at(const mpe_encoder *e, PyObject *exc, const char *what)
{
    PyObject *path = path_repr(e, e->depth);
    if (path != NULL) {
        PyErr_Format(exc, "%s at %U", what, path);
        Py_DECREF(path);
    }
    return -1;
}

static int
encode_int(mpe_encoder *e, PyObject *obj)
{
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow == 0) {
        return msgpack_pack_int64(&e->pk, v) == 0 ? 0 : no_memory();
    }
    if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(obj);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
                return -1;
            }
            PyErr_Clear();
        }
        else {
            return msgpack_pack_uint64(&e->pk, u) == 0 ? 0 : no_memory();
        }
    }
    /* msgpack says "Integer value out of range"; we add where. */
    return fail_at(e, PyExc_OverflowError, "Integer value out of range");
}

static int
encode_raw(mpe_encoder *e, const char *data, Py_ssize_t len, int is_str)
{
    if ((size_t)len > 0xffffffffu) {
        return fail_at(e, PyExc_ValueError,
                       is_str ? "str is too large" : "bytes is too large");
    }
    int rc = is_str ? msgpack_pack_str_with_body(&e->pk, data, (size_t)len)
                    : msgpack_pack_bin_with_body(&e->pk, data, (size_t)len);
    return rc == 0 ? 0 : no_memory();
}

static int encode_value(mpe_encoder *e, PyObject *obj);

static int
encode_pair(mpe_encoder *e, PyObject *key, PyObject *value, int top)
{
    Py_ssize_t klen;
    if (!PyUnicode_Check(key)) {
        PyObject *path = path_repr(e, e->depth - 1);
        if (path != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "message keys must be str, not '%.100s', at %U",
                         Py_TYPE(key)->tp_name, path);
            Py_DECREF(path);
        }
        return -1;
    }
    const char *k = PyUnicode_AsUTF8AndSize(key, &klen);
    if (k == NULL || encode_raw(e, k, klen, 1) < 0) {
        return -1;
    }
    if (top) {
        for (int i = 0; i < MPE_MAX_CUTS; i++) {
            if (e->slot_key[i] == NULL) {
                continue;
            }
            int eq = PyUnicode_Compare(key, e->slot_key[i]);
            if (eq == -1 && PyErr_Occurred()) {
                return -1;
            }
            if (eq == 0) {
                e->cut_pos[e->ncuts] = e->buf.len;
                e->cut_kind[e->ncuts] = e->slot_kind[i];
                e->ncuts++;
                return 0;
            }
        }
    }
    e->path_key[e->depth] = key;
    return encode_value(e, value);
}

/* Encode a dict's pairs after a header of len + extra entries. */
static int
encode_dict(mpe_encoder *e, PyObject *dict, size_t extra, int top)
{
    Py_ssize_t n = PyDict_GET_SIZE(dict);
    if (msgpack_pack_map(&e->pk, (size_t)n + extra) != 0) {
        return no_memory();
    }
    if (PyDict_CheckExact(dict)) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;   /* borrowed */
        while (PyDict_Next(dict, &pos, &key, &value)) {
            /* Hold references: a str subclass's methods could run code. */
            Py_INCREF(key);
            Py_INCREF(value);
            int rc = encode_pair(e, key, value, top);
            Py_DECREF(key);
            Py_DECREF(value);
            if (rc < 0) {
                return -1;
            }
        }
        return 0;
    }
    /* Subclasses (e.g. OrderedDict): iterate items() as msgpack does. */
    PyObject *items = PyMapping_Items(dict);
    if (items == NULL) {
        return -1;
    }
    if (PyList_GET_SIZE(items) != n) {
        Py_DECREF(items);
        PyErr_SetString(PyExc_RuntimeError, "dict changed size while encoding");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);   /* borrowed */
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            Py_DECREF(items);
            PyErr_SetString(PyExc_TypeError, "items() must return pairs");
            return -1;
        }
        if (encode_pair(e, PyTuple_GET_ITEM(pair, 0),
                        PyTuple_GET_ITEM(pair, 1), top) < 0) {
            Py_DECREF(items);
            return -1;
        }
    }
    Py_DECREF(items);
    return 0;
}

static int
encode_sequence(mpe_encoder *e, PyObject *seq)
{
    /* PySequence_Fast keeps the list/tuple alive and gives stable items. */
    PyObject *fast = PySequence_Fast(seq, "expected a sequence");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if ((size_t)n > 0xffffffffu) {
        Py_DECREF(fast);
        return fail_at(e, PyExc_ValueError, "list is too large");
    }
    if (msgpack_pack_array(&e->pk, (size_t)n) != 0) {
        Py_DECREF(fast);
        return no_memory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);   /* borrowed */
        e->path_key[e->depth] = NULL;
        e->path_index[e->depth] = i;
        Py_INCREF(item);
        int rc = encode_value(e, item);
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    return 0;
}

/* Encode a container one level deeper, tracking depth and path. */
static int
encode_container(mpe_encoder *e, PyObject *obj, int is_dict)
{
    if (e->depth >= MPE_MAX_DEPTH) {
        return fail_at(e, PyExc_ValueError, "recursion limit exceeded");
    }
    e->depth++;
    e->path_key[e->depth] = NULL;
    e->path_index[e->depth] = 0;
    int rc = is_dict ? encode_dict(e, obj, 0, 0) : encode_sequence(e, obj);
    e->depth--;
    return rc;
}

static int
encode_value(mpe_encoder *e, PyObject *obj)
{
    if (obj == Py_None) {
        return msgpack_pack_nil(&e->pk) == 0 ? 0 : no_memory();
    }
    if (obj == Py_True) {
        return msgpack_pack_true(&e->pk) == 0 ? 0 : no_memory();
    }
    if (obj == Py_False) {
        return msgpack_pack_false(&e->pk) == 0 ? 0 : no_memory();
    }
    if (PyLong_Check(obj)) {
        return encode_int(e, obj);
    }
    if (PyFloat_Check(obj)) {
        double d = PyFloat_AS_DOUBLE(obj);
        return msgpack_pack_double(&e->pk, d) == 0 ? 0 : no_memory();
    }
    if (PyBytes_Check(obj)) {
        return encode_raw(e, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj), 0);
    }
    if (PyByteArray_Check(obj)) {
        return encode_raw(e, PyByteArray_AS_STRING(obj),
                          PyByteArray_GET_SIZE(obj), 0);
    }
    if (PyUnicode_Check(obj)) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(obj, &len);
        return s == NULL ? -1 : encode_raw(e, s, len, 1);
    }
    if (PyDict_Check(obj)) {
        return encode_container(e, obj, 1);
    }
    if (PyList_Check(obj) || PyTuple_Check(obj)) {
        return encode_container(e, obj, 0);
    }
    PyObject *what = PyUnicode_FromFormat("can not serialize '%.100s' object",
                                          Py_TYPE(obj)->tp_name);
    if (what == NULL) {
        return -1;
    }
    const char *w = PyUnicode_AsUTF8(what);
    int rc = w ? fail_at(e, PyExc_TypeError, w) : -1;
    Py_DECREF(what);
    return rc;
}

/* Append the msgpack encoding of `obj` to e->buf, as msgpack.packb(obj)
 * would (str -> str, bytes/bytearray -> bin, int in the smallest form within
 * int64/uint64, float -> float64, bool, None, list/tuple -> array, dict with
 * str keys -> map). Returns 0, or -1 with an exception set: TypeError naming
 * the offending path for unsupported values or non-str keys, OverflowError
 * for ints out of range, ValueError past MPE_MAX_DEPTH. */
int
mpe_encode(mpe_encoder *e, PyObject *obj)
{
    e->depth = 0;
    return encode_value(e, obj);
}

/* Append a dict as a map header with len(dict) + `extra` entries followed by
 * the dict's own pairs; the caller appends the `extra` pairs itself. Keys
 * registered with mpe_add_slot() produce cuts instead of values. Same
 * errors as mpe_encode(); TypeError if `dict` is not a dict. */
int
mpe_encode_map_head(mpe_encoder *e, PyObject *dict, size_t extra)
{
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "message is not a dict");
        return -1;
    }
    e->depth = 1;
    e->path_key[1] = NULL;
    e->path_index[1] = 0;
    int rc = encode_dict(e, dict, extra, 1);
    e->depth = 0;
    return rc;
}

/* Append a msgpack str header for `len` bytes (the packer's choice of
 * fixstr/str8/16/32). Returns 0 or -1 (out of memory, no exception). */
int
mpe_pack_str_header(mpe_buf *b, size_t len)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, packer_write);
    return msgpack_pack_str(&pk, len);
}

/* Append a msgpack array header for `n` elements. 0 or -1 as above. */
int
mpe_pack_array_header(mpe_buf *b, size_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, packer_write);
    return msgpack_pack_array(&pk, n);
}

/* Append the smallest msgpack encoding of a signed integer. 0 or -1. */
int
mpe_pack_int(mpe_buf *b, long long v)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, packer_write);
    return msgpack_pack_int64(&pk, (int64_t)v);
}

/* Append the encoder's output to `out` with its cuts filled in for `seq`:
 * MPE_CUT_INT -> msgpack int; MPE_CUT_TEXT -> msgpack str of
 * head + "<seq>" + tail. Returns 0 or -1 (out of memory, no exception);
 * needs no GIL. */
int
mpe_render(const mpe_encoder *e, long long seq, const char *head,
           size_t head_len, const char *tail, size_t tail_len, mpe_buf *out)
{
    size_t start = 0;
    char digits[32];
    int nd = snprintf(digits, sizeof(digits), "%lld", seq);

    for (int i = 0; i < e->ncuts; i++) {
        size_t pos = e->cut_pos[i];
        if (mpe_buf_append(out, e->buf.data + start, pos - start) < 0) {
            return -1;
        }
        start = pos;
        if (e->cut_kind[i] == MPE_CUT_INT) {
            if (mpe_pack_int(out, seq) < 0) {
                return -1;
            }
            continue;
        }
        if (mpe_pack_str_header(out, head_len + (size_t)nd + tail_len) < 0 ||
            mpe_buf_append(out, head, head_len) < 0 ||
            mpe_buf_append(out, digits, (size_t)nd) < 0 ||
            mpe_buf_append(out, tail, tail_len) < 0) {
            return -1;
        }
    }
    return mpe_buf_append(out, e->buf.data + start, e->buf.len - start);
}
