/*
 * test_masking.c - chapter 3's masks and masked attention: the mask builders
 * and mask_apply against hand-written expectations, masked attention against
 * hand arithmetic and against PyTorch (tests/fixtures/make_ch03_ref.py), both
 * as a function and through the program build/bin/ch03 with .npy files, and
 * ch03's command-line contract.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "masking.h"
#include "npy.h"

/* Checks every entry of m (R, C) against want (R * C values, row-major). */
static void assert_mat_is(Mat m, const float *want, const char *what)
{
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < m.cols; j++)
            ck_assert_msg(MAT_AT(m, i, j) == want[i * m.cols + j], "%s[%d,%d] = %g, want %g", what,
                          i, j, (double)MAT_AT(m, i, j), (double)want[i * m.cols + j]);
}

/* ------------------------------------------------------ the mask builders */

START_TEST(causal_by_hand)
{
    /* L = 3 queries, S = 4 keys: query i sees keys 0..i. Starting from
     * garbage shows that every entry is written. */
    const float want[] = {0, 1, 1, 1,
                          0, 0, 1, 1,
                          0, 0, 0, 1};
    Mat m = mat_new(3, 4);
    mat_fill(m, 7.0f);
    mask_causal(m);
    assert_mat_is(m, want, "causal (3, 4)");
    mat_free(&m);
}
END_TEST

START_TEST(padding_by_hand)
{
    const float len2[] = {0, 0, 1, 1, 1,
                          0, 0, 1, 1, 1};
    const float len0[] = {1, 1, 1, 1, 1,
                          1, 1, 1, 1, 1};
    const float len5[] = {0, 0, 0, 0, 0,
                          0, 0, 0, 0, 0};
    Mat m = mat_new(2, 5);
    mat_fill(m, 7.0f);
    mask_padding(m, 2);
    assert_mat_is(m, len2, "padding length 2");
    mask_padding(m, 0);
    assert_mat_is(m, len0, "padding length 0");
    mask_padding(m, 5);
    assert_mat_is(m, len5, "padding length 5");
    mat_free(&m);
}
END_TEST

START_TEST(combine_by_hand)
{
    /* Any nonzero entry counts as true; the result is 0 or 1. */
    const float av[] = {0, 2, 0,
                        -1, 0, 0};
    const float bv[] = {0, 0, 1,
                        1, 0, 0.5f};
    const float want[] = {0, 1, 1,
                          1, 0, 1};
    Mat a = mat_from(2, 3, av), b = mat_from(2, 3, bv), dst = mat_new(2, 3);
    mask_combine(dst, a, b);
    assert_mat_is(dst, want, "a OR b");
    mask_combine(a, a, b);   /* in place */
    assert_mat_is(a, want, "a OR b, in place");
    mat_free(&a);
    mat_free(&b);
    mat_free(&dst);
}
END_TEST

START_TEST(apply_by_hand)
{
    const float sv[] = {1.5f, -2.0f, 0.0f,
                        3.0f, 0.25f, -7.0f};
    const float mv[] = {0, 1, 0,
                        2, 0, -1};
    const float want[] = {1.5f, -INFINITY, 0.0f,
                          -INFINITY, 0.25f, -INFINITY};
    Mat s = mat_from(2, 3, sv), m = mat_from(2, 3, mv);
    mask_apply(s, m);
    assert_mat_is(s, want, "masked scores");
    mat_free(&s);
    mat_free(&m);
}
END_TEST

/* ------------------------------------------- masked attention by hand */

/* Q rows (1, 0), (0, 1); K rows (1, 0), (0, 1), (1, 1); V rows (1, 2), (3, 4),
 * (5, 6); D = 2, so the scores are Q K^T / sqrt(2), with a = 1/sqrt(2):
 *   row 0: (a, 0, a)   row 1: (0, a, a). */
static const float QV[] = {1, 0, 0, 1};
static const float KV[] = {1, 0, 0, 1, 1, 1};
static const float VV[] = {1, 2, 3, 4, 5, 6};

START_TEST(forward_by_hand)
{
    /* Row 0 blocks key 2: weights (e^a, 1, 0) / (e^a + 1)
     *   = (0.66976155, 0.33023845, 0), output (1, 2) + 0.33023845 (2, 2)
     *   = (1.6604769, 2.6604769).
     * Row 1 blocks every key: weights 0 and output 0, not NaN. */
    const float maskv[] = {0, 0, 1,
                           1, 1, 1};
    Mat q = mat_from(2, 2, QV), k = mat_from(3, 2, KV), v = mat_from(3, 2, VV);
    Mat mask = mat_from(2, 3, maskv), w = mat_new(2, 3), out = mat_new(2, 2);
    masked_attention_forward(out, w, q, k, v, &mask);
    ck_assert_double_eq_tol(MAT_AT(w, 0, 0), 0.66976155, 1e-7);
    ck_assert_double_eq_tol(MAT_AT(w, 0, 1), 0.33023845, 1e-7);
    ck_assert(MAT_AT(w, 0, 2) == 0.0f);
    ck_assert_double_eq_tol(MAT_AT(out, 0, 0), 1.6604769, 1e-6);
    ck_assert_double_eq_tol(MAT_AT(out, 0, 1), 2.6604769, 1e-6);
    for (int j = 0; j < 3; j++) ck_assert(MAT_AT(w, 1, j) == 0.0f);
    for (int j = 0; j < 2; j++) ck_assert(MAT_AT(out, 1, j) == 0.0f);
    mat_free(&q);
    mat_free(&k);
    mat_free(&v);
    mat_free(&mask);
    mat_free(&w);
    mat_free(&out);
}
END_TEST

