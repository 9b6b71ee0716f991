/*
 * test_npy.c - .npy and .npz files (common/npy.c).
 *
 * The expected values never come from the C code itself: the fixtures are
 * written by NumPy (tests/fixtures/make_fixtures.py), and their values are
 * either recomputed here in the same float arithmetic (np.arange(n) / 7) or
 * read from npz_values.txt, which the script writes as exact hex floats.
 * Malformed files are made in a fresh temporary directory per test.
 */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "npy.h"

/* ------------------------------------------------------------ helpers */

static char tmp_dir[64];

static void make_tmp_dir(void)
{
    make_temp_dir(tmp_dir, sizeof tmp_dir, "test_npy");
}

/* Everything a test leaves behind goes. */
static void remove_tmp_dir(void)
{
    remove_tree(tmp_dir);
}

static const char *tmp_file(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmp_dir, name);
    return buf;
}

static int files_in_tmp_dir(void)
{
    DIR *d = opendir(tmp_dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static unsigned char *read_bytes(const char *path, size_t *len)
{
    unsigned char *b = (unsigned char *)read_file(path, len);
    ck_assert_msg(b != NULL, "cannot open %s", path);
    return b;
}

/* rc must be -1, the message must start with "<name>: " and contain part. */
#define ck_assert_error(rc, err, name, part)                                            \
    do {                                                                                \
        size_t n_ = strlen(name);                                                       \
        ck_assert_int_eq((rc), -1);                                                     \
        ck_assert_msg(strncmp((err).msg, (name), n_) == 0 && (err).msg[n_] == ':' &&    \
                      (err).msg[n_ + 1] == ' ', "message does not start with '%s: ': %s", \
                      (name), (err).msg);                                               \
        ck_assert_msg(strstr((err).msg, (part)) != NULL, "message lacks '%s': %s",       \
                      (part), (err).msg);                                               \
    } while (0)

/* Little-endian float32 bytes, whatever the host's byte order. */
static void put_f32(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(u >> (8 * k));
}

/* A hand-made .npy in memory: format version major.0, the header dict as
 * given (padded to a multiple of 64 with spaces and '\n'), then nfloats
 * float32 values 1, 2, 3, ... Returns its length. */
static size_t make_npy(unsigned char *out, int major, const char *dict, int nfloats)
{
    size_t width = major == 1 ? 2 : 4, at = 8 + width, n = strlen(dict);
    size_t total = at + n + 1;
    size_t pad = (64 - total % 64) % 64;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    size_t hlen = n + pad + 1;
    for (size_t k = 0; k < width; k++) out[8 + k] = (unsigned char)(hlen >> (8 * k));
    memcpy(out + at, dict, n);
    memset(out + at + n, ' ', pad);
    out[at + n + pad] = '\n';
    size_t len = at + hlen;
    for (int k = 0; k < nfloats; k++, len += 4) put_f32(out + len, (float)(k + 1));
    return len;
}

/* The values of np.arange(n, dtype=float32) / np.float32(7), element k. */
static float arange_f32_over_7(int k) { return (float)k / 7.0f; }
/* The values of (np.arange(n) / 7).astype(float32): divided in double, rounded. */
static float arange_f64_over_7(int k) { return (float)((double)k / 7.0); }

/* ------------------------------------------------------------ expected values */

/* One line of npz_values.txt: the exact values of a NumPy array. */
typedef struct {
    char dtype[8];
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    int count;
    double values[64];     /* floats are exact in double; ints fit too */
} Expected;

static void expected_values(const char *file, const char *array, Expected *e)
{
    FILE *fp = fopen(FIXTURE("npz_values.txt"), "r");
    ck_assert_ptr_nonnull(fp);
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, fp)) {
        char *f = strtok(line, " \n"), *a = strtok(NULL, " \n");
        if (!f || !a || strcmp(f, file) != 0 || strcmp(a, array) != 0) continue;
        found = 1;
        snprintf(e->dtype, sizeof e->dtype, "%s", strtok(NULL, " \n"));
        e->ndim = atoi(strtok(NULL, " \n"));
        for (int k = 0; k < e->ndim; k++) e->shape[k] = strtoll(strtok(NULL, " \n"), NULL, 10);
        e->count = 0;
        for (char *v; (v = strtok(NULL, " \n")) != NULL && e->count < 64;)
            e->values[e->count++] = strtod(v, NULL);   /* reads C99 hex floats exactly */
    }
    fclose(fp);
    ck_assert_msg(found, "no values for %s %s in npz_values.txt", file, array);
}

static void check_against_expected(const Tensor *t, const char *file, const char *array)
{
    Expected e;
    expected_values(file, array, &e);
    ck_assert_msg(t != NULL, "%s has no array %s", file, array);
    ck_assert_str_eq(t->file_dtype, e.dtype);
    ck_assert_int_eq(t->ndim, e.ndim);
    for (int k = 0; k < e.ndim; k++) ck_assert_int_eq(t->shape[k], e.shape[k]);
    ck_assert_int_eq(t->size, e.count);
    for (int k = 0; k < e.count; k++) {
        if (t->dtype == DT_F32)
            ck_assert_msg(t->f[k] == (float)e.values[k], "%s[%d]: %a, NumPy has %a", array, k,
                          (double)t->f[k], e.values[k]);
        else
            ck_assert_int_eq(t->i[k], (int64_t)e.values[k]);
    }
}

/* ============================================================ npy: NumPy's files */

