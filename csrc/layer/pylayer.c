/* pylayer.c - RedisLayer: a channels_redis-compatible channel layer for
 * synchronous callers (Django views, the sidecar's helper threads).
 *
 * Each method validates and encodes with the GIL held, releases the GIL for
 * the Redis round trip (rlayer.c: no Python inside), then turns the reply
 * into Python objects. Connections are per thread: a threading.local owned
 * by the layer holds one _Conn per thread, so threads never share a hiredis
 * context and a thread's connections close when the thread ends or the
 * layer goes away.
 *
 * Host choice (channels_redis#221): channels_redis's send() hashes the full
 * channel name, while its receiver, and its own group_send(), hash the
 * non-local name ("specific.<client>!"). With several hosts a direct send
 * to a process-local channel can then land on a host nobody reads. We hash
 * the non-local name for sends too, i.e. we put the message where every
 * receiver looks. With one host (our deployment) both agree. Groups hash the
 * group name; plain channels go round-robin, as in channels_redis. */
#include "pylayer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chash.h"
#include "mpack_dec.h"
#include "mpack_enc.h"
#include "names.h"
#include "pyhost.h"
#include "rlayer.h"

#define INVALID_NAME_MSG                                               \
    " name must be a valid unicode string with length < 100 containing " \
    "only ASCII alphanumerics, hyphens, underscores, or periods."

/* An encoder buffer grown past this is freed after the call instead of
 * being kept for the thread's next message. */
#define KEEP_BUFFER_MAX (1u << 20)

typedef struct {
    PyObject_HEAD
    rl_conn rc;
    mpe_encoder *enc;     /* reused message encoder */
    mpe_buf scratch;      /* keys, rendered bodies, argument text */
    int busy;             /* a call is using this connection */
} ConnObject;

typedef struct {
    PyObject_HEAD
    int nhosts;
    ph_redis_host *hosts;
    char *prefix;
    Py_ssize_t prefix_len;
    long long expiry;
    long long group_expiry;
    long long capacity;
    int rnd_len;
    PyObject *capacity_for;   /* callable(channel) -> int, or NULL */
    int lua_caps_ok;          /* capacity rules expressible in Lua */
    int ncaps;
    char **cap_pat;           /* anchored Lua patterns */
    char (*cap_val)[24];
    PyObject *local;          /* threading.local holding the _Conn */
    unsigned long send_rr;
    unsigned long recv_rr;
} LayerObject;

static sc_state *
layer_state(LayerObject *self)
{
    return PyType_GetModuleState(Py_TYPE(self));
}

/* ---- names ---------------------------------------------------------- */

static int
name_error(const char *what)
{
    PyErr_Format(PyExc_TypeError, "%s" INVALID_NAME_MSG, what);
    return -1;
}

/* Non-ASCII names: Python's regex decides (\d and \w match Unicode). */
static int
regex_matches(sc_state *st, PyObject *regex, PyObject *name)
{
    PyObject *m = PyObject_CallMethodOneArg(regex, st->str_match, name);
    if (m == NULL) {
        return -1;
    }
    int ok = m != Py_None;
    Py_DECREF(m);
    return ok;
}

/* Check a channel name exactly like channels'
 * require_valid_channel_name(name, receive). Returns 0 if valid, or -1 with
 * TypeError set (same messages as channels). */
int
pylayer_check_channel(sc_state *st, PyObject *name, int receive)
{
    if (!PyUnicode_Check(name) ||
        PyUnicode_GET_LENGTH(name) >= NAMES_MAX_LENGTH) {
        return name_error("Channel");
    }
    if (PyUnicode_IS_ASCII(name)) {
        names_result r = names_check_channel(
            (const char *)PyUnicode_DATA(name),
            (size_t)PyUnicode_GET_LENGTH(name), receive);
        if (r == NAMES_INVALID) {
            return name_error("Channel");
        }
        if (r == NAMES_RECEIVE_NOT_END) {
            goto not_end;
        }
        return 0;
    }
    int ok = regex_matches(st, st->channel_regex, name);
    if (ok <= 0) {
        return ok < 0 ? -1 : name_error("Channel");
    }
    if (receive) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(name);
        Py_ssize_t bang = PyUnicode_FindChar(name, '!', 0, n, 1);
        if (bang >= 0 && PyUnicode_READ_CHAR(name, n - 1) != '!') {
            goto not_end;
        }
    }
    return 0;
not_end:
    PyErr_SetString(PyExc_TypeError,
                    "Specific channel names in receive() must end at the !");
    return -1;
}

/* Check a group name like require_valid_group_name(). 0 or -1 with
 * TypeError set. */
int
pylayer_check_group(sc_state *st, PyObject *name)
{
    if (!PyUnicode_Check(name) ||
        PyUnicode_GET_LENGTH(name) >= NAMES_MAX_LENGTH) {
        return name_error("Group");
    }
    if (PyUnicode_IS_ASCII(name)) {
        if (names_check_group((const char *)PyUnicode_DATA(name),
                              (size_t)PyUnicode_GET_LENGTH(name)) != NAMES_OK) {
            return name_error("Group");
        }
        return 0;
    }
    int ok = regex_matches(st, st->group_regex, name);
    if (ok <= 0) {
        return ok < 0 ? -1 : name_error("Group");
    }
    return 0;
}

/* ---- _Conn ---------------------------------------------------------- */

static ConnObject *
conn_new(sc_state *st, int nhosts)
{
    ConnObject *c = PyObject_New(ConnObject, st->conn_type);
    if (c == NULL) {
        return NULL;
    }
    memset(&c->rc, 0, sizeof(c->rc));
    memset(&c->scratch, 0, sizeof(c->scratch));
    c->busy = 0;
    c->enc = PyMem_RawMalloc(sizeof(mpe_encoder));
    if (c->enc == NULL || rl_conn_init(&c->rc, nhosts) < 0) {
        Py_DECREF(c);
        PyErr_NoMemory();
        return NULL;
    }
    mpe_encoder_init(c->enc);
    return c;
}

