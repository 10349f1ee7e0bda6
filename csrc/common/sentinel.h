/*
 * sentinel.h: Redis Sentinel master discovery, shared by the channel layer
 * (synchronous, csrc/layer/rlayer.c) and the sidecar (asynchronous, on its
 * loop).
 *
 * Discovery follows channels_redis / redis-py: ask each sentinel in turn
 * SENTINEL get-master-addr-by-name <master_name>; the first sentinel that
 * names a master wins. The caller then connects to that master and, like
 * redis-py, checks ROLE before trusting it (a sentinel may lag a
 * failover). Pure C; nothing here touches Python or holds the GIL.
 */
#ifndef PH_SENTINEL_H
#define PH_SENTINEL_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#define PH_SENTINEL_MAX 16          /* sentinels per master */
#define PH_SENTINEL_HOST_MAX 256    /* bytes of a host name, with NUL */

/* Where a sentinel or a master lives. */
typedef struct ph_sentinel_addr {
    char host[PH_SENTINEL_HOST_MAX];
    int port;
} ph_sentinel_addr;

/*
 * Arguments of the discovery command for master_name: fills argv/lens (3
 * entries) pointing at static strings and at master_name, which must
 * outlive their use. Never fails.
 */
void ph_sentinel_command(const char *master_name, const char *argv[3],
                         size_t lens[3]);

/*
 * Read a reply to SENTINEL get-master-addr-by-name into out. Returns 0 when
 * the reply is a two-element array of strings (host, port 1..65535) that
 * fit; -1 otherwise with a one-line reason in err (nil: "the sentinel does
 * not know master"; an error reply: its text, bounded). r may be NULL
 * (no reply: I/O error), which also returns -1.
 */
int ph_sentinel_parse_master(const redisReply *r, ph_sentinel_addr *out,
                             char *err, size_t errlen);

/*
 * Check a reply to ROLE: returns 1 when it says "master", 0 when it names
 * another role (replica, sentinel), -1 when it is not a ROLE reply.
 */
int ph_sentinel_role_is_master(const redisReply *r);

#endif /* PH_SENTINEL_H */
