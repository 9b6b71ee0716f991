/*
 * test_scaled_attention.c - chapter 2's scaled dot-product attention against
 * hand arithmetic and against PyTorch (tests/fixtures/make_ch02_ref.py),
 * both as a function and through the program build/bin/ch02 with .npy
 * files; the sharpness measures of the demo against an explicit Jacobian;
 * and the demo itself: it runs, and one seed gives one output.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "attention.h"
#include "npy.h"
#include "ops.h"
#include "rng.h"
#include "scaled_attention.h"

START_TEST(scale_values)
{
    /* Powers of four have exact square roots, so these are exact. */
    ck_assert_float_eq(attention_scale(1), 1.0f);
    ck_assert_float_eq(attention_scale(4), 0.5f);
    ck_assert_float_eq(attention_scale(1024), 0.03125f);
    ck_assert_double_eq_tol(attention_scale(2), 0.7071067811865476, 1e-7);
}
END_TEST

START_TEST(hand_example)
{
    /* D = 4: q = (2, 0, 0, 0); keys (1, 0, 0, 0) and 0; values (1, 2), (3, 4).
     * Raw scores (2, 0); divided by sqrt(4) = 2 they are (1, 0), so
     * weights = (e, 1) / (e + 1) = (0.7310586, 0.2689414) (unscaled it would
     * be 0.8807971) and output = (1.5378828, 2.5378828). */
    const float qv[] = {2, 0, 0, 0}, kv[] = {1, 0, 0, 0, 0, 0, 0, 0}, vv[] = {1, 2, 3, 4};
    Mat q = mat_from(1, 4, qv), k = mat_from(2, 4, kv), v = mat_from(2, 2, vv);
    Mat w = mat_new(1, 2), out = mat_new(1, 2);
    scaled_attention_forward(out, w, q, k, v);
    ck_assert_double_eq_tol(MAT_AT(w, 0, 0), 0.7310585786300049, 1e-7);
    ck_assert_double_eq_tol(MAT_AT(w, 0, 1), 0.2689414213699951, 1e-7);
    ck_assert_double_eq_tol(MAT_AT(out, 0, 0), 1.5378828427399902, 1e-6);
    ck_assert_double_eq_tol(MAT_AT(out, 0, 1), 2.5378828427399902, 1e-6);
    mat_free(&q);
    mat_free(&k);
    mat_free(&v);
    mat_free(&w);
    mat_free(&out);
}
END_TEST

START_TEST(sharpness_by_hand)
{
    /* Row 0 uniform over 4 keys: max 1/4, entropy ln 4, and the Jacobian
     * w_i (delta_ij - w_j) has 4 diagonal entries 3/16 and 12 off-diagonal
     * -1/16: |J|^2 = 4 (9/256) + 12 (1/256) = 48/256, |J| = sqrt(3)/4.
     * Row 1 one-hot: max 1, entropy 0, J = 0. The struct holds the means. */
    const float wv[] = {0.25f, 0.25f, 0.25f, 0.25f, 0.0f, 1.0f, 0.0f, 0.0f};
    Mat w = mat_from(2, 4, wv);
    Sharpness s;
    softmax_sharpness(&s, mat_rows(w, 0, 1));
    ck_assert_double_eq_tol(s.max_weight, 0.25, 1e-12);
    ck_assert_double_eq_tol(s.entropy, log(4.0), 1e-7);
    ck_assert_double_eq_tol(s.grad_norm, sqrt(3.0) / 4.0, 1e-7);
    softmax_sharpness(&s, mat_rows(w, 1, 1));
    ck_assert_double_eq_tol(s.max_weight, 1.0, 1e-12);
    ck_assert_double_eq_tol(s.entropy, 0.0, 1e-12);
    ck_assert_double_eq_tol(s.grad_norm, 0.0, 1e-12);
    softmax_sharpness(&s, w);
    ck_assert_double_eq_tol(s.max_weight, 0.625, 1e-12);
    ck_assert_double_eq_tol(s.entropy, log(4.0) / 2.0, 1e-7);
    ck_assert_double_eq_tol(s.grad_norm, sqrt(3.0) / 8.0, 1e-7);
    mat_free(&w);
}
END_TEST

START_TEST(sharpness_matches_explicit_jacobian)
{
    /* softmax_sharpness uses a closed form; here the (S, S) Jacobian is
     * built entry by entry and its squares summed. */
    const float wv[] = {0.1f, 0.2f, 0.3f, 0.4f, 0.05f};
    Mat w = mat_from(1, 5, wv);
    double sum_sq = 0.0, h = 0.0;
    for (int i = 0; i < 5; i++) {
        h -= wv[i] * log(wv[i]);
        for (int j = 0; j < 5; j++) {
            double jij = wv[i] * ((i == j ? 1.0 : 0.0) - wv[j]);
            sum_sq += jij * jij;
        }
    }
    Sharpness s;
    softmax_sharpness(&s, w);
    ck_assert_double_eq_tol(s.max_weight, 0.4, 1e-7);
    ck_assert_double_eq_tol(s.entropy, h, 1e-6);
    ck_assert_double_eq_tol(s.grad_norm, sqrt(sum_sq), 1e-6);
    mat_free(&w);
}
END_TEST

