/*
 * server_log.c: see server_log.h.
 */
#define _GNU_SOURCE 1

#include "server_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct log_line {
    int level;
    char text[PH_LOG_LINE_MAX];
} log_line;

struct ph_log {
    pthread_mutex_t lock;
    _Atomic int level;
    _Atomic uint64_t dropped;
    size_t cap, head, count;
    log_line lines[];
};

/*
 * New ring of nlines lines (at least 1) keeping lines at or above level.
 * Returns NULL when out of memory.
 */
ph_log *
ph_log_new(size_t nlines, int level)
{
    ph_log *lg;

    if (nlines == 0) {
        nlines = 1;
    }
    if (nlines > (SIZE_MAX - sizeof(*lg)) / sizeof(log_line)) {
        return NULL;
    }
    lg = calloc(1, sizeof(*lg) + nlines * sizeof(log_line));
    if (lg == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&lg->lock, NULL) != 0) {
        free(lg);
        return NULL;
    }
    atomic_init(&lg->level, level);
    atomic_init(&lg->dropped, 0);
    lg->cap = nlines;
    return lg;
}

/* Free the ring; no thread may use it any more. NULL is ignored. */
void
ph_log_free(ph_log *lg)
{
    if (lg == NULL) {
        return;
    }
    pthread_mutex_destroy(&lg->lock);
    free(lg);
}

/* Change the level filter (thread-safe, relaxed). */
void
ph_log_set_level(ph_log *lg, int level)
{
    atomic_store_explicit(&lg->level, level, memory_order_relaxed);
}

/* True when a line at level would be kept (cheap pre-check). */
int
ph_log_enabled(const ph_log *lg, int level)
{
    return lg != NULL
           && level >= atomic_load_explicit(&lg->level, memory_order_relaxed);
}

/*
 * Format and store a line (truncated to PH_LOG_LINE_MAX-1 bytes on a
 * UTF-8 boundary). Never blocks. lg may be NULL (the line is discarded).
 */
void
ph_logf(ph_log *lg, int level, const char *fmt, ...)
{
    char tmp[PH_LOG_LINE_MAX + 1];     /* one spare byte to see the cut */
    va_list ap;
    int n;

    if (!ph_log_enabled(lg, level)) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n >= PH_LOG_LINE_MAX) {
        /*
         * Truncate to PH_LOG_LINE_MAX-1 bytes without splitting a UTF-8
         * sequence: while the first byte cut off is a continuation byte,
         * move the cut back onto its lead byte.
         */
        size_t k = PH_LOG_LINE_MAX - 1;

        while (k > 0 && ((unsigned char)tmp[k] & 0xC0) == 0x80) {
            k--;
        }
        tmp[k] = '\0';
    }
    if (pthread_mutex_trylock(&lg->lock) != 0) {
        atomic_fetch_add_explicit(&lg->dropped, 1, memory_order_relaxed);
        return;
    }
    if (lg->count == lg->cap) {
        atomic_fetch_add_explicit(&lg->dropped, 1, memory_order_relaxed);
    }
    else {
        log_line *l = &lg->lines[(lg->head + lg->count) % lg->cap];

        l->level = level;
        memcpy(l->text, tmp, strlen(tmp) + 1);   /* <= PH_LOG_LINE_MAX - 1 */
        lg->count++;
    }
    pthread_mutex_unlock(&lg->lock);
}

/*
 * Pop the oldest line into buf[0..buflen) (NUL-terminated) and its level
 * into *level. Returns 1 when a line was popped, 0 when the ring is empty.
 * Called from any thread other than the loop.
 */
int
ph_log_pop(ph_log *lg, int *level, char *buf, size_t buflen)
{
    int got = 0;

    pthread_mutex_lock(&lg->lock);
    if (lg->count > 0) {
        log_line *l = &lg->lines[lg->head];

        *level = l->level;
        if (buflen > 0) {
            snprintf(buf, buflen, "%s", l->text);
        }
        lg->head = (lg->head + 1) % lg->cap;
        lg->count--;
        got = 1;
    }
    pthread_mutex_unlock(&lg->lock);
    return got;
}

/* Lines dropped so far (ring full or lock busy). */
uint64_t
ph_log_dropped(const ph_log *lg)
{
    return atomic_load_explicit(&((ph_log *)lg)->dropped, memory_order_relaxed);
}
