/* sha256.c — SHA-256 as specified in FIPS 180-4 §6.2 (see sha256.h).
 *
 * The message is processed in 64-byte blocks: each block is expanded to a
 * 64-word schedule W[t] (σ0/σ1 of earlier words), then 64 rounds update the
 * eight working variables with Σ0/Σ1, Ch, Maj and the round constants K[t]
 * (first 32 bits of the fractional parts of the cube roots of the first 64
 * primes).  The last block is padded with 0x80, zeros, and the bit length as a
 * big-endian 64-bit number.  Tested against the FIPS 180-2 example vectors. */
#include "base/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void block(uint32_t h[8], const unsigned char *p) {
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = k + S1 + ch + K[t] + w[t];
        uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void vox_sha256_init(vox_sha256_ctx *s) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->n_bytes = 0;
    s->buf_n = 0;
}

void vox_sha256_update(vox_sha256_ctx *s, const void *data, size_t n) {
    const unsigned char *p = data;
    s->n_bytes += n;
    if (s->buf_n) {
        size_t take = 64 - s->buf_n < n ? 64 - s->buf_n : n;
        memcpy(s->buf + s->buf_n, p, take);
        s->buf_n += take;
        p += take;
        n -= take;
        if (s->buf_n < 64) return;
        block(s->h, s->buf);
        s->buf_n = 0;
    }
    for (; n >= 64; p += 64, n -= 64) block(s->h, p);
    if (n) memcpy(s->buf, p, n);
    s->buf_n = n;
}

void vox_sha256_final(vox_sha256_ctx *s, uint8_t out[32]) {
    const uint64_t bits = s->n_bytes * 8;
    unsigned char pad[72];
    size_t np = (s->buf_n < 56 ? 56 : 120) - s->buf_n; /* 0x80 and zeros up to 56 mod 64 */
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (int i = 0; i < 8; i++) pad[np + i] = (unsigned char)(bits >> (56 - 8 * i));
    uint64_t keep = s->n_bytes;
    vox_sha256_update(s, pad, np + 8);
    s->n_bytes = keep;
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void vox_sha256(const void *data, size_t n, uint8_t out[32]) {
    vox_sha256_ctx s;
    vox_sha256_init(&s);
    vox_sha256_update(&s, data, n);
    vox_sha256_final(&s, out);
}

void vox_sha256_hex(const uint8_t d[32], char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
}

int vox_sha256_file(const char *path, uint8_t out[32], vox_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return vox_fail(err, VOX_E_IO, "%s: cannot open: %s", path, strerror(errno));
    vox_sha256_ctx s;
    vox_sha256_init(&s);
    unsigned char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) vox_sha256_update(&s, buf, got);
    int bad = ferror(f);
    int e = errno;
    fclose(f);
    if (bad) return vox_fail(err, VOX_E_IO, "%s: read error: %s", path, strerror(e));
    vox_sha256_final(&s, out);
    return VOX_OK;
}
