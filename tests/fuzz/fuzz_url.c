/*
 * fuzz_url: the sidecar's handshake parsing in csrc/sidecar/wsparse.c, which reads
 * the request path, the session_token query value and the Origin header of
 * every connection attempt, plus the JSON string writer that puts client-
 * influenced strings (session code, connection id) into welcome/error
 * messages.
 *
 * The query string itself is split by lws (lws_get_urlarg_by_name, which
 * needs a live wsi): not covered here; the token value it returns is.
 *
 * Input: up to three NUL-separated strings a, b, c. Path, token and comma
 * lists are checked against small independent oracles written here; the
 * Origin check (Channels' OriginValidator semantics) by its properties.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "fuzz_util.h"
#include "wsparse.h"

/* Channels' route ^ws/game/(?P<code>[^/]+)/$ after the leading "/":
 * 0 for four ASCII letters (either case), 1 for any other segment, -1
 * when the route does not match. */
static int
path_oracle(const char *p)
{
    const char *pre = "/ws/game/";
    size_t n = strlen(pre), len = strlen(p), seg, i;

    if (strncmp(p, pre, n) != 0 || len < n + 2 || p[len - 1] != '/') {
        return -1;
    }
    seg = len - n - 1;
    if (memchr(p + n, '/', seg) != NULL) {
        return -1;
    }
    if (seg != 4) {
        return 1;
    }
    for (i = 0; i < 4; i++) {
        char ch = p[n + i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'))) {
            return 1;
        }
    }
    return 0;
}

static int
token_oracle(const char *t)
{
    size_t n = strlen(t);

    if (n == 0 || n > PH_TOKEN_MAX) {
        return 0;
    }
    return strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-_") == n;
}

/* Is "*" one of the comma-separated entries (spaces trimmed)? */
static int
has_star(const char *allow)
{
    const char *p = allow;

    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        while (n > 0 && *p == ' ') {
            p++;
            n--;
        }
        while (n > 0 && p[n - 1] == ' ') {
            n--;
        }
        if (n == 1 && *p == '*') {
            return 1;
        }
        if (end == NULL) {
            return 0;
        }
        p = end + 1;
    }
}

static char *
upper(const char *s)
{
    char *u = strdup(s);
    size_t i;

    for (i = 0; u[i] != '\0'; i++) {
        if (u[i] >= 'a' && u[i] <= 'z') {
            u[i] = (char)(u[i] - 'a' + 'A');
        }
    }
    return u;
}

static int
ok_fmt(const char *origin_fmt, const char *pattern_fmt, const char *host)
{
    char origin[512], pattern[512];

    snprintf(origin, sizeof(origin), origin_fmt, host);
    snprintf(pattern, sizeof(pattern), pattern_fmt, host);
    return ph_ws_origin_ok(origin, pattern);
}

/*
 * Origins follow Channels' OriginValidator (see wsparse.h): checked by
 * properties rather than a second implementation.
 */
static void
origin_properties(const char *a, const char *b, const char *c)
{
    char *ua = upper(a), *ub = upper(b);
    int r = ph_ws_origin_ok(a, b);

    CHECK(ph_ws_origin_ok(a, NULL) == 0);
    CHECK(ph_ws_origin_ok(a, "*") == 1 && ph_ws_origin_ok(NULL, " x , * ") == 1);
    CHECK(ph_ws_origin_ok(NULL, b) == has_star(b));
    if (has_star(b)) {
        CHECK(r == 1);
    }
    else if (strlen(a) > 255) {
        CHECK(r == 0);
    }
    /* Case never matters. */
    CHECK(ph_ws_origin_ok(ua, b) == r && ph_ws_origin_ok(a, ub) == r);
    free(ua);
    free(ub);
    /* A plain lower-case host name c: the documented pattern forms. */
    if (*c != '\0' && *c != '.' && strlen(c) <= 60
        && strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789-.") == strlen(c)) {
        CHECK(ok_fmt("http://%s", "%s", c) == 1);
        CHECK(ok_fmt("https://%s:8443", "%s", c) == 1);
        CHECK(ok_fmt("http://%s", ".%s", c) == 1);
        CHECK(ok_fmt("http://sub.%s", ".%s", c) == 1);
        CHECK(ok_fmt("http://sub.%s", "%s", c) == 0);
        CHECK(ok_fmt("http://%s", "http://%s:80", c) == 1);
        CHECK(ok_fmt("http://%s/path", "http://%s", c) == 1);
        CHECK(ok_fmt("http://%s", "https://%s", c) == 0);
        CHECK(ok_fmt("http://%s:8080", "http://%s", c) == 0);
        CHECK(ok_fmt("http://%sx", "%s", c) == 0);
    }
}