static void
conn_dealloc(ConnObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (self->enc != NULL) {
        mpe_encoder_free(self->enc);
        PyMem_RawFree(self->enc);
    }
    mpe_buf_free(&self->scratch);
    /* Closing sockets can block briefly on a dying peer: drop the GIL. */
    Py_BEGIN_ALLOW_THREADS
    rl_conn_free(&self->rc);
    Py_END_ALLOW_THREADS
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyType_Slot conn_slots[] = {
    {Py_tp_dealloc, conn_dealloc},
    {Py_tp_doc, "One thread's Redis connections for one RedisLayer."},
    {0, NULL},
};

static PyType_Spec conn_spec = {
    .name = "realtime._redislayer._Conn",
    .basicsize = sizeof(ConnObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = conn_slots,
};

/* Get this thread's connection for `self`, creating it on first use, and
 * mark it busy. Returns a new reference or NULL with an exception set. */
static ConnObject *
conn_acquire(LayerObject *self, sc_state *st)
{
    PyObject *obj = PyObject_GetAttr(self->local, st->str_conn);
    if (obj == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return NULL;
        }
        PyErr_Clear();
        obj = (PyObject *)conn_new(st, self->nhosts);
        if (obj == NULL) {
            return NULL;
        }
        if (PyObject_SetAttr(self->local, st->str_conn, obj) < 0) {
            Py_DECREF(obj);
            return NULL;
        }
    }
    ConnObject *c = (ConnObject *)obj;
    if (c->busy) {
        Py_DECREF(obj);
        PyErr_SetString(PyExc_RuntimeError,
                        "RedisLayer connection is busy in this thread");
        return NULL;
    }
    c->busy = 1;
    c->enc->buf.len = 0;
    c->enc->ncuts = 0;
    c->enc->depth = 0;
    memset(c->enc->slot_key, 0, sizeof(c->enc->slot_key));
    c->scratch.len = 0;
    return c;
}

static void
conn_release(ConnObject *c)
{
    c->busy = 0;
    if (c->enc->buf.cap > KEEP_BUFFER_MAX) {
        mpe_buf_free(&c->enc->buf);
    }
    if (c->scratch.cap > KEEP_BUFFER_MAX) {
        mpe_buf_free(&c->scratch);
    }
    Py_DECREF(c);
}

/* ---- helpers -------------------------------------------------------- */

/* Turn an rl_err into the matching Python exception. Returns NULL. */
static PyObject *
raise_rl(sc_state *st, const rl_err *err)
{
    switch (err->status) {
    case RL_NOMEM:
        return PyErr_NoMemory();
    case RL_REPLY:
        PyErr_SetString(st->RedisReplyError, err->msg);
        return NULL;
    default:
        PyErr_SetString(st->RedisUnavailable, err->msg);
        return NULL;
    }
}

static PyObject *
bad_reply(sc_state *st, const char *what)
{
    PyErr_Format(st->RedisReplyError, "unexpected reply to %s", what);
    return NULL;
}

/* Run calls with the GIL released. Returns 0 or -1 with an exception. */
static int
exec_nogil(LayerObject *self, sc_state *st, ConnObject *c, rl_call *calls,
           int ncalls, double extra_timeout)
{
    rl_err err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = rl_exec(&c->rc, self->hosts, calls, ncalls, extra_timeout, &err);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        raise_rl(st, &err);
        return -1;
    }
    return 0;
}

/* Wall-clock seconds, for group membership scores (as channels_redis;
 * message scores come from the server's clock, see rscripts.c). */
static double
now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Capacity of `channel` (str): channel_capacity rules or the default.
 * Returns >= 0, or -1 with an exception set. */
static long long
channel_capacity(LayerObject *self, PyObject *channel)
{
    if (self->capacity_for == NULL) {
        return self->capacity;
    }
    PyObject *r = PyObject_CallOneArg(self->capacity_for, channel);
    if (r == NULL) {
        return -1;
    }
    long long cap = PyLong_AsLongLong(r);
    Py_DECREF(r);
    if (cap == -1 && PyErr_Occurred()) {
        return -1;
    }
    return cap < 0 ? 0 : cap;
}

/* Append `s` to the scratch buffer; returns its offset or -1 (no memory,
 * exception set). Offsets stay valid across reallocations, pointers not. */