START_TEST(reads_f4)
{
    Tensor t;
    Error err;
    ck_assert_int_eq(npy_load(FIXTURE("npy_f4_arange.npy"), &t, &err), 0);
    ck_assert_int_eq(t.dtype, DT_F32);
    ck_assert_str_eq(t.file_dtype, "<f4");
    ck_assert_int_eq(t.ndim, 2);
    ck_assert_int_eq(t.shape[0], 3);
    ck_assert_int_eq(t.shape[1], 4);
    ck_assert_int_eq(t.size, 12);
    ck_assert_ptr_null(t.i);
    for (int k = 0; k < 12; k++) ck_assert(t.f[k] == arange_f32_over_7(k));
    tensor_free(&t);
    ck_assert_ptr_null(t.f);
}
END_TEST

START_TEST(reads_f8_as_f32)
{
    Tensor t;
    Error err;
    ck_assert_int_eq(npy_load(FIXTURE("npy_f8_arange.npy"), &t, &err), 0);
    ck_assert_int_eq(t.dtype, DT_F32);
    ck_assert_str_eq(t.file_dtype, "<f8");      /* kept as in the file */
    ck_assert_int_eq(t.ndim, 2);
    ck_assert_int_eq(t.shape[0], 2);
    ck_assert_int_eq(t.shape[1], 3);
    for (int k = 0; k < 6; k++) ck_assert(t.f[k] == arange_f64_over_7(k));
    tensor_free(&t);
}
END_TEST

START_TEST(reads_version_2_and_3d)
{
    Tensor t;
    Error err;
    ck_assert_int_eq(npy_load(FIXTURE("npy_v2_f4.npy"), &t, &err), 0);
    ck_assert_int_eq(t.ndim, 3);
    ck_assert_int_eq(t.shape[0], 2);
    ck_assert_int_eq(t.shape[1], 3);
    ck_assert_int_eq(t.shape[2], 4);
    for (int k = 0; k < 24; k++) ck_assert(t.f[k] == arange_f32_over_7(k));
    tensor_free(&t);
}
END_TEST

START_TEST(reads_scalar)
{
    Tensor t;
    Error err;
    char s[32];
    ck_assert_int_eq(npy_load(FIXTURE("npy_scalar_f8.npy"), &t, &err), 0);
    ck_assert_int_eq(t.ndim, 0);
    ck_assert_int_eq(t.size, 1);
    ck_assert_str_eq(tensor_shape_str(&t, s, sizeof s), "()");
    ck_assert(t.f[0] == (float)-0.1);
    tensor_free(&t);
}
END_TEST

START_TEST(reads_integer_types)
{
    Tensor t;
    Error err;
    char s[32];
    const int64_t i8[6] = {-(INT64_C(1) << 62), -1, 0, 1, INT64_C(1) << 40, INT64_C(1) << 62};
    ck_assert_int_eq(npy_load(FIXTURE("npy_i8.npy"), &t, &err), 0);
    ck_assert_int_eq(t.dtype, DT_I64);
    ck_assert_str_eq(t.file_dtype, "<i8");
    ck_assert_str_eq(tensor_shape_str(&t, s, sizeof s), "(6,)");
    ck_assert_ptr_null(t.f);
    for (int k = 0; k < 6; k++) ck_assert_int_eq(t.i[k], i8[k]);
    tensor_free(&t);

    const int64_t i4[6] = {INT32_MIN, -1, 0, 1, 7, INT32_MAX};
    ck_assert_int_eq(npy_load(FIXTURE("npy_i4.npy"), &t, &err), 0);
    ck_assert_str_eq(t.file_dtype, "<i4");
    ck_assert_str_eq(tensor_shape_str(&t, s, sizeof s), "(2, 3)");
    for (int k = 0; k < 6; k++) ck_assert_int_eq(t.i[k], i4[k]);
    tensor_free(&t);

    ck_assert_int_eq(npy_load(FIXTURE("npy_u1.npy"), &t, &err), 0);
    ck_assert_str_eq(t.file_dtype, "|u1");
    ck_assert_int_eq(t.size, 6);
    for (int k = 0; k < 6; k++) ck_assert_int_eq(t.i[k], 51 * k);   /* np.arange(0, 256, 51) */
    tensor_free(&t);

    const int64_t b1[5] = {1, 0, 0, 1, 1};
    ck_assert_int_eq(npy_load(FIXTURE("npy_b1.npy"), &t, &err), 0);
    ck_assert_int_eq(t.dtype, DT_I64);
    ck_assert_str_eq(t.file_dtype, "|b1");
    for (int k = 0; k < 5; k++) ck_assert_int_eq(t.i[k], b1[k]);
    tensor_free(&t);
}
END_TEST

/* The dict is a Python literal: order, quotes, spacing and commas vary. */
START_TEST(header_dict_variants)
{
    static const char *const dicts[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
        "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(3 , )}",
        "  {  'fortran_order' : False ,\t'descr' : '<f4' , 'shape' : ( 3, ) ,  }  ",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,)}",
    };
    unsigned char buf[512];
    for (int v = 1; v <= 3; v++)
        for (size_t d = 0; d < sizeof dicts / sizeof dicts[0]; d++) {
            Tensor t;
            Error err;
            size_t len = make_npy(buf, v, dicts[d], 3);
            int rc = npy_parse(buf, len, "hand.npy", &t, &err);
            ck_assert_msg(rc == 0, "version %d, dict %s: %s", v, dicts[d], err.msg);
            ck_assert_int_eq(t.size, 3);
            for (int k = 0; k < 3; k++) ck_assert(t.f[k] == (float)(k + 1));
            tensor_free(&t);
        }
}
END_TEST

