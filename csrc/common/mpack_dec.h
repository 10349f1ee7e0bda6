/* mpack_dec.h - msgpack bytes -> Python objects, on the bounded reader. */
#ifndef PARTYHUB_MPACK_DEC_H
#define PARTYHUB_MPACK_DEC_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Decode exactly one msgpack value from `len` bytes at `data`, like
 * msgpack.unpackb(data) with its defaults (str -> str, bin -> bytes,
 * array -> list, map -> dict with str or bytes keys). Returns a new
 * reference, or NULL with ValueError set for truncated, malformed,
 * over-counted, too deeply nested input, trailing bytes or ext types, and
 * UnicodeDecodeError for bad UTF-8. Memory use is bounded by a small
 * multiple of `len` (every count is checked against the bytes left first). */
PyObject *mpd_decode(const char *data, size_t len);

#endif
