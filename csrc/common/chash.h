/* chash.h - channels_redis-compatible consistent hash (host choice). */
#ifndef PARTYHUB_CHASH_H
#define PARTYHUB_CHASH_H

#include <stddef.h>

/* Index of the Redis host (0 .. ring_size-1) for `name` (UTF-8 bytes).
 *
 * Same result as channels_redis.utils._consistent_hash:
 * int((crc32(name) & 0xFFF) / (4096 / float(ring_size))), and 0 when
 * ring_size <= 1. Never fails. */
int chash_index(const char *name, size_t len, int ring_size);

#endif
