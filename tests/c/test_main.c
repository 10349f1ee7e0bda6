/* test_main.c - C unit tests: bounded msgpack reader, consistent hash,
 * name validation, Sentinel reply parsing. Run by `make ctest`, also under valgrind.
 *
 * Allocation check: the binary is linked with -Wl,--wrap=malloc (and calloc,
 * realloc), so every allocation passes through the counters below. The
 * reader must allocate nothing at all, whatever the input claims. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chash.h"
#include "ctest.h"
#include "mpack_read.h"
#include "names.h"
#include "sentinel.h"

/* ---- allocation counting (linker --wrap) --------------------------- */

typedef struct alloc_stats {
    size_t calls;
    size_t bytes;
} alloc_stats;

/* The wrappers cannot take a context argument, so this one counter is the
 * test binary's only mutable global. */
static alloc_stats g_alloc;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);

void *
__wrap_malloc(size_t n)
{
    g_alloc.calls++;
    g_alloc.bytes += n;
    return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
    g_alloc.calls++;
    g_alloc.bytes += n * m;
    return __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
    g_alloc.calls++;
    g_alloc.bytes += n;
    return __real_realloc(p, n);
}

/* ---- msgpack reader ------------------------------------------------- */

static mpr_status
validate_hex(const char *hex)
{
    unsigned char buf[256];
    size_t n = 0;
    for (; hex[0] && hex[1] && n < sizeof(buf); hex += 2) {
        if (*hex == ' ') {
            hex--;
            continue;
        }
        unsigned v;
        sscanf(hex, "%2x", &v);
        buf[n++] = (unsigned char)v;
    }
    return mpr_validate(buf, n);
}

static void
test_reader_vector(ctest_state *t)
{
    /* {"a": True, "b": None, "c": {"d": []}} from the reference note. */
    static const unsigned char v[] = {0x83, 0xa1, 0x61, 0xc3, 0xa1, 0x62,
                                      0xc0, 0xa1, 0x63, 0x81, 0xa1, 0x64,
                                      0x90};
    mpr_cursor c;
    mpr_item it;
    mpr_init(&c, v, sizeof(v));
    CHECK(t, mpr_next(&c, &it) == MPR_OK && it.type == MPR_MAP &&
                 it.v.count == 3);
    CHECK(t, mpr_next(&c, &it) == MPR_OK && it.type == MPR_STR &&
                 it.v.s.len == 1 && it.v.s.ptr[0] == 'a');
    CHECK(t, mpr_next(&c, &it) == MPR_OK && it.type == MPR_BOOL &&
                 it.v.b == 1);
    CHECK(t, mpr_next(&c, &it) == MPR_OK && it.type == MPR_STR);
    CHECK(t, mpr_next(&c, &it) == MPR_OK && it.type == MPR_NIL);
    CHECK(t, mpr_next(&c, &it) == MPR_OK && it.type == MPR_STR);
    CHECK(t, mpr_next(&c, &it) == MPR_OK && it.type == MPR_MAP &&
                 it.v.count == 1);
    CHECK(t, mpr_next(&c, &it) == MPR_OK && it.type == MPR_STR);
    CHECK(t, mpr_next(&c, &it) == MPR_OK && it.type == MPR_ARRAY &&
                 it.v.count == 0);
    CHECK(t, c.p == c.end);
    CHECK(t, mpr_next(&c, &it) == MPR_ERR_TRUNCATED);
    CHECK(t, mpr_validate(v, sizeof(v)) == MPR_OK);
}

