/*
 * pyhost.h: the channel layer's Redis hosts from Python, in the one shape
 * both extension types take (realtime.redis_hosts.RedisHost.as_c()): a
 * list of dicts with host, port, db, username, password, connect_timeout,
 * timeout, master_name, sentinels ([{host, port}]), sentinel_username,
 * sentinel_password, sentinel_timeout, failover_wait; absent or None is
 * "not set".
 */
#ifndef PH_PYHOST_H
#define PH_PYHOST_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "rhost.h"

/*
 * Read `list` (what: its name in messages) into a new PyMem_Raw array of
 * 1..max hosts (*out, *n; free with PyMem_RawFree). Each host needs a host
 * or a master_name with 1..PH_SENTINEL_MAX sentinels; strings must fit
 * their fields. Returns 0, or -1 with TypeError/ValueError set (*out is
 * then NULL).
 */
int ph_redis_hosts_from_py(PyObject *list, const char *what, size_t max,
                           ph_redis_host **out, size_t *n);

#endif /* PH_PYHOST_H */
