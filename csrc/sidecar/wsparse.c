/*
 * wsparse.c: see wsparse.h.
 */
#include "wsparse.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#define PH_PATH_PREFIX "/ws/game/"

/*
 * Parse a request path against Channels' route ^ws/game/(?P<code>[^/]+)/$.
 * Returns 0 and writes the upper-cased code into code[5] when the segment
 * is four ASCII letters (either case); 1 when the route matches but the
 * segment cannot be a session code (the caller accepts, then closes 4004,
 * like the consumer); -1 when the route does not match (refuse).
 */
int
ph_ws_parse_path(const char *path, char code[PH_CODE_LEN + 1])
{
    size_t plen = sizeof(PH_PATH_PREFIX) - 1, n;
    const char *seg, *slash;
    int i;

    if (path == NULL || strncmp(path, PH_PATH_PREFIX, plen) != 0) {
        return -1;
    }
    seg = path + plen;
    slash = strchr(seg, '/');
    /* Channels' route: ^ws/game/(?P<code>[^/]+)/$. Daphne routes on the
     * path urlparse() gives, without the ";params" of its last segment
     * ("/ws/game/ABCD/;x" is "/ws/game/ABCD/"): so does the sidecar. */
    if (slash == NULL || slash == seg
        || (slash[1] != '\0' && (slash[1] != ';' || strchr(slash + 1, '/') != NULL))) {
        return -1;
    }
    n = (size_t)(slash - seg);
    if (n != PH_CODE_LEN) {
        return 1;                      /* routed, but no such session */
    }
    for (i = 0; i < PH_CODE_LEN; i++) {
        char ch = seg[i];

        if (ch >= 'a' && ch <= 'z') {
            ch = (char)(ch - 'a' + 'A');   /* the consumer upper-cases */
        }
        if (ch < 'A' || ch > 'Z') {
            return 1;
        }
        code[i] = ch;
    }
    code[PH_CODE_LEN] = '\0';
    return 0;
}

/*
 * The role named by the query's role value (NULL when absent): absent,
 * empty or "player" -> PH_ROLE_PLAYER, "host" -> PH_ROLE_HOST, anything
 * else -> -1 (the caller closes 4003 once the session is known to exist).
 */
int
ph_ws_parse_role(const char *role)
{
    /* parse_qs drops blank values, so "role=" means the default. */
    if (role == NULL || role[0] == '\0' || strcmp(role, "player") == 0) {
        return PH_ROLE_PLAYER;
    }
    if (strcmp(role, "host") == 0) {
        return PH_ROLE_HOST;
    }
    return -1;
}

/*
 * Returns 1 when tok is a syntactically acceptable session token
 * (1..PH_TOKEN_MAX characters of [A-Za-z0-9_-], i.e. hex or base64url),
 * 0 otherwise. lws decodes '+' to space in query values, so anything
 * outside that alphabet is refused rather than guessed at.
 */
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

/*
 * Returns 1 when origin (the Origin header, NULL when absent) is allowed by
 * allow, a comma-separated list of patterns with the semantics of Channels'
 * OriginValidator, which AllowedHostsOriginValidator feeds with Django's
 * ALLOWED_HOSTS:
 *   "*"                     anything, even an absent Origin;
 *   "example.com"           that host, any scheme and port;
 *   ".example.com"          that host and every subdomain;
 *   "https://example.com:8443"  scheme, host and port (default 80/443) all
 *                           equal (a leading "." works here too).
 * Matching ignores case. An absent or unparsable Origin, or a NULL allow
 * list, is refused (unless "*"). Origins longer than 255 bytes are refused.
 */
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

/*
 * Append the JSON string literal for s (quotes included) to buf at *pos,
 * never writing past buflen and keeping buf NUL-terminated.
 * Returns 0, or -1 when it does not fit (buf then holds a truncated
 * prefix).
 */
int
ph_json_append_str(char *buf, size_t buflen, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    /* json.dumps writes these five as short escapes, the rest as \u00XX. */
    static const char short_escape[0x20] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
    };
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
        else if (c < 0x20 && short_escape[c] != 0) {
            PUT('\\');
            PUT(short_escape[c]);
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

/*
 * Build {"type":"error","code":code,"message":message}.
 * Returns the length written or -1 when it does not fit.
 */
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

/*
 * Build the welcome message. player_id < 0 is written as null.
 * Returns the length written (excluding NUL) or -1 when it does not fit.
 */
int
ph_ws_welcome(char *buf, size_t buflen, const char *connection_id,
              const char *server_version, const char *code, const char *role,
              int64_t player_id, int64_t server_time_ms)
{
    size_t pos = 0;
    char num[32];
    char now[32];

    if (player_id < 0) {
        snprintf(num, sizeof(num), "null");
    }
    else {
        snprintf(num, sizeof(num), "%lld", (long long)player_id);
    }
    snprintf(now, sizeof(now), "%lld", (long long)server_time_ms);
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
        || json_appendf_raw(buf, buflen, &pos, ",\"server_time\":") < 0
        || json_appendf_raw(buf, buflen, &pos, now) < 0
        || json_appendf_raw(buf, buflen, &pos, "}") < 0) {
        return -1;
    }
    return (int)pos;
}

