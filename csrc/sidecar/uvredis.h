/*
 * uvredis: hiredis 0.14 async adapter for a libuv loop we own.
 *
 * Same six hooks as hiredis/adapters/libuv.h, with one difference that
 * matters: when libuv reports a poll error (connection refused, reset),
 * the stock 0.14.1 adapter returns without telling hiredis, so neither the
 * connect nor the disconnect callback ever fires and a lost Redis goes
 * unnoticed. Here an error status is turned into a read/write attempt on
 * the events we were waiting for, which makes hiredis see the socket error
 * and run its callbacks (this is what hiredis 1.0 does).
 */
#ifndef PH_UVREDIS_H
#define PH_UVREDIS_H

#include <hiredis/async.h>
#include <uv.h>

/*
 * Attach ac to loop. Returns 0, or -1 when ac already has an adapter or
 * memory runs out (ac is then untouched and the caller frees it). The
 * adapter's memory is released by hiredis' cleanup hook, after libuv has
 * closed the poll handle.
 */
int ph_uvredis_attach(redisAsyncContext *ac, uv_loop_t *loop);

/*
 * Size bounds on what a hiredis reader accepts from Redis (see
 * ph_redis_reader_bound). Nothing we ask Redis for comes near them: the
 * largest arrays are HMGET (3) and BZPOPMIN (3), EVAL results are
 * integers, and messages are capped by channels_redis far below 512 MiB.
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

#endif /* PH_UVREDIS_H */
