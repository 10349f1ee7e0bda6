/*
 * conn.c: see conn.h.
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

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

void
ph_conn_rx_reset(ph_conn *c)
{
    free(c->rx);
    c->rx = NULL;
    c->rx_len = 0;
}
