/*
 * conn_auth: token digests for the sidecar's session check.
 *
 * Django stores sha256(token) as lowercase hex in Redis; the sidecar hashes
 * the presented token the same way and compares digests in constant time,
 * so neither the raw token nor a timing side channel reaches Redis. Both
 * come from libcrypto (EVP, CRYPTO_memcmp).
 */
#ifndef PH_CONN_AUTH_H
#define PH_CONN_AUTH_H

#include <stddef.h>

#define PH_SHA256_LEN 32
#define PH_SHA256_HEX_LEN 64

/*
 * SHA-256 of data[0..len) into out[32] (libcrypto). Returns 0, or -1 when
 * libcrypto fails (out of memory, or SHA-256 refused by its configuration).
 */
int ph_sha256(const void *data, size_t len, unsigned char out[PH_SHA256_LEN]);

/*
 * Known-answer test of ph_sha256 (FIPS 180-2's "abc"). Returns 0, or -1
 * when libcrypto fails or answers wrong. A server calls it when it
 * starts, so a broken libcrypto fails the start and its one-time set-up
 * (providers: ~2 MB of RSS in a process that has not used OpenSSL yet,
 * such as tests/c/sidecar_run) is not paid by the first connection.
 */
int ph_sha256_selftest(void);

/* Lowercase hex of a digest d[32] into hex[65] (NUL-terminated). */
void ph_sha256_hex(const unsigned char d[PH_SHA256_LEN],
                   char hex[PH_SHA256_HEX_LEN + 1]);

/*
 * Constant-time equality of a[0..alen) and b[0..blen): the time depends
 * only on the lengths. Returns 1 when equal, 0 otherwise.
 */
int ph_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Overwrite p[0..len) with zeros in a way the compiler keeps
 * (OPENSSL_cleanse): for digests about to be freed. */
void ph_wipe(void *p, size_t len);

#endif /* PH_CONN_AUTH_H */
