/* rscripts.h - every Lua script partyhub runs on Redis: the layer's, the
 * sidecar's send and the snapshot's state store (Python reads them from
 * realtime._sidecar.LUA_SCRIPTS). Each is run by its SHA1. */
#ifndef PARTYHUB_RSCRIPTS_H
#define PARTYHUB_RSCRIPTS_H

typedef enum {
    RS_SEND = 0,       /* one direct send with capacity check */
    RS_GROUP_SEND,     /* a whole group send on one host (+ seq, state) */
    RS_MEMBERS,        /* several hosts, step 1: clean + read members
                        * (+ seq, state) */
    RS_DELIVER,        /* several hosts, step 2: store per-key messages */
    RS_STORE_STATE,    /* a state text, unless a newer one is stored */
    RS_RAISE_SEQ,      /* raise a delivered-seq counter (never lower it) */
    RS_STORE_TOKENS,   /* a session's token hash, unless a newer one */
    RS_COUNT
} rs_script;

/* The Lua source of script `id` (static storage, NUL-terminated). Returns
 * NULL for an unknown id. The argument layout of each script is documented
 * next to its source in rscripts.c. */
const char *rs_source(rs_script id);

/* The name of script `id` ("send", "group_send", "members", "deliver",
 * "store_state"; static storage), or NULL for an unknown id. */
const char *rs_name(rs_script id);

#endif
