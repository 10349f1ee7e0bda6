/* rscripts.h - the Lua scripts the Redis layer runs. */
#ifndef PARTYHUB_RSCRIPTS_H
#define PARTYHUB_RSCRIPTS_H

typedef enum {
    RS_SEND = 0,       /* one direct send with capacity check */
    RS_GROUP_SEND,     /* a whole group send on one host (+ seq, state) */
    RS_MEMBERS,        /* several hosts, step 1: clean + read members
                        * (+ seq, state) */
    RS_DELIVER,        /* several hosts, step 2: store per-key messages */
    RS_COUNT
} rs_script;

/* The Lua source of script `id` (static storage, NUL-terminated). Returns
 * NULL for an unknown id. The argument layout of each script is documented
 * next to its source in rscripts.c. */
const char *rs_source(rs_script id);

#endif
