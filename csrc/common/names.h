/* names.h - channel and group name validation (ASCII fast path). */
#ifndef PARTYHUB_NAMES_H
#define PARTYHUB_NAMES_H

#include <stddef.h>

/* Same limit as channels.layers.BaseChannelLayer.MAX_NAME_LENGTH: names must
 * be strictly shorter than this many characters. */
#define NAMES_MAX_LENGTH 100

typedef enum {
    NAMES_OK = 0,
    NAMES_INVALID = 1,          /* fails the type/length/regex check */
    NAMES_RECEIVE_NOT_END = 2   /* "!" name that does not end at the "!" */
} names_result;

/* Check an ASCII channel name exactly like channels'
 * require_valid_channel_name(): length < 100 and
 * ^[a-zA-Z\d\-_.]+(\![\d\w\-_.]*)?$ with Python `re` semantics (so one
 * trailing "\n" is accepted, as `$` matches before it). With `receive` set,
 * a name containing "!" must end with it.
 *
 * Precondition: every byte of `s` is < 0x80. Non-ASCII names must be checked
 * with the Python regex (\d and \w match Unicode there); the caller does so. */
names_result names_check_channel(const char *s, size_t len, int receive);

/* Check an ASCII group name like require_valid_group_name():
 * length < 100 and ^[a-zA-Z\d\-_.]+$ (Python `re` semantics). Same
 * precondition as names_check_channel(). */
names_result names_check_group(const char *s, size_t len);

/* Length of the non-local part of a channel name: up to and including the
 * first "!", or the whole name when there is none. */
size_t names_nonlocal_len(const char *s, size_t len);

#endif
