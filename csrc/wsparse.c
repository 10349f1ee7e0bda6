/*
 * wsparse.c: see wsparse.h.
 */
#include "wsparse.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#define PH_PATH_PREFIX "/ws/game/"

int
ph_ws_parse_path(const char *path, char code[PH_CODE_LEN + 1])
{
    size_t plen = sizeof(PH_PATH_PREFIX) - 1;
    int i;

    if (path == NULL || strncmp(path, PH_PATH_PREFIX, plen) != 0) {
        return -1;
    }
    path += plen;
    for (i = 0; i < PH_CODE_LEN; i++) {
        if (path[i] < 'A' || path[i] > 'Z') {
            return -1;
        }
    }
    if (path[PH_CODE_LEN] != '/' || path[PH_CODE_LEN + 1] != '\0') {
        return -1;
    }
    memcpy(code, path, PH_CODE_LEN);
    code[PH_CODE_LEN] = '\0';
    return 0;
}

int
ph_ws_token_ok(const char *tok)
{
    size_t n = 0;

    if (tok == NULL) {
        return 0;
    }
    for (; tok[n] != '\0'; n++) {
        char c = tok[n];

        if (n >= PH_TOKEN_MAX) {
            return 0;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return 0;
        }
    }
    return n > 0;
}

/* An origin or pattern split into lower-case parts; port 0 = none given. */
typedef struct {
    char scheme[16];
    char host[256];
    int port;
} ph_origin_parts;

/* Default port of a scheme, as Channels' get_origin_port; 0 if unknown. */
static int
default_port(const char *scheme)
{
    if (strcmp(scheme, "http") == 0 || strcmp(scheme, "ws") == 0) {
        return 80;
    }
    if (strcmp(scheme, "https") == 0 || strcmp(scheme, "wss") == 0) {
        return 443;
    }
    return 0;
}

/*
 * Parse s[0..n) as [scheme "://"] host [":" port] [path], lower-cased;
 * "[v6]" hosts lose their brackets, like urllib's hostname. Returns 0, or
 * -1 if a part does not fit or the port is not a number.
 */
static int
split_origin(const char *s, size_t n, ph_origin_parts *out)
{
    const char *end = s + n;
    const char *sep = NULL;
    size_t i, hlen;

    memset(out, 0, sizeof(*out));
    for (i = 0; i + 2 < n; i++) {
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            sep = s + i;
            break;
        }
    }
    if (sep != NULL) {
        if ((size_t)(sep - s) >= sizeof(out->scheme)) {
            return -1;
        }
        for (i = 0; s + i < sep; i++) {
            out->scheme[i] = (char)tolower((unsigned char)s[i]);
        }
        s = sep + 3;
    }
    if (s < end && *s == '[') {
        const char *close = memchr(s, ']', (size_t)(end - s));

        if (close == NULL) {
            return -1;
        }
        hlen = (size_t)(close - s - 1);
        s++;
        sep = close + 1;
    }
    else {
        sep = s;
        while (sep < end && *sep != ':' && *sep != '/') {
            sep++;
        }
        hlen = (size_t)(sep - s);
    }
    if (hlen >= sizeof(out->host)) {
        return -1;
    }
    for (i = 0; i < hlen; i++) {
        out->host[i] = (char)tolower((unsigned char)s[i]);
    }
    if (sep < end && *sep == ':') {
        int port = 0;

        for (sep++; sep < end && *sep != '/'; sep++) {
            if (*sep < '0' || *sep > '9' || port > 65535) {
                return -1;
            }
            port = port * 10 + (*sep - '0');
        }
        if (port > 65535) {
            return -1;
        }
        out->port = port;
    }
    return 0;
}

/* Django's is_same_domain: exact, or pattern ".x" matching x and *.x. */
static int
same_domain(const char *host, const char *pattern)
{
    size_t hl = strlen(host), pl = strlen(pattern);

    if (pl == 0) {
        return 0;
    }
    if (pattern[0] == '.') {
        return (hl == pl - 1 && memcmp(host, pattern + 1, hl) == 0)
               || (hl >= pl && memcmp(host + hl - pl, pattern, pl) == 0);
    }
    return hl == pl && memcmp(host, pattern, hl) == 0;
}

/* Does one pattern p[0..n) allow the parsed origin? */
static int
pattern_allows(const char *p, size_t n, const ph_origin_parts *origin)
{
    ph_origin_parts pat;
    int oport, pport;

    if (split_origin(p, n, &pat) < 0) {
        return 0;
    }
    if (pat.scheme[0] == '\0') {
        return same_domain(origin->host, pat.host);
    }
    oport = origin->port ? origin->port : default_port(origin->scheme);
    pport = pat.port ? pat.port : default_port(pat.scheme);
    return strcmp(pat.scheme, origin->scheme) == 0 && oport == pport
           && same_domain(origin->host, pat.host);
}

int
ph_ws_origin_ok(const char *origin, const char *allow)
{
    ph_origin_parts parsed;
    int have_origin;
    const char *p;

    if (allow == NULL) {
        return 0;
    }
    have_origin = origin != NULL && strlen(origin) <= 255
                  && split_origin(origin, strlen(origin), &parsed) == 0
                  && parsed.scheme[0] != '\0' && parsed.host[0] != '\0';
    p = allow;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        /* Tolerate spaces around entries. */
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
        if (have_origin && n > 0 && pattern_allows(p, n, &parsed)) {
            return 1;
        }
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    return 0;
}

