/*
 * pyhost.c: see pyhost.h.
 */
#include "pyhost.h"

#include <string.h>

/* Copy the str item key of dict d (absent or None: "") into out[0..cap). */
static int
host_str(PyObject *d, const char *what, const char *key, char *out,
         size_t cap)
{
    PyObject *v = PyDict_GetItemString(d, key);     /* borrowed */
    const char *s;
    Py_ssize_t n;

    if (v == NULL || v == Py_None) {
        out[0] = '\0';
        return 0;
    }
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be str", what, key);
        return -1;
    }
    s = PyUnicode_AsUTF8AndSize(v, &n);
    if (s == NULL) {
        return -1;
    }
    if ((size_t)n >= cap || memchr(s, '\0', (size_t)n) != NULL) {
        PyErr_Format(PyExc_ValueError, "%s: %s too long", what, key);
        return -1;
    }
    memcpy(out, s, (size_t)n + 1);
    return 0;
}

/* Copy the int item key of dict d (absent: dflt) into *out, 0..65535. */
static int
host_int(PyObject *d, const char *what, const char *key, int dflt, int *out)
{
    PyObject *v = PyDict_GetItemString(d, key);     /* borrowed */
    long n;

    if (v == NULL || v == Py_None) {
        *out = dflt;
        return 0;
    }
    n = PyLong_AsLong(v);
    if (n == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (n < 0 || n > 65535) {
        PyErr_Format(PyExc_ValueError, "%s: %s out of range", what, key);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* Copy the number item key of dict d (absent: 0) into *out, >= 0. */
static int
host_seconds(PyObject *d, const char *what, const char *key, double *out)
{
    PyObject *v = PyDict_GetItemString(d, key);     /* borrowed */

    *out = 0;
    if (v == NULL || v == Py_None) {
        return 0;
    }
    *out = PyFloat_AsDouble(v);
    if (*out == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    if (!(*out >= 0) || *out > 86400) {
        PyErr_Format(PyExc_ValueError, "%s: %s must be 0..86400 s", what, key);
        return -1;
    }
    return 0;
}

/* Fill h's sentinels from the list under "sentinels". */
static int
host_sentinels(PyObject *d, const char *what, ph_redis_host *h)
{
    PyObject *sentinels = PyDict_GetItemString(d, "sentinels");  /* borrowed */
    Py_ssize_t i, n;

    if (sentinels == NULL || sentinels == Py_None) {
        n = 0;
    }
    else if (!PyList_Check(sentinels)) {
        n = -1;
    }
    else {
        n = PyList_GET_SIZE(sentinels);
    }
    if (n < 1 || n > PH_SENTINEL_MAX) {
        PyErr_Format(PyExc_ValueError, "%s: a Sentinel host needs a list of "
                     "1 to %d sentinels", what, PH_SENTINEL_MAX);
        return -1;
    }
    for (i = 0; i < n; i++) {
        PyObject *sd = PyList_GET_ITEM(sentinels, i);   /* borrowed */
        ph_sentinel_addr *a = &h->sentinels[i];

        if (!PyDict_Check(sd)) {
            PyErr_Format(PyExc_TypeError, "%s: a sentinel must be a dict "
                         "with host and port", what);
            return -1;
        }
        if (host_str(sd, what, "host", a->host, sizeof(a->host)) < 0
            || host_int(sd, what, "port", 26379, &a->port) < 0) {
            return -1;
        }
        if (a->host[0] == '\0' || a->port < 1) {
            PyErr_Format(PyExc_ValueError, "%s: bad sentinel address", what);
            return -1;
        }
    }
    h->nsentinels = (int)n;
    return 0;
}

/* Fill h from one host dict. */
static int
host_from_dict(PyObject *d, const char *what, ph_redis_host *h)
{
    if (!PyDict_Check(d)) {
        PyErr_Format(PyExc_TypeError, "%s items must be dicts", what);
        return -1;
    }
    if (host_str(d, what, "host", h->host, sizeof(h->host)) < 0
        || host_int(d, what, "port", 6379, &h->port) < 0
        || host_int(d, what, "db", 0, &h->db) < 0
        || host_str(d, what, "username", h->username,
                    sizeof(h->username)) < 0
        || host_str(d, what, "password", h->password,
                    sizeof(h->password)) < 0
        || host_seconds(d, what, "connect_timeout", &h->connect_timeout) < 0
        || host_seconds(d, what, "timeout", &h->timeout) < 0
        || host_str(d, what, "master_name", h->master_name,
                    sizeof(h->master_name)) < 0
        || host_str(d, what, "sentinel_username", h->sentinel_username,
                    sizeof(h->sentinel_username)) < 0
        || host_str(d, what, "sentinel_password", h->sentinel_password,
                    sizeof(h->sentinel_password)) < 0
        || host_seconds(d, what, "sentinel_timeout",
                        &h->sentinel_timeout) < 0
        || host_seconds(d, what, "failover_wait", &h->failover_wait) < 0) {
        return -1;
    }
    if (h->master_name[0] != '\0') {
        return host_sentinels(d, what, h);
    }
    if (h->host[0] == '\0') {
        PyErr_Format(PyExc_ValueError, "%s: a host needs a name, a path or "
                     "a master_name", what);
        return -1;
    }
    return 0;
}

/* Read a list of host dicts (see pyhost.h). */
int
ph_redis_hosts_from_py(PyObject *list, const char *what, size_t max,
                       ph_redis_host **out, size_t *n)
{
    Py_ssize_t i, len;

    *out = NULL;
    if (!PyList_Check(list) || PyList_GET_SIZE(list) < 1
        || (size_t)PyList_GET_SIZE(list) > max) {
        PyErr_Format(PyExc_ValueError, "%s must be a list of 1 to %zu dicts",
                     what, max);
        return -1;
    }
    len = PyList_GET_SIZE(list);
    *out = PyMem_RawCalloc((size_t)len, sizeof(**out));
    if (*out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (host_from_dict(PyList_GET_ITEM(list, i), what, &(*out)[i]) < 0) {
            PyMem_RawFree(*out);
            *out = NULL;
            return -1;
        }
    }
    *n = (size_t)len;
    return 0;
}
