/*
 * npy.c - NumPy's .npy and .npz files, read and written without NumPy.
 *
 * Every chapter checks its numbers against NumPy and PyTorch, so arrays have
 * to cross between C and Python bit for bit. This file implements npy.h:
 *
 *   .npy  a magic string, a version, a short text header (a Python dict
 *         literal giving dtype, memory order and shape), then the raw
 *         little-endian bytes of the array (NumPy's NEP 1).
 *   .npz  a zip archive holding one .npy per named array. The zip reader and
 *         writer here follow the PKWARE APPNOTE; zlib does deflate and CRC-32.
 *
 * Assumes: C11, zlib, IEEE-754 float and double (as NumPy does). The host's
 * byte order does not matter: every number in a file is assembled or taken
 * apart byte by byte. Nothing read from a file is trusted: every length,
 * offset and shape is checked against the bytes actually there before use.
 *
 * Introduced with chapter 1.
 */
#define ZLIB_CONST /* lets zlib take a pointer to const input */
#include "npy.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

_Static_assert(sizeof(float) == 4 && sizeof(double) == 8,
               "NumPy's <f4 and <f8 are 4- and 8-byte IEEE-754 numbers");

/* ============================================================ bytes */

/* Files are little-endian; these read and write one number of `nbytes`
 * bytes, least significant first, whatever the host's own order. */
