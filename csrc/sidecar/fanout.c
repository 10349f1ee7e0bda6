/*
 * fanout.c: see fanout.h.
 */
#include "fanout.h"

#include <stdlib.h>
#include <string.h>

/* Initialise an empty table. */
void
ph_fanout_init(ph_fanout *f)
{
    memset(f, 0, sizeof(*f));
}

/* Free g and its member array (unless that is the inline slot). */
static void
group_free(ph_group *g)
{
    if (g->members != &g->one) {
        free(g->members);
    }
    free(g);
}

/* Group by name (name[0..len)), or NULL. */
ph_group *
ph_fanout_group(ph_fanout *f, const char *name, size_t len)
{
    ph_group *g = NULL;

    HASH_FIND(hh, f->groups, name, len, g);
    return g;
}

/*
 * Add c to the group named name in slot (0..PH_CONN_GROUPS-1, which must be
 * free). *first is set to 1 when the group had no local member before
 * (the caller then registers it in Redis). Returns 0, or -1 when the name
 * is too long or memory runs out (nothing changed).
 */
int
ph_fanout_join(ph_fanout *f, ph_conn *c, int slot, const char *name,
               int *first)
{
    size_t len = strlen(name);
    ph_group *g;
    int created = 0;

    *first = 0;
    if (len == 0 || len >= PH_GROUP_NAME_MAX || c->groups[slot] != NULL) {
        return -1;
    }
    g = ph_fanout_group(f, name, len);
    if (g == NULL) {
        g = calloc(1, sizeof(*g) + len + 1);
        if (g == NULL) {
            return -1;
        }
        memcpy(g->name, name, len + 1);
        g->members = &g->one;
        g->cap = 1;
        created = 1;
    }
    if (g->n == g->cap) {
        /* Past the inline slot: 3 pointers fill glibc's smallest chunk,
         * then doubling. */
        uint32_t ncap;
        ph_conn **m;

        if (g->cap > UINT32_MAX / 2) {     /* group_idx is 32-bit */
            goto error;
        }
        ncap = g->cap == 1 ? 3 : g->cap * 2;
        if (g->members == &g->one) {
            m = malloc(ncap * sizeof(*m));
            if (m != NULL) {
                m[0] = g->one;
            }
        }
        else {
            m = realloc(g->members, ncap * sizeof(*m));
        }
        if (m == NULL) {
            goto error;
        }
        g->members = m;
        g->cap = ncap;
    }
    if (created) {
        HASH_ADD(hh, f->groups, name, len, g);
        *first = 1;
    }
    g->members[g->n] = c;
    c->groups[slot] = g;
    c->group_idx[slot] = g->n;
    g->n++;
    return 0;

error:
    if (created) {
        group_free(g);
    }
    return -1;
}

/* Slot of group g in connection c. */
static int
conn_slot_of(const ph_conn *c, const ph_group *g)
{
    int i;

    for (i = 0; i < PH_CONN_GROUPS; i++) {
        if (c->groups[i] == g) {
            return i;
        }
    }
    return -1;
}

/*
 * Remove c from the group in slot (no-op when empty). When c was the last
 * local member, the group is freed after its name is copied to
 * last_name[PH_GROUP_NAME_MAX] and 1 is returned (the caller unregisters
 * it in Redis); otherwise returns 0.
 */
int
ph_fanout_leave(ph_fanout *f, ph_conn *c, int slot,
                char last_name[PH_GROUP_NAME_MAX])
{
    ph_group *g = c->groups[slot];
    size_t i;

    if (g == NULL) {
        return 0;
    }
    i = c->group_idx[slot];
    c->groups[slot] = NULL;
    g->n--;
    if (i != g->n) {
        ph_conn *moved = g->members[g->n];
        int s = conn_slot_of(moved, g);

        g->members[i] = moved;
        if (s >= 0) {
            moved->group_idx[s] = i;
        }
    }
    if (g->n > 0) {
        return 0;
    }
    memcpy(last_name, g->name, strlen(g->name) + 1);
    HASH_DEL(f->groups, g);
    group_free(g);
    return 1;
}

/* Link c into the connection table under c->serial. */
void
ph_fanout_add_conn(ph_fanout *f, ph_conn *c)
{
    if (!c->in_table) {
        HASH_ADD(hh, f->conns, serial, sizeof(c->serial), c);
        c->in_table = 1;
        f->nconns++;
    }
}

/* Unlink c from the connection table (no-op when not linked). */
void
ph_fanout_del_conn(ph_fanout *f, ph_conn *c)
{
    if (c->in_table) {
        HASH_DEL(f->conns, c);
        c->in_table = 0;
        f->nconns--;
    }
}

/* Connection by serial, or NULL when it has gone. */
ph_conn *
ph_fanout_conn(ph_fanout *f, uint64_t serial)
{
    ph_conn *c = NULL;

    HASH_FIND(hh, f->conns, &serial, sizeof(serial), c);
    return c;
}

/* Free every group (connections are owned by lws, not freed here). */
void
ph_fanout_clear(ph_fanout *f)
{
    ph_group *g, *tmp;

    HASH_ITER(hh, f->groups, g, tmp) {
        size_t i;

        for (i = 0; i < g->n; i++) {
            int s = conn_slot_of(g->members[i], g);

            if (s >= 0) {
                g->members[i]->groups[s] = NULL;
            }
        }
        HASH_DEL(f->groups, g);
        group_free(g);
    }
}