/*
 * JSON skipping over text cJSON has already accepted: enough to find where
 * each member's value starts and ends, never to validate.
 */
static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

static const char *
skip_string(const char *p, const char *end)
{
    for (p++; p < end && *p != '"'; p++) {
        if (*p == '\\') {
            p++;
        }
    }
    return p < end ? p + 1 : end;
}

static const char *
skip_value(const char *p, const char *end)
{
    int depth = 0;

    if (p < end && *p == '"') {
        return skip_string(p, end);
    }
    if (p < end && (*p == '{' || *p == '[')) {
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (*p == '{' || *p == '[') {
                depth++;
            }
            else if (*p == '}' || *p == ']') {
                if (--depth == 0) {
                    return p + 1;
                }
            }
            p++;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' '
           && *p != '\t' && *p != '\n' && *p != '\r') {
        p++;
    }
    return p;
}

/*
 * The exact text of the value of the last member named "ts" of the object
 * root parsed from text[0..len) (json.loads keeps the last duplicate).
 * Members are walked in step with cJSON's children, which keep text order,
 * so escaped keys ("t\u0073") are compared decoded. Returns 0 with
 * *vs and *ve set, or -1 when there is no "ts".
 */
static int
find_ts(const cJSON *root, const char *text, size_t len, const char **vs,
        const char **ve)
{
    const char *p = text, *end = text + len, *s, *e;
    const cJSON *child;
    int found = -1;

    p = skip_ws(p, end);
    if (p >= end || *p != '{') {
        return -1;
    }
    p++;
    for (child = root->child; child != NULL; child = child->next) {
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
        }
        p = skip_ws(skip_string(p, end), end);     /* key */
        if (p < end && *p == ':') {
            p++;
        }
        s = skip_ws(p, end);
        e = skip_value(s, end);
        if (child->string != NULL && strcmp(child->string, "ts") == 0) {
            *vs = s;
            *ve = e;
            found = 0;
        }
        p = e;
    }
    return found;
}

/* The last member named name (json.loads keeps the last duplicate). */
static const cJSON *
last_member(const cJSON *obj, const char *name)
{
    const cJSON *child, *found = NULL;

    for (child = obj->child; child != NULL; child = child->next) {
        if (child->string != NULL && strcmp(child->string, name) == 0) {
            found = child;
        }
    }
    return found;
}

/* Build {"type":"pong","ts":<the exact text of ts, or null>}. */
static int
ws_pong(char *buf, size_t buflen, const cJSON *root, const char *text,
        size_t len)
{
    static const char head[] = "{\"type\":\"pong\",\"ts\":";
    const char *vs = "null", *ve = vs + 4;
    size_t n;

    (void)find_ts(root, text, len, &vs, &ve);
    n = sizeof(head) - 1 + (size_t)(ve - vs) + 1;
    if (n + 1 > buflen) {
        return -1;
    }
    memcpy(buf, head, sizeof(head) - 1);
    memcpy(buf + sizeof(head) - 1, vs, (size_t)(ve - vs));
    buf[n - 1] = '}';
    buf[n] = '\0';
    return (int)n;
}

/* Append one code point cp as Python's repr() shows it inside quote q. */
static int
repr_char(char *out, size_t cap, size_t *pos, uint32_t cp, const char *src,
          size_t srclen, char q)
{
    char tmp[16];
    size_t n;

    if (cp == '\\' || cp == (uint32_t)q) {
        n = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", (char)cp);
    }
    else if (cp == '\t' || cp == '\n' || cp == '\r') {
        n = (size_t)snprintf(tmp, sizeof(tmp), "\\%c",
                             cp == '\t' ? 't' : cp == '\n' ? 'n' : 'r');
    }
    else if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad) {
        /* Not printable: ASCII and C1 controls, NBSP, soft hyphen. Other
         * non-printable code points are rare in a type name and kept. */
        n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", (unsigned)cp);
    }
    else {
        if (*pos + srclen >= cap) {
            return -1;
        }
        memcpy(out + *pos, src, srclen);
        *pos += srclen;
        return 0;
    }
    if (*pos + n >= cap) {
        return -1;
    }
    memcpy(out + *pos, tmp, n);
    *pos += n;
    return 0;
}

