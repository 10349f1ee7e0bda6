/*
 * server: the partyhub WebSocket sidecar.
 *
 * One process-wide object owning a libuv loop, a libwebsockets context
 * running on that loop, a SO_REUSEPORT listening socket, and per Redis
 * shard two hiredis async connections (commands; BZPOPMIN receive loop)
 * speaking the channels_redis wire format. Players connect to
 * /ws/game/<CODE>/; group messages sent by Django through channels_redis
 * are fanned out to every local socket of the group with the frame
 * encoded once.
 *
 * Threads: ph_server_new, ph_server_run and ph_server_free are called by
 * one owner thread (run blocks). ph_server_stop, ph_server_drain,
 * ph_server_stats and the log functions may be called from any thread at
 * any time between new and free.
 */
#ifndef PH_SERVER_H
#define PH_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "outq.h"
#include "rhost.h"
#include "sentinel.h"
#include "server_log.h"

typedef struct ph_server ph_server;

/* Highest RLIMIT_NOFILE soft limit the server sets: lws allocates its fd
 * lookup tables from it and falls back to 2560 fds above 10^7. */
#define PH_NOFILE_MAX (1024u * 1024u)

#define PH_REDIS_SHARDS_MAX 64       /* Redis hosts (shards) per sidecar */

/* The C types of the settings table's types (ph_settings.def). */
#define PH_SETTING_int int
#define PH_SETTING_size size_t
#define PH_SETTING_float double
#define PH_SETTING_str const char *

typedef struct ph_server_config {
    const char *host;              /* bind address (numeric), "0.0.0.0" */
    int port;                      /* 0 = any free port (see stats.port) */
    int backlog;                   /* listen() backlog, 1024 */
    const char *redis_host;        /* numeric IP: hiredis resolves blocking */
    int redis_port;                /* 6379 */
    int redis_db;                  /* SELECT after connect when non-zero */
    const ph_redis_host *redis_hosts;  /* the shards, in channels_redis'
                                        * order; NULL = the one host above */
    size_t nredis_hosts;
    const char *prefix;            /* channels_redis prefix, "asgi" */
    int expiry;                    /* channels_redis expiry (s), 60 */
    int group_expiry;              /* channels_redis group_expiry (s), 86400 */
    int group_refresh;             /* re-ZADD local groups every N s, 3600 */
    int capacity;                  /* channels_redis capacity, 100 */
    int receive_timeout;           /* BZPOPMIN timeout (s), 5 */
    const char *session_key_prefix;  /* PH_KEY_SESSION (keys.h) */
    const char *state_key_prefix;    /* PH_KEY_STATE */
    const char *ready_key;           /* PH_KEY_READY, set on every shard once
                                      * Django rebuilt its keys; NULL: not
                                      * used (no 1013 for unknown codes) */
    const char *private_key_prefix;  /* PH_KEY_PRIVATE, then
                                      * "<code>:<player id>": a player's
                                      * player.state text */
    const char *allowed_origins;   /* comma list or "*"; NULL = none */
    const char *client_types;      /* forwarded types; NULL = all */
    const char *server_version;    /* reported in welcome */
    int max_json_depth;            /* nesting of a client message, 32
                                    * (realtime.protocol.MAX_JSON_DEPTH) */
    /* The settings of realtime/settings_table.py, with their defaults
     * and ranges (ph_settings.def, generated into build/gen). */
#define PH_SETTING(name, type, dflt, low, high) PH_SETTING_##type name;
#include "ph_settings.def"
#undef PH_SETTING
    int log_level;                 /* PH_LOG_*, PH_LOG_INFO */
    size_t log_lines;              /* ring size, 1024 */
    const _Atomic uint64_t *worker_restarts;  /* the count of workers the
                                    * supervisor replaced, in memory it
                                    * shares with its workers and writes
                                    * (runsidecar --workers); /metrics shows
                                    * it. NULL = not supervised */
} ph_server_config;

typedef struct ph_server_stats {
    int port;                      /* bound port */
    int redis_up;                  /* every shard's links connected */
    int redis_shards;              /* Redis hosts configured */
    int redis_shards_up;           /* shards with both links connected */
    int redis_home_shard;          /* where senders put our messages */
    uint64_t connections;          /* open WebSockets now */
    /* The counters of realtime/counters_table.py (ph_counters.def). */
#define PH_COUNTER(name, metric, kind, help) uint64_t name;
#include "ph_counters.def"
#undef PH_COUNTER
    uint64_t log_dropped;
    uint64_t nofile_limit;         /* RLIMIT_NOFILE soft limit in force */
    int draining;                  /* a drain has begun */
} ph_server_stats;

/* Fill cfg with the defaults listed above and the settings table's. */
void ph_server_config_defaults(ph_server_config *cfg);

/*
 * Create the server: copies cfg (strings and redis_hosts included),
 * raises the process' RLIMIT_NOFILE soft limit to its hard limit (capped
 * at PH_NOFILE_MAX; lws sizes its fd tables from it), creates the loop,
 * the lws context and vhost, and binds and listens on host:port. Redis
 * connections are started when ph_server_run begins. Returns NULL with a
 * message in err[0..errlen) on any failure (port busy, bad address,
 * missing lws libuv plugin, out of memory); nothing is leaked.
 */
ph_server *ph_server_new(const ph_server_config *cfg, char *err,
                         size_t errlen);

/*
 * Run the loop until ph_server_stop is called; then close every socket
 * with 1001, withdraw group memberships, and tear the loop down. Returns
 * 0, or -1 if called twice. Blocks; call without the GIL.
 */
int ph_server_run(ph_server *srv);

/*
 * Ask the server to stop. Safe from any thread (including signal-driven
 * Python code) and idempotent; returns at once.
 */
void ph_server_stop(ph_server *srv);

/*
 * Ask the server to drain over window_ms (capped at one hour): it stops
 * accepting (the listening socket is closed, so SO_REUSEPORT siblings on
 * the port take new connections), /healthz answers 503, every open socket
 * is sent {"type":"server.draining","reconnect_in_ms":d} at once, where d
 * is its turn, spread uniformly over the window in a shuffled order, and
 * is closed with 1012 at that turn. Sockets that open meanwhile are closed
 * 1012 at once. The server keeps running, drained, until ph_server_stop
 * (which then closes what is left with 1012 and returns at once). Safe
 * from any thread; a second call while draining is ignored.
 */
void ph_server_drain(ph_server *srv, uint64_t window_ms);

/* Snapshot the counters (any thread). */
void ph_server_stats_get(ph_server *srv, ph_server_stats *out);

/* The log ring lines can be drained from (any thread); owned by srv. */
ph_log *ph_server_log(ph_server *srv);

/*
 * Free the server. If ph_server_run is running in another thread, the
 * caller must stop it and wait for it to return first.
 */
void ph_server_free(ph_server *srv);

#endif /* PH_SERVER_H */