int
ph_json_append_str(char *buf, size_t buflen, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t p = *pos;
    int rc = -1;

    if (buflen == 0 || p >= buflen) {
        return -1;
    }
#define PUT(ch)                     \
    do {                            \
        if (p + 1 >= buflen) {      \
            goto error;             \
        }                           \
        buf[p++] = (ch);            \
    } while (0)
    PUT('"');
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            PUT('\\');
            PUT((char)c);
        }
        else if (c < 0x20) {
            PUT('\\');
            PUT('u');
            PUT('0');
            PUT('0');
            PUT(hex[c >> 4]);
            PUT(hex[c & 15]);
        }
        else {
            PUT((char)c);
        }
    }
    PUT('"');
#undef PUT
    rc = 0;
error:
    buf[p] = '\0';
    *pos = p;
    return rc;
}

/* snprintf that reports overflow as -1 and advances *pos. */
static int
json_appendf_raw(char *buf, size_t buflen, size_t *pos, const char *s)
{
    size_t n = strlen(s);

    if (*pos + n + 1 > buflen) {
        return -1;
    }
    memcpy(buf + *pos, s, n + 1);
    *pos += n;
    return 0;
}

int
ph_ws_error(char *buf, size_t buflen, const char *code, const char *message)
{
    size_t pos = 0;

    if (json_appendf_raw(buf, buflen, &pos, "{\"type\":\"error\",\"code\":") < 0
        || ph_json_append_str(buf, buflen, &pos, code) < 0
        || json_appendf_raw(buf, buflen, &pos, ",\"message\":") < 0
        || ph_json_append_str(buf, buflen, &pos, message) < 0
        || json_appendf_raw(buf, buflen, &pos, "}") < 0) {
        return -1;
    }
    return (int)pos;
}

int
ph_ws_welcome(char *buf, size_t buflen, const char *connection_id,
              const char *server_version, const char *code, const char *role,
              int64_t player_id)
{
    size_t pos = 0;
    char num[32];

    if (player_id < 0) {
        snprintf(num, sizeof(num), "null");
    }
    else {
        snprintf(num, sizeof(num), "%lld", (long long)player_id);
    }
    if (json_appendf_raw(buf, buflen, &pos,
                         "{\"type\":\"welcome\",\"connection_id\":") < 0
        || ph_json_append_str(buf, buflen, &pos, connection_id) < 0
        || json_appendf_raw(buf, buflen, &pos, ",\"server_version\":") < 0
        || ph_json_append_str(buf, buflen, &pos, server_version) < 0
        || json_appendf_raw(buf, buflen, &pos, ",\"session\":") < 0
        || ph_json_append_str(buf, buflen, &pos, code) < 0
        || json_appendf_raw(buf, buflen, &pos, ",\"role\":") < 0
        || ph_json_append_str(buf, buflen, &pos, role) < 0
        || json_appendf_raw(buf, buflen, &pos, ",\"player_id\":") < 0
        || json_appendf_raw(buf, buflen, &pos, num) < 0
        || json_appendf_raw(buf, buflen, &pos, "}") < 0) {
        return -1;
    }
    return (int)pos;
}

/* Build {"type":"pong","ts":<ts>} with ts re-serialised by cJSON. */
static int
ws_pong(char *buf, size_t buflen, const cJSON *ts)
{
    size_t pos = 0;
    char *val = NULL;
    int rc = -1;

    if (ts != NULL) {
        val = cJSON_PrintUnformatted(ts);
        if (val == NULL) {
            goto error;
        }
    }
    if (json_appendf_raw(buf, buflen, &pos, "{\"type\":\"pong\",\"ts\":") < 0
        || json_appendf_raw(buf, buflen, &pos, val ? val : "null") < 0
        || json_appendf_raw(buf, buflen, &pos, "}") < 0) {
        goto error;
    }
    rc = (int)pos;
error:
    cJSON_free(val);
    return rc;
}

int
ph_list_contains(const char *list, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = list;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (n == nlen && strncmp(p, name, n) == 0) {
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int
ph_ws_client_message(const char *text, size_t len, const char *types,
                     char *reply, size_t replylen)
{
    cJSON *root;
    const cJSON *type;
    int kind = -1;

    root = cJSON_ParseWithLength(text, len);
    if (root == NULL) {
        if (ph_ws_error(reply, replylen, "MESSAGE_PARSE_FAILED",
                        "Message is not valid JSON") >= 0) {
            kind = PH_CLIENT_ERROR;
        }
        return kind;
    }
    type = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "type")
                                : NULL;
    if (!cJSON_IsString(type) || type->valuestring == NULL) {
        if (ph_ws_error(reply, replylen, "INVALID_MESSAGE",
                        "Message must be a JSON object with a string 'type'")
            >= 0) {
            kind = PH_CLIENT_ERROR;
        }
        goto done;
    }
    if (strcmp(type->valuestring, "ping") == 0) {
        if (ws_pong(reply, replylen,
                    cJSON_GetObjectItemCaseSensitive(root, "ts")) >= 0) {
            kind = PH_CLIENT_PING;
        }
        goto done;
    }
    if (types != NULL && types[0] != '\0'
        && !ph_list_contains(types, type->valuestring)) {
        char msg[160];
        size_t n = strlen(type->valuestring);

        /* Cut long names on a UTF-8 boundary: a text frame must stay valid. */
        if (n > 100) {
            n = 100;
            while (n > 0 && ((unsigned char)type->valuestring[n] & 0xC0) == 0x80) {
                n--;
            }
        }
        snprintf(msg, sizeof(msg), "Unknown message type: %.*s", (int)n,
                 type->valuestring);
        if (ph_ws_error(reply, replylen, "UNKNOWN_TYPE", msg) >= 0) {
            kind = PH_CLIENT_ERROR;
        }
        goto done;
    }
    kind = PH_CLIENT_FORWARD;
done:
    cJSON_Delete(root);
    return kind;
}
