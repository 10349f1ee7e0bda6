/*
 * heartbeat.c: two FIFO deadline lists (see heartbeat.h for why FIFO
 * order is deadline order here).
 */
#include "heartbeat.h"

/* now >= t on a wrapping 32-bit millisecond clock. */
static int
reached(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

static ph_hb_list *
list_of(ph_hb *hb, uint8_t kind)
{
    return kind == PH_HB_PINGED ? &hb->pinged : &hb->silent;
}

static void
unlink_node(ph_hb *hb, ph_hb_node *n)
{
    ph_hb_list *l = list_of(hb, n->kind);

    if (n->prev != NULL) {
        n->prev->next = n->next;
    }
    else {
        l->head = n->next;
    }
    if (n->next != NULL) {
        n->next->prev = n->prev;
    }
    else {
        l->tail = n->prev;
    }
    l->n--;
    n->prev = n->next = NULL;
    n->kind = PH_HB_NONE;
}

static void
append(ph_hb *hb, ph_hb_node *n, uint8_t kind)
{
    ph_hb_list *l = list_of(hb, kind);

    if (n->kind != PH_HB_NONE) {
        unlink_node(hb, n);
    }
    n->kind = kind;
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail != NULL) {
        l->tail->next = n;
    }
    else {
        l->head = n;
    }
    l->tail = n;
    l->n++;
}

/* Start with empty lists (see heartbeat.h). */
void
ph_hb_init(ph_hb *hb, uint32_t ping_interval, uint32_t ping_timeout)
{
    hb->silent.head = hb->silent.tail = NULL;
    hb->pinged.head = hb->pinged.tail = NULL;
    hb->silent.n = hb->pinged.n = 0;
    hb->ping_ms = ping_interval * 1000u;
    hb->hangup_ms = ping_timeout * 1000u;
}

/* Sign of life: PING due ping_interval s from now. */
void
ph_hb_alive(ph_hb *hb, ph_hb_node *n, uint64_t now_ms)
{
    n->ping_queued = 0;
    n->alive_ms = (uint32_t)now_ms;
    append(hb, n, PH_HB_SILENT);
}

/* PING due: drop ping_timeout s after the last sign of life. */
void
ph_hb_pinged(ph_hb *hb, ph_hb_node *n)
{
    append(hb, n, PH_HB_PINGED);
}

/* Unlink n if linked. */
void
ph_hb_remove(ph_hb *hb, ph_hb_node *n)
{
    if (n->kind != PH_HB_NONE) {
        unlink_node(hb, n);
    }
    n->ping_queued = 0;
}

/* Oldest expired node of either list (hang-ups first), or NULL. */
ph_hb_node *
ph_hb_due(ph_hb *hb, uint64_t now_ms, ph_hb_kind *kind)
{
    uint32_t now = (uint32_t)now_ms;

    if (hb->pinged.head != NULL
        && reached(now, hb->pinged.head->alive_ms + hb->hangup_ms)) {
        *kind = PH_HB_PINGED;
        return hb->pinged.head;
    }
    if (hb->silent.head != NULL
        && reached(now, hb->silent.head->alive_ms + hb->ping_ms)) {
        *kind = PH_HB_SILENT;
        return hb->silent.head;
    }
    return NULL;
}
