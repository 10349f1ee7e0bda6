/* rlayer.h - synchronous Redis access over hiredis for the channel layer.
 *
 * Pure C: nothing here touches Python, so every function may (and should)
 * run with the GIL released. One rl_conn belongs to one thread. */
#ifndef PARTYHUB_RLAYER_H
#define PARTYHUB_RLAYER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hiredis.h>

#include "rhost.h"
#include "rscripts.h"
#include "rsetup.h"
#include "sentinel.h"

/* One connection to one host, with the SHA1s its server gave our scripts. */
typedef struct rl_slot {
    redisContext *ctx;
    char sha[RS_COUNT][PH_SHA_LEN + 1];
    ph_sentinel_addr master;   /* Sentinel: where ctx is (was) connected */
    int sentinel_first;        /* Sentinel: the sentinel to ask first */
} rl_slot;

/* A thread's connections: one slot per host, opened lazily. */
typedef struct rl_conn {
    int nhosts;
    pid_t pid;              /* process that opened the sockets */
    uint64_t rng[2];        /* xorshift128+ state for random prefixes */
    rl_slot *slots;
} rl_conn;

typedef enum {
    RL_OK = 0,
    RL_UNAVAILABLE = 1,     /* cannot connect, timed out, connection lost,
                               AUTH refused */
    RL_REPLY = 2,           /* Redis answered with an error */
    RL_NOMEM = 3
} rl_status;

typedef struct rl_err {
    rl_status status;
    char msg[320];
} rl_err;

/* One command of a pipeline. With script >= 0 it is sent as
 * EVALSHA <sha> <nkeys> argv... (EVAL <source> ... if the server lost the
 * script); with script < 0 argv is the whole command. */
typedef struct rl_call {
    int host;
    int script;             /* rs_script or -1 */
    int nkeys;
    int argc;
    const char **argv;
    const size_t *lens;
    redisReply *reply;      /* filled by rl_exec; owned by the caller */
} rl_call;

/* Initialise `c` for `nhosts` hosts (no connection is opened). Returns 0,
 * or -1 if out of memory. Pair with rl_conn_free(). */
int rl_conn_init(rl_conn *c, int nhosts);

/* Close every connection and free the slots. Safe on a zeroed struct. */
void rl_conn_free(rl_conn *c);

/* Close every connection but keep the slots (they reconnect on next use).
 * After fork() the inherited sockets belong to the parent: they are
 * dropped without a word to the server. */
void rl_conn_close(rl_conn *c);

/* Fill `buf` with `n` pseudo-random bytes from the connection's generator
 * (seeded from getrandom()). Only uniqueness matters: the bytes keep equal
 * messages apart in a sorted set. Never fails. */
void rl_random_bytes(rl_conn *c, unsigned char *buf, size_t n);

/* Run `ncalls` commands, pipelined: each host's commands are written before
 * any reply is read, and several hosts are all written to before the first
 * read, so one call costs one round trip per run however many hosts take
 * part. Opens connections as needed (connect, AUTH, SELECT and SCRIPT LOAD
 * in one round trip). `extra_timeout` seconds are added to the socket read
 * timeout for this run (for blocking commands).
 *
 * Returns 0 with every calls[i].reply set (caller frees them with
 * freeReplyObject), or -1 with `err` filled and no reply left: any Redis
 * error reply makes the whole run fail with RL_REPLY; an I/O error or
 * timeout closes that host's connection (the next run reconnects) and fails
 * with RL_UNAVAILABLE.
 *
 * Sentinel hosts follow a failover: a connection found closed before the
 * run, or a READONLY / UNBLOCKED reply (the master was demoted; the command
 * did not run), makes the host re-discover its master (bounded by its
 * failover_wait) and, for those replies, resend the refused calls. A
 * connection lost after sending is never resent (the command may have
 * run): the run fails and the next one re-discovers. */
int rl_exec(rl_conn *c, const ph_redis_host *hosts, rl_call *calls, int ncalls,
            double extra_timeout, rl_err *err);

#endif