/* Decode one UTF-8 sequence (already valid: lws checks text frames). */
static size_t
utf8_next(const unsigned char *s, size_t left, uint32_t *cp)
{
    size_t n = s[0] < 0x80 ? 1 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    size_t i;

    if (n > left) {
        n = left;
    }
    *cp = n == 1 ? s[0] : (uint32_t)(s[0] & (0xff >> (n + 1)));
    for (i = 1; i < n; i++) {
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    return n;
}

/*
 * Write Python's repr(s[:maxcp]) (maxcp code points of the UTF-8 string s)
 * NUL-terminated into out[0..cap): quotes chosen as repr chooses them,
 * backslash escapes for the quote, backslash, \t \n \r and control
 * characters. Returns the length, or -1 when it does not fit.
 */
int
ph_py_repr_prefix(char *out, size_t cap, const char *s, size_t maxcp)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s), i, k, pos = 0, end = 0;
    int has_single = 0, has_double = 0;
    char q;
    uint32_t cp;

    /* s[:maxcp] in code points, then repr()'s choice of quote. */
    for (k = 0; end < len && k < maxcp; k++) {
        end += utf8_next(u + end, len - end, &cp);
    }
    for (i = 0; i < end; i++) {
        has_single |= s[i] == '\'';
        has_double |= s[i] == '"';
    }
    q = has_single && !has_double ? '"' : '\'';
    if (cap < 3) {
        return -1;
    }
    out[pos++] = q;
    for (i = 0; i < end;) {
        size_t n = utf8_next(u + i, end - i, &cp);

        if (repr_char(out, cap, &pos, cp, s + i, n, q) < 0) {
            return -1;
        }
        i += n;
    }
    if (pos + 2 > cap) {
        return -1;
    }
    out[pos++] = q;
    out[pos] = '\0';
    return (int)pos;
}

/*
 * Returns 1 when name is one entry of the comma-separated list, else 0.
 */
int
ph_list_contains(const char *list, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = list;

    if (nlen == 0) {
        return 0;              /* an empty entry ("a,,b", ",a") lists nothing */
    }
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

/*
 * Returns 1 when text[0..len) has none of the lexical errors json.loads
 * refuses but cJSON 1.7 takes: outside strings only space, \t, \n and \r
 * are whitespace (cJSON skips every byte <= 0x20, NUL included); inside
 * strings no byte below 0x20 may appear raw, and an escape is one of
 * \" \\ \/ \b \f \n \r \t or \u and four hex digits (cJSON reads "\uZZZZ"
 * as U+0000); a number is -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 * (cJSON hands [-+.0-9eE]* to strtod, so "01", "1." and "-01.5e+3" were
 * numbers). Otherwise a pong echoed ts text that is not JSON (found by
 * fuzz_client_msg).
 */
static int
json_digits(const char *text, size_t len, size_t *i)
{
    size_t start = *i;

    while (*i < len && text[*i] >= '0' && text[*i] <= '9') {
        (*i)++;
    }
    return *i > start;
}

/* The end of the JSON number starting at text[i], or 0 when it is not one
 * (a number never ends at 0: it starts at i and has a digit) or is longer
 * than PH_JSON_NUMBER_MAX characters. */
static size_t
json_number_end(const char *text, size_t len, size_t i)
{
    size_t start = i;

    if (text[i] == '-') {
        i++;
    }
    if (i < len && text[i] == '0') {
        i++;
    }
    else if (!json_digits(text, len, &i)) {
        return 0;
    }
    if (i < len && text[i] == '.') {
        i++;
        if (!json_digits(text, len, &i)) {
            return 0;
        }
    }
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        if (i < len && (text[i] == '+' || text[i] == '-')) {
            i++;
        }
        if (!json_digits(text, len, &i)) {
            return 0;
        }
    }
    /* What cJSON would still take as part of the number ("1.2.3", "00"). */
    if (i < len && strchr("+-.0123456789eE", text[i]) != NULL) {
        return 0;
    }
    return i - start > PH_JSON_NUMBER_MAX ? 0 : i;
}