static Py_ssize_t
scratch_put(ConnObject *c, const void *s, size_t len)
{
    size_t off = c->scratch.len;
    if (mpe_buf_append(&c->scratch, s, len) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return (Py_ssize_t)off;
}

/* Append prefix + `name` to scratch; returns the offset or -1. */
static Py_ssize_t
scratch_key(LayerObject *self, ConnObject *c, const char *sep,
            const char *name, size_t len)
{
    Py_ssize_t off = scratch_put(c, self->prefix, (size_t)self->prefix_len);
    if (off < 0 || scratch_put(c, sep, strlen(sep)) < 0 ||
        scratch_put(c, name, len) < 0) {
        return -1;
    }
    return off;
}

static int
check_message(sc_state *st, PyObject *message)
{
    if (!PyDict_Check(message)) {
        PyErr_SetString(PyExc_TypeError, "message is not a dict");
        return -1;
    }
    int has = PyDict_Contains(message, st->str_asgi_channel);
    if (has != 0) {
        if (has > 0) {
            PyErr_SetString(PyExc_ValueError,
                            "message must not contain the reserved key "
                            "'__asgi_channel__'");
        }
        return -1;
    }
    return 0;
}

static int
check_nargs(const char *name, Py_ssize_t nargs, Py_ssize_t min,
            Py_ssize_t max)
{
    if (nargs < min || nargs > max) {
        PyErr_Format(PyExc_TypeError,
                     "%s() takes %zd to %zd arguments (%zd given)",
                     name, min, max, nargs);
        return -1;
    }
    return 0;
}

/* ---- send ----------------------------------------------------------- */

PyDoc_STRVAR(layer_send_doc,
"send(channel, message) -> bool\n\n"
"Store `message` for `channel` as channels_redis does. Returns True if\n"
"stored, False if the channel is at capacity (the caller raises\n"
"ChannelFull). Raises TypeError/ValueError for bad names or messages,\n"
"RedisUnavailable when Redis cannot be reached in time.");

static PyObject *
layer_send(LayerObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    sc_state *st = layer_state(self);
    ConnObject *c = NULL;
    PyObject *result = NULL;
    rl_call call = {0};

    if (check_nargs("send", nargs, 2, 2) < 0) {
        return NULL;
    }
    PyObject *channel = args[0], *message = args[1];
    if (pylayer_check_channel(st, channel, 0) < 0 ||
        check_message(st, message) < 0) {
        return NULL;
    }
    Py_ssize_t clen;
    const char *cname = PyUnicode_AsUTF8AndSize(channel, &clen);
    if (cname == NULL) {
        return NULL;
    }
    int bang = memchr(cname, '!', (size_t)clen) != NULL;
    size_t nl = names_nonlocal_len(cname, (size_t)clen);
    long long cap = channel_capacity(self, channel);
    if (cap < 0) {
        return NULL;
    }
    c = conn_acquire(self, st);
    if (c == NULL) {
        return NULL;
    }
    mpe_encoder *e = c->enc;
    unsigned char rnd[64];
    rl_random_bytes(&c->rc, rnd, (size_t)self->rnd_len);
    if (mpe_buf_append(&e->buf, rnd, (size_t)self->rnd_len) < 0) {
        PyErr_NoMemory();
        goto error;
    }
    if (mpe_encode_map_head(e, message, bang ? 1 : 0) < 0) {
        goto error;
    }
    if (bang && (mpe_pack_str_header(&e->buf, 16) < 0 ||
                 mpe_buf_append(&e->buf, "__asgi_channel__", 16) < 0 ||
                 mpe_pack_str_header(&e->buf, (size_t)clen) < 0 ||
                 mpe_buf_append(&e->buf, cname, (size_t)clen) < 0)) {
        PyErr_NoMemory();
        goto error;
    }
    Py_ssize_t key_off = scratch_key(self, c, "", cname, nl);
    if (key_off < 0) {
        goto error;
    }
    char capstr[32], expstr[32];
    snprintf(capstr, sizeof(capstr), "%lld", cap);
    snprintf(expstr, sizeof(expstr), "%lld", self->expiry);
    const char *argv[4] = {c->scratch.data + key_off, expstr, capstr,
                           e->buf.data};
    size_t lens[4] = {(size_t)self->prefix_len + nl, strlen(expstr),
                      strlen(capstr), e->buf.len};
    call.host = bang ? chash_index(cname, nl, self->nhosts)
                     : (int)(self->send_rr++ % (unsigned long)self->nhosts);
    call.script = RS_SEND;
    call.nkeys = 1;
    call.argc = 4;
    call.argv = argv;
    call.lens = lens;
    if (exec_nogil(self, st, c, &call, 1, 0) < 0) {
        goto error;
    }
    if (call.reply->type != REDIS_REPLY_INTEGER) {
        bad_reply(st, "send");
        goto error;
    }
    result = PyBool_FromLong(call.reply->integer == 1);
error:
    if (call.reply != NULL) {
        freeReplyObject(call.reply);
    }
    conn_release(c);
    return result;
}

/* ---- group_add / group_discard -------------------------------------- */

/* Validate group + channel and run `cmds` on the group's host. */
static PyObject *
group_membership(LayerObject *self, PyObject *const *args, Py_ssize_t nargs,
                 int add)
{
    sc_state *st = layer_state(self);
    ConnObject *c = NULL;
    PyObject *result = NULL;
    rl_call calls[2] = {{0}, {0}};

    if (check_nargs(add ? "group_add" : "group_discard", nargs, 2, 2) < 0) {
        return NULL;
    }
    PyObject *group = args[0], *channel = args[1];
    if (pylayer_check_group(st, group) < 0 ||
        pylayer_check_channel(st, channel, 0) < 0) {
        return NULL;
    }
    Py_ssize_t glen, clen;
    const char *g = PyUnicode_AsUTF8AndSize(group, &glen);
    const char *ch = g ? PyUnicode_AsUTF8AndSize(channel, &clen) : NULL;
    if (ch == NULL) {
        return NULL;
    }
    c = conn_acquire(self, st);
    if (c == NULL) {
        return NULL;
    }
    Py_ssize_t key_off = scratch_key(self, c, ":group:", g, (size_t)glen);
    if (key_off < 0) {
        goto error;
    }
    const char *key = c->scratch.data + key_off;
    size_t key_len = (size_t)(self->prefix_len + 7 + glen);
    char nowstr[40], expstr[32];
    snprintf(nowstr, sizeof(nowstr), "%.6f", now_seconds());
    snprintf(expstr, sizeof(expstr), "%lld", self->group_expiry);
    const char *zadd[4] = {"ZADD", key, nowstr, ch};
    size_t zadd_len[4] = {4, key_len, strlen(nowstr), (size_t)clen};
    const char *expire[3] = {"EXPIRE", key, expstr};
    size_t expire_len[3] = {6, key_len, strlen(expstr)};
    const char *zrem[3] = {"ZREM", key, ch};
    size_t zrem_len[3] = {4, key_len, (size_t)clen};
    int host = chash_index(g, (size_t)glen, self->nhosts);
    int ncalls = add ? 2 : 1;
    for (int i = 0; i < ncalls; i++) {
        calls[i].host = host;
        calls[i].script = -1;
    }
    if (add) {
        calls[0].argc = 4;
        calls[0].argv = zadd;
        calls[0].lens = zadd_len;
        calls[1].argc = 3;
        calls[1].argv = expire;
        calls[1].lens = expire_len;
    }
    else {
        calls[0].argc = 3;
        calls[0].argv = zrem;
        calls[0].lens = zrem_len;
    }
    if (exec_nogil(self, st, c, calls, ncalls, 0) < 0) {
        goto error;
    }
    result = Py_NewRef(Py_None);
error:
    for (int i = 0; i < 2; i++) {
        if (calls[i].reply != NULL) {
            freeReplyObject(calls[i].reply);
        }
    }
    conn_release(c);
    return result;
}

PyDoc_STRVAR(layer_group_add_doc,
"group_add(group, channel) -> None\n\n"
"ZADD the channel to the group's sorted set and refresh its expiry, in one\n"
"round trip.");

static PyObject *
layer_group_add(LayerObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return group_membership(self, args, nargs, 1);
}

PyDoc_STRVAR(layer_group_discard_doc,
"group_discard(group, channel) -> None\n\n"
"Remove the channel from the group (no error if it is not a member).");

static PyObject *
layer_group_discard(LayerObject *self, PyObject *const *args,
                    Py_ssize_t nargs)
{
    return group_membership(self, args, nargs, 0);
}

/* ---- group_send ----------------------------------------------------- */

/* Everything a group send needs, validated, with the GIL held. */
typedef struct gs_req {
    const char *group;
    Py_ssize_t group_len;
    const char *counter;      /* NULL: no sequence number */
    Py_ssize_t counter_len;
    const char *head, *tail;  /* text placeholder parts */
    Py_ssize_t head_len, tail_len;
    const char *state_key;    /* NULL: no state text to store */
    Py_ssize_t state_key_len;
    const char *state_seq_key;
    Py_ssize_t state_seq_key_len;
    const char *state_head, *state_tail;  /* state text around the seq */
    Py_ssize_t state_head_len, state_tail_len;
    char state_ttlstr[32];
    char gexpstr[32], expstr[32], capstr[32];
    char ttlstr[32];          /* counter TTL, "0" for none */
    char givenstr[32];        /* given seq, "0": INCR the counter */
    unsigned char rnd[64];
} gs_req;

static PyObject *
gs_result(long long seq, long long nkeys, long long over, long long members)
{
    if (seq < 0) {
        return Py_BuildValue("(OLLL)", Py_None, nkeys, over, members);
    }
    return Py_BuildValue("(LLLL)", seq, nkeys, over, members);
}

static long long
int_elem(const redisReply *r, size_t i)
{
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_INTEGER) {
        return -2;
    }
    return r->element[i]->integer;
}

