/*
 * rsetup.c: see rsetup.h.
 */
#include "rsetup.h"

#include <stdio.h>
#include <string.h>

#include "sentinel.h"

static const char *const step_names[] = {
    "AUTH", "ROLE", "SELECT", "PING", "SCRIPT LOAD"
};

static void
add(ph_setup *s, ph_setup_step step, int script, int argc,
    const char *a0, const char *a1, const char *a2)
{
    ph_setup_cmd *c = &s->cmd[s->n++];
    int i;

    c->step = step;
    c->script = script;
    c->argc = argc;
    c->argv[0] = a0;
    c->argv[1] = a1;
    c->argv[2] = a2;
    for (i = 0; i < argc; i++) {
        c->lens[i] = strlen(c->argv[i]);
    }
}

/* Fill s with one connection's set-up commands (see rsetup.h). */
void
ph_setup_build(ph_setup *s, const char *username, const char *password,
               int db, unsigned flags)
{
    int i;

    s->n = 0;
    if (password != NULL && password[0] != '\0') {
        if (username != NULL && username[0] != '\0') {
            add(s, PH_SETUP_AUTH, -1, 3, "AUTH", username, password);
        }
        else {
            add(s, PH_SETUP_AUTH, -1, 2, "AUTH", password, NULL);
        }
    }
    if (flags & PH_SETUP_CHECK_ROLE) {
        add(s, PH_SETUP_ROLE, -1, 1, "ROLE", NULL, NULL);
    }
    if (db != 0) {
        snprintf(s->db, sizeof(s->db), "%d", db);
        add(s, PH_SETUP_SELECT, -1, 2, "SELECT", s->db, NULL);
    }
    if ((flags & PH_SETUP_PING_LAST) && !(flags & PH_SETUP_CHECK_ROLE)) {
        add(s, PH_SETUP_PING, -1, 1, "PING", NULL, NULL);
    }
    if (flags & PH_SETUP_LOAD_SCRIPTS) {
        for (i = 0; i < RS_COUNT; i++) {
            add(s, PH_SETUP_SCRIPT, i, 3, "SCRIPT", "LOAD",
                rs_source((rs_script)i));
        }
    }
}

/* Check one set-up reply (see rsetup.h). */
ph_setup_result
ph_setup_check(ph_setup_step step, int script, const redisReply *r,
               char sha[RS_COUNT][PH_SHA_LEN + 1], char *why, size_t whylen)
{
    const char *name = step_names[step];

    if (step == PH_SETUP_ROLE && ph_sentinel_role_is_master(r) != 1) {
        snprintf(why, whylen, "not a master (ROLE): the sentinels lag a "
                 "failover");
        return PH_SETUP_NOT_MASTER;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, whylen, "%s refused: %.200s", name, r->str);
        return step == PH_SETUP_AUTH ? PH_SETUP_REFUSED : PH_SETUP_ERROR;
    }
    if (step == PH_SETUP_SCRIPT) {
        if (script < 0 || script >= RS_COUNT || r->type != REDIS_REPLY_STRING
            || r->len != PH_SHA_LEN) {
            snprintf(why, whylen, "unexpected %s reply", name);
            return PH_SETUP_ERROR;
        }
        memcpy(sha[script], r->str, PH_SHA_LEN);
        sha[script][PH_SHA_LEN] = '\0';
    }
    return PH_SETUP_OK;
}
