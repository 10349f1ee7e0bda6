/*
 * fuzz_client_msg: the client text-message handling of the sidecar,
 * ph_ws_client_message (csrc/sidecar/wsparse.c on cJSON), which reads every text
 * frame a client sends once lws has reassembled it and checked its UTF-8.
 *
 * Input: byte 0 picks the forwarded-types list, the rest is the message.
 * Checks: the reply is NUL-terminated inside the buffer, is strict JSON
 * (fuzz_json_strict, fuzz_util.h; only strict JSON is answered with a
 * pong), a JSON object
 * of type "pong" or "error", is valid UTF-8 when the message was (it goes
 * out as a text frame), echoes ts (printed by cJSON; numbers beyond a double
 * come back as null, see has_nonfinite) for a ping; no error
 * reply ever needs more than PH_REPLY_MAX (1024) bytes; and with
 * 4 * len + 1024 bytes every message gets a reply (the bound server.c's
 * conn_on_message relies on since conformance case 2.12).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "fuzz_util.h"
#include "wsparse.h"

#define REPLY_MAX 1024                 /* PH_REPLY_MAX in server.c */

/* JSON numbers too big for a double (1e400) parse as +-inf, which cJSON
 * prints as null: the one way the echoed ts may differ from the sent one. */
static int
has_nonfinite(const cJSON *j)
{
    const cJSON *child;

    if (cJSON_IsNumber(j)) {
        return !isfinite(j->valuedouble);
    }
    for (child = j->child; child != NULL; child = child->next) {
        if (has_nonfinite(child)) {
            return 1;
        }
    }
    return 0;
}

/* The last member named name: json.loads (and wsparse.c) keep the last
 * duplicate, cJSON_GetObjectItem the first. */
static cJSON *
last_member(const cJSON *obj, const char *name)
{
    cJSON *child, *found = NULL;

    for (child = obj->child; child != NULL; child = child->next) {
        if (child->string != NULL && strcmp(child->string, name) == 0) {
            found = child;
        }
    }
    return found;
}

static const char *const type_lists[] = { NULL, "", "ping", "ping,chat,x" };

static void
check_reply(const char *msg, size_t len, int kind, const char *reply,
            size_t cap)
{
    cJSON *root, *out, *ts_in, *ts_out;
    size_t rlen;

    if (kind == PH_CLIENT_FORWARD || kind < 0) {
        return;
    }
    CHECK(kind == PH_CLIENT_PING || kind == PH_CLIENT_ERROR);
    CHECK(memchr(reply, '\0', cap) != NULL);
    rlen = strlen(reply);
    if (fuzz_utf8_ok((const uint8_t *)msg, len)) {
        CHECK(fuzz_utf8_ok((const uint8_t *)reply, rlen));
    }
    /* Strict JSON (cJSON below is lax): a pong echoes ts as sent, so a
     * message that is not strict JSON must not be a ping. */
    CHECK(fuzz_json_strict(reply, rlen));
    if (kind == PH_CLIENT_PING) {
        CHECK(fuzz_json_strict(msg, len));
    }
    out = cJSON_ParseWithLength(reply, rlen);
    CHECK(out != NULL && cJSON_IsObject(out));
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(out, "type")));
    if (kind == PH_CLIENT_ERROR) {
        CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(out, "type")->valuestring,
                     "error") == 0);
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(out, "code")));
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(out, "message")));
    }
    else {
        CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(out, "type")->valuestring,
                     "pong") == 0);
        root = cJSON_ParseWithLength(msg, len);
        CHECK(root != NULL);
        ts_in = last_member(root, "ts");
        ts_out = cJSON_GetObjectItemCaseSensitive(out, "ts");
        CHECK(ts_out != NULL);
        if (ts_in == NULL) {
            CHECK(cJSON_IsNull(ts_out));
        }
        else {
            /* Printed, not cJSON_Compare: that looks object members up
             * by name, so duplicate keys inside ts compare unequal. */
            char *pin = cJSON_PrintUnformatted(ts_in);
            char *pout = cJSON_PrintUnformatted(ts_out);

            CHECK(pin != NULL && pout != NULL);
            CHECK(strcmp(pin, pout) == 0 || has_nonfinite(ts_in));
            cJSON_free(pin);
            cJSON_free(pout);
        }
        cJSON_Delete(root);
    }
    cJSON_Delete(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *types;
    char *msg, *reply;
    size_t len, cap;
    int kind, kind_small;

    if (size < 1) {
        return 0;
    }
    types = type_lists[data[0] % 4];
    len = size - 1;
    msg = malloc(len ? len : 1);       /* exact size: no NUL after it */
    memcpy(msg, data + 1, len);

    reply = malloc(REPLY_MAX);
    kind_small = ph_ws_client_message(msg, len, types, 32, reply, REPLY_MAX);
    check_reply(msg, len, kind_small, reply, REPLY_MAX);
    free(reply);

    cap = 4 * len + REPLY_MAX;
    reply = malloc(cap);
    kind = ph_ws_client_message(msg, len, types, 32, reply, cap);
    CHECK(kind > 0);                   /* always a reply (no OOM here) */
    check_reply(msg, len, kind, reply, cap);
    /* Only a pong may outgrow the small buffer. */
    CHECK(kind_small == kind || (kind_small < 0 && kind == PH_CLIENT_PING));
    free(reply);
    free(msg);
    return 0;
}