START_TEST(shape_strings)
{
    Tensor t = {0};
    char s[64];
    t.ndim = 0;
    ck_assert_str_eq(tensor_shape_str(&t, s, sizeof s), "()");
    t.ndim = 1;
    t.shape[0] = 3;
    ck_assert_str_eq(tensor_shape_str(&t, s, sizeof s), "(3,)");
    t.ndim = 3;
    t.shape[1] = 0;
    t.shape[2] = 12345678901LL;
    ck_assert_str_eq(tensor_shape_str(&t, s, sizeof s), "(3, 0, 12345678901)");
    ck_assert_str_eq(tensor_shape_str(&t, s, 5), "(3, ");   /* cut, still a string */
}
END_TEST

START_TEST(load_mat_checks_shape_and_type)
{
    Mat m;
    Error err;
    ck_assert_int_eq(npy_load_mat(FIXTURE("npy_f4_arange.npy"), "--query", &m, &err), 0);
    ck_assert_int_eq(m.rows, 3);
    ck_assert_int_eq(m.cols, 4);
    ck_assert_int_eq(m.owner, 1);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) ck_assert(MAT_AT(m, r, c) == arange_f32_over_7(4 * r + c));
    mat_free(&m);

    ck_assert_int_eq(npy_load_mat(FIXTURE("npy_f8_arange.npy"), "--query", &m, &err), 0);
    ck_assert(MAT_AT(m, 1, 2) == arange_f64_over_7(5));
    mat_free(&m);

    char want[256];
    ck_assert_int_eq(npy_load_mat(FIXTURE("npy_v2_f4.npy"), "--query", &m, &err), -1);
    snprintf(want, sizeof want, "%s: --query must be 2-D, found shape (2, 3, 4)",
             FIXTURE("npy_v2_f4.npy"));
    ck_assert_str_eq(err.msg, want);
    ck_assert_ptr_null(m.data);
    ck_assert_int_eq(npy_load_mat(FIXTURE("npy_i8.npy"), "--query", &m, &err), -1);
    snprintf(want, sizeof want, "%s: --query must hold real numbers (<f4 or <f8), found <i8",
             FIXTURE("npy_i8.npy"));
    ck_assert_str_eq(err.msg, want);
    int rc = npy_load_mat(FIXTURE("no_such_file.npy"), "--query", &m, &err);
    ck_assert_error(rc, err, FIXTURE("no_such_file.npy"), "cannot open");
}
END_TEST

/* ============================================================ npy: round trips */

