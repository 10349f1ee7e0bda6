/*
 * fanout: the sidecar's local groups and connection table.
 *
 * Redis sees one member per sidecar process per group (the local channel
 * specific.<prefix>!g.<group>); this module keeps, per group, the local
 * connections that belong to it, so one message popped from Redis reaches
 * every local socket of the group with the frame built once.
 *
 * Membership is O(1) both ways: each connection remembers its index in
 * each group's member array, and leaving swaps the last member into the
 * hole.
 */
#ifndef PH_FANOUT_H
#define PH_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "conn.h"

#define PH_GROUP_NAME_MAX 100  /* channels_redis: names shorter than 100 */

/* One exists per local group, and a player's own group usually has one
 * socket: the name is allocated to its length and the first member is
 * held in the group itself (members == &one until a second one joins), so
 * such a group is one allocation (see "Performance notes" in
 * docs/architecture.md). */
typedef struct ph_group {
    ph_conn **members;     /* &one, or an allocated array of cap */
    uint32_t n, cap;
    UT_hash_handle hh;
    ph_conn *one;
    char name[];           /* NUL-terminated, < PH_GROUP_NAME_MAX */
} ph_group;

typedef struct ph_fanout {
    ph_group *groups;      /* uthash head, keyed by name */
    ph_conn *conns;        /* uthash head, keyed by serial */
    size_t nconns;
} ph_fanout;

/* Initialise an empty table. */
void ph_fanout_init(ph_fanout *f);

/*
 * Add c to the group named name in slot (0..PH_CONN_GROUPS-1, which must be
 * free). *first is set to 1 when the group had no local member before
 * (the caller then registers it in Redis). Returns 0, or -1 when the name
 * is too long or memory runs out (nothing changed).
 */
int ph_fanout_join(ph_fanout *f, ph_conn *c, int slot, const char *name,
                   int *first);

/*
 * Remove c from the group in slot (no-op when empty). When c was the last
 * local member, the group is freed after its name is copied to
 * last_name[PH_GROUP_NAME_MAX] and 1 is returned (the caller unregisters
 * it in Redis); otherwise returns 0.
 */
int ph_fanout_leave(ph_fanout *f, ph_conn *c, int slot,
                    char last_name[PH_GROUP_NAME_MAX]);

/* Group by name (name[0..len)), or NULL. */
ph_group *ph_fanout_group(ph_fanout *f, const char *name, size_t len);

/* Link c into the connection table under c->serial. */
void ph_fanout_add_conn(ph_fanout *f, ph_conn *c);

/* Unlink c from the connection table (no-op when not linked). */
void ph_fanout_del_conn(ph_fanout *f, ph_conn *c);

/* Connection by serial, or NULL when it has gone. */
ph_conn *ph_fanout_conn(ph_fanout *f, uint64_t serial);

/* Free every group (connections are owned by lws, not freed here). */
void ph_fanout_clear(ph_fanout *f);

#endif /* PH_FANOUT_H */