/* One host, capacity rules expressible in Lua: one EVALSHA does it all. */
static PyObject *
group_send_one(LayerObject *self, sc_state *st, ConnObject *c, gs_req *q)
{
    mpe_encoder *e = c->enc;
    /* ... + 2 state keys and 3 state arguments */
    int max_args = 17 + 2 * self->ncaps + 3 * (e->ncuts + 1) + 2 + 5;
    const char **argv = PyMem_Malloc(sizeof(char *) * (size_t)max_args);
    size_t *lens = PyMem_Malloc(sizeof(size_t) * (size_t)max_args);
    PyObject *result = NULL;
    rl_call call = {0};
    char ncapstr[16], nsegstr[16];
    int n = 0;

    if (argv == NULL || lens == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    Py_ssize_t key_off = scratch_key(self, c, ":group:", q->group,
                                     (size_t)q->group_len);
    if (key_off < 0) {
        goto error;
    }
#define ARG(p, l) (argv[n] = (p), lens[n] = (l), n++)
#define ARGS(p) ARG((p), strlen(p))
    ARG(c->scratch.data + key_off, (size_t)(self->prefix_len + 7 + q->group_len));
    if (q->counter != NULL) {
        ARG(q->counter, (size_t)q->counter_len);
    }
    if (q->state_key != NULL) {
        ARG(q->state_key, (size_t)q->state_key_len);
        ARG(q->state_seq_key, (size_t)q->state_seq_key_len);
    }
    int nkeys = n;
    ARGS(q->gexpstr);
    ARGS(q->expstr);
    ARG(self->prefix, (size_t)self->prefix_len);
    ARG((const char *)q->rnd, (size_t)self->rnd_len);
    ARGS(q->capstr);
    ARGS(q->ttlstr);
    ARGS(q->givenstr);
    snprintf(ncapstr, sizeof(ncapstr), "%d", self->ncaps);
    ARGS(ncapstr);
    for (int i = 0; i < self->ncaps; i++) {
        ARGS(self->cap_pat[i]);
        ARGS(self->cap_val[i]);
    }
    /* Segments: literal msgpack between the placeholders. */
    int nseg = 2 * e->ncuts + 1;
    snprintf(nsegstr, sizeof(nsegstr), "%d", nseg);
    ARGS(nsegstr);
    size_t start = 0;
    for (int i = 0; i < e->ncuts; i++) {
        ARG("b", 1);
        ARG(e->buf.data + start, e->cut_pos[i] - start);
        start = e->cut_pos[i];
        if (e->cut_kind[i] == MPE_CUT_INT) {
            ARG("i", 1);
        }
        else {
            ARG("t", 1);
            ARG(q->head, (size_t)q->head_len);
            ARG(q->tail, (size_t)q->tail_len);
        }
    }
    ARG("b", 1);
    ARG(e->buf.data + start, e->buf.len - start);
    if (q->state_key != NULL) {
        ARG(q->state_head, (size_t)q->state_head_len);
        ARG(q->state_tail, (size_t)q->state_tail_len);
        ARGS(q->state_ttlstr);
    }
#undef ARG
#undef ARGS
    call.host = 0;
    call.script = RS_GROUP_SEND;
    call.nkeys = nkeys;
    call.argc = n;
    call.argv = argv;
    call.lens = lens;
    if (exec_nogil(self, st, c, &call, 1, 0) < 0) {
        goto error;
    }
    long long v[4];
    for (int i = 0; i < 4; i++) {
        v[i] = int_elem(call.reply, (size_t)i);
        if (v[i] < -1) {
            bad_reply(st, "group_send");
            goto error;
        }
    }
    result = gs_result(v[0], v[1], v[2], v[3]);
error:
    if (call.reply != NULL) {
        freeReplyObject(call.reply);
    }
    PyMem_Free(argv);
    PyMem_Free(lens);
    return result;
}

/* A member of the group, for sorting by process key. */
typedef struct gs_member {
    const char *name;
    size_t len;
    size_t nl;      /* non-local length */
    size_t order;   /* position in ZRANGE order */
} gs_member;

static int
member_cmp(const void *a, const void *b)
{
    const gs_member *x = a, *y = b;
    size_t n = x->nl < y->nl ? x->nl : y->nl;
    int r = memcmp(x->name, y->name, n);
    if (r != 0) {
        return r;
    }
    if (x->nl != y->nl) {
        return x->nl < y->nl ? -1 : 1;
    }
    return x->order < y->order ? -1 : (x->order > y->order);
}

/* One stored message per process key. Offsets into scratch. */
typedef struct gs_key {
    size_t key_off, key_len;
    size_t body_off, body_len;
    int host;
    char cap[24];
} gs_key;

/* Build the per-key messages (random prefix + rendered head + the
 * __asgi_channel__ pair) for members m[0..n) sorted by key. Returns the
 * number of keys, or -1 with an exception set. */
static Py_ssize_t
build_keys(LayerObject *self, ConnObject *c, gs_req *q, long long seq,
           gs_member *m, size_t n, gs_key *keys)
{
    mpe_buf head = {0};
    Py_ssize_t nkeys = 0;

    if (mpe_buf_append(&head, q->rnd, (size_t)self->rnd_len) < 0 ||
        mpe_render(c->enc, seq, q->head, (size_t)q->head_len, q->tail,
                   (size_t)q->tail_len, &head) < 0 ||
        mpe_pack_str_header(&head, 16) < 0 ||
        mpe_buf_append(&head, "__asgi_channel__", 16) < 0) {
        PyErr_NoMemory();
        goto error;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && m[j].nl == m[i].nl &&
               memcmp(m[j].name, m[i].name, m[i].nl) == 0) {
            j++;
        }
        gs_key *k = &keys[nkeys++];
        PyObject *first = PyUnicode_DecodeUTF8(m[i].name, (Py_ssize_t)m[i].len,
                                               NULL);
        long long cap = first ? channel_capacity(self, first) : -1;
        Py_XDECREF(first);
        if (cap < 0) {
            goto error;
        }
        snprintf(k->cap, sizeof(k->cap), "%lld", cap);
        k->host = chash_index(m[i].name, m[i].nl, self->nhosts);
        Py_ssize_t off = scratch_key(self, c, "", m[i].name, m[i].nl);
        if (off < 0) {
            goto error;
        }
        k->key_off = (size_t)off;
        k->key_len = (size_t)self->prefix_len + m[i].nl;
        k->body_off = c->scratch.len;
        if (mpe_buf_append(&c->scratch, head.data, head.len) < 0 ||
            mpe_pack_array_header(&c->scratch, j - i) < 0) {
            PyErr_NoMemory();
            goto error;
        }
        for (size_t x = i; x < j; x++) {
            if (mpe_pack_str_header(&c->scratch, m[x].len) < 0 ||
                mpe_buf_append(&c->scratch, m[x].name, m[x].len) < 0) {
                PyErr_NoMemory();
                goto error;
            }
        }
        k->body_len = c->scratch.len - k->body_off;
        i = j;
    }
    mpe_buf_free(&head);
    return nkeys;
error:
    mpe_buf_free(&head);
    return -1;
}

/* One pipelined EVALSHA RS_DELIVER per host that holds member keys.
 * Returns the number of keys over capacity, or -1 with an exception. */