static int
json_lexical_ok(const char *text, size_t len, int max_depth)
{
    int in_str = 0, depth = 0;
    size_t i, k;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        if (!in_str) {
            if (c == '"') {
                in_str = 1;
            }
            else if (c == '-' || (c >= '0' && c <= '9')) {
                size_t end = json_number_end(text, len, i);

                if (end == 0) {
                    return 0;
                }
                i = end - 1;
            }
            else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                return 0;
            }
            else if (c == '[' || c == '{') {
                if (++depth > max_depth) {
                    return 0;
                }
            }
            else if (c == ']' || c == '}') {
                depth--;
            }
            continue;
        }
        if (c == '"') {
            in_str = 0;
        }
        else if (c < 0x20) {
            return 0;
        }
        else if (c == '\\') {
            if (++i >= len) {
                return 0;
            }
            c = (unsigned char)text[i];
            if (c == 'u') {
                for (k = 1; k <= 4; k++) {
                    if (i + k >= len || !isxdigit((unsigned char)text[i + k])) {
                        return 0;
                    }
                }
                if (memcmp(text + i + 1, "0000", 4) == 0) {
                    return 0;      /* U+0000: cJSON would cut the string */
                }
                i += 4;
            }
            else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
                return 0;
            }
        }
    }
    return 1;
}

/* 1 when every number in the items from item on (and inside them) is
 * finite: cJSON reads 1e400 as infinity. Recursion is bounded by the
 * depth json_lexical_ok allowed. */
static int
numbers_finite(const cJSON *item)
{
    for (; item != NULL; item = item->next) {
        if (cJSON_IsNumber(item) && !isfinite(item->valuedouble)) {
            return 0;
        }
        if (item->child != NULL && !numbers_finite(item->child)) {
            return 0;
        }
    }
    return 1;
}

/* Parse text[0..len) as exactly one strict JSON value (docs/protocol.md,
 * "Strict JSON"; the same rules as realtime.protocol.loads): json.loads
 * refuses anything after it but whitespace, and lexical errors cJSON
 * takes; strict JSON also refuses nesting past max_depth, U+0000, numbers
 * beyond a double's range or longer than PH_JSON_NUMBER_MAX characters
 * (cJSON itself refuses lone surrogates, and NaN and Infinity). */
static cJSON *
parse_whole(const char *text, size_t len, int max_depth)
{
    const char *end = NULL;
    cJSON *root;

    if (!json_lexical_ok(text, len, max_depth)) {
        return NULL;
    }
    root = cJSON_ParseWithLengthOpts(text, len, &end, 0);

    if (root != NULL && (skip_ws(end, text + len) != text + len
                         || !numbers_finite(root))) {
        cJSON_Delete(root);
        root = NULL;
    }
    return root;
}

/*
 * Classify one client text message text[0..len) (need not be
 * NUL-terminated) and, for PING and ERROR, write the JSON reply into
 * reply[0..replylen) NUL-terminated. types is the comma-separated list of
 * client message types forwarded to Django besides "ping" (NULL or "" =
 * none, "*" = any); a type outside it gets UNKNOWN_TYPE, like the
 * consumer's protocol.CLIENT_TYPES check. Parsing follows json.loads:
 * one value and nothing after it but whitespace; of duplicate keys the last
 * counts. The pong's ts is the exact JSON text the client sent for it
 * (so integers beyond 2^53 survive); a reply buffer of len + 64 bytes
 * always holds it. Returns the kind, or -1 when the reply does not fit or
 * memory runs out (the caller answers with a generic error).
 */
int
ph_ws_client_message(const char *text, size_t len, const char *types,
                     int max_depth, char *reply, size_t replylen)
{
    cJSON *root;
    const cJSON *type;
    int kind = -1;

    root = parse_whole(text, len, max_depth);
    if (root == NULL) {
        if (ph_ws_error(reply, replylen, "MESSAGE_PARSE_FAILED",
                        PH_MSG_PARSE_FAILED) >= 0) {
            kind = PH_CLIENT_ERROR;
        }
        return kind;
    }
    type = cJSON_IsObject(root) ? last_member(root, "type") : NULL;
    if (!cJSON_IsString(type) || type->valuestring == NULL) {
        if (ph_ws_error(reply, replylen, "INVALID_MESSAGE",
                        PH_MSG_INVALID) >= 0) {
            kind = PH_CLIENT_ERROR;
        }
        goto done;
    }
    if (strcmp(type->valuestring, "ping") == 0) {
        if (ws_pong(reply, replylen, root, text, len) >= 0) {
            kind = PH_CLIENT_PING;
        }
        goto done;
    }
    if (types == NULL || !(strcmp(types, "*") == 0
                           || ph_list_contains(types, type->valuestring))) {
        char msg[512], shown[480];

        /* f"Unknown message type {message['type'][:40]!r}." */
        if (ph_py_repr_prefix(shown, sizeof(shown), type->valuestring, 40) < 0) {
            goto done;
        }
        snprintf(msg, sizeof(msg), "Unknown message type %s.", shown);
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