START_TEST(round_trip_f32_shapes)
{
    char path[256];
    float data[24];
    for (int k = 0; k < 24; k++) data[k] = (k % 2 ? -1.0f : 1.0f) * (float)k / 3.0f;
    const int64_t shapes[][3] = {{0}, {24}, {2, 3, 4}, {4, 6}, {0}, {2, 0}};
    const int ndims[] = {0, 1, 3, 2, 1, 2};
    for (int s = 0; s < 6; s++) {
        Tensor t;
        Error err;
        tmp_file(path, sizeof path, "rt.npy");
        ck_assert_int_eq(npy_save_f32(path, data, ndims[s], shapes[s], &err), 0);
        ck_assert_msg(npy_load(path, &t, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(t.file_dtype, "<f4");
        ck_assert_int_eq(t.ndim, ndims[s]);
        int64_t size = 1;
        for (int k = 0; k < ndims[s]; k++) {
            ck_assert_int_eq(t.shape[k], shapes[s][k]);
            size *= shapes[s][k];
        }
        ck_assert_int_eq(t.size, size);
        ck_assert_int_eq(memcmp(t.f, data, (size_t)size * sizeof(float)), 0);
        tensor_free(&t);
    }
}
END_TEST

START_TEST(round_trip_i64)
{
    char path[256];
    const int64_t data[4] = {INT64_MIN, -1, 50256, INT64_MAX};
    const int64_t shape[2] = {2, 2};
    Tensor t;
    Error err;
    tmp_file(path, sizeof path, "ids.npy");
    ck_assert_int_eq(npy_save_i64(path, data, 2, shape, &err), 0);
    ck_assert_int_eq(npy_load(path, &t, &err), 0);
    ck_assert_int_eq(t.dtype, DT_I64);
    ck_assert_str_eq(t.file_dtype, "<i8");
    for (int k = 0; k < 4; k++) ck_assert_int_eq(t.i[k], data[k]);
    tensor_free(&t);
}
END_TEST

START_TEST(round_trip_mat_view)
{
    char path[256];
    Mat big = mat_new(4, 6);
    for (int k = 0; k < 24; k++) big.data[k] = (float)k + 0.5f;
    Mat view = mat_block(big, 1, 2, 3, 3);     /* rows 1..3, cols 2..4: stride 6 */
    Error err;
    Mat back;
    tmp_file(path, sizeof path, "view.npy");
    ck_assert_int_eq(npy_save_mat(path, view, &err), 0);
    ck_assert_int_eq(npy_load_mat(path, "the view", &back, &err), 0);
    ck_assert_int_eq(back.rows, 3);
    ck_assert_int_eq(back.cols, 3);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)   /* big's element (r + 1, c + 2) */
            ck_assert(MAT_AT(back, r, c) == (float)(6 * (r + 1) + c + 2) + 0.5f);
    mat_free(&back);
    mat_free(&big);
}
END_TEST

/* Data starts at a multiple of 64 and the header ends in '\n', as NumPy
 * writes it; for arange(12)/7 the file is byte for byte NumPy's own. */
START_TEST(written_header_matches_numpy)
{
    char path[256];
    float data[12];
    for (int k = 0; k < 12; k++) data[k] = arange_f32_over_7(k);
    const int64_t shape[2] = {3, 4};
    Error err;
    size_t len, ref_len;
    tmp_file(path, sizeof path, "same.npy");
    ck_assert_int_eq(npy_save_f32(path, data, 2, shape, &err), 0);
    unsigned char *mine = read_bytes(path, &len);
    unsigned char *ref = read_bytes(FIXTURE("npy_f4_arange.npy"), &ref_len);
    size_t header = 10 + (size_t)(mine[8] | mine[9] << 8);
    ck_assert_int_eq(mine[6], 1);
    ck_assert_int_eq(mine[7], 0);
    ck_assert_uint_eq(header % 64, 0);
    ck_assert_int_eq(mine[header - 1], '\n');
    ck_assert_uint_eq(len, ref_len);
    ck_assert_int_eq(memcmp(mine, ref, len), 0);
    free(mine);
    free(ref);
}
END_TEST

/* ============================================================ npy: bad files */

/* Each hand-made header, and the words its message must contain. */
START_TEST(bad_headers_rejected)
{
    static const struct {
        const char *dict;
        int nfloats;
        const char *part;
    } cases[] = {
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (3,), }", 3, "broken header"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), ", 3, "broken header"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (3,), }", 3, "broken header"},
        {"{'descr': '<f4', 'fortran_order': False}", 3, "missing key 'shape'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", 3, "unknown key 'x'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", 3, "twice"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", 3, "not a tuple"},
        {"{'descr': '<f4', 'fortran_order': Nope, 'shape': (3,)}", 3, "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} junk", 3, "after the closing"},
        {"[1, 2, 3]", 3, "broken header"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (3,)}", 3, "fortran_order True"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (3,)}", 6, "unsupported dtype '<c8'"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (3,)}", 3, "big-endian"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}", 3, "structured"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3)}", 3, "negative dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", 3,
         "more elements than fit in 64 bits"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,)}", 3,
         "needs more than 2^63 bytes"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", 3,
         "too large for 64 bits"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 1,
         "more than 8 dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1000,)}", 3,
         "truncated: header promises 4000 bytes of data, file has 12"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 3,
         "header promises 8 bytes of data, file has 12"},
    };
    unsigned char buf[512];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Tensor t;
        Error err;
        size_t len = make_npy(buf, 1, cases[c].dict, cases[c].nfloats);
        int rc = npy_parse(buf, len, "bad.npy", &t, &err);
        ck_assert_error(rc, err, "bad.npy", cases[c].part);
        ck_assert_ptr_null(t.f);       /* nothing to free after a failure */
    }
}
END_TEST

/* The fixed preamble: magic, version, header length. */
START_TEST(bad_preambles_rejected)
{
    unsigned char good[512], buf[512];
    size_t len = make_npy(good, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", 3);
    Tensor t;
    Error err;
    int rc;

    memcpy(buf, good, len);
    buf[1] = 'X';
    rc = npy_parse(buf, len, "magic.npy", &t, &err);
    ck_assert_error(rc, err, "magic.npy", "wrong magic");

    rc = npy_parse(good, 20, "short.npy", &t, &err);
    ck_assert_error(rc, err, "short.npy", "truncated header");
    rc = npy_parse(good, 7, "tiny.npy", &t, &err);
    ck_assert_error(rc, err, "tiny.npy", "truncated header");
    rc = npy_parse(good, 0, "empty.npy", &t, &err);
    ck_assert_error(rc, err, "empty.npy", "truncated header");

    memcpy(buf, good, len);
    buf[6] = 9;
    rc = npy_parse(buf, len, "version.npy", &t, &err);
    ck_assert_error(rc, err, "version.npy", "unsupported .npy version 9.0");

    memcpy(buf, good, len);
    buf[8] = 0xff;
    buf[9] = 0xff;             /* a header of 65535 bytes in a 76-byte file */
    rc = npy_parse(buf, len, "hlen.npy", &t, &err);
    ck_assert_error(rc, err, "hlen.npy", "truncated header");
}
END_TEST

/* NumPy's own file, cut short on disk: the message names the file. */
START_TEST(truncated_files_rejected)
{
    char path[256];
    size_t len;
    unsigned char *b = read_bytes(FIXTURE("npy_f4_arange.npy"), &len);
    Tensor t;
    Error err;
    int rc;
    tmp_file(path, sizeof path, "Q.npy");

    write_bytes(path, b, len - 4);
    rc = npy_load(path, &t, &err);
    ck_assert_error(rc, err, path, "truncated: header promises 48 bytes of data, file has 44");

    write_bytes(path, b, 40);
    rc = npy_load(path, &t, &err);
    ck_assert_error(rc, err, path, "truncated header");

    write_bytes(path, b, 0);
    rc = npy_load(path, &t, &err);
    ck_assert_error(rc, err, path, "truncated header");
    free(b);

    rc = npy_load(tmp_dir, &t, &err);         /* a directory is no file */
    ck_assert_error(rc, err, tmp_dir, "cannot");
}
END_TEST

/* ============================================================ npy: failed writes */

START_TEST(write_into_missing_directory)
{
    char path[256];
    const float x[2] = {1, 2};
    const int64_t shape[1] = {2};
    Error err;
    tmp_file(path, sizeof path, "missing/x.npy");
    int rc = npy_save_f32(path, x, 1, shape, &err);
    ck_assert_error(rc, err, path, "cannot write");
    ck_assert_int_eq(files_in_tmp_dir(), 0);

    Mat m = mat_wrap((float *)x, 1, 2);
    rc = npy_save_mat(path, m, &err);
    ck_assert_error(rc, err, path, "cannot write");
    ck_assert_int_eq(files_in_tmp_dir(), 0);
}
END_TEST

/* Makes the next writes fail once a file grows past `bytes`, the way a full
 * disk would: the process may not make files that large (write gives EFBIG). */
static struct rlimit saved_limit;

static void limit_file_size(rlim_t bytes)
{
    struct rlimit r;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved_limit), 0);
    r = saved_limit;
    r.rlim_cur = bytes;
    signal(SIGXFSZ, SIG_IGN);         /* fail the write instead of killing us */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &r), 0);
}