/* The chapter's argument: entries of variance 1 give scores of variance D,
 * and 1 after the scaling. 64 x 64 scores at D = 256, within 10%. */
START_TEST(variance_grows_with_width)
{
    enum { N = 64, D = 256 };
    Rng rng;
    rng_seed(&rng, 5);
    Mat q = mat_new(N, D), k = mat_new(N, D), s = mat_new(N, N);
    mat_rand_normal(q, &rng, 0.0f, 1.0f);
    mat_rand_normal(k, &rng, 0.0f, 1.0f);
    attention_scores(s, q, k);
    double var[2];
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) mat_scale(s, attention_scale(D));
        double sum = 0.0, sum_sq = 0.0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                sum += MAT_AT(s, i, j);
                sum_sq += (double)MAT_AT(s, i, j) * MAT_AT(s, i, j);
            }
        var[pass] = sum_sq / (N * N) - (sum / (N * N)) * (sum / (N * N));
    }
    ck_assert_msg(fabs(var[0] / D - 1.0) < 0.1, "raw variance %g, expected about %d", var[0], D);
    ck_assert_msg(fabs(var[1] - 1.0) < 0.1, "scaled variance %g, expected about 1", var[1]);
    mat_free(&q);
    mat_free(&k);
    mat_free(&s);
}
END_TEST

static const char *const CASES[] = {"1x1", "odd", "tall", "wide"};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

START_TEST(matches_torch)
{
    const char *c = CASES[_i];
    const char *parts[5] = {"q", "k", "v", "out", "attn"};
    char name[64];
    Mat m[5];
    for (int p = 0; p < 5; p++) {
        snprintf(name, sizeof name, "ch02_%s_%s.npy", c, parts[p]);
        m[p] = load_fixture(name);
    }
    Mat out = mat_new(m[0].rows, m[2].cols), w = mat_new(m[0].rows, m[1].rows);
    scaled_attention_forward(out, w, m[0], m[1], m[2]);
    assert_mat_close(out, m[3], 1e-5, 0, "output", "PyTorch");
    assert_mat_close(w, m[4], 1e-5, 0, "weights", "PyTorch");
    for (int p = 0; p < 5; p++) mat_free(&m[p]);
    mat_free(&out);
    mat_free(&w);
}
END_TEST

/* ------------------------------------------------- the program, ch02 */

START_TEST(program_matches_torch)
{
    const char *c = CASES[_i];
    char dir[] = "/tmp/ch02-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s/ch02 --query tests/fixtures/ch02_%s_q.npy --key tests/fixtures/ch02_%s_k.npy "
             "--value tests/fixtures/ch02_%s_v.npy --output %s/o.npy --attn %s/a.npy >/dev/null",
             bin_dir(), c, c, c, dir, dir);
    ck_assert_int_eq(run_shell(cmd), 0);
    Mat o = load_written(dir, "o.npy"), a = load_written(dir, "a.npy");
    rmdir(dir);
    char name[64];
    snprintf(name, sizeof name, "ch02_%s_out.npy", c);
    Mat want_o = load_fixture(name);
    snprintf(name, sizeof name, "ch02_%s_attn.npy", c);
    Mat want_a = load_fixture(name);
    assert_mat_close(o, want_o, 1e-5, 0, "ch02 --output", "PyTorch");
    assert_mat_close(a, want_a, 1e-5, 0, "ch02 --attn", "PyTorch");
    mat_free(&o);
    mat_free(&a);
    mat_free(&want_o);
    mat_free(&want_a);
}
END_TEST

static void assert_same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *sa = read_file(a, &na), *sb = read_file(b, &nb);
    ck_assert_msg(sa != NULL, "%s was not written", a);
    ck_assert_msg(sb != NULL, "%s was not written", b);
    ck_assert_msg(na == nb && memcmp(sa, sb, na) == 0, "%s and %s differ", a, b);
    free(sa);
    free(sb);
}

/* The demo runs with no file options, writes every figure's data, and the
 * same seed gives the same bytes (printed and written); another seed does not. */