START_TEST(forward_without_mask_by_hand)
{
    /* mask NULL: row 0 weights (e^a, 1, e^a) / (2 e^a + 1)
     *   = (0.40111209, 0.19777581, 0.40111209); keys 0 and 2 weigh the same,
     * so the output is the middle of (1, 2) and (5, 6) pulled toward (3, 4):
     * exactly (3, 4). */
    Mat q = mat_from(2, 2, QV), k = mat_from(3, 2, KV), v = mat_from(3, 2, VV);
    Mat w = mat_new(2, 3), out = mat_new(2, 2);
    masked_attention_forward(out, w, q, k, v, NULL);
    ck_assert_double_eq_tol(MAT_AT(w, 0, 0), 0.40111209, 1e-7);
    ck_assert_double_eq_tol(MAT_AT(w, 0, 1), 0.19777581, 1e-7);
    ck_assert_double_eq_tol(MAT_AT(w, 0, 2), 0.40111209, 1e-7);
    ck_assert_double_eq_tol(MAT_AT(out, 0, 0), 3.0, 1e-6);
    ck_assert_double_eq_tol(MAT_AT(out, 0, 1), 4.0, 1e-6);
    mat_free(&q);
    mat_free(&k);
    mat_free(&v);
    mat_free(&w);
    mat_free(&out);
}
END_TEST

/* ------------------------------------------------------ against PyTorch */

typedef struct {
    const char *name;   /* files tests/fixtures/ch03_NAME_*.npy */
    int has_mask;       /* 1 if ch03_NAME_mask.npy exists */
    int causal;         /* 1 if the case adds the causal mask */
} Case;

static const Case CASES[] = {
    {"pad", 1, 0}, {"causal", 0, 1}, {"both", 1, 1}, {"rect", 1, 0}, {"rectc", 1, 1},
};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

static void fixture_path(char *path, size_t cap, const char *name, const char *part)
{
    snprintf(path, cap, "tests/fixtures/ch03_%s_%s.npy", name, part);
}

static Mat load(const char *name, const char *part)
{
    char file[128];
    snprintf(file, sizeof file, "ch03_%s_%s.npy", name, part);
    return load_fixture(file);
}

/* The case's whole mask (L, S) as 0s and 1s: the file's mask (bool or
 * integer, nonzero = blocked), OR the causal mask. */
static Mat case_mask(const Case *c, int rows, int cols)
{
    Mat mask = mat_new(rows, cols);
    if (c->has_mask) {
        char path[256];
        fixture_path(path, sizeof path, c->name, "mask");
        Tensor t = load_tensor(path);
        ck_assert_int_eq(t.dtype, DT_I64);
        ck_assert_int_eq(t.ndim, 2);
        ck_assert_int_eq(t.shape[0], rows);
        ck_assert_int_eq(t.shape[1], cols);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                MAT_AT(mask, i, j) = t.i[i * cols + j] != 0 ? 1.0f : 0.0f;
        tensor_free(&t);
    }
    if (c->causal) {
        Mat causal = mat_new(rows, cols);
        mask_causal(causal);
        mask_combine(mask, mask, causal);
        mat_free(&causal);
    }
    return mask;
}

START_TEST(matches_torch)
{
    const Case *c = &CASES[_i];
    Mat q = load(c->name, "q"), k = load(c->name, "k"), v = load(c->name, "v");
    Mat want_out = load(c->name, "out"), want_attn = load(c->name, "attn");
    Mat mask = case_mask(c, q.rows, k.rows);
    Mat out = mat_new(q.rows, v.cols), w = mat_new(q.rows, k.rows);
    masked_attention_forward(out, w, q, k, v, &mask);
    assert_mat_close(out, want_out, 1e-5, 0, c->name, "PyTorch");
    assert_mat_close(w, want_attn, 1e-5, 0, c->name, "PyTorch");
    Mat *all[] = {&q, &k, &v, &want_out, &want_attn, &mask, &out, &w};
    for (size_t p = 0; p < sizeof all / sizeof all[0]; p++) mat_free(all[p]);
}
END_TEST

/* ------------------------------------------------- the program, ch03 */