static int
list_oracle(const char *list, const char *name)
{
    size_t n = strlen(name);
    const char *p = list;

    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        if (n > 0 && len == n && strncmp(p, name, n) == 0) {   /* "" never listed */
            return 1;
        }
        if (end == NULL) {
            return 0;
        }
        p = end + 1;
    }
}

/* JSON writers: bounded, NUL-terminated, and round-tripping through cJSON. */
static void
json_writers(const char *a, const char *b, size_t limit, int64_t stime)
{
    char small[64], *buf;
    size_t pos = 0, cap = 12 * (strlen(a) + strlen(b)) + 256; /* a, b twice */
    int n;
    cJSON *j;

    /* A truncating append never writes past its buffer. */
    pos = limit % sizeof(small);
    memset(small, 'x', sizeof(small));
    small[pos] = '\0';
    if (ph_json_append_str(small, sizeof(small), &pos, a) < 0) {
        CHECK(pos < sizeof(small) && small[pos] == '\0');
    }
    else {
        CHECK(pos < sizeof(small) && small[pos] == '\0');
    }

    buf = malloc(cap);
    n = ph_ws_error(buf, cap, a, b);
    CHECK(n > 0 && (size_t)n < cap && strlen(buf) == (size_t)n);
    CHECK(fuzz_json_strict(buf, (size_t)n));
    j = cJSON_Parse(buf);
    CHECK(j != NULL);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(j, "code")->valuestring, a) == 0);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(j, "message")->valuestring, b) == 0);
    cJSON_Delete(j);
    if (fuzz_utf8_ok((const uint8_t *)a, strlen(a))
        && fuzz_utf8_ok((const uint8_t *)b, strlen(b))) {
        CHECK(fuzz_utf8_ok((const uint8_t *)buf, (size_t)n));
    }

    /* server_time_ms: any int64, from the input (epoch ms in production). */
    n = ph_ws_welcome(buf, cap, a, b, a, b, (int64_t)limit - 128, stime);
    CHECK(n > 0 && fuzz_json_strict(buf, (size_t)n));
    j = cJSON_Parse(buf);
    CHECK(j != NULL);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(j, "connection_id")->valuestring, a) == 0);
    {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "server_time");

        /* A JSON number (cJSON keeps it as a double). */
        CHECK(t != NULL && cJSON_IsNumber(t));
        if (stime > -(1LL << 52) && stime < (1LL << 52)) {
            CHECK(t->valuedouble == (double)stime);
        }
    }
    cJSON_Delete(j);
    /* Too small a buffer: -1, never an overflow. */
    CHECK(ph_ws_welcome(buf, (size_t)n, a, b, a, b, (int64_t)limit - 128, stime) == -1);
    free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 3), *a, *b, *c, *z;
    char code[PH_CODE_LEN + 1];
    int64_t stime;
    int rc;

    memcpy(s, data, size);
    s[size] = s[size + 1] = s[size + 2] = '\0';
    a = s;
    z = memchr(a, '\0', size + 1);
    b = z + 1;
    c = b + strlen(b) + 1;
    if (c > s + size + 2) {
        c = s + size + 2;
    }

    memset(code, '?', sizeof(code));
    rc = ph_ws_parse_path(a, code);
    CHECK(rc == path_oracle(a));
    if (rc == 0) {
        char *u = upper(a);

        CHECK(strlen(code) == PH_CODE_LEN && strncmp(code, u + 9, 4) == 0);
        free(u);
    }
    CHECK(ph_ws_token_ok(a) == token_oracle(a));
    CHECK(ph_ws_token_ok(b) == token_oracle(b));
    origin_properties(a, b, c);
    CHECK(ph_list_contains(b, c) == list_oracle(b, c));
    stime = (int64_t)size;
    if (size >= 8) {
        memcpy(&stime, data + size - 8, 8);    /* the last 8 bytes */
    }
    json_writers(a, b, size, stime);
    free(s);
    return 0;
}