static void unlimit_file_size(void)
{
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved_limit), 0);
    signal(SIGXFSZ, SIG_DFL);
}

START_TEST(failed_write_keeps_old_file)
{
    char path[256];
    const float good[3] = {1, 2, 3};
    const int64_t good_shape[1] = {3};
    static float big[4096];
    const int64_t big_shape[2] = {64, 64};
    const int64_t bad_shape[1] = {-3};
    Error err;
    Tensor t;
    int rc;
    tmp_file(path, sizeof path, "keep.npy");
    ck_assert_int_eq(npy_save_f32(path, good, 1, good_shape, &err), 0);

    rc = npy_save_f32(path, big, 1, bad_shape, &err);          /* refused before writing */
    ck_assert_error(rc, err, path, "negative dimension");

    limit_file_size(1000);                                     /* fails half-way through */
    rc = npy_save_f32(path, big, 2, big_shape, &err);
    unlimit_file_size();
    ck_assert_error(rc, err, path, "write failed");

    ck_assert_int_eq(files_in_tmp_dir(), 1);                   /* no temporary left */
    ck_assert_int_eq(npy_load(path, &t, &err), 0);
    ck_assert_int_eq(t.size, 3);
    ck_assert_int_eq(memcmp(t.f, good, sizeof good), 0);
    tensor_free(&t);
}
END_TEST

/* ============================================================ npz: NumPy's files */

static void check_npz_fixture(const char *path, const char *file, int count)
{
    Npz z;
    Error err;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(z.count, count);
    static const char *const names[] = {"x", "ids", "mask", "y"};
    for (int k = 0; k < 4; k++) check_against_expected(npz_get(&z, names[k]), file, names[k]);
    ck_assert_ptr_null(npz_get(&z, "absent"));
    ck_assert_ptr_null(npz_get(&z, "x.npy"));     /* names lose their suffix */
    if (count == 5) {
        const Tensor *zeros = npz_get(&z, "zeros");
        ck_assert_ptr_nonnull(zeros);
        ck_assert_int_eq(zeros->size, 256);
        for (int k = 0; k < 256; k++) ck_assert(zeros->f[k] == 0.0f);
    }
    npz_free(&z);
    ck_assert_int_eq(z.count, 0);
}

START_TEST(reads_savez)
{
    check_npz_fixture(FIXTURE("npz_savez.npz"), "npz_savez.npz", 4);
}
END_TEST

START_TEST(reads_savez_compressed)
{
    check_npz_fixture(FIXTURE("npz_compressed.npz"), "npz_compressed.npz", 5);
}
END_TEST

/* Saturated 32-bit fields, the real values in ZIP64 extra fields, and a
 * ZIP64 end record: the layout NumPy switches to for very large archives. */
