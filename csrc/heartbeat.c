/*
 * heartbeat.c: two FIFO deadline lists (see heartbeat.h for why FIFO
 * order is deadline order here).
 */
#include "heartbeat.h"

/* Whole seconds at or after now_ms: a deadline of ceil(now) + d is never
 * reached before d full seconds have passed. */
static uint32_t
ceil_s(uint64_t now_ms)
{
    return (uint32_t)((now_ms + 999u) / 1000u);
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
append(ph_hb *hb, ph_hb_node *n, uint8_t kind, uint32_t due_s)
{
    ph_hb_list *l = list_of(hb, kind);

    if (n->kind != PH_HB_NONE) {
        unlink_node(hb, n);
    }
    n->kind = kind;
    n->due_s = due_s;
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
    hb->ping_s = ping_interval;
    hb->hangup_s = ping_timeout > ping_interval ? ping_timeout - ping_interval
                                                : 1;
}

/* Sign of life: PING due ping_interval s from now. */
void
ph_hb_alive(ph_hb *hb, ph_hb_node *n, uint64_t now_ms)
{
    n->ping_queued = 0;
    append(hb, n, PH_HB_SILENT, ceil_s(now_ms) + hb->ping_s);
}

/* PING sent: drop due ping_timeout - ping_interval s from now. */
void
ph_hb_pinged(ph_hb *hb, ph_hb_node *n, uint64_t now_ms)
{
    append(hb, n, PH_HB_PINGED, ceil_s(now_ms) + hb->hangup_s);
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
    uint32_t now_s = (uint32_t)(now_ms / 1000u);

    if (hb->pinged.head != NULL && hb->pinged.head->due_s <= now_s) {
        *kind = PH_HB_PINGED;
        return hb->pinged.head;
    }
    if (hb->silent.head != NULL && hb->silent.head->due_s <= now_s) {
        *kind = PH_HB_SILENT;
        return hb->silent.head;
    }
    return NULL;
}
