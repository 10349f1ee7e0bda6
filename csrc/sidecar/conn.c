/*
 * conn.c: see conn.h.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PH_RATE_UNIT 1000000u          /* micro-messages per message */
/* Past this many idle ms any bucket is full again (and no overflow). */
#define PH_RATE_IDLE_MAX (1000u * 3600u)

/*
 * Append in[0..len) to the reassembly buffer unless that would exceed max
 * bytes. Returns 0, -1 when the message is too big (the buffer is kept;
 * the caller closes 1009), or -2 when out of memory.
 */
int
ph_conn_rx_append(ph_conn *c, const void *in, size_t len, size_t max)
{
    char *n;

    if (max > UINT32_MAX) {
        max = UINT32_MAX;              /* rx_len is 32-bit */
    }
    if (len > max || c->rx_len > max - len) {
        return -1;
    }
    if (c->rx == NULL) {
        /* Allocate the whole bound once: at most max bytes per socket. */
        c->rx = malloc(max + 1);
        if (c->rx == NULL) {
            return -2;
        }
    }
    n = c->rx;
    memcpy(n + c->rx_len, in, len);
    c->rx_len += (uint32_t)len;
    n[c->rx_len] = '\0';
    return 0;
}

/* Free the reassembly buffer. */
void
ph_conn_rx_reset(ph_conn *c)
{
    free(c->rx);
    c->rx = NULL;
    c->rx_len = 0;
}

/*
 * c's connection_id, NUL-terminated into out[33]: its serial and its
 * random half, 16 lowercase hex digits each.
 */
void
ph_conn_id(const ph_conn *c, char out[PH_CONN_ID_LEN + 1])
{
    snprintf(out, PH_CONN_ID_LEN + 1, PH_CONN_ID_FMT, PH_CONN_ID_ARGS(c));
}

/*
 * Keep a copy of text[0..len) at the end of c's pending list, unless max
 * messages are held already. Returns 0, -1 when the list is full, -2 when
 * out of memory.
 */
int
ph_conn_pending_add(ph_conn *c, const char *text, size_t len, size_t max)
{
    ph_pending *p;

    if (c->npend >= max) {
        return -1;
    }
    p = malloc(sizeof(*p) + len + 1);
    if (p == NULL) {
        return -2;
    }
    p->len = len;
    memcpy(p->text, text, len);
    p->text[len] = '\0';
    if (c->pend != NULL) {             /* after the newest, before the oldest */
        p->next = c->pend->next;
        c->pend->next = p;
    }
    else {
        p->next = p;
    }
    c->pend = p;
    c->npend++;
    return 0;
}

/* Unlink and return the oldest pending message (the caller frees it), or
 * NULL when none is held. */
ph_pending *
ph_conn_pending_pop(ph_conn *c)
{
    ph_pending *p;

    if (c->pend == NULL) {
        return NULL;
    }
    p = c->pend->next;                 /* the oldest */
    if (p == c->pend) {
        c->pend = NULL;
    }
    else {
        c->pend->next = p->next;
    }
    p->next = NULL;
    c->npend--;
    return p;
}

/* Free every pending message. */
void
ph_conn_pending_clear(ph_conn *c)
{
    ph_pending *p;

    while ((p = ph_conn_pending_pop(c)) != NULL) {
        free(p);
    }
}

/* ------------------------------------------------------------------ */
/* client message rate: a token bucket                                  */

/* Start a full bucket at now_ms. */
void
ph_rate_init(ph_rate *r, const ph_rate_limits *lim, uint64_t now_ms)
{
    r->last_ms = now_ms;
    r->tokens = (uint64_t)lim->burst * PH_RATE_UNIT;
    r->drops = 0;
}

/* Refill for the time elapsed, then take one message: see conn.h. */
ph_rate_verdict
ph_rate_take(ph_rate *r, const ph_rate_limits *lim, uint64_t now_ms)
{
    uint64_t full = (uint64_t)lim->burst * PH_RATE_UNIT;
    uint64_t elapsed;

    if (lim->rate_milli == 0) {
        return PH_RATE_OK;
    }
    elapsed = now_ms > r->last_ms ? now_ms - r->last_ms : 0;
    r->last_ms = now_ms;
    /* rate_milli milli-messages per s = rate_milli micro-messages per ms */
    if (elapsed >= PH_RATE_IDLE_MAX
        || r->tokens + elapsed * lim->rate_milli >= full) {
        r->tokens = full;
        r->drops = 0;              /* calm again: the flood count restarts */
    }
    else {
        r->tokens += elapsed * lim->rate_milli;
    }
    if (r->tokens >= PH_RATE_UNIT) {
        r->tokens -= PH_RATE_UNIT;
        return PH_RATE_OK;
    }
    if (r->drops < UINT32_MAX) {
        r->drops++;
    }
    return r->drops >= lim->flood ? PH_RATE_FLOOD : PH_RATE_DROP;
}

