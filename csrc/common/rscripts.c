/* rscripts.c - the Lua scripts of the Redis layer.
 *
 * All scripts keep channels_redis's storage format: one sorted set per
 * channel key ("<prefix><non-local name>"), members = random prefix +
 * msgpack map, score = send time; groups in "<prefix>:group:<name>" with
 * member channel names scored by the time they were added.
 *
 * Building the per-key msgpack body in Lua. A group send stores one message
 * per process key, and its "__asgi_channel__" value (the list of member
 * channels of that key) is only known inside the script. We send from C a
 * msgpack "head" -- a map header counting n + 1 entries and the message's
 * own n pairs, encoded once by mpack_enc.c exactly as Python msgpack would
 * -- and the script appends the missing pair: the fixstr key
 * "__asgi_channel__" (a constant) and the array of member names. Decoding
 * and re-encoding the whole message in Lua (cmsgpack.unpack/pack) was not
 * an option: Lua tables lose the key order and the str/bin distinction, so
 * the bytes would differ from channels_redis's.
 *
 * For the array itself we measured two ways (Redis 7.0, 1000 member names
 * of 74 bytes, 300 EVALSHA runs, usec_per_call minus an empty script's):
 * building it with string operations (a str header per name, then
 * table.concat) costs ~2.1 ms; cmsgpack.pack(names) costs ~0.14 ms and
 * gives the same bytes (it picks fixarray/array16/32 and fixstr/str8/16/32
 * like the packers; a test compares them with Python msgpack's). So we use
 * Redis's bundled cmsgpack for the array, and keep the string-op version
 * only as a fallback for a server built without cmsgpack.
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
    "local packlist = cmsgpack and cmsgpack.pack or function(list)\n" \
    "  local t = {arrhdr(#list)}\n" \
    "  for i = 1, #list do t[i + 1] = strhdr(#list[i]) .. list[i] end\n" \
    "  return table.concat(t)\n" \
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

/* The send time, from the Redis server's clock: TIME as "sec.usec" (a
 * string, since Lua's number-to-string keeps only 14 digits) and whole
 * seconds. channels_redis scores with each sender's clock; we use the
 * server's because scripts run one at a time, so the order in which our
 * scripts run is then also the order of their scores, i.e. the order in
 * which receivers pop the messages (BZPOPMIN). Two sends from two threads
 * that race cannot swap places, and numbered broadcasts are delivered in
 * seq order. Resolution is 1 us; a script takes longer than that. */
#define RS_LUA_CLOCK \
    "local function clock()\n" \
    "  local t = redis.call('TIME')\n" \
    "  return t[1] .. '.' .. string.format('%06d', tonumber(t[2])), tonumber(t[1])\n" \
    "end\n"

/* Store the session.state text head .. seq .. tail under skey, and seq
 * under seqkey, unless seqkey already holds a seq >= this one (an older
 * state never replaces a newer one). Both keys get ttl seconds. Returns 1
 * if stored, 0 if not. Run alone by RS_STORE_STATE (a new session's first
 * state, realtime/snapshot.py), and Run by the numbered group
 * sends in the same script as the INCR, so a socket that reads the state
 * after the script finds the event's seq in it, and one that read it
 * before was already a group member and gets the event. */
#define RS_LUA_STATE \
    "local function store_state(seq, skey, seqkey, head, tail, ttl)\n" \
    "  local current = tonumber(redis.call('GET', seqkey) or '-1')\n" \
    "  if seq > current then\n" \
    "    local seqstr = string.format('%d', seq)\n" \
    "    redis.call('SET', skey, head .. seqstr .. tail, 'EX', ttl)\n" \
    "    redis.call('SET', seqkey, seqstr, 'EX', ttl)\n" \
    "    return 1\n" \
    "  end\n" \
    "  return 0\n" \
    "end\n"

/* The message's seq: INCR the counter KEYS[2], or, with a given seq
 * (> 0, numbered by the database), raise the counter -- the highest seq
 * delivered -- to it; 0 when the given seq is not above it (already
 * delivered: the caller sends nothing, so no client gets an event twice). */
#define RS_LUA_GIVEN \
    "local function next_seq(counter, given, ttl)\n" \
    "  local seq\n" \
    "  if given > 0 then\n" \
    "    if given <= tonumber(redis.call('GET', counter) or '0') then return 0 end\n" \
    "    redis.call('SET', counter, given)\n" \
    "    seq = given\n" \
    "  else\n" \
    "    seq = redis.call('INCR', counter)\n" \
    "  end\n" \
    "  if ttl > 0 then redis.call('EXPIRE', counter, ttl) end\n" \
    "  return seq\n" \
    "end\n"

