/* rscripts.c - the Lua scripts of the Redis layer.
 *
 * All scripts keep channels_redis's storage format: one sorted set per
 * channel key ("<prefix><non-local name>"), members = random prefix +
 * msgpack map, score = send time; groups in "<prefix>:group:<name>" with
 * member channel names scored by the time they were added.
 *
 * Building the per-key msgpack body in Lua. A group send stores one message
 * per process key, and its "__asgi_channel__" value (the list of member
 * channels of that key) is only known inside the script. We chose to send
 * from C a msgpack "head" -- the random prefix, a map header counting n + 1
 * entries and the message's own n pairs, already encoded -- and let Lua
 * append the one missing pair with string operations (a fixstr key and an
 * array of str; the header helpers below mirror the packer's smallest-form
 * rules). The alternative, cmsgpack.pack(message) in Lua, would mean sending
 * the message in some other encoding, decoding it in Lua and re-encoding it
 * per key, and Lua tables lose the key order and the str/bin distinction
 * Python msgpack keeps. Measured on 1000 members in 4 keys (BENCHMARKS.md),
 * appending the pair with string ops costs ~2 us per key, against ~7 us per
 * key for cmsgpack.pack of the member list alone, and gives bytes identical
 * to channels_redis's.
 *
 * Keys touched but not passed in KEYS (member channel keys read from the
 * group) are fine on a standalone Redis, which is all channels_redis
 * supports too; a cluster would need the two-step path. */
#include "rscripts.h"

#include <stddef.h>

/* Helpers shared by the scripts that encode msgpack in Lua. */
#define RS_LUA_HELPERS \
    "local function be(n, w)\n" \
    "  local t = {}\n" \
    "  for i = w, 1, -1 do t[i] = string.char(n % 256); n = math.floor(n / 256) end\n" \
    "  return table.concat(t)\n" \
    "end\n" \
    "local function strhdr(l)\n" \
    "  if l < 32 then return string.char(160 + l) end\n" \
    "  if l < 256 then return '\\217' .. string.char(l) end\n" \
    "  if l < 65536 then return '\\218' .. be(l, 2) end\n" \
    "  return '\\219' .. be(l, 4)\n" \
    "end\n" \
    "local function arrhdr(n)\n" \
    "  if n < 16 then return string.char(144 + n) end\n" \
    "  if n < 65536 then return '\\220' .. be(n, 2) end\n" \
    "  return '\\221' .. be(n, 4)\n" \
    "end\n" \
    "local function mpint(n)\n" \
    "  if n >= 0 then\n" \
    "    if n < 128 then return string.char(n) end\n" \
    "    if n < 256 then return '\\204' .. string.char(n) end\n" \
    "    if n < 65536 then return '\\205' .. be(n, 2) end\n" \
    "    if n < 4294967296 then return '\\206' .. be(n, 4) end\n" \
    "    return '\\207' .. be(n, 8)\n" \
    "  end\n" \
    "  if n >= -32 then return string.char(256 + n) end\n" \
    "  if n >= -128 then return '\\208' .. string.char(256 + n) end\n" \
    "  if n >= -32768 then return '\\209' .. be(65536 + n, 2) end\n" \
    "  if n >= -2147483648 then return '\\210' .. be(4294967296 + n, 4) end\n" \
    "  error('sequence number out of range')\n" \
    "end\n"

/* RS_SEND. KEYS[1] channel key. ARGV: 1 cutoff (int(now) - expiry),
 * 2 capacity, 3 now, 4 expiry, 5 stored bytes. Returns 1 if stored, 0 if
 * the channel is full. Same steps as channels_redis's send(), atomically. */
static const char rs_send[] =
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])\n"
    "if redis.call('ZCOUNT', KEYS[1], '-inf', '+inf') >= tonumber(ARGV[2]) then\n"
    "  return 0\n"
    "end\n"
    "redis.call('ZADD', KEYS[1], ARGV[3], ARGV[5])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
    "return 1\n";

/* RS_GROUP_SEND. KEYS[1] group key, KEYS[2] (optional) sequence counter.
 * ARGV: 1 now, 2 group cutoff (int(now) - group_expiry), 3 message cutoff
 * (int(now) - expiry), 4 expiry, 5 key prefix, 6 random prefix bytes,
 * 7 default capacity, 8 counter TTL in seconds (0: leave it), 9 number of
 * capacity rules R, then R pairs (anchored Lua pattern, capacity), then the
 * number of body segments S and the
 * segments: 'b' <bytes> (literal msgpack), 'i' (the seq as msgpack int),
 * 't' <head> <tail> (msgpack str head .. seq .. tail).
 * With KEYS[2] the counter is INCRed (and its TTL refreshed) first, in the
 * same atomic script, so the order of sequence numbers is the order of
 * delivery.
 * Returns {seq or -1, keys written, keys over capacity, members}. */