/* ------------------------------------------------------------------ */
/* open sockets per client address                                      */

/* How many sockets are counted under addr. */
uint32_t
ph_addr_count_get(ph_addr_count *table, const char *addr)
{
    ph_addr_count *e;

    HASH_FIND_STR(table, addr, e);
    return e != NULL ? e->n : 0;
}

/* Count one more socket under addr; the entry, or NULL (no memory). */
ph_addr_count *
ph_addr_count_add(ph_addr_count **table, const char *addr)
{
    ph_addr_count *e;
    char key[PH_ADDR_MAX];

    snprintf(key, sizeof(key), "%s", addr);
    HASH_FIND_STR(*table, key, e);
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL) {
            return NULL;
        }
        memcpy(e->addr, key, sizeof(key));
        HASH_ADD_STR(*table, addr, e);
    }
    e->n++;
    return e;
}

/* Count one socket less under e (NULL: nothing); frees an empty entry. */
void
ph_addr_count_release(ph_addr_count **table, ph_addr_count *e)
{
    if (e == NULL) {
        return;
    }
    if (--e->n == 0) {
        HASH_DEL(*table, e);
        free(e);
    }
}

/* Free every entry of *table. */
void
ph_addr_count_clear(ph_addr_count **table)
{
    ph_addr_count *e, *tmp;

    HASH_ITER(hh, *table, e, tmp) {
        HASH_DEL(*table, e);
        free(e);
    }
}

/*
 * Copy the trimmed address s[0..n) into out in canonical form (IPv4-mapped
 * IPv6 as IPv4). Returns 0, or -1 when it is not a numeric IP address.
 */
static int
addr_canonical(const char *s, size_t n, char out[PH_ADDR_MAX])
{
    unsigned char bin[16];
    char tmp[PH_ADDR_MAX];

    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    if (n == 0 || n >= sizeof(tmp)) {
        return -1;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET, tmp, bin) == 1) {
        memcpy(out, tmp, n + 1);
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, bin) != 1) {
        return -1;
    }
    if (memcmp(bin, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
        return inet_ntop(AF_INET, bin + 12, out, PH_ADDR_MAX) != NULL ? 0 : -1;
    }
    return inet_ntop(AF_INET6, bin, out, PH_ADDR_MAX) != NULL ? 0 : -1;
}

/* Is the canonical address addr one of the trusted proxies? */
static int
addr_trusted(const char *addr, const char *trusted)
{
    const char *p = trusted;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char entry[PH_ADDR_MAX];

        if (addr_canonical(p, n, entry) == 0 && strcmp(entry, addr) == 0) {
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* The address a connection is counted under: see conn.h. */
int
ph_conn_client_addr(const char *peer, const char *xff, const char *trusted,
                    char out[PH_ADDR_MAX])
{
    char cur[PH_ADDR_MAX];
    size_t end;
    int from_xff = 0, proxy;

    if (addr_canonical(peer, strlen(peer), cur) < 0) {
        snprintf(cur, sizeof(cur), "%s", peer);   /* unix socket, unknown */
    }
    proxy = trusted != NULL && addr_trusted(cur, trusted);
    end = xff != NULL ? strlen(xff) : 0;
    while (proxy && end > 0 && addr_trusted(cur, trusted)) {
        size_t start = end;

        while (start > 0 && xff[start - 1] != ',') {
            start--;
        }
        if (addr_canonical(xff + start, end - start, cur) < 0) {
            break;                 /* keep the last address read */
        }
        from_xff = 1;
        end = start > 0 ? start - 1 : 0;
    }
    memcpy(out, cur, sizeof(cur));
    if (from_xff) {
        return PH_ADDR_XFF;
    }
    return proxy ? PH_ADDR_PROXY : PH_ADDR_PEER;
}
