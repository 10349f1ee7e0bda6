/*
 * conn.c: see conn.h.
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

/*
 * Append in[0..len) to the reassembly buffer unless that would exceed max
 * bytes. Returns 0, -1 when the message is too big (the buffer is kept;
 * the caller closes 1009), or -2 when out of memory.
 */
int
ph_conn_rx_append(ph_conn *c, const void *in, size_t len, size_t max)
{
    char *n;

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
    c->rx_len += len;
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
    p->next = NULL;
    p->len = len;
    memcpy(p->text, text, len);
    p->text[len] = '\0';
    if (c->pend_tail != NULL) {
        c->pend_tail->next = p;
    }
    else {
        c->pend_head = p;
    }
    c->pend_tail = p;
    c->npend++;
    return 0;
}

/* Unlink and return the oldest pending message (the caller frees it), or
 * NULL when none is held. */
ph_pending *
ph_conn_pending_pop(ph_conn *c)
{
    ph_pending *p = c->pend_head;

    if (p != NULL) {
        c->pend_head = p->next;
        if (c->pend_head == NULL) {
            c->pend_tail = NULL;
        }
        c->npend--;
    }
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
