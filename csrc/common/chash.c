/* chash.c - channels_redis-compatible consistent hash.
 *
 * channels_redis maps a name to one of N hosts with zlib's CRC-32 over the
 * UTF-8 bytes, keeps the low 12 bits and divides in double precision. We do
 * the same arithmetic in the same order so that the rounding is identical.
 *
 * Which name is hashed is the caller's business (see pylayer.c and
 * channels_redis#221): groups hash the group name, process-local channels
 * hash their non-local name ("specific.<prefix>!"), which is where every
 * receiver (channels_redis's and ours) listens. */
#include "chash.h"

#include <zlib.h>

/* Index of the Redis host (0 .. ring_size-1) for `name` (UTF-8 bytes).
 *
 * Same result as channels_redis.utils._consistent_hash:
 * int((crc32(name) & 0xFFF) / (4096 / float(ring_size))), and 0 when
 * ring_size <= 1. Never fails. */
int
chash_index(const char *name, size_t len, int ring_size)
{
    if (ring_size <= 1) {
        return 0;
    }
    /* zlib's crc32 takes a uInt length: feed long names in chunks. */
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;
        crc = crc32(crc, (const Bytef *)name, chunk);
        name += chunk;
        len -= chunk;
    }
    double bigval = (double)(crc & 0xFFFu);
    double divisor = 4096.0 / (double)ring_size;
    return (int)(bigval / divisor);
}
