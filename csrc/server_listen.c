/*
 * server_listen.c: our own listening socket (SO_REUSEADDR|SO_REUSEPORT so
 * several processes can share a port), polled on the libuv loop; accepted
 * descriptors are adopted into the lws vhost.
 */
#define _GNU_SOURCE 1

#include "server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* listener                                                             */

/* Poll callback of the listening socket: accept up to
 * PH_ACCEPTS_PER_WAKE connections and hand each to lws. On EMFILE/ENFILE
 * the poll is stopped; the tick restarts it. */
void
ph_srv_listen_cb(uv_poll_t *h, int status, int events)
{
    ph_server *srv = h->data;
    int i;

    (void)events;
    if (status < 0 || srv->phase != SRV_RUNNING) {
        return;
    }
    for (i = 0; i < PH_ACCEPTS_PER_WAKE; i++) {
        int fd = accept4(srv->listen_fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* Out of descriptors: pause until the next tick. */
                ph_logf(srv->log, PH_LOG_ERROR,
                        "accept: out of file descriptors; pausing");
                uv_poll_stop(&srv->listen_poll);
            }
            return;
        }
        if (lws_adopt_socket_vhost(srv->vh, fd) == NULL) {
            ph_logf(srv->log, PH_LOG_ERROR, "lws refused an accepted socket");
            /* lws closes the descriptor when adoption fails. */
        }
    }
}

/* Create, bind and listen on cfg.host:cfg.port with SO_REUSEPORT; sets
 * srv->listen_fd and srv->port. Returns 0, or -1 with the reason in
 * err[0..errlen) (nothing left open). */
int
ph_srv_listen_open(ph_server *srv, char *err, size_t errlen)
{
    struct addrinfo hints, *ai = NULL;
    char portstr[16];
    int fd = -1, one = 1, rc;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", srv->cfg.port);
    rc = getaddrinfo(srv->cfg.host, portstr, &hints, &ai);
    if (rc != 0) {
        ph_srv_set_err(err, errlen, "bad listen address %s:%d: %s", srv->cfg.host,
                srv->cfg.port, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ph_srv_set_err(err, errlen, "socket: %s", strerror(errno));
        goto error;
    }
    /* SO_REUSEPORT lets --workers N processes share the port. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        ph_srv_set_err(err, errlen, "setsockopt: %s", strerror(errno));
        goto error;
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        ph_srv_set_err(err, errlen, "cannot bind %s:%d: %s", srv->cfg.host,
                srv->cfg.port, strerror(errno));
        goto error;
    }
    if (listen(fd, srv->cfg.backlog) < 0) {
        ph_srv_set_err(err, errlen, "listen: %s", strerror(errno));
        goto error;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        srv->port = ss.ss_family == AF_INET6
                        ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    freeaddrinfo(ai);
    srv->listen_fd = fd;
    return 0;

error:
    if (fd >= 0) {
        close(fd);
    }
    freeaddrinfo(ai);
    return -1;
}

