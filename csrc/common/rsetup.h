/*
 * rsetup.h: the commands that prepare a new Redis connection before use
 * (AUTH, ROLE, SELECT, PING, SCRIPT LOAD) and the check of their replies,
 * shared by the layer's synchronous connections (rlayer.c) and the
 * sidecar's asynchronous links (server_redis.c); each sends them its own
 * way, pipelined.
 */
#ifndef PH_RSETUP_H
#define PH_RSETUP_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "rscripts.h"

#define PH_SHA_LEN 40                   /* hex SHA1 of a script */
#define PH_SETUP_MAX (4 + RS_COUNT)     /* AUTH ROLE SELECT PING + scripts */

/* What one set-up command is. */
typedef enum ph_setup_step {
    PH_SETUP_AUTH = 0,
    PH_SETUP_ROLE,           /* the server must say it is a master */
    PH_SETUP_SELECT,
    PH_SETUP_PING,           /* makes a missing password fail here */
    PH_SETUP_SCRIPT          /* SCRIPT LOAD of one rs_script */
} ph_setup_step;

/* ph_setup_build's flags. */
#define PH_SETUP_CHECK_ROLE 1u   /* ROLE: a master named by a sentinel */
#define PH_SETUP_PING_LAST 2u    /* PING when ROLE is not sent */
#define PH_SETUP_LOAD_SCRIPTS 4u /* SCRIPT LOAD every rs_script */

typedef struct ph_setup_cmd {
    ph_setup_step step;
    int script;              /* PH_SETUP_SCRIPT: the rs_script, else -1 */
    int argc;
    const char *argv[3];
    size_t lens[3];
} ph_setup_cmd;

/* The commands, in the order they are sent. argv may point into db: the
 * struct must stay where ph_setup_build filled it until they are sent. */
typedef struct ph_setup {
    int n;
    ph_setup_cmd cmd[PH_SETUP_MAX];
    char db[24];
} ph_setup;

/*
 * Fill s with the set-up of one connection: AUTH [username] password when
 * password is set (NULL or "" is none; so is an empty username), ROLE with
 * PH_SETUP_CHECK_ROLE, SELECT db when db != 0, PING with
 * PH_SETUP_PING_LAST unless ROLE is sent, then SCRIPT LOAD of every script
 * with PH_SETUP_LOAD_SCRIPTS. The strings must outlive the sending. Never
 * fails; s->n may be 0.
 */
void ph_setup_build(ph_setup *s, const char *username, const char *password,
                    int db, unsigned flags);

typedef enum ph_setup_result {
    PH_SETUP_OK = 0,
    PH_SETUP_REFUSED,        /* AUTH refused: wrong or missing credentials */
    PH_SETUP_NOT_MASTER,     /* ROLE names another role (or fails) */
    PH_SETUP_ERROR           /* any other error reply or a reply we cannot use */
} ph_setup_result;

/*
 * Check the reply r (not NULL) to a command of step (and script, for
 * PH_SETUP_SCRIPT). A script's SHA1 is stored in sha[script] (NUL-ended).
 * Returns PH_SETUP_OK, or another result with a one-line reason in why
 * (bounded, e.g. "AUTH refused: WRONGPASS ...").
 */
ph_setup_result ph_setup_check(ph_setup_step step, int script,
                               const redisReply *r,
                               char sha[RS_COUNT][PH_SHA_LEN + 1],
                               char *why, size_t whylen);

#endif /* PH_RSETUP_H */
