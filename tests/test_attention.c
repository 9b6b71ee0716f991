/*
 * test_attention.c - chapter 1's dot-product attention against hand
 * arithmetic and against NumPy (tests/fixtures/make_attention_ref.py), both
 * as a function and through the program build/bin/ch01 with .npy files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "attention.h"
#include "npy.h"

START_TEST(hand_example)
{
    /* q = (1, 0); keys (1, 0) and (0, 1); values (1, 2) and (3, 4).
     * scores = (1, 0); weights = (e, 1) / (e + 1) = (0.7310586, 0.2689414);
     * output = 0.7310586 (1, 2) + 0.2689414 (3, 4) = (1.5378828, 2.5378828). */
    const float qv[] = {1, 0}, kv[] = {1, 0, 0, 1}, vv[] = {1, 2, 3, 4};
    Mat q = mat_from(1, 2, qv), k = mat_from(2, 2, kv), v = mat_from(2, 2, vv);
    Mat w = mat_new(1, 2), out = mat_new(1, 2);
    attention_forward(out, w, q, k, v);
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

static const char *const CASES[] = {"1x1", "odd", "wide"};

START_TEST(matches_numpy)
{
    const char *c = CASES[_i];
    char name[64];
    Mat m[5];
    const char *parts[5] = {"q", "k", "v", "out", "attn"};
    for (int p = 0; p < 5; p++) {
        snprintf(name, sizeof name, "att_%s_%s.npy", c, parts[p]);
        m[p] = load_fixture(name);
    }
    Mat out = mat_new(m[0].rows, m[2].cols), w = mat_new(m[0].rows, m[1].rows);
    attention_forward(out, w, m[0], m[1], m[2]);
    assert_mat_close(out, m[3], 1e-6, 1e-6, "output", "NumPy");
    assert_mat_close(w, m[4], 1e-6, 1e-6, "weights", "NumPy");
    for (int p = 0; p < 5; p++) mat_free(&m[p]);
    mat_free(&out);
    mat_free(&w);
}
END_TEST

/* ------------------------------------------------- the program, ch01 */

START_TEST(program_matches_numpy)
{
    char dir[] = "/tmp/ch01-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s/ch01 --query tests/fixtures/att_odd_q.npy --key tests/fixtures/att_odd_k.npy "
             "--value tests/fixtures/att_odd_v.npy --output %s/o.npy --attn %s/a.npy >/dev/null",
             bin_dir(), dir, dir);
    ck_assert_int_eq(run_shell(cmd), 0);
    Mat o = load_written(dir, "o.npy"), a = load_written(dir, "a.npy");
    rmdir(dir);
    Mat want_o = load_fixture("att_odd_out.npy"), want_a = load_fixture("att_odd_attn.npy");
    assert_mat_close(o, want_o, 1e-6, 1e-6, "ch01 --output", "NumPy");
    assert_mat_close(a, want_a, 1e-6, 1e-6, "ch01 --attn", "NumPy");
    mat_free(&o);
    mat_free(&a);
    mat_free(&want_o);
    mat_free(&want_a);
}
END_TEST

/* Runs ch01 with `args`, expects exit `code` and `needle` in its stderr. */
static void expect_failure(const char *args, int code, const char *needle)
{
    expect_program_failure("ch01", args, code, needle, ANY_LINES);
}

#define Q "--query tests/fixtures/att_odd_q.npy "
#define K "--key tests/fixtures/att_odd_k.npy "
#define V "--value tests/fixtures/att_odd_v.npy "

START_TEST(program_contract_errors)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s/ch01 --help >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);
    expect_failure("--no-such-option", 2, "--no-such-option");
    expect_failure("--query", 2, "--query");
    expect_failure(Q K, 2, "--value");
    expect_failure("--seed minus-one", 2, "--seed");
    expect_failure("--plot jpeg", 2, "--plot");
    expect_failure(Q K "--value /nonexistent/v.npy", 1, "/nonexistent/v.npy");
    expect_failure(Q "--key tests/fixtures/att_wide_k.npy " V, 1, "width");
    expect_failure(Q K "--value tests/fixtures/att_wide_v.npy", 1, "values");
    expect_failure(Q K V "--output /nonexistent-dir/o.npy", 1, "/nonexistent-dir/o.npy");
}
END_TEST

Suite *attention_suite(void)
{
    Suite *s = suite_create("attention (chapter 1)");
    TCase *tc = tcase_create("function");
    tcase_add_test(tc, hand_example);
    tcase_add_loop_test(tc, matches_numpy, 0, 3);
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, program_matches_numpy);
    tcase_add_test(tc, program_contract_errors);
    suite_add_tcase(s, tc);
    return s;
}