static long long
deliver(LayerObject *self, sc_state *st, ConnObject *c, gs_req *q,
        gs_key *keys, Py_ssize_t nkeys)
{
    /* Per host: its keys, their messages, their capacities, expiry. */
    size_t max_args = 3 * (size_t)nkeys + (size_t)self->nhosts;
    rl_call *calls = PyMem_Calloc((size_t)self->nhosts, sizeof(rl_call));
    const char **argv = PyMem_Malloc(sizeof(char *) * max_args);
    size_t *lens = PyMem_Malloc(sizeof(size_t) * max_args);
    long long over = -1;
    int ncalls = 0;
    size_t n = 0;

    if (calls == NULL || argv == NULL || lens == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (int h = 0; h < self->nhosts; h++) {
        size_t start = n;
        int count = 0;
        for (Py_ssize_t i = 0; i < nkeys; i++) {   /* keys */
            if (keys[i].host == h) {
                argv[n] = c->scratch.data + keys[i].key_off;
                lens[n++] = keys[i].key_len;
                count++;
            }
        }
        if (count == 0) {
            continue;
        }
        for (Py_ssize_t i = 0; i < nkeys; i++) {   /* messages */
            if (keys[i].host == h) {
                argv[n] = c->scratch.data + keys[i].body_off;
                lens[n++] = keys[i].body_len;
            }
        }
        for (Py_ssize_t i = 0; i < nkeys; i++) {   /* capacities */
            if (keys[i].host == h) {
                argv[n] = keys[i].cap;
                lens[n++] = strlen(keys[i].cap);
            }
        }
        argv[n] = q->expstr;
        lens[n++] = strlen(q->expstr);
        rl_call *call = &calls[ncalls++];
        call->host = h;
        call->script = RS_DELIVER;
        call->nkeys = count;
        call->argc = (int)(n - start);
        call->argv = argv + start;
        call->lens = lens + start;
    }
    if (ncalls > 0 && exec_nogil(self, st, c, calls, ncalls, 0) < 0) {
        goto error;
    }
    over = 0;
    for (int i = 0; i < ncalls; i++) {
        if (calls[i].reply->type != REDIS_REPLY_INTEGER) {
            bad_reply(st, "group_send");
            over = -1;
            goto error;
        }
        over += calls[i].reply->integer;
    }
error:
    if (calls != NULL) {
        for (int i = 0; i < ncalls; i++) {
            if (calls[i].reply != NULL) {
                freeReplyObject(calls[i].reply);
            }
        }
    }
    PyMem_Free(calls);
    PyMem_Free(argv);
    PyMem_Free(lens);
    return over;
}

/* Several hosts (or capacity rules Lua cannot express): read the members
 * (and INCR the counter) on the group's host in one script, then deliver
 * with one pipelined script per host. Two round trips. */
static PyObject *
group_send_two_step(LayerObject *self, sc_state *st, ConnObject *c,
                    gs_req *q)
{
    rl_call call = {0};
    gs_member *m = NULL;
    gs_key *keys = NULL;
    PyObject *result = NULL;

    Py_ssize_t key_off = scratch_key(self, c, ":group:", q->group,
                                     (size_t)q->group_len);
    if (key_off < 0) {
        return NULL;
    }
    const char *argv[10];   /* 4 keys, 6 arguments at most */
    size_t lens[10];
    int argc = 0;
#define ARG(p, l) (argv[argc] = (p), lens[argc] = (l), argc++)
    ARG(c->scratch.data + key_off,
        (size_t)(self->prefix_len + 7 + q->group_len));
    if (q->counter != NULL) {
        ARG(q->counter, (size_t)q->counter_len);
    }
    if (q->state_key != NULL) {
        ARG(q->state_key, (size_t)q->state_key_len);
        ARG(q->state_seq_key, (size_t)q->state_seq_key_len);
    }
    int nscriptkeys = argc;
    ARG(q->gexpstr, strlen(q->gexpstr));
    ARG(q->ttlstr, strlen(q->ttlstr));
    ARG(q->givenstr, strlen(q->givenstr));
    if (q->state_key != NULL) {
        ARG(q->state_head, (size_t)q->state_head_len);
        ARG(q->state_tail, (size_t)q->state_tail_len);
        ARG(q->state_ttlstr, strlen(q->state_ttlstr));
    }
#undef ARG
    /* On the group's host, which also holds the counter and the state:
     * the state is stored before deliver() sends the event. */
    call.host = chash_index(q->group, (size_t)q->group_len, self->nhosts);
    call.script = RS_MEMBERS;
    call.nkeys = nscriptkeys;
    call.argc = argc;
    call.argv = argv;
    call.lens = lens;
    if (exec_nogil(self, st, c, &call, 1, 0) < 0) {
        return NULL;
    }
    redisReply *r = call.reply;
    long long seq = int_elem(r, 0);
    if (seq < -1) {
        bad_reply(st, "group_send");
        goto error;
    }
    size_t n = r->elements - 1;
    m = PyMem_Malloc(sizeof(gs_member) * (n ? n : 1));
    keys = PyMem_Malloc(sizeof(gs_key) * (n ? n : 1));
    if (m == NULL || keys == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *el = r->element[i + 1];
        if (el->type != REDIS_REPLY_STRING) {
            bad_reply(st, "group_send");
            goto error;
        }
        m[i].name = el->str;
        m[i].len = el->len;
        m[i].nl = names_nonlocal_len(el->str, el->len);
        m[i].order = i;
    }
    qsort(m, n, sizeof(gs_member), member_cmp);
    Py_ssize_t nkeys = build_keys(self, c, q, seq, m, n, keys);
    if (nkeys < 0) {
        goto error;
    }
    long long over = deliver(self, st, c, q, keys, nkeys);
    if (over < 0) {
        goto error;
    }
    result = gs_result(seq, nkeys, over, (long long)n);
error:
    freeReplyObject(call.reply);
    PyMem_Free(m);
    PyMem_Free(keys);
    return result;
}

static int
utf8_arg(PyObject *o, const char *what, const char **s, Py_ssize_t *len)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be str", what);
        return -1;
    }
    *s = PyUnicode_AsUTF8AndSize(o, len);
    return *s == NULL ? -1 : 0;
}