START_TEST(demo_is_reproducible)
{
    char dir[] = "/tmp/ch02-demo-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024], a[512], b[512];
    const char *runs[3][2] = {{"7", "a"}, {"7", "b"}, {"8", "c"}};
    for (int r = 0; r < 3; r++) {
        /* One --out for every run (it is printed), moved aside afterwards. */
        snprintf(cmd, sizeof cmd,
                 "%s/ch02 --seed %s --plot svg --out %s/fig >%s/%s.txt 2>/dev/null && "
                 "mv %s/fig %s/%s", bin_dir(), runs[r][0], dir, dir, runs[r][1], dir, dir,
                 runs[r][1]);
        ck_assert_int_eq(run_shell(cmd), 0);
    }
    snprintf(a, sizeof a, "%s/a.txt", dir);
    snprintf(b, sizeof b, "%s/b.txt", dir);
    assert_same_file(a, b);
    static const char *const FIGURES[] = {"variance.dat", "softmax.dat", "example.dat"};
    for (int f = 0; f < 3; f++) {
        snprintf(a, sizeof a, "%s/a/%s", dir, FIGURES[f]);
        snprintf(b, sizeof b, "%s/b/%s", dir, FIGURES[f]);
        assert_same_file(a, b);
    }
    size_t na, nc;
    snprintf(a, sizeof a, "%s/a.txt", dir);
    snprintf(b, sizeof b, "%s/c.txt", dir);
    char *sa = read_file(a, &na), *sc = read_file(b, &nc);
    ck_assert_ptr_nonnull(sa);
    ck_assert_ptr_nonnull(sc);
    ck_assert_msg(strstr(sa, "D = 1024") != NULL, "the table should reach D = 1024:\n%s", sa);
    ck_assert_msg(na != nc || memcmp(sa, sc, na) != 0, "--seed 7 and --seed 8 printed the same");
    free(sa);
    free(sc);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(run_shell(cmd), 0);
}
END_TEST

/* Runs ch02 with `args`, expects exit `code` and `needle` in its stderr. */
static void expect_failure(const char *args, int code, const char *needle)
{
    expect_program_failure("ch02", args, code, needle, ONE_LINE);
}

#define FX "tests/fixtures/"
#define Q "--query " FX "ch02_odd_q.npy "
#define K "--key " FX "ch02_odd_k.npy "
#define V "--value " FX "ch02_odd_v.npy "

START_TEST(program_contract_errors)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s/ch02 --help >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);
    /* usage errors: exit 2, naming the option */
    expect_failure("--no-such-option", 2, "--no-such-option");
    expect_failure("--query", 2, "--query");
    expect_failure(Q K, 2, "--value");
    expect_failure("--output /tmp/o.npy", 2, "--output");
    expect_failure("--seed minus-one", 2, "--seed");
    expect_failure("--plot jpeg", 2, "--plot");
    expect_failure("stray", 2, "stray");
    /* data errors: exit 1, naming the file and the problem */
    expect_failure(Q K "--value /nonexistent/v.npy", 1, "/nonexistent/v.npy");
    expect_failure("--query " FX "ch02_ids.npy " K V, 1, "ch02_ids.npy");
    expect_failure("--query " FX "ch02_rank3.npy " K V, 1, "2-D");
    expect_failure("--query " FX "ch02_nan_q.npy " K V, 1, "finite");
    expect_failure(Q "--key " FX "ch02_wide_k.npy " V, 1, "width");
    expect_failure(Q K "--value " FX "ch02_wide_v.npy", 1, "values");
    expect_failure(Q K V "--output /nonexistent-dir/o.npy", 1, "/nonexistent-dir/o.npy");
    expect_failure(Q K V "--attn /nonexistent-dir/a.npy", 1, "/nonexistent-dir/a.npy");
    expect_failure("--query " FX "ch02_d0_q.npy --key " FX "ch02_d0_k.npy " V, 1, "D is 0");
    expect_failure("--query " FX "ch02_huge_q.npy " K V "--output /tmp/ch02-test-never.npy", 1,
                   "overflows");
    ck_assert_int_ne(access("/tmp/ch02-test-never.npy", F_OK), 0);   /* nothing written */
}
END_TEST

Suite *scaled_attention_suite(void)
{
    Suite *s = suite_create("scaled attention (chapter 2)");
    TCase *tc = tcase_create("function");
    tcase_add_test(tc, scale_values);
    tcase_add_test(tc, hand_example);
    tcase_add_test(tc, sharpness_by_hand);
    tcase_add_test(tc, sharpness_matches_explicit_jacobian);
    tcase_add_test(tc, variance_grows_with_width);
    tcase_add_loop_test(tc, matches_torch, 0, NCASES);
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, program_matches_torch, 0, NCASES);
    tcase_add_test(tc, demo_is_reproducible);
    tcase_add_test(tc, program_contract_errors);
    suite_add_tcase(s, tc);
    return s;
}
