/*
 * rhost.h: one Redis host of the channel layer, as the layer and the
 * sidecar both hold it (filled from Python by pyhost.c, from
 * realtime.redis_hosts.RedisHost.as_c()).
 */
#ifndef PH_RHOST_H
#define PH_RHOST_H

#include "sentinel.h"

#define PH_REDIS_CRED_MAX 256         /* bytes of a user name or password */

/*
 * A Redis server, or a master found through Sentinel when master_name is
 * set (host and port are then unused). Plain bounded arrays, so a copy is
 * an assignment; "" is "not set" for every string.
 */
typedef struct ph_redis_host {
    char host[PH_SENTINEL_HOST_MAX]; /* name or IP (the sidecar: numeric
                                      * only, hiredis resolves blocking), or
                                      * a unix socket path starting with '/' */
    int port;
    int db;                          /* SELECT after connect when non-zero */
    char username[PH_REDIS_CRED_MAX];  /* ACL user; "" = AUTH <password> */
    char password[PH_REDIS_CRED_MAX];  /* "" = no AUTH */
    double connect_timeout;          /* s (the layer; 0 in the sidecar) */
    double timeout;                  /* s per reply (the layer) */
    char master_name[PH_REDIS_CRED_MAX];  /* "" = not Sentinel */
    ph_sentinel_addr sentinels[PH_SENTINEL_MAX];
    int nsentinels;
    char sentinel_username[PH_REDIS_CRED_MAX];
    char sentinel_password[PH_REDIS_CRED_MAX];
    double sentinel_timeout;         /* s per sentinel (the layer) */
    double failover_wait;            /* s one call may re-discover (layer) */
} ph_redis_host;

#endif /* PH_RHOST_H */
