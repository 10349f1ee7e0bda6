/*
 * sidecar_run: standalone driver for the sidecar server (tests and
 * measurements, until the Python binding serves it).
 *
 *   sidecar_run [--host H] [--port N] [--redis-port N] [--origins LIST]
 *               [--max-message N] [--max-json-depth N] [--hard-msgs N] [--hard-bytes N]
 *               [--soft-msgs N] [--soft-bytes N] [--soft-ms N]
 *               [--ping N --ping-timeout N] [--types LIST] [--port-file F]
 *               [--version TEXT]
 *
 * SIGINT/SIGTERM stop it gracefully (ph_server_stop from another thread);
 * a second thread drains the log ring to stderr.
 */
#define _GNU_SOURCE 1

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

typedef struct driver {
    ph_server *srv;
    volatile int done;
    sigset_t sigs;
} driver;

static void *
signal_thread(void *arg)
{
    driver *d = arg;
    int sig;

    if (sigwait(&d->sigs, &sig) == 0) {
        ph_server_stop(d->srv);
    }
    return NULL;
}

static void *
log_thread(void *arg)
{
    driver *d = arg;
    char line[PH_LOG_LINE_MAX];
    int level;

    for (;;) {
        int done = d->done;

        while (ph_log_pop(ph_server_log(d->srv), &level, line, sizeof(line))) {
            fprintf(stderr, "sidecar[%d] %s\n", level, line);
        }
        if (done) {
            break;
        }
        usleep(20000);
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    ph_server_config cfg;
    driver d;
    char err[256];
    const char *port_file = NULL;
    pthread_t st, lt;
    int i;

    ph_server_config_defaults(&cfg);
    cfg.host = "127.0.0.1";
    cfg.msg_rate = 0.0;  /* no message rate limit unless --msg-rate: the
                          * protocol conformance suite sends 1000 pings in
                          * one write */
    for (i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];

        if (!strcmp(k, "--host")) cfg.host = v;
        else if (!strcmp(k, "--port")) cfg.port = atoi(v);
        else if (!strcmp(k, "--redis-port")) cfg.redis_port = atoi(v);
        else if (!strcmp(k, "--origins")) cfg.allowed_origins = v;
        else if (!strcmp(k, "--types")) cfg.client_types = v;
        else if (!strcmp(k, "--version")) cfg.server_version = v;
        else if (!strcmp(k, "--max-message")) cfg.max_message = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--max-json-depth")) cfg.max_json_depth = atoi(v);
        else if (!strcmp(k, "--hard-msgs")) cfg.hard_msgs = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--hard-bytes")) cfg.hard_bytes = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--soft-msgs")) cfg.soft_msgs = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--soft-bytes")) cfg.soft_bytes = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--soft-ms")) cfg.soft_seconds = strtod(v, NULL) / 1000.0;
        else if (!strcmp(k, "--ping")) cfg.ping_interval = atoi(v);
        else if (!strcmp(k, "--ping-timeout")) cfg.ping_timeout = atoi(v);
        else if (!strcmp(k, "--log-level")) cfg.log_level = atoi(v);
        else if (!strcmp(k, "--msg-rate")) cfg.msg_rate = strtod(v, NULL);
        else if (!strcmp(k, "--msg-burst")) cfg.msg_burst = atoi(v);
        else if (!strcmp(k, "--msg-flood")) cfg.msg_flood = atoi(v);
        else if (!strcmp(k, "--max-conns-per-ip")) cfg.max_conns_per_ip = atoi(v);
        else if (!strcmp(k, "--max-connections")) cfg.max_connections = atoi(v);
        else if (!strcmp(k, "--trusted-proxies")) cfg.trusted_proxies = v;
        else if (!strcmp(k, "--port-file")) port_file = v;
        else {
            fprintf(stderr, "unknown option %s\n", k);
            return 2;
        }
    }
    /* Signals go to the signal thread only. */
    memset(&d, 0, sizeof(d));
    sigemptyset(&d.sigs);
    sigaddset(&d.sigs, SIGINT);
    sigaddset(&d.sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &d.sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    d.srv = ph_server_new(&cfg, err, sizeof(err));
    if (d.srv == NULL) {
        fprintf(stderr, "sidecar: %s\n", err);
        return 1;
    }
    if (port_file != NULL) {
        ph_server_stats s;
        FILE *f = fopen(port_file, "w");

        ph_server_stats_get(d.srv, &s);
        if (f != NULL) {
            fprintf(f, "%d\n", s.port);
            fclose(f);
        }
    }
    pthread_create(&st, NULL, signal_thread, &d);
    pthread_create(&lt, NULL, log_thread, &d);
    ph_server_run(d.srv);
    d.done = 1;
    pthread_join(lt, NULL);
    pthread_cancel(st);
    pthread_join(st, NULL);
    ph_server_free(d.srv);
    return 0;
}
