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
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* listener                                                             */

/* Accept up to max connections and hand each to lws; returns at the
 * first accept4 error. On EMFILE/ENFILE the poll is stopped; the tick
 * restarts it. */
static void
accept_some(ph_server *srv, int max)
{
    int i;

    for (i = 0; i < max; i++) {
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
        /*
         * No Nagle: lws sets TCP_NODELAY only on sockets it accepts itself,
         * not on adopted ones, and with Nagle a frame written while the
         * previous one is unacknowledged waits for the client's (possibly
         * delayed) ACK. Each send is a whole frame or a corked batch of
         * them, so nothing is gained by holding it. A failure only costs
         * latency.
         */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
        if (lws_adopt_socket_vhost(srv->vh, fd) == NULL) {
            ph_logf(srv->log, PH_LOG_ERROR, "lws refused an accepted socket");
            /* lws closes the descriptor when adoption fails. */
        }
    }
}

/* Poll callback of the listening socket: accept up to
 * PH_ACCEPTS_PER_WAKE connections (fairness with the other sockets). */
void
ph_srv_listen_cb(uv_poll_t *h, int status, int events)
{
    ph_server *srv = h->data;

    (void)events;
    if (status < 0 || srv->phase != SRV_RUNNING) {
        return;
    }
    accept_some(srv, PH_ACCEPTS_PER_WAKE);
}

/*
 * Stop accepting for good: stop polling and close the listening socket
 * (idempotent). With accept_pending, first take what is already in the
 * accept queue (at most the backlog): closing one socket of a SO_REUSEPORT
 * group resets the connections still queued on it, while adopted ones
 * get a proper close from the caller (1012 while draining).
 */
void
ph_srv_listen_close(ph_server *srv, int accept_pending)
{
    if (srv->listen_active) {
        if (accept_pending && srv->listen_fd >= 0) {
            accept_some(srv, srv->cfg.backlog);
        }
        uv_poll_stop(&srv->listen_poll);
        if (!uv_is_closing((uv_handle_t *)&srv->listen_poll)) {
            uv_close((uv_handle_t *)&srv->listen_poll, NULL);
        }
        srv->listen_active = 0;
    }
    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
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

