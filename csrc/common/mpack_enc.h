/* mpack_enc.h - Python objects -> msgpack bytes, as Python msgpack packs. */
#ifndef PARTYHUB_MPACK_ENC_H
#define PARTYHUB_MPACK_ENC_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <msgpack.h>

/* Same as msgpack.Packer's DEFAULT_RECURSE_LIMIT. */
#define MPE_MAX_DEPTH 511

/* A growable byte buffer (PyMem_Raw* memory, so usable without the GIL). */
typedef struct mpe_buf {
    char *data;
    size_t len;
    size_t cap;
} mpe_buf;

/* Kinds of placeholder a message template may hold (see mpe_encoder). */
typedef enum {
    MPE_CUT_INT = 1,   /* the sequence number as a msgpack int */
    MPE_CUT_TEXT = 2   /* a msgpack str: text_head + decimal seq + text_tail */
} mpe_cut_kind;

#define MPE_MAX_CUTS 2

/* Encoder state. The top-level message may name up to MPE_MAX_CUTS keys
 * whose values are placeholders filled in later (by Lua or by
 * mpe_render()): the encoder writes the key, skips the value and records a
 * cut at that offset. Everything else is plain msgpack. */
typedef struct mpe_encoder {
    mpe_buf buf;
    msgpack_packer pk;
    PyObject *slot_key[MPE_MAX_CUTS];   /* borrowed, may be NULL */
    mpe_cut_kind slot_kind[MPE_MAX_CUTS];
    size_t cut_pos[MPE_MAX_CUTS];
    mpe_cut_kind cut_kind[MPE_MAX_CUTS];
    int ncuts;
    /* Where we are, for error messages: a key (str) or a list index. */
    int depth;
    PyObject *path_key[MPE_MAX_DEPTH + 1];   /* borrowed */
    Py_ssize_t path_index[MPE_MAX_DEPTH + 1];
} mpe_encoder;

/* Append `len` bytes to `b`. Returns 0, or -1 on out-of-memory (no Python
 * exception is set: callable without the GIL). */
int mpe_buf_append(mpe_buf *b, const void *data, size_t len);

/* Release the buffer's memory and reset it to empty. Never fails. */
void mpe_buf_free(mpe_buf *b);

/* Prepare `e` for use (empty buffer, no slots). Never fails. Pair with
 * mpe_encoder_free(). */
void mpe_encoder_init(mpe_encoder *e);

/* Free the encoder's buffer. Never fails. */
void mpe_encoder_free(mpe_encoder *e);

/* Declare that top-level `key` (borrowed, must stay alive while encoding)
 * holds a placeholder of kind `kind`. Returns 0, or -1 if all slots are
 * taken (ValueError set). */
int mpe_add_slot(mpe_encoder *e, PyObject *key, mpe_cut_kind kind);

/* Append the msgpack encoding of `obj` to e->buf, as msgpack.packb(obj)
 * would (str -> str, bytes/bytearray -> bin, int in the smallest form within
 * int64/uint64, float -> float64, bool, None, list/tuple -> array, dict with
 * str keys -> map). Returns 0, or -1 with an exception set: TypeError naming
 * the offending path for unsupported values or non-str keys, OverflowError
 * for ints out of range, ValueError past MPE_MAX_DEPTH. */
int mpe_encode(mpe_encoder *e, PyObject *obj);

/* Append a dict as a map header with len(dict) + `extra` entries followed by
 * the dict's own pairs; the caller appends the `extra` pairs itself. Keys
 * registered with mpe_add_slot() produce cuts instead of values. Same
 * errors as mpe_encode(); TypeError if `dict` is not a dict. */
int mpe_encode_map_head(mpe_encoder *e, PyObject *dict, size_t extra);

/* Append a msgpack str header for `len` bytes (the packer's choice of
 * fixstr/str8/16/32). Returns 0 or -1 (out of memory, no exception). */
int mpe_pack_str_header(mpe_buf *b, size_t len);

/* Append a msgpack array header for `n` elements. 0 or -1 as above. */
int mpe_pack_array_header(mpe_buf *b, size_t n);

/* Append the smallest msgpack encoding of a signed integer. 0 or -1. */
int mpe_pack_int(mpe_buf *b, long long v);

/* Append the encoder's output to `out` with its cuts filled in for `seq`:
 * MPE_CUT_INT -> msgpack int; MPE_CUT_TEXT -> msgpack str of
 * head + "<seq>" + tail. Returns 0 or -1 (out of memory, no exception);
 * needs no GIL. */
int mpe_render(const mpe_encoder *e, long long seq, const char *head,
               size_t head_len, const char *tail, size_t tail_len,
               mpe_buf *out);

#endif
