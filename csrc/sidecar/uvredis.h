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

#endif /* PH_UVREDIS_H */
