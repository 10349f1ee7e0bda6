/* fuzz_util.h: helpers shared by the fuzz harnesses (header-only). */
#ifndef PH_FUZZ_UTIL_H
#define PH_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define CHECK(cond) do { if (!(cond)) { abort(); } } while (0)

/* Strict UTF-8 (RFC 3629): no overlongs, surrogates or code points above
 * U+10FFFF. Written here, independent of lws' validator. */
static inline int
fuzz_utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
        }
        else {
            return 0;
        }
        if (i + k >= n) {
            return 0;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) {
                return 0;
            }
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF
            || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        i += k + 1;
    }
    return 1;
}

/*
 * Strict RFC 8259 JSON: is s[0..n) exactly one value with only JSON
 * whitespace around it? Written here, independent of cJSON (which is
 * lax: any byte <= 0x20 is whitespace, "01" is a number, a bad \u escape
 * reads as U+0000). Nesting deeper than 1024 counts as invalid (cJSON stops at 1000).
 */
typedef struct fuzz_json {
    const uint8_t *p, *end;
    int depth;
} fuzz_json;

static inline void
fuzz_json_ws(fuzz_json *j)
{
    while (j->p < j->end
           && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static inline int
fuzz_json_digits(fuzz_json *j)
{
    const uint8_t *s = j->p;

    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        j->p++;
    }
    return j->p > s;
}

static inline int
fuzz_json_string(fuzz_json *j)
{
    j->p++;                                       /* the opening quote */
    while (j->p < j->end) {
        uint8_t c = *j->p++;

        if (c == '"') {
            return 1;
        }
        if (c < 0x20) {
            return 0;
        }
        if (c == '\\') {
            if (j->p >= j->end) {
                return 0;
            }
            c = *j->p++;
            if (c == 'u') {
                for (int k = 0; k < 4; k++) {
                    if (j->p >= j->end
                        || !((*j->p >= '0' && *j->p <= '9')
                             || (*j->p >= 'a' && *j->p <= 'f')
                             || (*j->p >= 'A' && *j->p <= 'F'))) {
                        return 0;
                    }
                    j->p++;
                }
            }
            else if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f'
                     && c != 'n' && c != 'r' && c != 't') {
                return 0;
            }
        }
    }
    return 0;
}

static inline int
fuzz_json_literal(fuzz_json *j, const char *lit)
{
    size_t n = 0;

    while (lit[n] != '\0') {
        n++;
    }
    if ((size_t)(j->end - j->p) < n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (j->p[i] != (uint8_t)lit[i]) {
            return 0;
        }
    }
    j->p += n;
    return 1;
}

static inline int
fuzz_json_value(fuzz_json *j)
{
    uint8_t c;

    fuzz_json_ws(j);
    if (j->p >= j->end) {
        return 0;
    }
    c = *j->p;
    if (c == '"') {
        return fuzz_json_string(j);
    }
    if (c == '{' || c == '[') {
        uint8_t close = c == '{' ? '}' : ']';

        if (++j->depth > 1024) {
            return 0;
        }
        j->p++;
        fuzz_json_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            return 1;
        }
        for (;;) {
            if (c == '{') {
                fuzz_json_ws(j);
                if (j->p >= j->end || *j->p != '"' || !fuzz_json_string(j)) {
                    return 0;
                }
                fuzz_json_ws(j);
                if (j->p >= j->end || *j->p != ':') {
                    return 0;
                }
                j->p++;
            }
            if (!fuzz_json_value(j)) {
                return 0;
            }
            fuzz_json_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                j->depth--;
                return 1;
            }
            return 0;
        }
    }
    if (c == 't') {
        return fuzz_json_literal(j, "true");
    }
    if (c == 'f') {
        return fuzz_json_literal(j, "false");
    }
    if (c == 'n') {
        return fuzz_json_literal(j, "null");
    }
    /* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    if (c == '-') {
        j->p++;
    }
    if (j->p < j->end && *j->p == '0') {
        j->p++;
    }
    else if (!fuzz_json_digits(j)) {
        return 0;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!fuzz_json_digits(j)) {
            return 0;
        }
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (!fuzz_json_digits(j)) {
            return 0;
        }
    }
    return 1;
}

static inline int
fuzz_json_strict(const char *s, size_t n)
{
    fuzz_json j = { (const uint8_t *)s, (const uint8_t *)s + n, 0 };

    if (!fuzz_json_value(&j)) {
        return 0;
    }
    fuzz_json_ws(&j);
    return j.p == j.end;
}

#endif
