/* names.c - channel and group name validation, ASCII fast path.
 *
 * channels validates names with two Python regexes. For ASCII input the
 * character classes are fixed sets, so a hand-written scan gives the same
 * answer without the regex engine. Two quirks of Python's `re` are kept on
 * purpose so that we accept exactly what channels accepts:
 *   - `$` also matches just before a final "\n", so "abc\n" is valid;
 *   - the length limit counts the whole string, newline included. */
#include "names.h"

#include <string.h>

static inline int
is_name_char(unsigned char c)
{
    /* [a-zA-Z\d\-_.] and, for ASCII, [\d\w\-_.] are the same set. */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* Length that the regex body must cover: `$` may match before one final
 * newline. */
static inline size_t
regex_span(const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '\n') {
        return len - 1;
    }
    return len;
}

/* Check an ASCII channel name exactly like channels'
 * require_valid_channel_name(): length < 100 and
 * ^[a-zA-Z\d\-_.]+(\![\d\w\-_.]*)?$ with Python `re` semantics (so one
 * trailing "\n" is accepted, as `$` matches before it). With `receive` set,
 * a name containing "!" must end with it.
 *
 * Precondition: every byte of `s` is < 0x80. Non-ASCII names must be checked
 * with the Python regex (\d and \w match Unicode there); the caller does so. */
names_result
names_check_channel(const char *s, size_t len, int receive)
{
    if (len >= NAMES_MAX_LENGTH) {
        return NAMES_INVALID;
    }
    size_t n = regex_span(s, len);
    size_t i = 0;
    while (i < n && is_name_char((unsigned char)s[i])) {
        i++;
    }
    if (i == 0) {
        return NAMES_INVALID;
    }
    if (i < n) {
        if (s[i] != '!') {
            return NAMES_INVALID;
        }
        for (i++; i < n; i++) {
            if (!is_name_char((unsigned char)s[i])) {
                return NAMES_INVALID;
            }
        }
    }
    if (receive && memchr(s, '!', len) != NULL && s[len - 1] != '!') {
        return NAMES_RECEIVE_NOT_END;
    }
    return NAMES_OK;
}

/* Check an ASCII group name like require_valid_group_name():
 * length < 100 and ^[a-zA-Z\d\-_.]+$ (Python `re` semantics). Same
 * precondition as names_check_channel(). */
names_result
names_check_group(const char *s, size_t len)
{
    if (len >= NAMES_MAX_LENGTH) {
        return NAMES_INVALID;
    }
    size_t n = regex_span(s, len);
    if (n == 0) {
        return NAMES_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_name_char((unsigned char)s[i])) {
            return NAMES_INVALID;
        }
    }
    return NAMES_OK;
}

/* Length of the non-local part of a channel name: up to and including the
 * first "!", or the whole name when there is none. */
size_t
names_nonlocal_len(const char *s, size_t len)
{
    const char *bang = memchr(s, '!', len);
    return bang ? (size_t)(bang - s) + 1 : len;
}
