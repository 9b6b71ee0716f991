/*
 * test_positional.c - chapter 5's sinusoidal positional encoding against hand
 * arithmetic and against the PyTorch tutorial's table
 * (tests/fixtures/make_ch05_ref.py), both as a function and through the
 * program build/bin/ch05; and its two properties: attention without
 * positions is permutation-equivariant (with them it is not), and
 * PE[pos + k] = M_k PE[pos] with one M_k for every pos.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "npy.h"
#include "ops.h"
#include "positional.h"
#include "rng.h"
#include "scaled_attention.h"

/* ------------------------------------------------------------ helpers */

static Mat table(int n, int d)
{
    Mat pe = mat_new(n, d);   /* (N, D) */
    positional_encoding(pe);
    return pe;
}

static double max_abs_diff(Mat a, Mat b)
{
    ck_assert_int_eq(a.rows, b.rows);
    ck_assert_int_eq(a.cols, b.cols);
    double worst = 0;
    for (int i = 0; i < a.rows; i++)
        for (int j = 0; j < a.cols; j++) {
            double e = fabs((double)MAT_AT(a, i, j) - (double)MAT_AT(b, i, j));
            if (e > worst) worst = e;
        }
    return worst;
}

/* ----------------------------------------------------- the table itself */

START_TEST(hand_values)
{
    Mat pe = table(3, 4);   /* w_0 = 1, w_1 = 1 / 10000^(2/4) = 0.01 */
    const double row0[4] = {0, 1, 0, 1};
    const double row1[4] = {0.8414709848078965, 0.5403023058681398,      /* sin 1, cos 1 */
                            0.009999833334166664, 0.9999500004166653};   /* sin 0.01, cos 0.01 */
    for (int j = 0; j < 4; j++) {
        ck_assert_double_eq_tol(MAT_AT(pe, 0, j), row0[j], 1e-7);
        ck_assert_double_eq_tol(MAT_AT(pe, 1, j), row1[j], 1e-7);
    }
    ck_assert_double_eq_tol(MAT_AT(pe, 2, 0), 0.9092974268256817, 1e-7);   /* sin 2 */
    ck_assert_double_eq_tol(positional_frequency(1, 4), 0.01, 1e-15);
    mat_free(&pe);

    pe = table(4, 1);   /* D = 1: one column, sin(pos) */
    ck_assert_double_eq_tol(MAT_AT(pe, 0, 0), 0.0, 1e-7);
    ck_assert_double_eq_tol(MAT_AT(pe, 3, 0), 0.1411200080598672, 1e-7);   /* sin 3 */
    mat_free(&pe);

    pe = table(2, 3);   /* odd D: the last column is a sine of pos / 10000^(2/3) */
    ck_assert_double_eq_tol(MAT_AT(pe, 0, 2), 0.0, 1e-7);
    ck_assert_double_eq_tol(MAT_AT(pe, 1, 2), 0.0021544330233656045, 1e-7);
    mat_free(&pe);
}
END_TEST

/* (N, D) of each fixture ch05_pe_NxD.npy. */
static const int CASES[][2] = {{1, 1}, {1, 6}, {5, 1}, {7, 5}, {50, 16}, {20, 33}};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

static Mat load_case(int c)
{
    char name[64];
    snprintf(name, sizeof name, "ch05_pe_%dx%d.npy", CASES[c][0], CASES[c][1]);
    return load_fixture(name);
}

START_TEST(matches_pytorch)
{
    Mat want = load_case(_i);
    Mat pe = table(CASES[_i][0], CASES[_i][1]);
    assert_mat_close(pe, want, 1e-5, 0, "positional_encoding", "PyTorch");
    mat_free(&pe);
    mat_free(&want);
}
END_TEST

/* Far positions: the angle must be computed in double before sin. */
START_TEST(far_positions_match_pytorch)
{
    static const int ROWS[] = {0, 1, 999, 65536, 99999};   /* as in make_ch05_ref.py */
    Mat want = load_fixture("ch05_big_rows.npy");
    Mat pe = table(100000, 8);
    Mat got = mat_new(5, 8);
    for (int r = 0; r < 5; r++) mat_copy(mat_rows(got, r, 1), mat_rows(pe, ROWS[r], 1));
    assert_mat_close(got, want, 1e-5, 0, "far rows of positional_encoding", "PyTorch");
    mat_free(&got);
    mat_free(&pe);
    mat_free(&want);
}
END_TEST