START_TEST(reads_zip64)
{
    Npz z;
    Error err;
    ck_assert_msg(npz_load(FIXTURE("npz_zip64.npz"), &z, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(z.count, 1);
    const Tensor *a = npz_get(&z, "a");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->file_dtype, "<i8");
    ck_assert_int_eq(a->size, 5);
    for (int k = 0; k < 5; k++) ck_assert_int_eq(a->i[k], k);     /* np.arange(5) */
    npz_free(&z);
}
END_TEST

/* ============================================================ npz: round trips */

START_TEST(npz_round_trip)
{
    char path[256];
    float x[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
    int64_t ids[4] = {0, 50256, -7, INT64_MAX};
    float scalar = 0.125f;
    float cube[24];
    for (int k = 0; k < 24; k++) cube[k] = (float)k / 7.0f;
    Mat big = mat_new(3, 5);
    for (int k = 0; k < 15; k++) big.data[k] = (float)k;
    const int64_t xs[2] = {2, 3}, is[1] = {4}, cs[3] = {2, 3, 4}, es[1] = {0};

    NpzWriter w;
    npz_writer_init(&w);
    npz_add_f32(&w, "x", x, 2, xs);
    npz_add_i64(&w, "ids", ids, 1, is);
    npz_add_f32(&w, "scalar", &scalar, 0, NULL);
    npz_add_f32(&w, "cube", cube, 3, cs);
    npz_add_f32(&w, "empty", NULL, 1, es);
    npz_add_mat(&w, "view", mat_cols(big, 1, 2));   /* [1 2; 6 7; 11 12], stride 5 */
    x[0] = 99.0f;                                   /* the writer holds its own copy */
    ids[1] = 99;
    big.data[1] = 99.0f;
    Error err;
    tmp_file(path, sizeof path, "out.npz");
    ck_assert_msg(npz_write(&w, path, &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
    ck_assert_int_eq(w.count, 0);

    Npz z;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(z.count, 6);
    ck_assert_str_eq(z.names[0], "x");
    const Tensor *t = npz_get(&z, "x");
    ck_assert_int_eq(t->ndim, 2);
    ck_assert(t->f[0] == 1.5f);
    ck_assert_int_eq(memcmp(t->f + 1, x + 1, 5 * sizeof(float)), 0);
    t = npz_get(&z, "ids");
    ck_assert_str_eq(t->file_dtype, "<i8");
    ck_assert_int_eq(t->i[1], 50256);
    ck_assert_int_eq(t->i[3], INT64_MAX);
    t = npz_get(&z, "scalar");
    ck_assert_int_eq(t->ndim, 0);
    ck_assert(t->f[0] == 0.125f);
    t = npz_get(&z, "cube");
    ck_assert_int_eq(t->shape[2], 4);
    ck_assert_int_eq(memcmp(t->f, cube, sizeof cube), 0);
    t = npz_get(&z, "empty");
    ck_assert_int_eq(t->size, 0);
    t = npz_get(&z, "view");
    ck_assert_int_eq(t->shape[0], 3);
    ck_assert_int_eq(t->shape[1], 2);
    const float view[6] = {1, 2, 6, 7, 11, 12};
    ck_assert_int_eq(memcmp(t->f, view, sizeof view), 0);
    npz_free(&z);
    mat_free(&big);
}
END_TEST

START_TEST(npz_empty_round_trip)
{
    char path[256];
    NpzWriter w;
    Npz z;
    Error err;
    npz_writer_init(&w);
    tmp_file(path, sizeof path, "none.npz");
    ck_assert_int_eq(npz_write(&w, path, &err), 0);
    ck_assert_int_eq(npz_load(path, &z, &err), 0);
    ck_assert_int_eq(z.count, 0);
    npz_free(&z);
    npz_writer_free(&w);
}
END_TEST

/* ============================================================ npz: bad files */

/* Where the zip's records are, found by their signatures ("PK\1\2" is a
 * central directory entry): enough to damage one field on purpose. */
static size_t find_sig(const unsigned char *b, size_t len, const char *sig, int nth)
{
    for (size_t k = 0; k + 4 <= len; k++)
        if (memcmp(b + k, sig, 4) == 0 && nth-- == 0) return k;
    ck_abort_msg("signature not found");
    return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define LOCAL "PK\3\4"
#define CENTRAL "PK\1\2"
#define END "PK\5\6"

/* A fixture's bytes, damaged by `damage`, saved as tmp/<name>; npz_load
 * must fail with a message naming the file and containing `part`. */
static void check_damaged(const char *fixture, const char *name,
                          void (*damage)(unsigned char *, size_t *), const char *part)
{
    char path[256];
    size_t len;
    unsigned char *b = read_bytes(fixture, &len);
    damage(b, &len);
    tmp_file(path, sizeof path, name);
    write_bytes(path, b, len);
    free(b);
    Npz z;
    Error err;
    int rc = npz_load(path, &z, &err);
    ck_assert_error(rc, err, path, part);
    ck_assert_int_eq(z.count, 0);
}

static void flip_data_byte(unsigned char *b, size_t *len)
{
    (void)len;
    b[200] ^= 0x01;                  /* inside x.npy's floats: bytes 183 to 230 */
}

static void flip_both_crcs(unsigned char *b, size_t *len)
{
    size_t local = find_sig(b, *len, LOCAL, 0), central = find_sig(b, *len, CENTRAL, 0);
    put_u32(b + local + 14, get_u32(b + local + 14) ^ 1);
    put_u32(b + central + 16, get_u32(b + central + 16) ^ 1);
}

static void cut_in_half(unsigned char *b, size_t *len)
{
    (void)b;
    *len /= 2;
}

static void cut_end_record(unsigned char *b, size_t *len)
{
    (void)b;
    *len -= 10;
}

/* The size declared for x.npy, lowered in both headers: inflating must stop. */
static void shrink_declared_size(unsigned char *b, size_t *len)
{
    size_t local = find_sig(b, *len, LOCAL, 0), central = find_sig(b, *len, CENTRAL, 0);
    put_u32(b + local + 22, get_u32(b + local + 22) - 10);
    put_u32(b + central + 24, get_u32(b + central + 24) - 10);
}

/* x.npy claims to inflate to 1 GB: more than deflate can make of its bytes. */
static void absurd_declared_size(unsigned char *b, size_t *len)
{
    size_t local = find_sig(b, *len, LOCAL, 0), central = find_sig(b, *len, CENTRAL, 0);
    put_u32(b + local + 22, 1000000000u);
    put_u32(b + central + 24, 1000000000u);
}

static void grow_declared_size(unsigned char *b, size_t *len)
{
    size_t local = find_sig(b, *len, LOCAL, 0), central = find_sig(b, *len, CENTRAL, 0);
    put_u32(b + local + 22, get_u32(b + local + 22) + 10);
    put_u32(b + central + 24, get_u32(b + central + 24) + 10);
}

/* The last entry (y.npy) claims 64 more bytes, in both headers: its data
 * would run into the central directory. */
static void grow_last_entry(unsigned char *b, size_t *len)
{
    size_t local = find_sig(b, *len, LOCAL, 3), central = find_sig(b, *len, CENTRAL, 3);
    for (int k = 0; k < 2; k++) {
        put_u32(b + local + 18 + 4 * k, get_u32(b + local + 18 + 4 * k) + 64);
        put_u32(b + central + 20 + 4 * k, get_u32(b + central + 20 + 4 * k) + 64);
    }
}

static void absurd_local_offset(unsigned char *b, size_t *len)
{
    put_u32(b + find_sig(b, *len, CENTRAL, 1) + 42, 0x7ffffff0u);
}

static void absurd_directory_offset(unsigned char *b, size_t *len)
{
    put_u32(b + find_sig(b, *len, END, 0) + 16, 0x7ffffff0u);
}

static void absurd_entry_count(unsigned char *b, size_t *len)
{
    size_t end = find_sig(b, *len, END, 0);
    b[end + 8] = b[end + 10] = 0xfe;
    b[end + 9] = b[end + 11] = 0xff;
}

static void mismatched_local_name(unsigned char *b, size_t *len)
{
    b[find_sig(b, *len, LOCAL, 1) + 30] = 'Z';     /* "ids.npy" -> "Zds.npy" */
}

START_TEST(damaged_npz_rejected)
{
    const char *stored = FIXTURE("npz_savez.npz"), *deflated = FIXTURE("npz_compressed.npz");
    check_damaged(stored, "crc.npz", flip_data_byte, "entry 'x.npy': CRC-32 mismatch");
    check_damaged(deflated, "crc2.npz", flip_both_crcs, "entry 'x.npy': CRC-32 mismatch");
    check_damaged(stored, "half.npz", cut_in_half, "no end-of-central-directory record");
    check_damaged(deflated, "cut.npz", cut_end_record, "no end-of-central-directory record");
    check_damaged(deflated, "bomb.npz", shrink_declared_size,
                  "entry 'x.npy': it inflates to more bytes than the central directory declares");
    check_damaged(deflated, "grow.npz", grow_declared_size, "fewer bytes");
    check_damaged(deflated, "huge.npz", absurd_declared_size,
                  "entry 'x.npy': declares more bytes than its compressed data can hold");
    check_damaged(stored, "grow2.npz", grow_declared_size, "entry 'x.npy'");
    check_damaged(stored, "long.npz", grow_last_entry,
                  "entry 'y.npy': its 232 bytes of data run past the start of the central");
    check_damaged(stored, "offset.npz", absurd_local_offset,
                  "entry 'ids.npy': local header offset 2147483632 is outside");
    check_damaged(stored, "cd.npz", absurd_directory_offset, "lies outside the archive");
    check_damaged(stored, "count.npz", absurd_entry_count, "claims 65534 entries");
    check_damaged(stored, "name.npz", mismatched_local_name, "another name");
}
END_TEST

/* A zip may end with a comment, which may even contain what looks like an
 * end record; the real one is where the comment runs exactly to the end. */
START_TEST(npz_with_comment)
{
    static const char comment[] = "PK\5\6 is how an end record starts";
    char path[256];
    size_t len;
    unsigned char *b = read_bytes(FIXTURE("npz_savez.npz"), &len);
    b = realloc(b, len + sizeof comment);
    memcpy(b + len, comment, sizeof comment);
    b[len - 2] = (unsigned char)sizeof comment;          /* the comment's length */
    tmp_file(path, sizeof path, "comment.npz");
    write_bytes(path, b, len + sizeof comment);
    free(b);
    Npz z;
    Error err;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(z.count, 4);
    check_against_expected(npz_get(&z, "x"), "npz_savez.npz", "x");
    npz_free(&z);
}
END_TEST

START_TEST(npz_entry_not_npy)
{
    Npz z;
    Error err;
    int rc = npz_load(FIXTURE("npz_bad_entry.npz"), &z, &err);
    ck_assert_error(rc, err, FIXTURE("npz_bad_entry.npz"), "entry 'bad.npy': not a .npy file");
    rc = npz_load(FIXTURE("npy_f4_arange.npy"), &z, &err);
    ck_assert_error(rc, err, FIXTURE("npy_f4_arange.npy"), "not a zip archive");
    rc = npz_load(FIXTURE("no_such_file.npz"), &z, &err);
    ck_assert_error(rc, err, FIXTURE("no_such_file.npz"), "cannot open");
}
END_TEST

/* Two directory entries naming the same bytes: the trick of zip bombs. And
 * an entry whose name is not <name>.npy. Both made from a C-written file. */
START_TEST(npz_overlap_and_names_rejected)
{
    char path[256];
    const float a[2] = {1, 2};
    const int64_t shape[1] = {2};
    NpzWriter w;
    Error err;
    Npz z;
    npz_writer_init(&w);
    npz_add_f32(&w, "a", a, 1, shape);
    npz_add_f32(&w, "b", a, 1, shape);
    tmp_file(path, sizeof path, "ab.npz");
    ck_assert_int_eq(npz_write(&w, path, &err), 0);
    npz_writer_free(&w);
    size_t len;
    unsigned char *b = read_bytes(path, &len);
    size_t c0 = find_sig(b, len, CENTRAL, 0), c1 = find_sig(b, len, CENTRAL, 1);

    unsigned char *copy = malloc(len);
    memcpy(copy, b, len);
    memcpy(copy + c1, copy + c0, c1 - c0);            /* entry 2 := entry 1 */
    tmp_file(path, sizeof path, "overlap.npz");
    write_bytes(path, copy, len);
    int rc = npz_load(path, &z, &err);
    ck_assert_error(rc, err, path, "entries 'a.npy' and 'a.npy' overlap");

    memcpy(copy, b, len);
    memcpy(copy + find_sig(copy, len, LOCAL, 1) + 30 + 2, "txt", 3);   /* b.npy -> b.txt */
    memcpy(copy + c1 + 46 + 2, "txt", 3);
    tmp_file(path, sizeof path, "txt.npz");
    write_bytes(path, copy, len);
    rc = npz_load(path, &z, &err);
    ck_assert_error(rc, err, path, "entry 'b.txt' is not a .npy array");

    memcpy(copy, b, len);
    memcpy(copy + find_sig(copy, len, LOCAL, 1) + 30, "a", 1);         /* b.npy -> a.npy */
    memcpy(copy + c1 + 46, "a", 1);
    tmp_file(path, sizeof path, "dup.npz");
    write_bytes(path, copy, len);
    rc = npz_load(path, &z, &err);
    ck_assert_error(rc, err, path, "two entries are named 'a.npy'");
    free(copy);
    free(b);
}
END_TEST

/* ============================================================ npz: failed writes */

START_TEST(npz_write_failures)
{
    char path[256];
    const float x[3] = {1, 2, 3};
    static float big[4096];
    const int64_t shape[1] = {3}, big_shape[1] = {4096}, bad[2] = {2, -1};
    NpzWriter w;
    Error err;
    int rc;

    npz_writer_init(&w);
    npz_add_f32(&w, "x", x, 1, shape);
    tmp_file(path, sizeof path, "missing/out.npz");
    rc = npz_write(&w, path, &err);
    ck_assert_error(rc, err, path, "cannot write");
    ck_assert_int_eq(files_in_tmp_dir(), 0);

    tmp_file(path, sizeof path, "keep.npz");
    ck_assert_int_eq(npz_write(&w, path, &err), 0);

    npz_add_f32(&w, "bad", x, 2, bad);                 /* reported by npz_write */
    rc = npz_write(&w, path, &err);
    ck_assert_error(rc, err, path, "array 'bad': shape (2, -1) has a negative dimension");
    npz_writer_free(&w);

    npz_add_f32(&w, "big", big, 1, big_shape);
    limit_file_size(1000);
    rc = npz_write(&w, path, &err);
    unlimit_file_size();
    ck_assert_error(rc, err, path, "write failed");
    npz_add_f32(&w, "big", big, 1, big_shape);
    rc = npz_write(&w, path, &err);
    ck_assert_error(rc, err, path, "two arrays are named 'big'");
    npz_writer_free(&w);

    ck_assert_int_eq(files_in_tmp_dir(), 1);
    Npz z;
    ck_assert_int_eq(npz_load(path, &z, &err), 0);
    ck_assert_int_eq(z.count, 1);
    ck_assert_int_eq(memcmp(npz_get(&z, "x")->f, x, sizeof x), 0);
    npz_free(&z);
}
END_TEST

/* ============================================================ suites */

Suite *npy_suite(void)
{
    Suite *s = suite_create("npy");
    TCase *numpy = tcase_create("files written by NumPy");
    tcase_add_test(numpy, reads_f4);
    tcase_add_test(numpy, reads_f8_as_f32);
    tcase_add_test(numpy, reads_version_2_and_3d);
    tcase_add_test(numpy, reads_scalar);
    tcase_add_test(numpy, reads_integer_types);
    tcase_add_test(numpy, header_dict_variants);
    tcase_add_test(numpy, shape_strings);
    tcase_add_test(numpy, load_mat_checks_shape_and_type);
    suite_add_tcase(s, numpy);

    TCase *files = tcase_create("writing, and bad files");
    tcase_add_checked_fixture(files, make_tmp_dir, remove_tmp_dir);
    tcase_add_test(files, round_trip_f32_shapes);
    tcase_add_test(files, round_trip_i64);
    tcase_add_test(files, round_trip_mat_view);
    tcase_add_test(files, written_header_matches_numpy);
    tcase_add_test(files, bad_headers_rejected);
    tcase_add_test(files, bad_preambles_rejected);
    tcase_add_test(files, truncated_files_rejected);
    tcase_add_test(files, write_into_missing_directory);
    tcase_add_test(files, failed_write_keeps_old_file);
    suite_add_tcase(s, files);
    return s;
}

Suite *npz_suite(void)
{
    Suite *s = suite_create("npz");
    TCase *numpy = tcase_create("files written by NumPy");
    tcase_add_test(numpy, reads_savez);
    tcase_add_test(numpy, reads_savez_compressed);
    tcase_add_test(numpy, reads_zip64);
    tcase_add_test(numpy, npz_entry_not_npy);
    suite_add_tcase(s, numpy);

    TCase *files = tcase_create("writing, and bad files");
    tcase_add_checked_fixture(files, make_tmp_dir, remove_tmp_dir);
    tcase_add_test(files, npz_round_trip);
    tcase_add_test(files, npz_empty_round_trip);
    tcase_add_test(files, npz_with_comment);
    tcase_add_test(files, damaged_npz_rejected);
    tcase_add_test(files, npz_overlap_and_names_rejected);
    tcase_add_test(files, npz_write_failures);
    suite_add_tcase(s, files);
    return s;
}
