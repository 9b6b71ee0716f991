/*
 * fuzz_file.h - for the fuzz targets whose reader takes a path (npz_load,
 * transformer_load, checkpoint_load): the input is written to a file in
 * /dev/shm (memory; /tmp without it), named by the process id so that
 * parallel fuzzing jobs do not meet, and read from there.
 *
 * It also builds .npz files from "records": a structure-aware input for
 * the loaders, whose checks sit behind the zip's CRC-32s. A record input is
 * entries separated by RECORD_SEP; an entry is an array's name, a NUL byte,
 * then that array's .npy bytes. fuzz_write_npz stores them as a zip with
 * correct headers and CRCs, so that the fuzzer's mutations reach the names,
 * shapes and values the loaders check, not only the container.
 *
 * An entry whose data is shorter than its .npy header promises is padded
 * with zeros up to that (at most PAD_LIMIT bytes), as a deflated entry of a
 * real .npz holds a large array of zeros in a few bytes. So a mutated shape
 * is a file that loads, and the loaders meet large sizes backed by data.
 */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define RECORD_SEP "|npz|"
#define PAD_LIMIT (8u << 20)

/* The file of this process; the same path at every call. */
static inline const char *fuzz_path(const char *ext)
{
    static char path[64];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/fuzz-%ld%s", dir, (long)getpid(), ext);
    return path;
}

static inline void fuzz_write(const char *path, const void *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(data, 1, size, fp) != size || fclose(fp) != 0) abort();
}

static inline void put16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)(v >> 8);
}

static inline void put32(unsigned char *p, uint32_t v)
{
    put16(p, v & 0xffff);
    put16(p + 2, v >> 16);
}

/* The bytes a .npy's header promises (header included), read roughly; 0 if
 * it cannot tell. */
static inline size_t npy_promise(const unsigned char *b, size_t n)
{
    if (n < 10 || memcmp(b, "\x93NUMPY", 6) != 0) return 0;
    size_t at = b[6] == 1 ? 10 : 12;
    if (n < at) return 0;
    size_t hlen = b[8] | (size_t)b[9] << 8;
    if (b[6] != 1) hlen |= (size_t)b[10] << 16 | (size_t)b[11] << 24;
    if (hlen > n - at) return 0;
    const char *h = (const char *)b + at, *end = h + hlen;
    const char *d = memchr(h, '\'', hlen), *sh = NULL;
    for (const char *p = h; p + 7 < end && !sh; p++)
        if (memcmp(p, "'shape'", 7) == 0) sh = p + 7;
    if (!d || !sh) return 0;
    size_t item = 0;                 /* the digits after the descr's letter: '<f4' -> 4 */
    for (const char *p = h; p + 8 < end; p++)
        if (memcmp(p, "'descr'", 7) == 0) {
            const char *q = memchr(p + 7, '\'', (size_t)(end - p - 7));
            if (q && q + 3 < end) item = (size_t)(q[3] - '0');
            break;
        }
    uint64_t count = 1;
    for (const char *p = sh; p < end && *p != ')'; p++) {
        if (*p < '0' || *p > '9') continue;
        uint64_t v = 0;
        while (p < end && *p >= '0' && *p <= '9' && v < PAD_LIMIT) v = v * 10 + (uint64_t)(*p++ - '0');
        count = v ? (count > PAD_LIMIT / v ? PAD_LIMIT + 1 : count * v) : 0;
        p--;
    }
    if (item < 1 || item > 8 || count > PAD_LIMIT / item) return 0;
    return at + hlen + (size_t)(count * item);
}

/* One stored zip entry's local header and data, and its central record. */
static inline void zip_entry(FILE *fp, FILE *dir, const char *name, size_t nlen,
                             const unsigned char *data, size_t size, size_t want, uint32_t offset)
{
    unsigned char h[46];
    unsigned char *padded = NULL;
    if (want > size) {                      /* zeros up to what the header promises */
        padded = calloc(want, 1);
        if (!padded) abort();
        memcpy(padded, data, size);
        data = padded;
        size = want;
    }
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)size);
    memset(h, 0, sizeof h);
    put32(h, 0x04034b50u);
    put16(h + 4, 20);
    put32(h + 14, crc);
    put32(h + 18, (uint32_t)size);
    put32(h + 22, (uint32_t)size);
    put16(h + 26, (uint32_t)nlen);
    fwrite(h, 1, 30, fp);
    fwrite(name, 1, nlen, fp);
    fwrite(data, 1, size, fp);
    memset(h, 0, sizeof h);
    put32(h, 0x02014b50u);
    put16(h + 4, 20);
    put16(h + 6, 20);
    put32(h + 16, crc);
    put32(h + 20, (uint32_t)size);
    put32(h + 24, (uint32_t)size);
    put16(h + 28, (uint32_t)nlen);
    put32(h + 42, offset);
    fwrite(h, 1, 46, dir);
    fwrite(name, 1, nlen, dir);
    free(padded);
}

/* The records of data as a .npz at path. */
static inline void fuzz_write_npz(const char *path, const unsigned char *data, size_t size)
{
    FILE *fp = fopen(path, "wb"), *dir = tmpfile();
    if (!fp || !dir) abort();
    const size_t sep = strlen(RECORD_SEP);
    uint32_t count = 0, offset = 0;
    size_t at = 0;
    while (at <= size && count < 4096) {
        const unsigned char *start = data + at, *end = data + size;
        for (const unsigned char *p = start; p + sep <= data + size; p++)
            if (memcmp(p, RECORD_SEP, sep) == 0) {
                end = p;
                break;
            }
        size_t len = (size_t)(end - start);
        const unsigned char *nul = memchr(start, 0, len);
        if (nul) {
            size_t nlen = (size_t)(nul - start);
            char name[256 + 4];
            if (nlen > 256) nlen = 256;
            memcpy(name, start, nlen);
            memcpy(name + nlen, ".npy", 4);
            size_t dlen = len - (size_t)(nul - start) - 1;
            size_t want = npy_promise(nul + 1, dlen);
            if (want <= dlen || offset + (uint64_t)want > 4 * (uint64_t)PAD_LIMIT) want = dlen;
            zip_entry(fp, dir, name, nlen + 4, nul + 1, dlen, want, offset);
            offset += (uint32_t)(30 + nlen + 4 + want);
            count++;
        }
        at += len + sep;
    }
    long dir_size = ftell(dir);
    rewind(dir);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, dir)) > 0) fwrite(buf, 1, n, fp);
    fclose(dir);
    unsigned char end[22];
    memset(end, 0, sizeof end);
    put32(end, 0x06054b50u);
    put16(end + 8, count);
    put16(end + 10, count);
    put32(end + 12, (uint32_t)dir_size);
    put32(end + 16, offset);
    fwrite(end, 1, sizeof end, fp);
    if (fclose(fp) != 0) abort();
}

#endif