START_TEST(add_puts_the_table_on_top)
{
    /* A view (every other column of a wider matrix): positional_add works on it too. */
    Mat wide = mat_new(7, 10);
    mat_fill(wide, 0.5f);
    Mat x = mat_block(wide, 0, 2, 7, 5);   /* (7, 5) */
    positional_add(x);
    Mat want = load_fixture("ch05_pe_7x5.npy");
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 5; j++) MAT_AT(want, i, j) += 0.5f;
    assert_mat_close(x, want, 1e-6, 0, "0.5 + PE", "PyTorch");
    ck_assert_float_eq(MAT_AT(wide, 3, 1), 0.5f);   /* outside the view: untouched */
    ck_assert_float_eq(MAT_AT(wide, 3, 7), 0.5f);
    mat_free(&want);
    mat_free(&wide);
}
END_TEST

/* ------------------------------- permutation: attention is blind to order */

/* dst[r, :] = src[perm[r], :]   dst, src: (L, D) */
static void permute_rows(Mat dst, Mat src, const int *perm)
{
    for (int r = 0; r < src.rows; r++) mat_copy(mat_rows(dst, r, 1), mat_rows(src, perm[r], 1));
}

static void self_attention(Mat out, Mat x)
{
    Mat w = mat_new(x.rows, x.rows);
    scaled_attention_forward(out, w, x, x, x);
    mat_free(&w);
}

/* max |attn(P x + PE?) - P attn(x + PE?)|, PE added after the shuffle. */
static double permutation_error(Mat x, const int *perm, int with_positions)
{
    int l = x.rows, d = x.cols;
    Mat a = mat_new(l, d), pa = mat_new(l, d), out = mat_new(l, d), out_p = mat_new(l, d),
        p_out = mat_new(l, d);
    mat_copy(a, x);
    permute_rows(pa, x, perm);
    if (with_positions) {
        positional_add(a);
        positional_add(pa);
    }
    self_attention(out, a);
    self_attention(out_p, pa);
    permute_rows(p_out, out, perm);
    double e = max_abs_diff(out_p, p_out);
    mat_free(&a);
    mat_free(&pa);
    mat_free(&out);
    mat_free(&out_p);
    mat_free(&p_out);
    return e;
}

START_TEST(permutation_equivariance_and_its_end)
{
    enum { L = 7, D = 12 };
    static const int PERM[L] = {3, 6, 0, 5, 1, 4, 2};
    Rng rng;
    rng_seed(&rng, 5);
    Mat x = mat_new(L, D);
    mat_rand_normal(x, &rng, 0.0f, 1.0f);
    double plain = permutation_error(x, PERM, 0);
    double with_pe = permutation_error(x, PERM, 1);
    ck_assert_msg(plain < 1e-5, "without PE, attn(PX) - P attn(X) = %g, should be rounding", plain);
    ck_assert_msg(with_pe > 0.1, "with PE, attn(PX) - P attn(X) = %g, should be large", with_pe);
    mat_free(&x);
}
END_TEST

/* ---------------------------- shift by k: one rotation for every position */

START_TEST(shift_matrix_hand_values)
{
    Mat m = mat_new(5, 5);   /* odd D: pairs 0, 1 and a lone last column */
    positional_shift_matrix(m, 1);
    /* pair 0, w_0 = 1: [[cos 1, sin 1], [-sin 1, cos 1]] */
    ck_assert_double_eq_tol(MAT_AT(m, 0, 0), 0.5403023058681398, 1e-7);
    ck_assert_double_eq_tol(MAT_AT(m, 0, 1), 0.8414709848078965, 1e-7);
    ck_assert_double_eq_tol(MAT_AT(m, 1, 0), -0.8414709848078965, 1e-7);
    ck_assert_double_eq_tol(MAT_AT(m, 1, 1), 0.5403023058681398, 1e-7);
    for (int j = 2; j < 5; j++) ck_assert_float_eq(MAT_AT(m, 0, j), 0.0f);   /* block-diagonal */
    for (int j = 0; j < 5; j++) {                                             /* lone column */
        ck_assert_float_eq(MAT_AT(m, 4, j), 0.0f);
        ck_assert_float_eq(MAT_AT(m, j, 4), 0.0f);
    }
    mat_free(&m);
}
END_TEST