START_TEST(program_matches_torch)
{
    const Case *c = &CASES[_i];
    char dir[] = "/tmp/ch03-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char mask_opt[256] = "";
    if (c->has_mask) snprintf(mask_opt, sizeof mask_opt, "--mask tests/fixtures/ch03_%s_mask.npy", c->name);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s/ch03 --query tests/fixtures/ch03_%s_q.npy --key tests/fixtures/ch03_%s_k.npy "
             "--value tests/fixtures/ch03_%s_v.npy %s %s --output %s/o.npy --attn %s/a.npy "
             ">/dev/null",
             bin_dir(), c->name, c->name, c->name, mask_opt, c->causal ? "--causal" : "", dir, dir);
    ck_assert_int_eq(run_shell(cmd), 0);
    Mat o = load_written(dir, "o.npy"), a = load_written(dir, "a.npy");
    rmdir(dir);
    Mat want_o = load(c->name, "out"), want_a = load(c->name, "attn");
    assert_mat_close(o, want_o, 1e-5, 0, "ch03 --output", "PyTorch");
    assert_mat_close(a, want_a, 1e-5, 0, "ch03 --attn", "PyTorch");
    mat_free(&o);
    mat_free(&a);
    mat_free(&want_o);
    mat_free(&want_a);
}
END_TEST

/* Runs ch03 with `args`, expects exit `code` and every needle in its stderr. */
static void expect_failure(const char *args, int code, const char *needle, const char *needle2)
{
    static char msg[1 << 16];
    int rc = run_program("ch03", args, msg, sizeof msg);
    check_failure("ch03", args, rc, code, msg, needle, ONE_LINE);
    if (needle2) ck_assert_msg(strstr(msg, needle2) != NULL, "expected '%s' in: %s", needle2, msg);
}

#define QKV                                                                         \
    "--query tests/fixtures/ch03_pad_q.npy --key tests/fixtures/ch03_pad_k.npy " \
    "--value tests/fixtures/ch03_pad_v.npy "

START_TEST(program_contract_errors)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s/ch03 --help >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);
    /* usage errors */
    expect_failure("--no-such-option", 2, "--no-such-option", NULL);
    expect_failure(QKV "--mask", 2, "--mask", NULL);
    expect_failure(QKV "--causal=yes", 2, "--causal", NULL);
    expect_failure("--mask tests/fixtures/ch03_pad_mask.npy", 2, "--mask", "--query");
    expect_failure("--causal", 2, "--causal", NULL);
    expect_failure("--query tests/fixtures/ch03_pad_q.npy --causal", 2, "--key", NULL);
    /* data errors */
    expect_failure(QKV "--mask tests/fixtures/ch03_float_mask.npy", 1, "ch03_float_mask.npy",
                   "bool");
    expect_failure(QKV "--mask tests/fixtures/ch03_rect_mask.npy", 1, "ch03_rect_mask.npy",
                   "(3, 7)");
    expect_failure(QKV "--mask tests/fixtures/ch03_rect_mask.npy", 1, "(5, 5)", NULL);
    expect_failure(QKV "--mask tests/fixtures/npy_b1.npy", 1, "npy_b1.npy", "(5,)");
    expect_failure(QKV "--mask /nonexistent/m.npy", 1, "/nonexistent/m.npy", NULL);
    expect_failure(QKV "--causal --mask tests/fixtures/ch03_pad_mask.npy "
                   "--output /nonexistent-dir/o.npy", 1, "/nonexistent-dir/o.npy", NULL);
    expect_failure("--query tests/fixtures/ch03_pad_q.npy --key tests/fixtures/ch03_rect_k.npy "
                   "--value tests/fixtures/ch03_rect_v.npy --causal", 1, "width", NULL);
}
END_TEST

START_TEST(program_demo_runs)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/ch03 --plot none >/tmp/ch03-test-demo.txt", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);
    const char *text = read_text("/tmp/ch03-test-demo.txt");
    remove("/tmp/ch03-test-demo.txt");
    ck_assert_msg(strstr(text, "Weights: all zero, not NaN") != NULL, "demo output changed");
    ck_assert_msg(strstr(text, "-nan") == NULL && strstr(text, " nan") == NULL,
                  "the demo printed a NaN");
}
END_TEST

Suite *masking_suite(void)
{
    Suite *s = suite_create("masking (chapter 3)");
    TCase *tc = tcase_create("masks");
    tcase_add_test(tc, causal_by_hand);
    tcase_add_test(tc, padding_by_hand);
    tcase_add_test(tc, combine_by_hand);
    tcase_add_test(tc, apply_by_hand);
    suite_add_tcase(s, tc);
    tc = tcase_create("attention");
    tcase_add_test(tc, forward_by_hand);
    tcase_add_test(tc, forward_without_mask_by_hand);
    tcase_add_loop_test(tc, matches_torch, 0, NCASES);
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, program_matches_torch, 0, NCASES);
    tcase_add_test(tc, program_contract_errors);
    tcase_add_test(tc, program_demo_runs);
    suite_add_tcase(s, tc);
    return s;
}