/* RS_SEND. KEYS[1] channel key. ARGV: 1 expiry, 2 capacity, 3 stored
 * bytes. Returns 1 if stored, 0 if the channel is full. Same steps as
 * channels_redis's send() (drop expired, count, ZADD, EXPIRE), atomic. */
static const char rs_send[] =
    RS_LUA_CLOCK
    "local now, sec = clock()\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, sec - tonumber(ARGV[1]))\n"
    "if redis.call('ZCOUNT', KEYS[1], '-inf', '+inf') >= tonumber(ARGV[2]) then\n"
    "  return 0\n"
    "end\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "return 1\n";

/* RS_GROUP_SEND. KEYS[1] group key, KEYS[2] (optional) sequence counter,
 * KEYS[3] and KEYS[4] (optional, only with KEYS[2]) state text key and
 * state seq key.
 * ARGV: 1 group_expiry, 2 expiry, 3 key prefix, 4 random prefix bytes,
 * 5 default capacity, 6 counter TTL in seconds (0: leave it), 7 the given
 * seq (0: INCR the counter), 8 number of
 * capacity rules R, then R pairs (anchored Lua pattern, capacity), then the
 * number of body segments S and the segments: 'b' <bytes> (literal
 * msgpack), 'i' (the seq as msgpack int), 't' <head> <tail> (msgpack str
 * head .. seq .. tail); then, with KEYS[3], the state text's head and tail
 * and the state TTL in seconds.
 * With KEYS[2] the counter is INCRed (and its TTL refreshed) first, in the
 * same atomic script, so the order of sequence numbers is the order of
 * delivery; with a given seq (ARGV[7] > 0, taken from the database) the
 * counter instead holds the highest seq delivered (RS_LUA_GIVEN): a seq not
 * above it is refused, nothing is sent, and the script returns seq 0. With KEYS[3] the state text (head .. seq .. tail) is stored in
 * the same script (see RS_LUA_STATE): no socket can read a state older than
 * an event it did not get.
 * Returns {seq or -1, keys written, keys over capacity, members}. */
static const char rs_group_send[] =
    RS_LUA_HELPERS
    RS_LUA_CLOCK
    RS_LUA_STATE
    RS_LUA_GIVEN
    "local now, sec = clock()\n"
    "local gcut, mcut = sec - tonumber(ARGV[1]), sec - tonumber(ARGV[2])\n"
    "local expiry, kprefix, rnd = ARGV[2], ARGV[3], ARGV[4]\n"
    "local defcap = tonumber(ARGV[5])\n"
    "local ncap = tonumber(ARGV[8])\n"
    "local pos = 9 + 2 * ncap\n"
    "local seq = -1\n"
    "if #KEYS > 1 then\n"
    "  seq = next_seq(KEYS[2], tonumber(ARGV[7]), tonumber(ARGV[6]))\n"
    "  if seq == 0 then return {0, 0, 0, 0} end\n"
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
    "if #KEYS > 2 then\n"
    "  local shead, stail, sttl = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2]\n"
    "  store_state(seq, KEYS[3], KEYS[4], shead, stail, sttl)\n"
    "end\n"
    "local body = table.concat(parts) .. '\\176__asgi_channel__'\n"
    "local function capacity(ch)\n"
    "  for i = 1, ncap do\n"
    "    if string.find(ch, ARGV[7 + 2 * i]) then return tonumber(ARGV[8 + 2 * i]) end\n"
    "  end\n"
    "  return defcap\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, gcut)\n"
    "local members = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "local keys, bykey, caps = {}, {}, {}\n"
    "for _, ch in ipairs(members) do\n"
    "  local bang = string.find(ch, '!', 1, true)\n"
    "  local nl = bang and string.sub(ch, 1, bang) or ch\n"
    "  local list = bykey[nl]\n"
    "  if list == nil then\n"
    "    list = {}; bykey[nl] = list; keys[#keys + 1] = nl\n"
    "    caps[nl] = capacity(ch)\n"
    "  end\n"
    "  list[#list + 1] = ch\n"
    "end\n"
    "local over = 0\n"
    "for _, nl in ipairs(keys) do\n"
    "  local key = kprefix .. nl\n"
    "  redis.call('ZREMRANGEBYSCORE', key, 0, mcut)\n"
    "  if redis.call('ZCOUNT', key, '-inf', '+inf') < caps[nl] then\n"
    "    redis.call('ZADD', key, now, body .. packlist(bykey[nl]))\n"
    "    redis.call('EXPIRE', key, expiry)\n"
    "  else\n"
    "    over = over + 1\n"
    "  end\n"
    "end\n"
    "return {seq, #keys, over, #members}\n";