static const int SHIFT_D[] = {2, 16, 33, 128};

START_TEST(shift_is_one_linear_map_for_every_position)
{
    int d = SHIFT_D[_i], n = 200, paired = d / 2 * 2;
    static const int KS[] = {1, 3, 17, 150};
    Mat pe = table(n, d), m = mat_new(d, d);
    for (size_t t = 0; t < sizeof KS / sizeof KS[0]; t++) {
        int k = KS[t];
        positional_shift_matrix(m, k);
        Mat moved = mat_new(n - k, d);   /* row pos: M_k PE[pos] */
        mat_mul(moved, 1.0f, mat_rows(pe, 0, n - k), NO_TRANS, m, TRANS, 0.0f);
        double e = max_abs_diff(mat_cols(moved, 0, paired),
                                mat_block(pe, k, 0, n - k, paired));
        ck_assert_msg(e < 1e-5, "D = %d, k = %d: max |M_k PE[pos] - PE[pos + k]| = %g", d, k, e);
        mat_free(&moved);
    }
    mat_free(&pe);
    mat_free(&m);
}
END_TEST

/* ------------------------------------------------- the program, ch05 */

START_TEST(program_matches_pytorch)
{
    char dir[] = "/tmp/ch05-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024], path[256];
    snprintf(path, sizeof path, "%s/pe.npy", dir);
    snprintf(cmd, sizeof cmd, "%s/ch05 --positions %d --dim %d --output %s >/dev/null",
             bin_dir(), CASES[_i][0], CASES[_i][1], path);
    int status = run_shell(cmd);
    Mat got, want = load_case(_i);
    Error err;
    int rc = npy_load_mat(path, "output", &got, &err);
    remove(path);
    rmdir(dir);
    ck_assert_int_eq(status, 0);
    ck_assert_msg(rc == 0, "%s", err.msg);
    assert_mat_close(got, want, 1e-5, 0, "ch05 --output", "PyTorch");
    mat_free(&got);
    mat_free(&want);
}
END_TEST

START_TEST(program_demo_runs)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s/ch05 --plot none >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);
}
END_TEST

/* Runs ch05 with `args`, expects exit `code` and `needle` in its stderr. */
static void expect_failure(const char *args, int code, const char *needle)
{
    expect_program_failure("ch05", args, code, needle, ONE_LINE);
}

START_TEST(program_contract_errors)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s/ch05 --help >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);
    expect_failure("--no-such-option", 2, "--no-such-option");
    expect_failure("--positions 0 --dim 4", 2, "--positions");
    expect_failure("--positions 4 --dim -3", 2, "--dim");
    expect_failure("--positions 4 --dim abc", 2, "--dim");
    expect_failure("--positions 4 --dim", 2, "--dim");
    expect_failure("--positions 2000000 --dim 4", 2, "--positions");
    expect_failure("--positions 99999999999999999999 --dim 4", 2, "--positions");
    expect_failure("--positions 1000000 --dim 1000000", 2, "--positions");
    expect_failure("--positions 4", 2, "--dim");
    expect_failure("--dim 4", 2, "--positions");
    expect_failure("--output /tmp/ch05-never.npy", 2, "--output");
    expect_failure("--positions 1000 --dim 8 --plot png", 2, "--plot");
    expect_failure("--seed minus-one", 2, "--seed");
    expect_failure("--positions 4 --dim 4 --output /nonexistent-dir/pe.npy", 1,
                   "/nonexistent-dir/pe.npy");
}
END_TEST

Suite *positional_suite(void)
{
    Suite *s = suite_create("positional encoding (chapter 5)");
    TCase *tc = tcase_create("function");
    tcase_add_test(tc, hand_values);
    tcase_add_loop_test(tc, matches_pytorch, 0, NCASES);
    tcase_add_test(tc, far_positions_match_pytorch);
    tcase_add_test(tc, add_puts_the_table_on_top);
    tcase_add_test(tc, permutation_equivariance_and_its_end);
    tcase_add_test(tc, shift_matrix_hand_values);
    tcase_add_loop_test(tc, shift_is_one_linear_map_for_every_position, 0,
                        (int)(sizeof SHIFT_D / sizeof SHIFT_D[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, program_matches_pytorch, 0, NCASES);
    tcase_add_test(tc, program_demo_runs);
    tcase_add_test(tc, program_contract_errors);
    suite_add_tcase(s, tc);
    return s;
}