/* Parse (state_key, state_seq_key, state_head, state_tail, state_ttl). */
static int
state_args(PyObject *const *args, gs_req *q)
{
    if (utf8_arg(args[0], "state_key", &q->state_key, &q->state_key_len) < 0
        || utf8_arg(args[1], "state_seq_key", &q->state_seq_key,
                    &q->state_seq_key_len) < 0
        || utf8_arg(args[2], "state_head", &q->state_head,
                    &q->state_head_len) < 0
        || utf8_arg(args[3], "state_tail", &q->state_tail,
                    &q->state_tail_len) < 0) {
        return -1;
    }
    long long ttl = PyLong_AsLongLong(args[4]);
    if (ttl == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (ttl < 1) {
        PyErr_SetString(PyExc_ValueError, "state_ttl must be >= 1");
        return -1;
    }
    snprintf(q->state_ttlstr, sizeof(q->state_ttlstr), "%lld", ttl);
    return 0;
}

PyDoc_STRVAR(layer_group_send_doc,
"group_send(group, message[, counter_key, counter_ttl, seq_key, text_key,\n"
"           text_head, text_tail[, state_key, state_seq_key, state_head,\n"
"           state_tail, state_ttl][, given_seq]])\n"
"    -> (seq, keys, over_capacity, members)\n\n"
"Send `message` to every member of `group` as channels_redis does: one\n"
"stored message per process key, whose __asgi_channel__ lists that key's\n"
"members; keys at capacity are skipped and counted. With one host this is\n"
"one EVALSHA (one round trip).\n\n"
"With `counter_key`, the script first INCRs that key (and EXPIREs it after\n"
"`counter_ttl` seconds unless that is 0), and the message's\n"
"`seq_key` value becomes the new number and its `text_key` value becomes\n"
"text_head + str(seq) + text_tail (the message must hold both keys; their\n"
"values are ignored). `seq` is then that number, else None.\n\n"
"With `given_seq` > 0 (last argument, numbered by the caller's database),\n"
"that is the seq, and `counter_key` holds the highest seq delivered: a\n"
"given_seq not above it sends and stores nothing and returns seq 0.\n\n"
"With `state_key` too (only with a counter), the same script (with several\n"
"hosts: the first step, on the group's host, before the event is\n"
"delivered) stores state_head + str(seq) + state_tail under `state_key`\n"
"and seq under `state_seq_key`, both for `state_ttl` seconds, unless\n"
"`state_seq_key` already holds a seq >= this one.");

static PyObject *
layer_group_send(LayerObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    sc_state *st = layer_state(self);
    ConnObject *c = NULL;
    PyObject *result = NULL;
    gs_req q;

    if (check_nargs("group_send", nargs, 2, 14) < 0) {
        return NULL;
    }
    memset(&q, 0, sizeof(q));
    PyObject *group = args[0], *message = args[1];
    PyObject *counter = nargs > 2 ? args[2] : Py_None;
    if (pylayer_check_group(st, group) < 0 || check_message(st, message) < 0 ||
        utf8_arg(group, "group", &q.group, &q.group_len) < 0) {
        return NULL;
    }
    long long ttl = 0, given = 0;
    if (counter != Py_None) {
        if (nargs == 9 || nargs == 14) {
            given = PyLong_AsLongLong(args[nargs - 1]);
            if (given == -1 && PyErr_Occurred()) {
                return NULL;
            }
            if (given < 0) {
                PyErr_SetString(PyExc_ValueError, "given_seq must be >= 0");
                return NULL;
            }
            nargs--;
        }
        if (nargs != 8 && nargs != 13) {
            PyErr_SetString(PyExc_TypeError,
                            "group_send() with a counter_key needs "
                            "counter_ttl, seq_key, text_key, text_head and "
                            "text_tail (and, to store a state, state_key, "
                            "state_seq_key, state_head, state_tail and "
                            "state_ttl)");
            return NULL;
        }
        ttl = PyLong_AsLongLong(args[3]);
        if (ttl == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (ttl < 0) {
            PyErr_SetString(PyExc_ValueError, "counter_ttl must be >= 0");
            return NULL;
        }
        if (utf8_arg(counter, "counter_key", &q.counter, &q.counter_len) < 0 ||
            utf8_arg(args[4], "seq_key", &(const char *){NULL},
                     &(Py_ssize_t){0}) < 0 ||
            utf8_arg(args[5], "text_key", &(const char *){NULL},
                     &(Py_ssize_t){0}) < 0 ||
            utf8_arg(args[6], "text_head", &q.head, &q.head_len) < 0 ||
            utf8_arg(args[7], "text_tail", &q.tail, &q.tail_len) < 0) {
            return NULL;
        }
        if (nargs == 13 && state_args(args + 8, &q) < 0) {
            return NULL;
        }
    }
    snprintf(q.ttlstr, sizeof(q.ttlstr), "%lld", ttl);
    snprintf(q.givenstr, sizeof(q.givenstr), "%lld", given);
    c = conn_acquire(self, st);
    if (c == NULL) {
        return NULL;
    }
    if (q.counter != NULL &&
        (mpe_add_slot(c->enc, args[4], MPE_CUT_INT) < 0 ||
         mpe_add_slot(c->enc, args[5], MPE_CUT_TEXT) < 0)) {
        goto error;
    }
    if (mpe_encode_map_head(c->enc, message, 1) < 0) {
        goto error;
    }
    snprintf(q.gexpstr, sizeof(q.gexpstr), "%lld", self->group_expiry);
    snprintf(q.expstr, sizeof(q.expstr), "%lld", self->expiry);
    snprintf(q.capstr, sizeof(q.capstr), "%lld", self->capacity);
    /* One random prefix for every key of this send: it only has to keep
     * this message apart from others *in the same key*, and each key gets
     * exactly one message from this call. */
    rl_random_bytes(&c->rc, q.rnd, (size_t)self->rnd_len);
    if (self->nhosts == 1 && self->lua_caps_ok) {
        result = group_send_one(self, st, c, &q);
    }
    else {
        result = group_send_two_step(self, st, c, &q);
    }
error:
    conn_release(c);
    return result;
}

/* ---- receive side --------------------------------------------------- */

PyDoc_STRVAR(layer_receive_raw_doc,
"receive_raw(name, timeout) -> bytes | None\n\n"
"BZPOPMIN the oldest stored message of channel `name` (a plain channel or a\n"
"process's non-local name ending in '!'), waiting up to `timeout` seconds.\n"
"Returns the stored bytes (random prefix included) or None on timeout.\n"
"No $inflight backup is kept: a message popped by a process that dies\n"
"before handling it is lost.");

static PyObject *
layer_receive_raw(LayerObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    sc_state *st = layer_state(self);
    ConnObject *c = NULL;
    PyObject *result = NULL;
    rl_call call = {0};

    if (check_nargs("receive_raw", nargs, 2, 2) < 0 ||
        pylayer_check_channel(st, args[0], 1) < 0) {
        return NULL;
    }
    double timeout = PyFloat_AsDouble(args[1]);
    if (timeout == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (!(timeout > 0) || timeout > 1e6) {
        PyErr_SetString(PyExc_ValueError, "timeout must be > 0 seconds");
        return NULL;
    }
    Py_ssize_t len;
    const char *name = PyUnicode_AsUTF8AndSize(args[0], &len);
    if (name == NULL) {
        return NULL;
    }
    c = conn_acquire(self, st);
    if (c == NULL) {
        return NULL;
    }
    Py_ssize_t key_off = scratch_key(self, c, "", name, (size_t)len);
    if (key_off < 0) {
        goto error;
    }
    char tstr[32];
    snprintf(tstr, sizeof(tstr), "%.3f", timeout);
    const char *argv[3] = {"BZPOPMIN", c->scratch.data + key_off, tstr};
    size_t lens[3] = {8, (size_t)(self->prefix_len + len), strlen(tstr)};
    int bang = memchr(name, '!', (size_t)len) != NULL;
    call.host = bang ? chash_index(name, (size_t)len, self->nhosts)
                     : (int)(self->recv_rr++ % (unsigned long)self->nhosts);
    call.script = -1;
    call.argc = 3;
    call.argv = argv;
    call.lens = lens;
    if (exec_nogil(self, st, c, &call, 1, timeout) < 0) {
        goto error;
    }
    redisReply *r = call.reply;
    if (r->type == REDIS_REPLY_NIL) {
        result = Py_NewRef(Py_None);
    }
    else if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
             r->element[1]->type == REDIS_REPLY_STRING) {
        result = PyBytes_FromStringAndSize(r->element[1]->str,
                                           (Py_ssize_t)r->element[1]->len);
    }
    else {
        bad_reply(st, "BZPOPMIN");
    }
error:
    if (call.reply != NULL) {
        freeReplyObject(call.reply);
    }
    conn_release(c);
    return result;
}

PyDoc_STRVAR(layer_decode_message_doc,
"decode_message(data) -> (target, message)\n\n"
"Decode stored bytes as channels_redis's receiver does: drop the random\n"
"prefix, decode the msgpack map with a bounded reader, and pop\n"
"__asgi_channel__. `target` is that value (a channel name for a direct\n"
"send, a list of names for a group send) or None. Raises ValueError for\n"
"malformed data.");

static PyObject *
layer_decode_message(LayerObject *self, PyObject *data)
{
    sc_state *st = layer_state(self);
    Py_buffer view;
    PyObject *msg = NULL, *target = NULL, *result = NULL;

    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (view.len < self->rnd_len) {
        PyErr_SetString(PyExc_ValueError, "message shorter than its prefix");
        goto error;
    }
    msg = mpd_decode((const char *)view.buf + self->rnd_len,
                     (size_t)(view.len - self->rnd_len));
    if (msg == NULL) {
        goto error;
    }
    if (!PyDict_CheckExact(msg)) {
        PyErr_SetString(PyExc_ValueError, "stored message is not a map");
        goto error;
    }
    target = PyDict_GetItemWithError(msg, st->str_asgi_channel);  /* borrowed */
    if (target == NULL) {
        if (PyErr_Occurred()) {
            goto error;
        }
        target = Py_None;
    }
    Py_INCREF(target);
    if (target != Py_None &&
        PyDict_DelItem(msg, st->str_asgi_channel) < 0) {
        goto error;
    }
    result = PyTuple_Pack(2, target, msg);
error:
    Py_XDECREF(target);
    Py_XDECREF(msg);
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(layer_flush_doc,
"flush() -> None\n\n"
"Delete every key under this layer's prefix on every host (tests).");

static PyObject *
layer_flush(LayerObject *self, PyObject *Py_UNUSED(ignored))
{
    static const char script[] =
        "local keys = redis.call('KEYS', ARGV[1])\n"
        "for i = 1, #keys, 5000 do\n"
        "  redis.call('DEL', unpack(keys, i, math.min(i + 4999, #keys)))\n"
        "end\n";
    sc_state *st = layer_state(self);
    rl_call *calls = PyMem_Calloc((size_t)self->nhosts, sizeof(rl_call));
    ConnObject *c = NULL;
    PyObject *result = NULL;
    if (calls == NULL) {
        return PyErr_NoMemory();
    }
    c = conn_acquire(self, st);
    if (c == NULL) {
        goto error;
    }
    Py_ssize_t off = scratch_key(self, c, "*", "", 0);
    if (off < 0) {
        goto error;
    }
    const char *argv[4] = {"EVAL", script, "0", c->scratch.data + off};
    size_t lens[4] = {4, strlen(script), 1, (size_t)self->prefix_len + 1};
    for (int h = 0; h < self->nhosts; h++) {
        calls[h].host = h;
        calls[h].script = -1;
        calls[h].argc = 4;
        calls[h].argv = argv;
        calls[h].lens = lens;
    }
    if (exec_nogil(self, st, c, calls, self->nhosts, 0) == 0) {
        result = Py_NewRef(Py_None);
        for (int h = 0; h < self->nhosts; h++) {
            freeReplyObject(calls[h].reply);
        }
    }
error:
    if (c != NULL) {
        conn_release(c);
    }
    PyMem_Free(calls);
    return result;
}

PyDoc_STRVAR(layer_close_doc,
"close() -> None\n\n"
"Close the calling thread's connections (they reopen on next use).");

static PyObject *
layer_close(LayerObject *self, PyObject *Py_UNUSED(ignored))
{
    sc_state *st = layer_state(self);
    PyObject *obj = PyObject_GetAttr(self->local, st->str_conn);
    if (obj == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return NULL;
        }
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    ConnObject *c = (ConnObject *)obj;
    if (!c->busy) {
        rl_conn_close(&c->rc);
    }
    Py_DECREF(obj);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(layer_consistent_hash_doc,
"consistent_hash(name) -> int\n\n"
"Host index for `name` over this layer's hosts (channels_redis's ring).");

static PyObject *
layer_consistent_hash(LayerObject *self, PyObject *name)
{
    const char *s;
    Py_ssize_t len;
    if (utf8_arg(name, "name", &s, &len) < 0) {
        return NULL;
    }
    return PyLong_FromLong(chash_index(s, (size_t)len, self->nhosts));
}

/* ---- construction --------------------------------------------------- */

static char *
dup_utf8(PyObject *o, const char *what)
{
    if (o == Py_None) {
        return NULL;
    }
    Py_ssize_t len;
    const char *s;
    if (utf8_arg(o, what, &s, &len) < 0) {
        return NULL;
    }
    if (memchr(s, '\0', (size_t)len) != NULL) {
        PyErr_Format(PyExc_ValueError, "%s contains a NUL", what);
        return NULL;
    }
    char *d = PyMem_RawMalloc((size_t)len + 1);
    if (d == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(d, s, (size_t)len + 1);
    return d;
}

/* Check what the layer needs of each host beyond pyhost.c's checks: its
 * timeouts (realtime.redis_hosts always gives them). */
static int
check_host_timeouts(const ph_redis_host *h)
{
    if (!(h->connect_timeout > 0) || !(h->timeout > 0)) {
        PyErr_SetString(PyExc_ValueError, "timeouts must be > 0 seconds");
        return -1;
    }
    if (h->master_name[0] != '\0' && !(h->sentinel_timeout > 0)) {
        PyErr_SetString(PyExc_ValueError, "sentinel timeout must be > 0");
        return -1;
    }
    return 0;
}

static int
parse_lua_caps(LayerObject *self, PyObject *caps)
{
    if (caps == Py_None) {
        self->lua_caps_ok = 0;
        return 0;
    }
    PyObject *fast = PySequence_Fast(caps, "lua_capacities must be a list");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    self->cap_pat = PyMem_RawCalloc((size_t)n + 1, sizeof(char *));
    self->cap_val = PyMem_RawCalloc((size_t)n + 1, sizeof(*self->cap_val));
    if (self->cap_pat == NULL || self->cap_val == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pat;
        long long cap;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i),
                              "OL;lua_capacities holds (pattern, capacity)",
                              &pat, &cap)) {
            Py_DECREF(fast);
            return -1;
        }
        self->cap_pat[i] = dup_utf8(pat, "pattern");
        if (self->cap_pat[i] == NULL) {
            Py_DECREF(fast);
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "pattern must be str");
            }
            return -1;
        }
        snprintf(self->cap_val[i], sizeof(self->cap_val[i]), "%lld", cap);
        self->ncaps = (int)(i + 1);
    }
    Py_DECREF(fast);
    self->lua_caps_ok = 1;
    return 0;
}

