/*
 * rbound.h: the size bound on every Redis reply we read, for the layer's
 * synchronous connections and the sidecar's asynchronous ones alike.
 */
#ifndef PH_RBOUND_H
#define PH_RBOUND_H

#include <stddef.h>

#include <hiredis/read.h>

/*
 * Size bounds on what a hiredis reader accepts from Redis (see
 * ph_redis_reader_bound). Nothing we ask Redis for comes near them: the
 * sidecar's largest arrays are HMGET (3) and BZPOPMIN (3), the layer's a
 * group's members, and messages are capped by channels_redis far below
 * 512 MiB.
 */
#define PH_REDIS_MAX_ELEMENTS 1048576                   /* array elements */
#define PH_REDIS_MAX_BULK ((size_t)512 * 1024 * 1024)   /* string bytes */

/*
 * Bound the reader r (a redisContext's or redisAsyncContext's c.reader,
 * hiredis 0.14): from now on an array header of more than
 * PH_REDIS_MAX_ELEMENTS (or a negative count other than -1, nil) and a
 * string of more than PH_REDIS_MAX_BULK bytes fail the reply instead of
 * being allocated. The reader then reports an error (hiredis 0.14 calls
 * any refused object "Out of memory", REDIS_ERR_OOM) and the context
 * fails like on any protocol error: a sync redisGetReply returns
 * REDIS_ERR, an async context disconnects with its disconnect callback.
 * Call once per reader, before any reply is read; r must use hiredis'
 * default reply objects (redisReply). Thread-safe. Returns 0, or -1 when
 * r is NULL.
 */
int ph_redis_reader_bound(redisReader *r);

#endif /* PH_RBOUND_H */
