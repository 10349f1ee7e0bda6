/*
 * rbound.c: see rbound.h.
 */
#include "rbound.h"

#include <stdatomic.h>
#include <stddef.h>

/*
 * hiredis 0.14.1's reader callocs an array's element vector when it reads
 * the header, before any element arrives: "*1234567883\r\n" from a hostile
 * or corrupted Redis asks for 9.8 GB (hiredis 1.0 added maxelements; 0.14
 * has only these object hooks). Refusing the object (NULL) makes the
 * reader fail the reply, which every caller already handles as a dropped
 * connection. Strings reach createString only once all their bytes are
 * buffered, so the string bound limits reply objects, not the reader's
 * buffer (which timeouts and Redis' own limits bound).
 *
 * The default functions are hiredis' static table, known only through a
 * fresh reader's fn; every reader has the same one, so concurrent first
 * calls store the same pointer.
 */
static _Atomic(redisReplyObjectFunctions *) reader_default_fn;

static void *
bounded_create_array(const redisReadTask *task, int elements)
{
    if (elements < 0 || elements > PH_REDIS_MAX_ELEMENTS) {
        return NULL;
    }
    return atomic_load(&reader_default_fn)->createArray(task, elements);
}

static void *
bounded_create_string(const redisReadTask *task, char *str, size_t len)
{
    if (len > PH_REDIS_MAX_BULK) {
        return NULL;
    }
    return atomic_load(&reader_default_fn)->createString(task, str, len);
}

static void *
bounded_create_integer(const redisReadTask *task, long long value)
{
    return atomic_load(&reader_default_fn)->createInteger(task, value);
}

static void *
bounded_create_nil(const redisReadTask *task)
{
    return atomic_load(&reader_default_fn)->createNil(task);
}

static void
bounded_free_object(void *obj)
{
    atomic_load(&reader_default_fn)->freeObject(obj);
}

static redisReplyObjectFunctions bounded_fn = {
    bounded_create_string,
    bounded_create_array,
    bounded_create_integer,
    bounded_create_nil,
    bounded_free_object,
};

/* Bound r's array and string sizes (see rbound.h). */
int
ph_redis_reader_bound(redisReader *r)
{
    redisReplyObjectFunctions *expected = NULL;

    if (r == NULL) {
        return -1;
    }
    if (r->fn == &bounded_fn) {
        return 0;                      /* already bounded */
    }
    (void)atomic_compare_exchange_strong(&reader_default_fn, &expected, r->fn);
    r->fn = &bounded_fn;
    return 0;
}