static PyObject *
layer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"hosts", "prefix", "expiry", "group_expiry",
                             "capacity", "random_prefix_length",
                             "capacity_for", "lua_capacities", NULL};
    PyObject *hosts, *prefix, *capacity_for = Py_None, *lua_caps = Py_None;
    long long expiry = 60, group_expiry = 86400, capacity = 100;
    int rnd_len = 12;
    sc_state *st = PyType_GetModuleState(type);

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OU|LLLiOO:RedisLayer",
                                     kwlist, &hosts, &prefix, &expiry,
                                     &group_expiry, &capacity, &rnd_len,
                                     &capacity_for, &lua_caps)) {
        return NULL;
    }
    if (rnd_len < 0 || rnd_len > 64) {
        PyErr_SetString(PyExc_ValueError,
                        "random_prefix_length must be 0..64");
        return NULL;
    }
    if (expiry < 1 || group_expiry < 1 || capacity < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "expiry and group_expiry must be >= 1, capacity >= 0");
        return NULL;
    }
    LayerObject *self = (LayerObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->expiry = expiry;
    self->group_expiry = group_expiry;
    self->capacity = capacity;
    self->rnd_len = rnd_len;
    self->prefix = dup_utf8(prefix, "prefix");
    if (self->prefix == NULL) {
        goto error;
    }
    self->prefix_len = (Py_ssize_t)strlen(self->prefix);
    size_t nhosts = 0;
    if (ph_redis_hosts_from_py(hosts, "hosts", 4096, &self->hosts,
                               &nhosts) < 0) {
        goto error;
    }
    self->nhosts = (int)nhosts;
    for (int i = 0; i < self->nhosts; i++) {
        if (check_host_timeouts(&self->hosts[i]) < 0) {
            goto error;
        }
    }
    if (capacity_for != Py_None) {
        if (!PyCallable_Check(capacity_for)) {
            PyErr_SetString(PyExc_TypeError, "capacity_for must be callable");
            goto error;
        }
        self->capacity_for = Py_NewRef(capacity_for);
    }
    if (parse_lua_caps(self, lua_caps) < 0) {
        goto error;
    }
    self->local = PyObject_CallNoArgs(st->local_type);
    if (self->local == NULL) {
        goto error;
    }
    return (PyObject *)self;
error:
    Py_DECREF(self);
    return NULL;
}

