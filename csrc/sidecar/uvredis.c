/*
 * uvredis.c: see uvredis.h.
 */
#define _GNU_SOURCE 1

#include "uvredis.h"

#include <stdlib.h>

typedef struct uvredis_events {
    redisAsyncContext *ac;
    uv_poll_t handle;
    int events;            /* UV_READABLE | UV_WRITABLE currently wanted */
} uvredis_events;

static void
uvredis_poll_cb(uv_poll_t *handle, int status, int events)
{
    uvredis_events *p = handle->data;

    /*
     * On error, libuv gives no event mask; hand hiredis the events it
     * asked for so its read/write fails and it tears the link down.
     */
    if (status < 0) {
        events = p->events;
    }
    if (p->ac != NULL && (events & UV_READABLE)) {
        redisAsyncHandleRead(p->ac);
    }
    /* The read may have freed the context (cleanup sets ac to NULL). */
    if (p->ac != NULL && (events & UV_WRITABLE)) {
        redisAsyncHandleWrite(p->ac);
    }
}

static void
uvredis_update(uvredis_events *p)
{
    if (p->events) {
        uv_poll_start(&p->handle, p->events, uvredis_poll_cb);
    }
    else {
        uv_poll_stop(&p->handle);
    }
}

static void
uvredis_add_read(void *privdata)
{
    uvredis_events *p = privdata;

    p->events |= UV_READABLE;
    uvredis_update(p);
}

static void
uvredis_del_read(void *privdata)
{
    uvredis_events *p = privdata;

    p->events &= ~UV_READABLE;
    uvredis_update(p);
}

static void
uvredis_add_write(void *privdata)
{
    uvredis_events *p = privdata;

    p->events |= UV_WRITABLE;
    uvredis_update(p);
}

static void
uvredis_del_write(void *privdata)
{
    uvredis_events *p = privdata;

    p->events &= ~UV_WRITABLE;
    uvredis_update(p);
}

static void
uvredis_on_close(uv_handle_t *handle)
{
    free(handle->data);
}

static void
uvredis_cleanup(void *privdata)
{
    uvredis_events *p = privdata;

    p->ac = NULL;
    p->events = 0;
    uv_poll_stop(&p->handle);
    uv_close((uv_handle_t *)&p->handle, uvredis_on_close);
}

/*
 * Attach ac to loop. Returns 0, or -1 when ac already has an adapter or
 * memory runs out (ac is then untouched and the caller frees it). The
 * adapter's memory is released by hiredis' cleanup hook, after libuv has
 * closed the poll handle.
 */
int
ph_uvredis_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    uvredis_events *p;

    if (ac->ev.data != NULL) {
        return -1;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return -1;
    }
    if (uv_poll_init_socket(loop, &p->handle, ac->c.fd) != 0) {
        free(p);
        return -1;
    }
    p->ac = ac;
    p->handle.data = p;
    ac->ev.addRead = uvredis_add_read;
    ac->ev.delRead = uvredis_del_read;
    ac->ev.addWrite = uvredis_add_write;
    ac->ev.delWrite = uvredis_del_write;
    ac->ev.cleanup = uvredis_cleanup;
    ac->ev.data = p;
    return 0;
}
