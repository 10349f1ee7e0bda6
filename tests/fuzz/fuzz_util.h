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

#endif