static void
test_reader_scalars(ctest_state *t)
{
    struct {
        const char *hex;
        mpr_type type;
        int64_t i;
        uint64_t u;
        double f;
    } cases[] = {
        {"7f", MPR_UINT, 0, 127, 0},
        {"e0", MPR_INT, -32, 0, 0},
        {"cc ff", MPR_UINT, 0, 255, 0},
        {"cd 01 00", MPR_UINT, 0, 256, 0},
        {"ce ff ff ff ff", MPR_UINT, 0, 4294967295u, 0},
        {"cf ff ff ff ff ff ff ff ff", MPR_UINT, 0, UINT64_MAX, 0},
        {"d0 80", MPR_INT, -128, 0, 0},
        {"d1 80 00", MPR_INT, -32768, 0, 0},
        {"d2 80 00 00 00", MPR_INT, INT32_MIN, 0, 0},
        {"d3 80 00 00 00 00 00 00 00", MPR_INT, INT64_MIN, 0, 0},
        {"d0 05", MPR_UINT, 0, 5, 0},
        {"cb 3f f8 00 00 00 00 00 00", MPR_FLOAT, 0, 0, 1.5},
        {"ca 3f c0 00 00", MPR_FLOAT, 0, 0, 1.5},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        unsigned char buf[16];
        size_t n = 0;
        for (const char *h = cases[k].hex; *h; h++) {
            if (*h == ' ') {
                continue;
            }
            unsigned v;
            sscanf(h, "%2x", &v);
            buf[n++] = (unsigned char)v;
            h++;
        }
        mpr_cursor c;
        mpr_item it;
        mpr_init(&c, buf, n);
        CHECK(t, mpr_next(&c, &it) == MPR_OK);
        CHECK(t, it.type == cases[k].type);
        if (it.type == MPR_INT) {
            CHECK(t, it.v.i == cases[k].i);
        }
        else if (it.type == MPR_UINT) {
            CHECK(t, it.v.u == cases[k].u);
        }
        else {
            CHECK(t, it.v.f == cases[k].f);
        }
        CHECK(t, c.p == c.end);
        /* Every proper prefix is truncated, and reading it moves nothing. */
        for (size_t cut = 0; cut < n; cut++) {
            mpr_init(&c, buf, cut);
            CHECK(t, mpr_next(&c, &it) == MPR_ERR_TRUNCATED);
            CHECK(t, c.p == buf);
        }
    }
}

static void
test_reader_hostile(ctest_state *t)
{
    size_t calls = g_alloc.calls;

    /* Huge counts in tiny inputs: rejected from the header alone. */
    CHECK(t, validate_hex("dd ff ff ff ff") == MPR_ERR_COUNT);
    CHECK(t, validate_hex("dd 04 00 00 00 c0") == MPR_ERR_COUNT);
    CHECK(t, validate_hex("df ff ff ff ff") == MPR_ERR_COUNT);
    CHECK(t, validate_hex("de ff ff") == MPR_ERR_COUNT);
    CHECK(t, validate_hex("dc 00 02 c0") == MPR_ERR_COUNT);
    CHECK(t, validate_hex("82 a1 61 c0") == MPR_ERR_COUNT);
    CHECK(t, validate_hex("db ff ff ff ff 61") == MPR_ERR_TRUNCATED);
    CHECK(t, validate_hex("c6 ff ff ff ff") == MPR_ERR_TRUNCATED);
    CHECK(t, validate_hex("c9 ff ff ff ff 01") == MPR_ERR_TRUNCATED);
    CHECK(t, validate_hex("c1") == MPR_ERR_INVALID);
    CHECK(t, validate_hex("91 c1") == MPR_ERR_INVALID);
    CHECK(t, validate_hex("c0 c0") == MPR_ERR_TRAILING);
    CHECK(t, validate_hex("") == MPR_ERR_TRUNCATED);
    CHECK(t, validate_hex("92 01") == MPR_ERR_COUNT);
    CHECK(t, validate_hex("dc 00 02 01") == MPR_ERR_COUNT);
    CHECK(t, validate_hex("d4 01 02") == MPR_OK);   /* fixext1 parses */
    CHECK(t, validate_hex("d8 01 02") == MPR_ERR_TRUNCATED);

    /* Nesting: MPR_MAX_DEPTH arrays deep is fine, one more is not. */
    size_t deep = MPR_MAX_DEPTH + 1;
    unsigned char *buf = __real_malloc(deep + 1);
    memset(buf, 0x91, deep);
    buf[deep - 1] = 0xc0;          /* MAX_DEPTH arrays then nil */
    CHECK(t, mpr_validate(buf, deep) == MPR_OK);
    memset(buf, 0x91, deep + 1);
    buf[deep] = 0xc0;              /* MAX_DEPTH + 1 arrays then nil */
    CHECK(t, mpr_validate(buf, deep + 1) == MPR_ERR_DEPTH);
    free(buf);

    /* A 64M-element array claim that msgpack-c's unpacker answers with a
     * ~2 GiB allocation: here, an error and no allocation at all. */
    static const unsigned char claim[] = {0xdd, 0x04, 0x00, 0x00, 0x00};
    CHECK(t, mpr_validate(claim, sizeof(claim)) == MPR_ERR_COUNT);

    CHECK(t, g_alloc.calls == calls);
}

/* Deterministic fuzz: random mutations of valid messages never crash,
 * never read out of bounds (valgrind watches), never allocate. */