static int
layer_traverse(LayerObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->capacity_for);
    Py_VISIT(self->local);
    return 0;
}

static int
layer_clear(LayerObject *self)
{
    Py_CLEAR(self->capacity_for);
    Py_CLEAR(self->local);
    return 0;
}

static void
layer_dealloc(LayerObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    layer_clear(self);
    PyMem_RawFree(self->hosts);
    if (self->cap_pat != NULL) {
        for (int i = 0; i < self->ncaps; i++) {
            PyMem_RawFree(self->cap_pat[i]);
        }
    }
    PyMem_RawFree(self->cap_pat);
    PyMem_RawFree(self->cap_val);
    PyMem_RawFree(self->prefix);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
layer_get_ring_size(LayerObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromLong(self->nhosts);
}

static PyObject *
layer_get_single_script(LayerObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->nhosts == 1 && self->lua_caps_ok);
}

static PyGetSetDef layer_getset[] = {
    {"ring_size", (getter)layer_get_ring_size, NULL, "number of hosts", NULL},
    {"single_script", (getter)layer_get_single_script, NULL,
     "True if group_send is one EVALSHA (one host, Lua-able capacities)",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef layer_methods[] = {
    {"send", (PyCFunction)(void (*)(void))layer_send, METH_FASTCALL,
     layer_send_doc},
    {"group_add", (PyCFunction)(void (*)(void))layer_group_add, METH_FASTCALL,
     layer_group_add_doc},
    {"group_discard", (PyCFunction)(void (*)(void))layer_group_discard,
     METH_FASTCALL, layer_group_discard_doc},
    {"group_send", (PyCFunction)(void (*)(void))layer_group_send,
     METH_FASTCALL, layer_group_send_doc},
    {"receive_raw", (PyCFunction)(void (*)(void))layer_receive_raw,
     METH_FASTCALL, layer_receive_raw_doc},
    {"decode_message", (PyCFunction)layer_decode_message, METH_O,
     layer_decode_message_doc},
    {"flush", (PyCFunction)layer_flush, METH_NOARGS, layer_flush_doc},
    {"close", (PyCFunction)layer_close, METH_NOARGS, layer_close_doc},
    {"consistent_hash", (PyCFunction)layer_consistent_hash, METH_O,
     layer_consistent_hash_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(layer_doc,
"RedisLayer(hosts, prefix, expiry=60, group_expiry=86400, capacity=100,\n"
"           random_prefix_length=12, capacity_for=None,\n"
"           lua_capacities=None)\n\n"
"Synchronous channels_redis-compatible channel layer (C, hiredis).\n"
"hosts: list of (host, port, unix_path, db, username, password,\n"
"connect_timeout, timeout[, sentinel]); sentinel: None or (master_name,\n"
"[(host, port), ...], username, password, timeout, failover_wait).\n"
"capacity_for: callable(channel) -> capacity\n"
"when channel_capacity rules exist. lua_capacities: the same rules as\n"
"(anchored Lua pattern, capacity) pairs, or None if they cannot be\n"
"expressed in Lua (then group_send takes two round trips).\n"
"realtime.layer.FastRedisLayer builds this from CHANNEL_LAYERS.");

static PyType_Slot layer_slots[] = {
    {Py_tp_new, layer_new},
    {Py_tp_dealloc, layer_dealloc},
    {Py_tp_traverse, layer_traverse},
    {Py_tp_clear, layer_clear},
    {Py_tp_methods, layer_methods},
    {Py_tp_getset, layer_getset},
    {Py_tp_doc, (void *)layer_doc},
    {0, NULL},
};

static PyType_Spec layer_spec = {
    .name = "realtime._redislayer.RedisLayer",
    .basicsize = sizeof(LayerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = layer_slots,
};

/* Create the RedisLayer and _Conn heap types from `module` into `st` and
 * add RedisLayer to the module. Returns 0, or -1 with an exception set. */
int
pylayer_add_types(PyObject *module, sc_state *st)
{
    st->conn_type = (PyTypeObject *)PyType_FromModuleAndSpec(module,
                                                             &conn_spec, NULL);
    if (st->conn_type == NULL) {
        return -1;
    }
    st->layer_type = (PyTypeObject *)PyType_FromModuleAndSpec(module,
                                                              &layer_spec, NULL);
    if (st->layer_type == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "RedisLayer",
                                 (PyObject *)st->layer_type);
}
