/*
 * server_log: a bounded ring of log lines the event loop writes without
 * ever blocking, drained by another thread (the Python side, which hands
 * the lines to the logging module).
 *
 * The writer takes the lock with trylock: if a drainer holds it at that
 * instant, or the ring is full, the line is dropped and counted rather
 * than waited for. Levels use Python logging's numbers so the drainer can
 * pass them straight through.
 */
#ifndef PH_SERVER_LOG_H
#define PH_SERVER_LOG_H

#include <stddef.h>
#include <stdint.h>

#define PH_LOG_DEBUG 10
#define PH_LOG_INFO 20
#define PH_LOG_WARNING 30
#define PH_LOG_ERROR 40

#define PH_LOG_LINE_MAX 240

typedef struct ph_log ph_log;

/*
 * New ring of nlines lines (at least 1) keeping lines at or above level.
 * Returns NULL when out of memory.
 */
ph_log *ph_log_new(size_t nlines, int level);

/* Free the ring; no thread may use it any more. NULL is ignored. */
void ph_log_free(ph_log *lg);

/* Change the level filter (thread-safe, relaxed). */
void ph_log_set_level(ph_log *lg, int level);

/* True when a line at level would be kept (cheap pre-check). */
int ph_log_enabled(const ph_log *lg, int level);

/*
 * Format and store a line (truncated to PH_LOG_LINE_MAX-1 bytes on a
 * UTF-8 boundary). Never blocks. lg may be NULL (the line is discarded).
 */
void ph_logf(ph_log *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Pop the oldest line into buf[0..buflen) (NUL-terminated) and its level
 * into *level. Returns 1 when a line was popped, 0 when the ring is empty.
 * Called from any thread other than the loop.
 */
int ph_log_pop(ph_log *lg, int *level, char *buf, size_t buflen);

/* Lines dropped so far (ring full or lock busy). */
uint64_t ph_log_dropped(const ph_log *lg);

#endif /* PH_SERVER_LOG_H */