static void
test_reader_fuzz(ctest_state *t)
{
    static const unsigned char seed[] = {
        0x84, 0xa4, 't', 'y', 'p', 'e', 0xaa, 'g', 'a', 'm', 'e', '.', 'e',
        'v', 'e', 'n', 't', 0xa3, 's', 'e', 'q', 0xcd, 0x01, 0x00, 0xa4, 't',
        'e', 'x', 't', 0xa2, '{', '}', 0xb0, '_', '_', 'a', 's', 'g', 'i',
        '_', 'c', 'h', 'a', 'n', 'n', 'e', 'l', '_', '_', 0x92, 0xa1, 'a',
        0xa1, 'b'};
    unsigned char buf[sizeof(seed)];
    uint64_t x = 0x2545F4914F6CDD1Dull;
    size_t calls = g_alloc.calls;
    int ok = 0;

    CHECK(t, mpr_validate(seed, sizeof(seed)) == MPR_OK);
    for (int round = 0; round < 200000; round++) {
        memcpy(buf, seed, sizeof(seed));
        for (int m = 0; m < 3; m++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[(x >> 8) % sizeof(buf)] = (unsigned char)x;
        }
        size_t len = (size_t)((x >> 32) % (sizeof(buf) + 1));
        ok += mpr_validate(buf, len) == MPR_OK;
    }
    CHECK(t, ok > 0);
    CHECK(t, g_alloc.calls == calls);
}

/* ---- consistent hash ------------------------------------------------ */

static void
test_chash(ctest_state *t)
{
    CHECK(t, chash_index("key_one", 7, 2) == 1);
    CHECK(t, chash_index("key_two", 7, 2) == 0);
    CHECK(t, chash_index("key_one", 7, 10) == 6);
    CHECK(t, chash_index("key_two", 7, 10) == 4);
    CHECK(t, chash_index("anything", 8, 1) == 0);
    CHECK(t, chash_index("", 0, 3) == 0);   /* crc32("") == 0 */
    for (int ring = 1; ring <= 64; ring++) {
        int idx = chash_index("specific.abc!", 13, ring);
        CHECK(t, idx >= 0 && idx < ring);
    }
}

/* ---- names ---------------------------------------------------------- */

static names_result
chan(const char *s, int receive)
{
    return names_check_channel(s, strlen(s), receive);
}

static names_result
group(const char *s)
{
    return names_check_group(s, strlen(s));
}

static void
test_names(ctest_state *t)
{
    char long_name[128];

    CHECK(t, chan("foo", 0) == NAMES_OK);
    CHECK(t, chan("foo.bar-baz_1", 0) == NAMES_OK);
    CHECK(t, chan("specific.abc!def", 0) == NAMES_OK);
    CHECK(t, chan("specific.abc!", 0) == NAMES_OK);
    CHECK(t, chan("specific.abc!", 1) == NAMES_OK);
    CHECK(t, chan("specific.abc!def", 1) == NAMES_RECEIVE_NOT_END);
    CHECK(t, chan("abc\n", 0) == NAMES_OK);          /* Python `$` quirk */
    CHECK(t, chan("abc!\n", 1) == NAMES_RECEIVE_NOT_END);
    CHECK(t, chan("abc\n\n", 0) == NAMES_INVALID);
    CHECK(t, chan("\n", 0) == NAMES_INVALID);
    CHECK(t, chan("", 0) == NAMES_INVALID);
    CHECK(t, chan("!abc", 0) == NAMES_INVALID);
    CHECK(t, chan("a!b!c", 0) == NAMES_INVALID);
    CHECK(t, chan("a b", 0) == NAMES_INVALID);
    CHECK(t, chan("a:b", 0) == NAMES_INVALID);
    CHECK(t, chan("a\nb", 0) == NAMES_INVALID);

    memset(long_name, 'a', sizeof(long_name));
    long_name[99] = '\0';
    CHECK(t, chan(long_name, 0) == NAMES_OK);         /* 99 chars */
    long_name[99] = 'a';
    long_name[100] = '\0';
    CHECK(t, chan(long_name, 0) == NAMES_INVALID);    /* 100 chars */
    CHECK(t, group(long_name) == NAMES_INVALID);
    long_name[99] = '\0';
    CHECK(t, group(long_name) == NAMES_OK);

    CHECK(t, group("game_ABCD") == NAMES_OK);
    CHECK(t, group("g-1.x_y") == NAMES_OK);
    CHECK(t, group("g\n") == NAMES_OK);
    CHECK(t, group("g!") == NAMES_INVALID);
    CHECK(t, group("") == NAMES_INVALID);
    CHECK(t, group("a/b") == NAMES_INVALID);

    CHECK(t, names_nonlocal_len("specific.abc!def", 16) == 13);
    CHECK(t, names_nonlocal_len("plain", 5) == 5);
}

/* ---- Sentinel replies ------------------------------------------------ */