/* RS_MEMBERS (several hosts, on the group's host). KEYS[1] group key,
 * KEYS[2] (optional) sequence counter, KEYS[3] and KEYS[4] (optional, only
 * with KEYS[2]) state text key and state seq key. ARGV[1] group_expiry,
 * ARGV[2] counter TTL (0: leave it), ARGV[3] the given seq (0: INCR, see
 * RS_LUA_GIVEN); with KEYS[3], ARGV[4] and ARGV[5] the
 * state text's head and tail and ARGV[6] the state TTL. The state is
 * stored here, before step 2 delivers the event, so no socket can read a
 * state older than an event it did not get.
 * Returns {seq or -1, member, member, ...}; {0} when the given seq was
 * already delivered (no members: step 2 sends nothing). */
static const char rs_members[] =
    RS_LUA_CLOCK
    RS_LUA_STATE
    RS_LUA_GIVEN
    "local now, sec = clock()\n"
    "local seq = -1\n"
    "if #KEYS > 1 then\n"
    "  seq = next_seq(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[2]))\n"
    "  if seq == 0 then return {0} end\n"
    "end\n"
    "if #KEYS > 2 then\n"
    "  store_state(seq, KEYS[3], KEYS[4], ARGV[4], ARGV[5], ARGV[6])\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, sec - tonumber(ARGV[1]))\n"
    "local m = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "table.insert(m, 1, seq)\n"
    "return m\n";

/* RS_DELIVER (several hosts, one call per host holding member keys).
 * KEYS: n channel keys. ARGV: n stored messages, n capacities, expiry.
 * Returns the number of keys over capacity. */
static const char rs_deliver[] =
    RS_LUA_CLOCK
    "local now, sec = clock()\n"
    "local n = #KEYS\n"
    "local expiry = ARGV[2 * n + 1]\n"
    "local mcut = sec - tonumber(expiry)\n"
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

/* RS_STORE_STATE. KEYS[1] state text key, KEYS[2] state seq key. ARGV: 1
 * seq, 2 and 3 the text's head and tail around the seq, 4 TTL in seconds.
 * Returns 1 if stored, 0 if a newer state is there (see RS_LUA_STATE). */
static const char rs_store_state[] =
    RS_LUA_STATE
    "return store_state(tonumber(ARGV[1]), KEYS[1], KEYS[2], ARGV[2], "
    "ARGV[3], ARGV[4])\n";

/* RS_RAISE_SEQ. KEYS[1] a delivered-seq counter (PH_KEY_SEQ, PH_KEY_PSEQ).
 * ARGV: 1 seq, 2 TTL in seconds. Raises the counter to seq unless it holds
 * seq or more: the relay's rebuild after Redis lost it, and the pure-Python
 * twin of RS_LUA_GIVEN (without the C layer). Returns 1 if raised, else 0. */
static const char rs_raise_seq[] =
    "if tonumber(ARGV[1]) <= tonumber(redis.call('GET', KEYS[1]) or '0') then\n"
    "  return 0\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
    "return 1\n";

/* RS_STORE_TOKENS. KEYS[1] a session's hash (PH_KEY_SESSION). ARGV: 1 its
 * version (the session seq it was read at), 2 TTL in seconds, then field
 * and value pairs (PH_FIELD_HOST, PH_FIELD_PLAYER + digest, PH_FIELD_CLOSED).
 * Rewrites the whole hash, with the version under PH_FIELD_VERSION, unless
 * it holds a newer version: the token digests the sidecar checks, written
 * from the database whenever they change and by the relay's rebuild.
 * Returns 1 if written, else 0. */
static const char rs_store_tokens[] =
    "local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '-1')\n"
    "if tonumber(ARGV[1]) < current then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], 'v', ARGV[1], unpack(ARGV, 3))\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "return 1\n";

static const struct {
    const char *name;
    const char *source;
} rs_scripts[RS_COUNT] = {
    [RS_SEND] = {"send", rs_send},
    [RS_GROUP_SEND] = {"group_send", rs_group_send},
    [RS_MEMBERS] = {"members", rs_members},
    [RS_DELIVER] = {"deliver", rs_deliver},
    [RS_STORE_STATE] = {"store_state", rs_store_state},
    [RS_RAISE_SEQ] = {"raise_seq", rs_raise_seq},
    [RS_STORE_TOKENS] = {"store_tokens", rs_store_tokens},
};

/* The Lua source of script `id` (static storage, NUL-terminated). Returns
 * NULL for an unknown id. The argument layout of each script is documented
 * next to its source in rscripts.c. */
const char *
rs_source(rs_script id)
{
    return (unsigned)id < RS_COUNT ? rs_scripts[id].source : NULL;
}

/* The name of script `id`, or NULL for an unknown id. */
const char *
rs_name(rs_script id)
{
    return (unsigned)id < RS_COUNT ? rs_scripts[id].name : NULL;
}