static const char rs_group_send[] =
    RS_LUA_HELPERS
    "local now, gcut, mcut, expiry = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local kprefix, rnd = ARGV[5], ARGV[6]\n"
    "local defcap = tonumber(ARGV[7])\n"
    "local ncap = tonumber(ARGV[9])\n"
    "local pos = 10 + 2 * ncap\n"
    "local seq = -1\n"
    "if #KEYS > 1 then\n"
    "  seq = redis.call('INCR', KEYS[2])\n"
    "  if tonumber(ARGV[8]) > 0 then redis.call('EXPIRE', KEYS[2], ARGV[8]) end\n"
    "end\n"
    "local seqstr = string.format('%d', seq)\n"
    "local parts = {rnd}\n"
    "local nseg = tonumber(ARGV[pos]); pos = pos + 1\n"
    "for s = 1, nseg do\n"
    "  local kind = ARGV[pos]; pos = pos + 1\n"
    "  if kind == 'b' then\n"
    "    parts[#parts + 1] = ARGV[pos]; pos = pos + 1\n"
    "  elseif kind == 'i' then\n"
    "    parts[#parts + 1] = mpint(seq)\n"
    "  else\n"
    "    local text = ARGV[pos] .. seqstr .. ARGV[pos + 1]; pos = pos + 2\n"
    "    parts[#parts + 1] = strhdr(#text) .. text\n"
    "  end\n"
    "end\n"
    "local body = table.concat(parts) .. '\\176__asgi_channel__'\n"
    "local function capacity(ch)\n"
    "  for i = 1, ncap do\n"
    "    if string.find(ch, ARGV[8 + 2 * i]) then return tonumber(ARGV[9 + 2 * i]) end\n"
    "  end\n"
    "  return defcap\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, gcut)\n"
    "local members = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "local keys, bykey, caps = {}, {}, {}\n"
    "for _, ch in ipairs(members) do\n"
    "  local bang = string.find(ch, '!', 1, true)\n"
    "  local key = kprefix .. (bang and string.sub(ch, 1, bang) or ch)\n"
    "  local list = bykey[key]\n"
    "  if list == nil then\n"
    "    list = {}; bykey[key] = list; keys[#keys + 1] = key\n"
    "    caps[key] = capacity(ch)\n"
    "  end\n"
    "  list[#list + 1] = strhdr(#ch) .. ch\n"
    "end\n"
    "local over = 0\n"
    "for _, key in ipairs(keys) do\n"
    "  redis.call('ZREMRANGEBYSCORE', key, 0, mcut)\n"
    "  if redis.call('ZCOUNT', key, '-inf', '+inf') < caps[key] then\n"
    "    local list = bykey[key]\n"
    "    redis.call('ZADD', key, now, body .. arrhdr(#list) .. table.concat(list))\n"
    "    redis.call('EXPIRE', key, expiry)\n"
    "  else\n"
    "    over = over + 1\n"
    "  end\n"
    "end\n"
    "return {seq, #keys, over, #members}\n";

/* RS_MEMBERS (several hosts, on the group's host). KEYS[1] group key,
 * KEYS[2] (optional) sequence counter. ARGV[1] group cutoff, ARGV[2]
 * counter TTL (0: leave it).
 * Returns {seq or -1, member, member, ...}. */
static const char rs_members[] =
    "local seq = -1\n"
    "if #KEYS > 1 then\n"
    "  seq = redis.call('INCR', KEYS[2])\n"
    "  if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])\n"
    "local m = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "table.insert(m, 1, seq)\n"
    "return m\n";

/* RS_DELIVER (several hosts, one call per host holding member keys).
 * KEYS: n channel keys. ARGV: n stored messages, n capacities, now, expiry,
 * message cutoff. Returns the number of keys over capacity. */
static const char rs_deliver[] =
    "local n = #KEYS\n"
    "local now, expiry, mcut = ARGV[2 * n + 1], ARGV[2 * n + 2], ARGV[2 * n + 3]\n"
    "local over = 0\n"
    "for i = 1, n do\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, mcut)\n"
    "  if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[n + i]) then\n"
    "    redis.call('ZADD', KEYS[i], now, ARGV[i])\n"
    "    redis.call('EXPIRE', KEYS[i], expiry)\n"
    "  else\n"
    "    over = over + 1\n"
    "  end\n"
    "end\n"
    "return over\n";

const char *
rs_source(rs_script id)
{
    switch (id) {
    case RS_SEND: return rs_send;
    case RS_GROUP_SEND: return rs_group_send;
    case RS_MEMBERS: return rs_members;
    case RS_DELIVER: return rs_deliver;
    case RS_COUNT: break;
    }
    return NULL;
}