/* A string reply element over a caller-owned buffer. */
static redisReply
str_reply(const char *s)
{
    redisReply r;
    memset(&r, 0, sizeof(r));
    r.type = REDIS_REPLY_STRING;
    r.str = (char *)s;
    r.len = strlen(s);
    return r;
}

/* Parse a two-element reply (host, port); returns the parser's result. */
static int
parse_pair(const char *host, const char *port, ph_sentinel_addr *out,
           char *err, size_t errlen)
{
    redisReply h = str_reply(host), p = str_reply(port), arr;
    redisReply *elems[2] = {&h, &p};
    memset(&arr, 0, sizeof(arr));
    arr.type = REDIS_REPLY_ARRAY;
    arr.elements = 2;
    arr.element = elems;
    return ph_sentinel_parse_master(&arr, out, err, errlen);
}

static void
test_sentinel(ctest_state *t)
{
    ph_sentinel_addr a;
    char err[128], host[PH_SENTINEL_HOST_MAX + 1];
    redisReply r, role, *roles[1] = {&role};
    const char *argv[3];
    size_t lens[3];

    memset(&a, 0, sizeof(a));
    CHECK(t, parse_pair("10.0.0.7", "6380", &a, err, sizeof(err)) == 0);
    CHECK(t, strcmp(a.host, "10.0.0.7") == 0 && a.port == 6380);
    CHECK(t, parse_pair("h", "0", &a, err, sizeof(err)) < 0);
    CHECK(t, parse_pair("h", "65536", &a, err, sizeof(err)) < 0);
    CHECK(t, parse_pair("h", "12x", &a, err, sizeof(err)) < 0);
    CHECK(t, parse_pair("h", "", &a, err, sizeof(err)) < 0);
    CHECK(t, parse_pair("", "1", &a, err, sizeof(err)) < 0);
    CHECK(t, parse_pair("h", "123456789", &a, err, sizeof(err)) < 0);
    memset(host, 'h', sizeof(host) - 1);
    host[PH_SENTINEL_HOST_MAX] = '\0';           /* one byte too long */
    CHECK(t, parse_pair(host, "1", &a, err, sizeof(err)) < 0);
    host[PH_SENTINEL_HOST_MAX - 1] = '\0';       /* fits with its NUL */
    CHECK(t, parse_pair(host, "1", &a, err, sizeof(err)) == 0);
    CHECK(t, strlen(a.host) == PH_SENTINEL_HOST_MAX - 1);

    CHECK(t, ph_sentinel_parse_master(NULL, &a, err, sizeof(err)) < 0);
    memset(&r, 0, sizeof(r));
    r.type = REDIS_REPLY_NIL;
    CHECK(t, ph_sentinel_parse_master(&r, &a, err, sizeof(err)) < 0);
    CHECK(t, strstr(err, "does not know") != NULL);
    r = str_reply("ERR no such master");
    r.type = REDIS_REPLY_ERROR;
    CHECK(t, ph_sentinel_parse_master(&r, &a, err, sizeof(err)) < 0);
    CHECK(t, strstr(err, "no such master") != NULL);
    r.type = REDIS_REPLY_ARRAY;                  /* wrong element count */
    r.elements = 1;
    r.element = roles;
    role = str_reply("h");
    CHECK(t, ph_sentinel_parse_master(&r, &a, err, sizeof(err)) < 0);

    CHECK(t, ph_sentinel_role_is_master(&r) == 0);   /* ["h"] */
    role = str_reply("master");
    CHECK(t, ph_sentinel_role_is_master(&r) == 1);
    role = str_reply("slave");
    CHECK(t, ph_sentinel_role_is_master(&r) == 0);
    role.type = REDIS_REPLY_INTEGER;
    CHECK(t, ph_sentinel_role_is_master(&r) == -1);
    CHECK(t, ph_sentinel_role_is_master(NULL) == -1);

    ph_sentinel_command("mymaster", argv, lens);
    CHECK(t, strcmp(argv[0], "SENTINEL") == 0 && lens[0] == 8);
    CHECK(t, strcmp(argv[1], "get-master-addr-by-name") == 0);
    CHECK(t, argv[2] != NULL && lens[2] == 8);
}

int
main(void)
{
    ctest_state t = {0, 0};
    test_reader_vector(&t);
    test_reader_scalars(&t);
    test_reader_hostile(&t);
    test_reader_fuzz(&t);
    test_chash(&t);
    test_names(&t);
    test_sentinel(&t);
    printf("%d checks, %d failures\n", t.checks, t.failures);
    return t.failures ? 1 : 0;
}
