/*
 * conn_auth.c: the token digest and its constant-time comparison, from
 * libcrypto (OpenSSL), which the process loads anyway: Debian's
 * libwebsockets links libssl and libcrypto.
 */
#include "conn_auth.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/*
 * SHA-256 of data[0..len) into out[32]. Returns 0, or -1 when libcrypto
 * fails (out of memory, or SHA-256 refused by its configuration).
 */
int
ph_sha256(const void *data, size_t len, unsigned char out[PH_SHA256_LEN])
{
    unsigned int n = 0;

    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL)
        || n != PH_SHA256_LEN) {
        return -1;
    }
    return 0;
}

/*
 * Known-answer test of ph_sha256 (FIPS 180-2's "abc"). Returns 0, or -1
 * when libcrypto fails or answers wrong. A server calls it when it
 * starts, so a broken libcrypto fails the start and its one-time set-up
 * (providers: ~2 MB of RSS in a process that has not used OpenSSL yet,
 * such as tests/c/sidecar_run) is not paid by the first connection.
 */
int
ph_sha256_selftest(void)
{
    static const unsigned char abc[PH_SHA256_LEN] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad
    };
    unsigned char d[PH_SHA256_LEN];

    if (ph_sha256("abc", 3, d) < 0 || memcmp(d, abc, sizeof(d)) != 0) {
        return -1;
    }
    return 0;
}

/* Lowercase hex of a digest d[32] into hex[65] (NUL-terminated). */
void
ph_sha256_hex(const unsigned char d[PH_SHA256_LEN],
              char hex[PH_SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    int i;

    for (i = 0; i < PH_SHA256_LEN; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[PH_SHA256_HEX_LEN] = '\0';
}

/*
 * Constant-time equality of a[0..alen) and b[0..blen): the time depends
 * only on the lengths. Returns 1 when equal, 0 otherwise.
 */
int
ph_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

/* Overwrite p[0..len) with zeros in a way the compiler keeps
 * (OPENSSL_cleanse): for digests about to be freed. */
void
ph_wipe(void *p, size_t len)
{
    OPENSSL_cleanse(p, len);
}