static uint64_t get_le(const unsigned char *p, int nbytes)
{
    uint64_t v = 0;
    for (int k = nbytes - 1; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

static uint32_t get_u16(const unsigned char *p) { return (uint32_t)get_le(p, 2); }
static uint32_t get_u32(const unsigned char *p) { return (uint32_t)get_le(p, 4); }
static uint64_t get_u64(const unsigned char *p) { return get_le(p, 8); }

static void put_le(unsigned char *p, uint64_t v, int nbytes)
{
    for (int k = 0; k < nbytes; k++) {
        p[k] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* The bit patterns of IEEE floats, moved with memcpy (the one portable way
 * to reinterpret bytes in C). Assumes floats and integers share byte order,
 * as on every machine NumPy runs on. */
static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double f64_from_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static uint32_t bits_from_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Two's complement bits to int64_t without implementation-defined casts. */
static int64_t i64_from_bits(uint64_t u)
{
    if (u <= (uint64_t)INT64_MAX) return (int64_t)u;
    return -(int64_t)(UINT64_MAX - u) - 1;
}

/* Copies up to n bytes of untrusted text into dst for an error message,
 * replacing anything unprintable by '?' and marking a cut with "...". */
static void printable(char *dst, size_t cap, const void *src, size_t n)
{
    const unsigned char *s = src;
    size_t k = 0, room = cap - 4;          /* leave space for "..." and NUL */
    for (; k < n && k < room; k++) dst[k] = (s[k] >= 0x20 && s[k] < 0x7f) ? (char)s[k] : '?';
    if (k < n) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
}

/* ============================================================ shapes */

/* snprintf at the end of what buf already holds; a full buf just stops. */
static void append(char *buf, size_t cap, size_t *used, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void append(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
    if (*used >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used += (size_t)n;
}

/* Python's way of writing a tuple: "()", "(3,)", "(2, 3)". */
static char *shape_str(int ndim, const int64_t *shape, char *buf, size_t cap)
{
    if (cap == 0) return buf;
    size_t used = 0;
    int shown = ndim < 0 ? 0 : ndim > TENSOR_MAX_DIMS ? TENSOR_MAX_DIMS : ndim;
    buf[0] = '\0';
    append(buf, cap, &used, "(");
    for (int k = 0; k < shown; k++) append(buf, cap, &used, "%s%" PRId64, k ? ", " : "", shape[k]);
    append(buf, cap, &used, "%s", ndim == 1 ? ",)" : ndim > shown ? ", ...)" : ")");
    return buf;
}

char *tensor_shape_str(const Tensor *t, char *buf, size_t len)
{
    return shape_str(t->ndim, t->shape, buf, len);
}

void tensor_free(Tensor *t)
{
    free(t->f);
    free(t->i);
    memset(t, 0, sizeof *t);
}

/* Everything a header (or a caller) could get wrong about a shape: too many
 * dimensions, a negative one, or more elements or bytes than 64 bits count.
 * On success sets *size to the number of elements; on failure writes the
 * reason, a whole phrase, into why. */
static int check_shape(int ndim, const int64_t *shape, const char *descr, int itemsize,
                       int64_t *size, char *why, size_t cap)
{
    char s[256];
    if (ndim < 0 || ndim > TENSOR_MAX_DIMS) {
        snprintf(why, cap, "%d dimensions, at most %d are supported", ndim, TENSOR_MAX_DIMS);
        return -1;
    }
    shape_str(ndim, shape, s, sizeof s);
    int64_t n = 1;
    for (int k = 0; k < ndim; k++) {
        if (shape[k] < 0) {
            snprintf(why, cap, "shape %s has a negative dimension", s);
            return -1;
        }
        if (shape[k] == 0) n = 0;
    }
    /* With a zero dimension there are no elements, however big the rest. */
    for (int k = 0; k < ndim && n != 0; k++) {
        if (shape[k] > INT64_MAX / n) {
            snprintf(why, cap, "shape %s has more elements than fit in 64 bits", s);
            return -1;
        }
        n *= shape[k];
    }
    if (n > INT64_MAX / itemsize) {
        snprintf(why, cap, "shape %s of %s needs more than 2^63 bytes", s, descr);
        return -1;
    }
    *size = n;
    return 0;
}

/* ============================================================ the header dict */

/* The header is a Python literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ended by '\n'. It is parsed, not pattern-matched,
 * so key order, spacing and a trailing comma do not matter. */
typedef struct {
    char descr[32];
    int fortran_order;
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
} Header;

typedef struct {
    const char *text;   /* the header, not NUL-terminated */
    size_t len, pos;
    const char *name;   /* file name, for messages */
    Error *err;
} Cursor;

static int at_end(const Cursor *c) { return c->pos >= c->len; }
static char peek(const Cursor *c) { return at_end(c) ? '\0' : c->text[c->pos]; }
static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

static void skip_space(Cursor *c)
{
    while (!at_end(c) && is_space(c->text[c->pos])) c->pos++;
}

/* "Q.npy: broken header: expected ':' after a key (byte 8 of "{'descr' ...")" */
static int broken(const Cursor *c, const char *what)
{
    char shown[72];
    printable(shown, sizeof shown, c->text, c->len);
    return error_set(c->err, "%s: broken header: %s (byte %zu of \"%s\")", c->name, what,
                     c->pos, shown);
}

/* A quoted string without escapes: that covers every key and dtype. */
static int parse_string(Cursor *c, char *out, size_t cap)
{
    char quote = peek(c);
    if (quote != '\'' && quote != '"') return broken(c, "expected a quoted string");
    c->pos++;
    size_t n = 0;
    while (!at_end(c) && c->text[c->pos] != quote) {
        char ch = c->text[c->pos];
        if (ch == '\\' || ch == '\n') return broken(c, "unexpected character in a string");
        if (n + 1 >= cap) return broken(c, "string too long");
        out[n++] = ch;
        c->pos++;
    }
    if (at_end(c)) return broken(c, "unterminated string");
    c->pos++;
    out[n] = '\0';
    return 0;
}

static int parse_word(Cursor *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len - c->pos < n || memcmp(c->text + c->pos, word, n) != 0) return 0;
    c->pos += n;
    return 1;
}

static int parse_bool(Cursor *c, int *value)
{
    if (parse_word(c, "True")) *value = 1;
    else if (parse_word(c, "False")) *value = 0;
    else return broken(c, "expected True or False");
    return 0;
}

static int parse_descr(Cursor *c, char *out, size_t cap)
{
    if (peek(c) == '[')
        return error_set(c->err, "%s: unsupported dtype: a structured array (descr is a list "
                         "of fields); save plain arrays", c->name);
    return parse_string(c, out, cap);
}

/* One dimension: a whole number, checked against 64-bit overflow. */
static int parse_dim(Cursor *c, int64_t *out)
{
    int negative = 0;
    if (peek(c) == '-') {
        negative = 1;
        c->pos++;
    }
    if (!is_digit(peek(c))) return broken(c, "expected a whole number in the shape");
    int64_t v = 0;
    while (is_digit(peek(c))) {
        int d = peek(c) - '0';
        if (v > (INT64_MAX - d) / 10) return broken(c, "a dimension too large for 64 bits");
        v = v * 10 + d;
        c->pos++;
    }
    if (peek(c) == 'L') c->pos++;   /* Python 2's long, as very old NumPy wrote it */
    if (negative && v != 0)
        return error_set(c->err, "%s: shape has a negative dimension (-%" PRId64 ")", c->name, v);
    *out = v;
    return 0;
}

/* A tuple of dimensions: "()", "(3,)", "(2, 3)", "(2, 3,)". */
static int parse_shape(Cursor *c, int *ndim, int64_t *shape)
{
    if (peek(c) != '(') return broken(c, "expected '(' to start the shape");
    c->pos++;
    *ndim = 0;
    skip_space(c);
    if (peek(c) == ')') {
        c->pos++;
        return 0;
    }
    for (;;) {
        int64_t d = 0;
        if (parse_dim(c, &d) != 0) return -1;
        if (*ndim == TENSOR_MAX_DIMS)
            return error_set(c->err, "%s: shape has more than %d dimensions", c->name,
                             TENSOR_MAX_DIMS);
        shape[(*ndim)++] = d;
        skip_space(c);
        if (peek(c) == ')') {
            /* In Python "(3)" is the number 3, not a tuple: NumPy never writes it. */
            if (*ndim == 1) return broken(c, "shape (n) is not a tuple, expected (n,)");
            break;
        }
        if (peek(c) != ',') return broken(c, "expected ',' or ')' in the shape");
        c->pos++;
        skip_space(c);
        if (peek(c) == ')') break;
    }
    c->pos++;
    return 0;
}

/* The value of one key; each key may appear once. */
static int parse_entry(Cursor *c, Header *h, unsigned *seen)
{
    char key[32];
    if (parse_string(c, key, sizeof key) != 0) return -1;
    skip_space(c);
    if (peek(c) != ':') return broken(c, "expected ':' after a key");
    c->pos++;
    skip_space(c);
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    int k = 0;
    while (k < 3 && strcmp(key, keys[k]) != 0) k++;
    if (k == 3) {
        char shown[40];
        printable(shown, sizeof shown, key, strlen(key));
        return error_set(c->err, "%s: broken header: unknown key '%s' (expected descr, "
                         "fortran_order and shape)", c->name, shown);
    }
    if (*seen & (1u << k))
        return error_set(c->err, "%s: broken header: key '%s' appears twice", c->name, key);
    *seen |= 1u << k;
    if (k == 0) return parse_descr(c, h->descr, sizeof h->descr);
    if (k == 1) return parse_bool(c, &h->fortran_order);
    return parse_shape(c, &h->ndim, h->shape);
}

static int parse_header(Cursor *c, Header *h)
{
    unsigned seen = 0;
    memset(h, 0, sizeof *h);
    skip_space(c);
    if (peek(c) != '{') return broken(c, "expected '{'");
    c->pos++;
    for (;;) {
        skip_space(c);
        if (peek(c) == '}') break;                     /* also after a trailing comma */
        if (parse_entry(c, h, &seen) != 0) return -1;
        skip_space(c);
        if (peek(c) == ',') {
            c->pos++;
            continue;
        }
        if (peek(c) != '}') return broken(c, "expected ',' or '}' after a value");
    }
    c->pos++;
    skip_space(c);                                     /* the padding and '\n' */
    if (!at_end(c)) return broken(c, "unexpected text after the closing '}'");
    if (seen != 7)
        return error_set(c->err, "%s: broken header: missing key '%s'", c->name,
                         !(seen & 1) ? "descr" : !(seen & 2) ? "fortran_order" : "shape");
    return 0;
}

/* ============================================================ dtypes */

/* The dtypes read. Floats become float32, everything else int64 (token ids
 * and masks). '|' marks a one-byte type, which has no byte order. */
typedef struct {
    const char *descr;
    char kind;          /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
    int itemsize;
} FileType;

static const FileType file_types[] = {
    {"<f4", 'f', 4}, {"<f8", 'f', 8},
    {"<i8", 'i', 8}, {"<i4", 'i', 4}, {"<i2", 'i', 2}, {"|i1", 'i', 1},
    {"<u4", 'u', 4}, {"<u2", 'u', 2}, {"|u1", 'u', 1}, {"|b1", 'b', 1},
};

static const FileType *find_file_type(const char *descr, const char *name, Error *err)
{
    for (size_t k = 0; k < sizeof file_types / sizeof file_types[0]; k++)
        if (strcmp(descr, file_types[k].descr) == 0) return &file_types[k];
    char shown[40];
    printable(shown, sizeof shown, descr, strlen(descr));
    if (descr[0] == '>')
        error_set(err, "%s: unsupported dtype '%s': big-endian data is not read; save it "
                  "with a.astype('<%s')", name, shown, shown + 1);
    else
        error_set(err, "%s: unsupported dtype '%s' (supported: <f4 <f8 <i8 <i4 <i2 |i1 "
                  "<u4 <u2 |u1 |b1)", name, shown);
    return NULL;
}

static int64_t int_from_bytes(const unsigned char *p, const FileType *ft)
{
    uint64_t u = get_le(p, ft->itemsize);
    if (ft->kind == 'b') return u != 0;
    int bits = 8 * ft->itemsize;
    if (ft->kind == 'i' && bits < 64 && (u >> (bits - 1)) != 0)
        u |= UINT64_MAX << bits;                       /* negative: extend the sign */
    return i64_from_bits(u);
}

static void decode(const unsigned char *src, const FileType *ft, Tensor *t)
{
    for (int64_t k = 0; k < t->size; k++) {
        const unsigned char *p = src + k * ft->itemsize;
        if (t->dtype == DT_I64) t->i[k] = int_from_bytes(p, ft);
        else if (ft->itemsize == 4) t->f[k] = f32_from_bits(get_u32(p));
        else t->f[k] = (float)f64_from_bits(get_u64(p));   /* <f8: rounded to float32 */
    }
}

/* ============================================================ reading .npy */

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* The fixed part before the dict: magic, version, and the dict's length,
 * 2 bytes in version 1.0, 4 bytes in versions 2.0 and 3.0. */
static int read_preamble(const unsigned char *b, size_t len, const char *name,
                         size_t *header_at, size_t *header_len, Error *err)
{
    size_t m = len < 6 ? len : 6;
    if (len > 0 && memcmp(b, npy_magic, m) != 0)
        return error_set(err, "%s: not a .npy file: wrong magic (it does not start with "
                         "\\x93NUMPY)", name);
    if (len < 8)
        return error_set(err, "%s: truncated header: file has only %zu bytes", name, len);
    int major = b[6], minor = b[7];
    int width = major == 1 ? 2 : (major == 2 || major == 3) ? 4 : 0;
    if (width == 0 || minor != 0)
        return error_set(err, "%s: unsupported .npy version %d.%d (known: 1.0, 2.0, 3.0)",
                         name, major, minor);
    if (len < 8 + (size_t)width)
        return error_set(err, "%s: truncated header: file has only %zu bytes", name, len);
    uint64_t n = get_le(b + 8, width);
    *header_at = 8 + (size_t)width;
    if (n > len - *header_at)
        return error_set(err, "%s: truncated header: it says %" PRIu64 " bytes, the file has "
                         "%zu after the preamble", name, n, len - *header_at);
    *header_len = (size_t)n;
    return 0;
}

int npy_parse(const unsigned char *bytes, size_t len, const char *name, Tensor *t, Error *err)
{
    memset(t, 0, sizeof *t);                    /* so tensor_free is safe after a failure */
    size_t header_at = 0, header_len = 0;       /* set by read_preamble */
    if (read_preamble(bytes, len, name, &header_at, &header_len, err) != 0) return -1;

    Header h;
    Cursor c = {(const char *)bytes + header_at, header_len, 0, name, err};
    if (parse_header(&c, &h) != 0) return -1;
    const FileType *ft = find_file_type(h.descr, name, err);
    if (!ft) return -1;
    if (h.fortran_order)
        return error_set(err, "%s: fortran_order True (column-major data) is not supported; "
                         "save np.ascontiguousarray(a)", name);
    int64_t size;
    char why[320];
    if (check_shape(h.ndim, h.shape, h.descr, ft->itemsize, &size, why, sizeof why) != 0)
        return error_set(err, "%s: %s", name, why);

    /* The header's promise against the bytes that are really there. */
    uint64_t need = (uint64_t)size * (uint64_t)ft->itemsize;
    size_t have = len - header_at - header_len;
    if (need > have)
        return error_set(err, "%s: truncated: header promises %" PRIu64 " bytes of data, file "
                         "has %zu", name, need, have);
    if (need < have)
        return error_set(err, "%s: header promises %" PRIu64 " bytes of data, file has %zu "
                         "(extra bytes after the data)", name, need, have);

    t->dtype = ft->kind == 'f' ? DT_F32 : DT_I64;
    snprintf(t->file_dtype, sizeof t->file_dtype, "%s", ft->descr);
    t->ndim = h.ndim;
    memcpy(t->shape, h.shape, sizeof h.shape);
    t->size = size;
    if (t->dtype == DT_F32) t->f = xmalloc((size_t)size, sizeof *t->f, name);
    else t->i = xmalloc((size_t)size, sizeof *t->i, name);
    decode(bytes + header_at + header_len, ft, t);
    return 0;
}

/* The whole file into memory: .npy and .npz files here are small, and
 * having every byte at hand makes checking lengths and offsets simple. */
static int read_file(const char *path, unsigned char **out, size_t *len, Error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return error_set(err, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    unsigned char *buf = xmalloc(cap, 1, "a file's contents");
    for (;;) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap) break;                    /* end of file, or an error */
        if (cap > SIZE_MAX / 2) {
            free(buf);
            fclose(fp);
            return error_set(err, "%s: too large to read", path);
        }
        cap *= 2;
        buf = xrealloc(buf, cap, 1, "a file's contents");
    }
    int failed = ferror(fp);
    int saved = errno;
    fclose(fp);
    if (failed) {
        free(buf);
        return error_set(err, "%s: cannot read: %s", path, strerror(saved));
    }
    *out = buf;
    *len = n;
    return 0;
}

int npy_load(const char *path, Tensor *t, Error *err)
{
    unsigned char *bytes;
    size_t len;
    memset(t, 0, sizeof *t);
    if (read_file(path, &bytes, &len, err) != 0) return -1;
    int rc = npy_parse(bytes, len, path, t, err);
    free(bytes);
    return rc;
}

int npy_load_mat(const char *path, const char *what, Mat *m, Error *err)
{
    const Mat empty = {NULL, 0, 0, 0, 0};
    const char *role = what ? what : "the array";
    char s[256];
    Tensor t;
    *m = empty;
    if (npy_load(path, &t, err) != 0) return -1;
    tensor_shape_str(&t, s, sizeof s);
    if (t.dtype != DT_F32)
        error_set(err, "%s: %s must hold real numbers (<f4 or <f8), found %s", path, role,
                  t.file_dtype);
    else if (t.ndim != 2)
        error_set(err, "%s: %s must be 2-D, found shape %s", path, role, s);
    else if (t.shape[0] > INT_MAX || t.shape[1] > INT_MAX)
        error_set(err, "%s: %s is too large for a matrix: shape %s", path, role, s);
    else {
        int rows = (int)t.shape[0], cols = (int)t.shape[1];
        *m = mat_new(rows, cols);
        for (int r = 0; r < rows && cols > 0; r++)
            memcpy(&MAT_AT(*m, r, 0), t.f + (size_t)r * (size_t)cols, (size_t)cols * sizeof(float));
        tensor_free(&t);
        return 0;
    }
    tensor_free(&t);
    return -1;
}

/* ============================================================ writing .npy */

/* The header exactly as NumPy writes it, version 1.0, padded with spaces so
 * that the data starts at a multiple of 64 bytes (aligned for any dtype and
 * for memory mapping), ending in '\n'. Returns its length; out needs 512. */
static size_t npy_header(unsigned char *out, const char *descr, int ndim, const int64_t *shape)
{
    char s[256], dict[400];
    shape_str(ndim, shape, s, sizeof s);
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, s);
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    total += pad;
    memcpy(out, npy_magic, 6);
    out[6] = 1;
    out[7] = 0;
    put_le(out + 8, total - 10, 2);
    memcpy(out + 10, dict, (size_t)n);
    memset(out + 10 + n, ' ', pad);
    out[total - 1] = '\n';
    return total;
}

/* A whole .npy file in memory: header, then the data in little-endian order.
 * `size` is the element count, already checked by check_shape. */
static unsigned char *npy_encode(DType dt, const void *data, int ndim, const int64_t *shape,
                                 int64_t size, size_t *len)
{
    size_t itemsize = dt == DT_F32 ? 4 : 8;
    unsigned char header[512];
    size_t hlen = npy_header(header, dt == DT_F32 ? "<f4" : "<i8", ndim, shape);
    unsigned char *out = xmalloc(hlen + (size_t)size * itemsize, 1, "a .npy file");
    memcpy(out, header, hlen);
    unsigned char *p = out + hlen;
    for (int64_t k = 0; k < size; k++, p += itemsize) {
        if (dt == DT_F32) put_le(p, bits_from_f32(((const float *)data)[k]), 4);
        else put_le(p, (uint64_t)((const int64_t *)data)[k], 8);
    }
    *len = hlen + (size_t)size * itemsize;
    return out;
}

/* Checks a shape given by a caller, before anything is written. The bound on
 * bytes keeps header + data countable in a size_t on any machine. */
static int check_for_writing(DType dt, const void *data, int ndim, const int64_t *shape,
                             int64_t *size, char *why, size_t cap)
{
    int itemsize = dt == DT_F32 ? 4 : 8;
    if (ndim > 0 && !shape) {
        snprintf(why, cap, "no shape given");
        return -1;
    }
    if (check_shape(ndim, shape, dt == DT_F32 ? "<f4" : "<i8", itemsize, size, why, cap) != 0)
        return -1;
    if ((uint64_t)*size > (SIZE_MAX - 512) / (uint64_t)itemsize) {
        snprintf(why, cap, "too large for this machine");
        return -1;
    }
    if (*size > 0 && !data) {
        snprintf(why, cap, "no data given (or not a valid matrix)");
        return -1;
    }
    return 0;
}

static int write_file_atomically(const char *path, const unsigned char *bytes, size_t len,
                                 Error *err)
{
    AtomicFile af;
    if (atomic_open(&af, path, err) != 0) return -1;
    if (fwrite(bytes, 1, len, af.fp) != len) {
        int saved = errno;
        atomic_abort(&af);
        return error_set(err, "%s: write failed: %s", path, strerror(saved));
    }
    return atomic_commit(&af, err);
}

static int npy_save(const char *path, DType dt, const void *data, int ndim,
                    const int64_t *shape, Error *err)
{
    int64_t size;
    char why[320];
    if (check_for_writing(dt, data, ndim, shape, &size, why, sizeof why) != 0)
        return error_set(err, "%s: cannot save: %s", path, why);
    size_t len;
    unsigned char *bytes = npy_encode(dt, data, ndim, shape, size, &len);
    int rc = write_file_atomically(path, bytes, len, err);
    free(bytes);
    return rc;
}

int npy_save_f32(const char *path, const float *data, int ndim, const int64_t *shape, Error *err)
{
    return npy_save(path, DT_F32, data, ndim, shape, err);
}

int npy_save_i64(const char *path, const int64_t *data, int ndim, const int64_t *shape,
                 Error *err)
{
    return npy_save(path, DT_I64, data, ndim, shape, err);
}

/* A matrix, possibly a view whose rows are `stride` apart, as one contiguous
 * block of rows*cols floats; NULL if m is not a well-formed matrix. */
static float *mat_contiguous_copy(Mat m)
{
    if (m.rows < 0 || m.cols < 0 || (m.rows > 1 && m.stride < m.cols)) return NULL;
    if ((size_t)m.rows * (size_t)m.cols > 0 && !m.data) return NULL;
    float *out = xmalloc((size_t)m.rows * (size_t)m.cols, sizeof(float), "a matrix copy");
    for (int r = 0; r < m.rows && m.cols > 0; r++)
        memcpy(out + (size_t)r * (size_t)m.cols, &MAT_AT(m, r, 0), (size_t)m.cols * sizeof(float));
    return out;
}

int npy_save_mat(const char *path, Mat m, Error *err)
{
    int64_t shape[2] = {m.rows, m.cols};
    float *copy = mat_contiguous_copy(m);
    if (!copy)
        return error_set(err, "%s: cannot save: not a valid matrix (rows %d, cols %d, stride %d)",
                         path, m.rows, m.cols, m.stride);
    int rc = npy_save_f32(path, copy, 2, shape, err);
    free(copy);
    return rc;
}

/* ============================================================ zip, shared */

#define ZIP_LOCAL_SIG     0x04034b50u   /* "PK\3\4" starts each entry */
#define ZIP_CENTRAL_SIG   0x02014b50u   /* "PK\1\2" one per entry in the directory */
#define ZIP_END_SIG       0x06054b50u   /* "PK\5\6" end of central directory */
#define ZIP64_END_SIG     0x06064b50u   /* "PK\6\6" its 64-bit version */
#define ZIP64_LOCATOR_SIG 0x07064b50u   /* "PK\6\7" points at the 64-bit one */
#define ZIP_LOCAL_LEN      30
#define ZIP_CENTRAL_LEN    46
#define ZIP_END_LEN        22
#define ZIP64_LOCATOR_LEN  20
#define ZIP64_END_LEN      56
#define ZIP_SATURATED      0xFFFFFFFFu  /* "the real value is in the ZIP64 field" */
#define ZIP_CHUNK          (1u << 30)   /* zlib counts in unsigned int: feed it in chunks */

static uint32_t crc32_of(const unsigned char *p, uint64_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt k = n > ZIP_CHUNK ? ZIP_CHUNK : (uInt)n;
        crc = crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)crc;
}

/* ============================================================ reading .npz */

typedef struct {
    const unsigned char *bytes;   /* the whole archive */
    size_t len;
    const char *path;
    Error *err;
} Zip;

typedef struct {
    uint64_t count;                /* entries */
    uint64_t offset, size;         /* of the central directory */
    uint64_t limit;                /* where the end record starts */
} ZipDirectory;

typedef struct {
    const unsigned char *name;     /* inside the archive, not NUL-terminated */
    size_t name_len;
    char shown[96];                /* the name made printable, for messages */
    unsigned flags, method;
    uint32_t crc;
    uint64_t csize, usize;         /* compressed and real size */
    uint64_t offset;               /* of the local header */
    uint64_t data_at;              /* of the entry's data, after the local header */
} ZipEntry;

/* The 64-bit "ZIP64" values live in an extra field with id 1, holding only
 * the fields whose 32-bit slot is saturated, in a fixed order (size,
 * compressed size, local header offset). Each *fields[k] that is saturated
 * is replaced by its 64-bit value; -1 if the extra field lacks it. */
static int widen_zip64(const unsigned char *extra, size_t xlen, uint64_t *fields[], int n)
{
    const unsigned char *z = NULL;
    size_t zlen = 0;
    for (size_t k = 0; xlen - k >= 4;) {
        size_t size = get_u16(extra + k + 2);
        if (size > xlen - k - 4) break;            /* a malformed field ends the list */
        if (get_u16(extra + k) == 1) {
            z = extra + k + 4;
            zlen = size;
            break;
        }
        k += 4 + size;
    }
    size_t used = 0;
    for (int k = 0; k < n; k++) {
        if (*fields[k] != ZIP_SATURATED) continue;
        if (!z || zlen - used < 8) return -1;
        *fields[k] = get_u64(z + used);
        used += 8;
    }
    return 0;
}

/* An archive too big for 32-bit fields has a second, 64-bit end record just
 * before the usual one, found through a "locator". */
static int read_zip64_end(const Zip *z, size_t end_at, ZipDirectory *d)
{
    if (end_at < ZIP64_LOCATOR_LEN ||
        get_u32(z->bytes + end_at - ZIP64_LOCATOR_LEN) != ZIP64_LOCATOR_SIG)
        return error_set(z->err, "%s: the end record asks for ZIP64 but there is no ZIP64 "
                         "locator", z->path);
    size_t locator = end_at - ZIP64_LOCATOR_LEN;
    uint64_t at = get_u64(z->bytes + locator + 8);
    if (at > locator || locator - at < ZIP64_END_LEN || get_u32(z->bytes + at) != ZIP64_END_SIG)
        return error_set(z->err, "%s: no ZIP64 end record at offset %" PRIu64, z->path, at);
    const unsigned char *p = z->bytes + at;
    if (get_u32(p + 16) != 0 || get_u32(p + 20) != 0 || get_u64(p + 24) != get_u64(p + 32))
        return error_set(z->err, "%s: multi-part zip archives are not supported", z->path);
    d->count = get_u64(p + 32);
    d->size = get_u64(p + 40);
    d->offset = get_u64(p + 48);
    d->limit = at;
    return 0;
}

/* The end-of-central-directory record is the last thing in a zip, but an
 * archive comment (up to 65535 bytes) may follow it, so it is searched for
 * backwards; the right one is where the comment runs exactly to the end. */
static int find_directory(const Zip *z, ZipDirectory *d)
{
    if (z->len < ZIP_END_LEN)
        return error_set(z->err, "%s: not a zip archive: only %zu bytes (truncated?)", z->path,
                         z->len);
    size_t lowest = z->len - ZIP_END_LEN > 65535 ? z->len - ZIP_END_LEN - 65535 : 0;
    size_t at = z->len - ZIP_END_LEN;
    for (;; at--) {
        const unsigned char *p = z->bytes + at;
        if (get_u32(p) == ZIP_END_SIG && at + ZIP_END_LEN + get_u16(p + 20) == z->len) break;
        if (at == lowest)
            return error_set(z->err, "%s: not a zip archive: no end-of-central-directory record "
                             "(truncated?)", z->path);
    }
    const unsigned char *p = z->bytes + at;
    if (get_u16(p + 4) != 0 || get_u16(p + 6) != 0 || get_u16(p + 8) != get_u16(p + 10))
        return error_set(z->err, "%s: multi-part zip archives are not supported", z->path);
    d->count = get_u16(p + 10);
    d->size = get_u32(p + 12);
    d->offset = get_u32(p + 16);
    d->limit = at;
    if (d->count == 0xFFFF || d->size == ZIP_SATURATED || d->offset == ZIP_SATURATED)
        if (read_zip64_end(z, at, d) != 0) return -1;

    if (d->offset > d->limit || d->size > d->limit - d->offset)
        return error_set(z->err, "%s: the central directory (%" PRIu64 " bytes at offset %"
                         PRIu64 ") lies outside the archive (truncated?)", z->path, d->size,
                         d->offset);
    if (d->count > d->size / ZIP_CENTRAL_LEN || d->count > INT_MAX)
        return error_set(z->err, "%s: the central directory claims %" PRIu64 " entries but "
                         "has room for %" PRIu64, z->path, d->count, d->size / ZIP_CENTRAL_LEN);
    return 0;
}

/* One entry of the central directory, starting at *pos; moves *pos on. */
static int read_central_entry(const Zip *z, const ZipDirectory *d, uint64_t *pos, int index,
                              ZipEntry *e)
{
    uint64_t end = d->offset + d->size;
    const unsigned char *p = z->bytes + *pos;
    if (end - *pos < ZIP_CENTRAL_LEN || get_u32(p) != ZIP_CENTRAL_SIG)
        return error_set(z->err, "%s: central directory entry %d is damaged", z->path, index);
    size_t nlen = get_u16(p + 28), xlen = get_u16(p + 30), clen = get_u16(p + 32);
    if (ZIP_CENTRAL_LEN + nlen + xlen + clen > end - *pos)
        return error_set(z->err, "%s: central directory entry %d runs past the directory's end",
                         z->path, index);
    e->name = p + ZIP_CENTRAL_LEN;
    e->name_len = nlen;
    printable(e->shown, sizeof e->shown, e->name, nlen);
    e->flags = get_u16(p + 8);
    e->method = get_u16(p + 10);
    e->crc = get_u32(p + 16);
    e->csize = get_u32(p + 20);
    e->usize = get_u32(p + 24);
    e->offset = get_u32(p + 42);
    uint64_t *wide[3] = {&e->usize, &e->csize, &e->offset};
    if (widen_zip64(e->name + nlen, xlen, wide, 3) != 0)
        return error_set(z->err, "%s: entry '%s': its ZIP64 field is missing or too short",
                         z->path, e->shown);
    if (e->flags & 1)
        return error_set(z->err, "%s: entry '%s' is encrypted", z->path, e->shown);
    if (e->method != 0 && e->method != 8)
        return error_set(z->err, "%s: entry '%s' uses compression method %u (only 0, stored, "
                         "and 8, deflate, are supported)", z->path, e->shown, e->method);
    *pos += ZIP_CENTRAL_LEN + nlen + xlen + clen;
    return 0;
}

/* The local header in front of each entry's data repeats what the central
 * directory says; it is checked to agree, and gives where the data starts.
 * Everything an entry spans must lie before the central directory. */
static int read_local_header(const Zip *z, const ZipDirectory *d, ZipEntry *e)
{
    uint64_t limit = d->offset;
    if (e->offset > limit || limit - e->offset < ZIP_LOCAL_LEN)
        return error_set(z->err, "%s: entry '%s': local header offset %" PRIu64 " is outside "
                         "the archive's data", z->path, e->shown, e->offset);
    const unsigned char *p = z->bytes + e->offset;
    size_t nlen = get_u16(p + 26), xlen = get_u16(p + 28);
    if (get_u32(p) != ZIP_LOCAL_SIG)
        return error_set(z->err, "%s: entry '%s': no local header at offset %" PRIu64, z->path,
                         e->shown, e->offset);
    if (ZIP_LOCAL_LEN + nlen + xlen > limit - e->offset)
        return error_set(z->err, "%s: entry '%s': local header runs into the central directory",
                         z->path, e->shown);
    if (nlen != e->name_len || memcmp(p + ZIP_LOCAL_LEN, e->name, nlen) != 0)
        return error_set(z->err, "%s: entry '%s': the local header gives another name",
                         z->path, e->shown);
    e->data_at = e->offset + ZIP_LOCAL_LEN + nlen + xlen;
    if (e->csize > limit - e->data_at)
        return error_set(z->err, "%s: entry '%s': its %" PRIu64 " bytes of data run past the "
                         "start of the central directory (truncated?)", z->path, e->shown,
                         e->csize);

    /* Flag bit 3: sizes and CRC follow the data instead; the central copy rules. */
    uint64_t csize = get_u32(p + 18), usize = get_u32(p + 22);
    uint64_t *wide[2] = {&usize, &csize};
    if (get_u16(p + 8) != e->method ||
        (!(get_u16(p + 6) & 8) &&
         (widen_zip64(p + ZIP_LOCAL_LEN + nlen, xlen, wide, 2) != 0 || get_u32(p + 14) != e->crc ||
          csize != e->csize || usize != e->usize)))
        return error_set(z->err, "%s: entry '%s': local header and central directory disagree "
                         "(method, CRC or sizes)", z->path, e->shown);
    return 0;
}

typedef struct {
    uint64_t start, end;
    int index;
} Span;

static int compare_spans(const void *a, const void *b)
{
    const Span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Entries sharing bytes are how "zip bombs" multiply their size; no honest
 * writer produces them, so they are refused. */
static int check_no_overlap(const Zip *z, const ZipEntry *e, int count)
{
    Span *s = xmalloc((size_t)count, sizeof *s, "zip entry spans");
    for (int k = 0; k < count; k++) {
        s[k].start = e[k].offset;
        s[k].end = e[k].data_at + e[k].csize;
        s[k].index = k;
    }
    qsort(s, (size_t)count, sizeof *s, compare_spans);
    int rc = 0;
    for (int k = 1; k < count && rc == 0; k++)
        if (s[k].start < s[k - 1].end)
            rc = error_set(z->err, "%s: entries '%s' and '%s' overlap (a corrupt archive or a zip "
                           "bomb)", z->path, e[s[k - 1].index].shown, e[s[k].index].shown);
    free(s);
    return rc;
}

/* Inflates raw deflate data (zip stores it without zlib's own header, hence
 * the negative window bits) into exactly `want` bytes. The size declared in
 * the central directory is a hard cap: one byte more and the entry is
 * refused, so a small file cannot expand into all of memory. Returns NULL or
 * what went wrong. */
static const char *inflate_exactly(const unsigned char *src, uint64_t srclen,
                                   unsigned char *dst, uint64_t want)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) return "zlib could not start";
    uint64_t in_left = srclen, out_left = want;
    unsigned char spare;
    int probing = 0, rc;
    do {
        if (s.avail_in == 0 && in_left > 0) {
            s.next_in = src;
            s.avail_in = in_left > ZIP_CHUNK ? ZIP_CHUNK : (uInt)in_left;
            src += s.avail_in;
            in_left -= s.avail_in;
        }
        if (s.avail_out == 0) {
            if (out_left == 0) {
                /* All declared bytes are out: one spare byte tells whether more would come. */
                s.next_out = &spare;
                s.avail_out = 1;
                probing = 1;
            } else {
                s.next_out = dst;
                s.avail_out = out_left > ZIP_CHUNK ? ZIP_CHUNK : (uInt)out_left;
                dst += s.avail_out;
                out_left -= s.avail_out;
            }
        }
        rc = inflate(&s, Z_NO_FLUSH);
        if (probing && s.avail_out == 0) {
            inflateEnd(&s);
            return "it inflates to more bytes than the central directory declares";
        }
    } while (rc == Z_OK);
    int short_output = !probing && (out_left > 0 || s.avail_out > 0);
    inflateEnd(&s);
    if (rc == Z_BUF_ERROR) return "its deflate data ends early (truncated?)";
    if (rc != Z_STREAM_END) return "its deflate data is corrupt";
    if (short_output) return "it inflates to fewer bytes than the central directory declares";
    return NULL;
}

/* An entry's bytes, inflated if need be and checked against its CRC-32. */
static unsigned char *extract_entry(const Zip *z, const ZipEntry *e)
{
    const unsigned char *src = z->bytes + e->data_at;
    const char *problem = NULL;
    if (e->method == 0 && e->csize != e->usize)
        problem = "stored, yet its compressed and real sizes differ";
    /* Deflate cannot do better than about 1032 to 1; a larger claim is a lie
     * that would only make us allocate memory for nothing. */
    else if (e->method == 8 && e->usize > 1024 && (e->usize - 1024) / 1032 > e->csize)
        problem = "declares more bytes than its compressed data can hold";
    else if (e->usize > SIZE_MAX)
        problem = "too large for this machine";
    if (problem) {
        error_set(z->err, "%s: entry '%s': %s", z->path, e->shown, problem);
        return NULL;
    }
    unsigned char *out = xmalloc((size_t)e->usize, 1, "a zip entry");
    if (e->method == 0) memcpy(out, src, (size_t)e->usize);
    else problem = inflate_exactly(src, e->csize, out, e->usize);
    uint32_t crc = problem ? 0 : crc32_of(out, e->usize);
    if (!problem && crc != e->crc) {
        error_set(z->err, "%s: entry '%s': CRC-32 mismatch (stored %08" PRIx32 ", data has %08"
                  PRIx32 "): the archive is corrupt", z->path, e->shown, e->crc, crc);
        free(out);
        return NULL;
    }
    if (problem) {
        error_set(z->err, "%s: entry '%s': %s", z->path, e->shown, problem);
        free(out);
        return NULL;
    }
    return out;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A name that occurs twice among names[0..count), or NULL; sorting a copy
 * keeps this fast even for an archive of many thousand arrays. */
static const char *first_duplicate(char *const *names, int count)
{
    if (count < 2) return NULL;
    char **sorted = xmalloc((size_t)count, sizeof *sorted, "array names");
    memcpy(sorted, names, (size_t)count * sizeof *sorted);
    qsort(sorted, (size_t)count, sizeof *sorted, compare_names);
    const char *twice = NULL;
    for (int k = 1; k < count && !twice; k++)
        if (strcmp(sorted[k - 1], sorted[k]) == 0) twice = sorted[k];
    free(sorted);
    return twice;
}

/* numpy.savez calls the entry for array `x` "x.npy"; the array's name is
 * what comes before. Names must be text and unique. */
static int take_names(const Zip *z, const ZipEntry *e, int count, char **names)
{
    for (int k = 0; k < count; k++) {
        size_t n = e[k].name_len;
        if (n < 4 || memcmp(e[k].name + n - 4, ".npy", 4) != 0 || memchr(e[k].name, 0, n))
            return error_set(z->err, "%s: entry '%s' is not a .npy array (numpy.savez names "
                             "them <name>.npy)", z->path, e[k].shown);
        names[k] = xmalloc(n - 3, 1, "an array name");
        memcpy(names[k], e[k].name, n - 4);
        names[k][n - 4] = '\0';
    }
    const char *twice = first_duplicate(names, count);
    if (twice) {
        char shown[96];
        printable(shown, sizeof shown, twice, strlen(twice));
        return error_set(z->err, "%s: two entries are named '%s.npy'", z->path, shown);
    }
    return 0;
}

/* The directory first, every entry's header checked, then the data. */
static int npz_parse(const Zip *z, Npz *out)
{
    ZipDirectory d = {0, 0, 0, 0};
    if (find_directory(z, &d) != 0) return -1;
    int count = (int)d.count;
    ZipEntry *e = xcalloc((size_t)count, sizeof *e, "zip entries");
    uint64_t pos = d.offset;
    int rc = 0;
    for (int k = 0; k < count && rc == 0; k++) rc = read_central_entry(z, &d, &pos, k, &e[k]);
    for (int k = 0; k < count && rc == 0; k++) rc = read_local_header(z, &d, &e[k]);
    if (rc == 0) rc = check_no_overlap(z, e, count);
    if (rc == 0) {
        out->count = count;
        out->names = xcalloc((size_t)count, sizeof *out->names, "array names");
        out->arrays = xcalloc((size_t)count, sizeof *out->arrays, "arrays");
        rc = take_names(z, e, count, out->names);
    }
    for (int k = 0; k < count && rc == 0; k++) {
        unsigned char *bytes = extract_entry(z, &e[k]);
        if (!bytes) {
            rc = -1;
            break;
        }
        char label[600];
        snprintf(label, sizeof label, "%s: entry '%s'", z->path, e[k].shown);
        rc = npy_parse(bytes, (size_t)e[k].usize, label, &out->arrays[k], z->err);
        free(bytes);
    }
    free(e);
    return rc;
}

int npz_load(const char *path, Npz *z, Error *err)
{
    unsigned char *bytes;
    size_t len;
    memset(z, 0, sizeof *z);
    if (read_file(path, &bytes, &len, err) != 0) return -1;
    Zip zip = {bytes, len, path, err};
    int rc = npz_parse(&zip, z);
    free(bytes);
    if (rc != 0) npz_free(z);
    return rc;
}

void npz_free(Npz *z)
{
    for (int k = 0; k < z->count; k++) {
        if (z->names) free(z->names[k]);
        if (z->arrays) tensor_free(&z->arrays[k]);
    }
    free(z->names);
    free(z->arrays);
    memset(z, 0, sizeof *z);
}

const Tensor *npz_get(const Npz *z, const char *name)
{
    for (int k = 0; k < z->count; k++)
        if (strcmp(z->names[k], name) == 0) return &z->arrays[k];
    return NULL;
}

/* The expected shape for a message: -1 shows as "any". */
static char *expected_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    append(buf, cap, &used, "(");
    for (int k = 0; k < ndim; k++) {
        if (shape[k] < 0) append(buf, cap, &used, "%sany", k ? ", " : "");
        else append(buf, cap, &used, "%s%" PRId64, k ? ", " : "", shape[k]);
    }
    append(buf, cap, &used, "%s", ndim == 1 ? ",)" : ")");
    return buf;
}

const Tensor *npz_get_f32(const Npz *z, const char *path, const char *name, int ndim,
                          const int64_t *shape, Error *err)
{
    const Tensor *t = npz_get(z, name);
    if (!t) {
        char names[256];
        size_t used = 0;
        names[0] = '\0';
        for (int k = 0; k < z->count; k++)
            append(names, sizeof names, &used, "%s%s", k ? ", " : "", z->names[k]);
        error_set(err, "%s: no array named '%s' (the file holds: %s)", path, name,
                  z->count ? names : "nothing");
        return NULL;
    }
    if (t->dtype != DT_F32) {
        error_set(err, "%s: %s must hold real numbers (<f4 or <f8), found %s", path, name,
                  t->file_dtype);
        return NULL;
    }
    int fits = t->ndim == ndim;
    for (int k = 0; k < ndim && fits; k++) fits = shape[k] < 0 || t->shape[k] == shape[k];
    if (!fits) {
        char want[128], found[128];
        error_set(err, "%s: %s must have shape %s, found %s", path, name,
                  expected_shape_str(ndim, shape, want, sizeof want),
                  tensor_shape_str(t, found, sizeof found));
        return NULL;
    }
    return t;
}

int npz_get_int(const Npz *z, const char *path, const char *name, long lo, long hi, int *out,
                Error *err)
{
    const Tensor *t = npz_get(z, name);
    if (!t) return error_set(err, "%s: missing %s (an int64 scalar)", path, name);
    if (t->dtype != DT_I64 || t->size != 1)
        return error_set(err, "%s: %s must be one integer, found dtype %s with %lld entries", path,
                         name, t->file_dtype, (long long)t->size);
    if (t->i[0] < lo || t->i[0] > hi)
        return error_set(err, "%s: %s is %lld, must be in [%ld, %ld]", path, name,
                         (long long)t->i[0], lo, hi);
    *out = (int)t->i[0];
    return 0;
}

int64_t tensor_find_nonfinite(const Tensor *t)
{
    if (t->dtype != DT_F32) return -1;
    for (int64_t k = 0; k < t->size; k++)
        if (!isfinite(t->f[k])) return k;
    return -1;
}

/* ============================================================ writing .npz */

void npz_writer_init(NpzWriter *w)
{
    memset(w, 0, sizeof *w);
}

/* Adds an array whose data (possibly NULL) the writer now owns. The shape is
 * kept as given even if it is wrong: npz_write reports it, since it is the
 * function that can return an error. */
static void writer_take(NpzWriter *w, const char *name, DType dt, void *owned, int ndim,
                        const int64_t *shape, int64_t size)
{
    if (w->count == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 8;
        w->names = xrealloc(w->names, (size_t)w->cap, sizeof *w->names, "npz names");
        w->arrays = xrealloc(w->arrays, (size_t)w->cap, sizeof *w->arrays, "npz arrays");
    }
    Tensor *t = &w->arrays[w->count];
    memset(t, 0, sizeof *t);
    w->names[w->count++] = xstrdup(name);
    t->dtype = dt;
    snprintf(t->file_dtype, sizeof t->file_dtype, "%s", dt == DT_F32 ? "<f4" : "<i8");
    t->ndim = ndim;
    for (int k = 0; k < ndim && k < TENSOR_MAX_DIMS && shape; k++) t->shape[k] = shape[k];
    t->size = size;
    if (dt == DT_F32) t->f = owned;
    else t->i = owned;
}

static void writer_add(NpzWriter *w, const char *name, DType dt, const void *data, int ndim,
                       const int64_t *shape)
{
    int64_t size = 0;
    char why[320];
    void *copy = NULL;
    if (check_for_writing(dt, data, ndim, shape, &size, why, sizeof why) == 0) {
        size_t bytes = (size_t)size * (dt == DT_F32 ? 4 : 8);
        copy = xmalloc(bytes, 1, "an array for a .npz");
        if (bytes > 0) memcpy(copy, data, bytes);
    }
    writer_take(w, name, dt, copy, ndim, shape, size);
}

void npz_add_f32(NpzWriter *w, const char *name, const float *data, int ndim,
                 const int64_t *shape)
{
    writer_add(w, name, DT_F32, data, ndim, shape);
}

void npz_add_i64(NpzWriter *w, const char *name, const int64_t *data, int ndim,
                 const int64_t *shape)
{
    writer_add(w, name, DT_I64, data, ndim, shape);
}

void npz_add_mat(NpzWriter *w, const char *name, Mat m)
{
    int64_t shape[2] = {m.rows, m.cols};
    float *copy = mat_contiguous_copy(m);
    writer_take(w, name, DT_F32, copy, 2, shape, copy ? (int64_t)m.rows * m.cols : 0);
}

void npz_writer_free(NpzWriter *w)
{
    for (int k = 0; k < w->count; k++) {
        free(w->names[k]);
        tensor_free(&w->arrays[k]);
    }
    free(w->names);
    free(w->arrays);
    npz_writer_init(w);
}

/* Everything that can be wrong with the collected arrays, found before a
 * single byte is written. */
static int check_writer(const NpzWriter *w, const char *path, Error *err)
{
    /* 0xFFFF in the end record would mean "look in the ZIP64 record". */
    if (w->count >= 0xFFFF)
        return error_set(err, "%s: cannot save %d arrays, a zip without ZIP64 holds at most "
                         "65534", path, w->count);
    for (int k = 0; k < w->count; k++) {
        const Tensor *t = &w->arrays[k];
        char why[320];
        int64_t size;
        if (check_for_writing(t->dtype, t->f ? (const void *)t->f : (const void *)t->i, t->ndim,
                              t->shape, &size, why, sizeof why) != 0)
            return error_set(err, "%s: cannot save array '%s': %s", path, w->names[k], why);
        if (strlen(w->names[k]) > 0xFFFF - 4)
            return error_set(err, "%s: array name too long", path);
    }
    const char *twice = first_duplicate(w->names, w->count);
    if (twice) return error_set(err, "%s: two arrays are named '%s'", path, twice);
    return 0;
}

/* What the central directory repeats about each entry. */
typedef struct {
    char *name;            /* "<array>.npy" */
    size_t name_len;
    unsigned flags;
    uint32_t crc;
    uint64_t size, offset;
} ZipRecord;

/* Output that counts bytes (offsets are needed later) and remembers the
 * first failure, so the writing code reads straight through. */
typedef struct {
    FILE *fp;
    uint64_t offset;
    int failed, saved_errno;
} ZipOut;

static void zip_put(ZipOut *o, const void *p, size_t n)
{
    if (o->failed) return;
    if (fwrite(p, 1, n, o->fp) != n) {
        o->failed = 1;
        o->saved_errno = errno;
    }
    o->offset += n;
}

/* Every entry is dated 1980-01-01 00:00, the earliest DOS date, so the
 * same arrays always give the same bytes. */
#define ZIP_DOS_TIME 0
#define ZIP_DOS_DATE ((0 << 9) | (1 << 5) | 1)

static void put_local_header(ZipOut *o, const ZipRecord *r)
{
    unsigned char h[ZIP_LOCAL_LEN];
    put_le(h, ZIP_LOCAL_SIG, 4);
    put_le(h + 4, 20, 2);               /* version needed to extract: 2.0 */
    put_le(h + 6, r->flags, 2);
    put_le(h + 8, 0, 2);                /* method 0: stored */
    put_le(h + 10, ZIP_DOS_TIME, 2);
    put_le(h + 12, ZIP_DOS_DATE, 2);
    put_le(h + 14, r->crc, 4);
    put_le(h + 18, r->size, 4);         /* compressed size: the same, stored */
    put_le(h + 22, r->size, 4);
    put_le(h + 26, r->name_len, 2);
    put_le(h + 28, 0, 2);               /* no extra field */
    zip_put(o, h, sizeof h);
    zip_put(o, r->name, r->name_len);
}

static void put_central_header(ZipOut *o, const ZipRecord *r)
{
    unsigned char h[ZIP_CENTRAL_LEN];
    put_le(h, ZIP_CENTRAL_SIG, 4);
    put_le(h + 4, 20, 2);               /* made by: MS-DOS attributes, spec 2.0 */
    put_le(h + 6, 20, 2);
    put_le(h + 8, r->flags, 2);
    put_le(h + 10, 0, 2);
    put_le(h + 12, ZIP_DOS_TIME, 2);
    put_le(h + 14, ZIP_DOS_DATE, 2);
    put_le(h + 16, r->crc, 4);
    put_le(h + 20, r->size, 4);
    put_le(h + 24, r->size, 4);
    put_le(h + 28, r->name_len, 2);
    memset(h + 30, 0, 12);              /* extra, comment, disk, attributes: none */
    put_le(h + 42, r->offset, 4);
    zip_put(o, h, sizeof h);
    zip_put(o, r->name, r->name_len);
}

static void put_end_record(ZipOut *o, int count, uint64_t cd_offset, uint64_t cd_size)
{
    unsigned char h[ZIP_END_LEN];
    put_le(h, ZIP_END_SIG, 4);
    put_le(h + 4, 0, 4);                /* this disk, the directory's disk: 0 */
    put_le(h + 8, (uint64_t)count, 2);
    put_le(h + 10, (uint64_t)count, 2);
    put_le(h + 12, cd_size, 4);
    put_le(h + 16, cd_offset, 4);
    put_le(h + 20, 0, 2);               /* no comment */
    zip_put(o, h, sizeof h);
}

/* Writes each entry (local header, name, .npy bytes) as it is encoded, so
 * only one array's .npy is in memory at a time. */
static int write_entries(ZipOut *o, const NpzWriter *w, ZipRecord *rec, const char *path,
                         Error *err)
{
    for (int k = 0; k < w->count; k++) {
        const Tensor *t = &w->arrays[k];
        size_t n = strlen(w->names[k]), len;
        ZipRecord *r = &rec[k];
        r->name = xmalloc(n + 5, 1, "an entry name");
        memcpy(r->name, w->names[k], n);
        memcpy(r->name + n, ".npy", 5);
        r->name_len = n + 4;
        r->flags = 0;
        for (size_t j = 0; j < n; j++)
            if ((unsigned char)r->name[j] >= 0x80) r->flags = 1u << 11;   /* name is UTF-8 */
        unsigned char *npy = npy_encode(t->dtype, t->f ? (const void *)t->f : (const void *)t->i,
                                        t->ndim, t->shape, t->size, &len);
        r->crc = crc32_of(npy, len);
        r->size = len;
        r->offset = o->offset;
        if (len > 0xFFFFFFFEu || o->offset > 0xFFFFFFFEu) {
            free(npy);
            return error_set(err, "%s: too large: a zip without ZIP64 holds less than 4 GiB",
                             path);
        }
        put_local_header(o, r);
        zip_put(o, npy, len);
        free(npy);
    }
    return 0;
}

int npz_write(NpzWriter *w, const char *path, Error *err)
{
    if (check_writer(w, path, err) != 0) return -1;
    AtomicFile af;
    if (atomic_open(&af, path, err) != 0) return -1;
    ZipOut o = {af.fp, 0, 0, 0};
    ZipRecord *rec = xcalloc((size_t)w->count, sizeof *rec, "zip records");
    int rc = write_entries(&o, w, rec, path, err);
    uint64_t cd_offset = o.offset;
    for (int k = 0; k < w->count && rc == 0; k++) put_central_header(&o, &rec[k]);
    uint64_t cd_size = o.offset - cd_offset;
    if (rc == 0 && (cd_offset > 0xFFFFFFFEu || cd_size > 0xFFFFFFFEu))
        rc = error_set(err, "%s: too large: a zip without ZIP64 holds less than 4 GiB", path);
    if (rc == 0) put_end_record(&o, w->count, cd_offset, cd_size);
    for (int k = 0; k < w->count; k++) free(rec[k].name);
    free(rec);
    if (rc == 0 && o.failed)
        rc = error_set(err, "%s: write failed: %s", path, strerror(o.saved_errno));
    if (rc != 0) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af, err);
}
