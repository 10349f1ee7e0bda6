/*
 * sentinel.c: parse the replies Redis Sentinel discovery depends on. The
 * I/O lives with each caller (rlayer.c blocking, server_redis.c on the
 * loop); see sentinel.h.
 */
#include "sentinel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ph_sentinel_command(const char *master_name, const char *argv[3],
                    size_t lens[3])
{
    argv[0] = "SENTINEL";
    argv[1] = "get-master-addr-by-name";
    argv[2] = master_name;
    lens[0] = 8;
    lens[1] = strlen(argv[1]);
    lens[2] = strlen(master_name);
}

int
ph_sentinel_parse_master(const redisReply *r, ph_sentinel_addr *out,
                         char *err, size_t errlen)
{
    const redisReply *h, *p;
    char portbuf[8], *end;
    long port;

    if (r == NULL) {
        snprintf(err, errlen, "no reply from the sentinel");
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "sentinel error: %.200s", r->str);
        return -1;
    }
    if (r->type == REDIS_REPLY_NIL) {
        snprintf(err, errlen, "the sentinel does not know this master");
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        snprintf(err, errlen, "unexpected sentinel reply (type %d)", r->type);
        return -1;
    }
    h = r->element[0];
    p = r->element[1];
    if (h->type != REDIS_REPLY_STRING || p->type != REDIS_REPLY_STRING
        || h->len == 0 || h->len >= sizeof(out->host)
        || p->len == 0 || p->len >= sizeof(portbuf)) {
        snprintf(err, errlen, "malformed master address from the sentinel");
        return -1;
    }
    memcpy(portbuf, p->str, p->len);
    portbuf[p->len] = '\0';
    port = strtol(portbuf, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) {
        snprintf(err, errlen, "malformed master port from the sentinel");
        return -1;
    }
    memcpy(out->host, h->str, h->len);
    out->host[h->len] = '\0';
    out->port = (int)port;
    return 0;
}

int
ph_sentinel_role_is_master(const redisReply *r)
{
    const redisReply *role;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        return -1;
    }
    role = r->element[0];
    if (role->type != REDIS_REPLY_STRING) {
        return -1;
    }
    return role->len == 6 && memcmp(role->str, "master", 6) == 0;
}
