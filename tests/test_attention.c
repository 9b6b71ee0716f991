/*
 * test_attention.c - chapter 1's dot-product attention against hand
 * arithmetic and against NumPy (tests/fixtures/make_attention_ref.py), both
 * as a function and through the program build/bin/ch01 with .npy files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "suites.h"
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

static Mat load(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/%s", name);
    Mat m;
    Error err;
    ck_assert_msg(npy_load_mat(path, "fixture", &m, &err) == 0, "%s", err.msg);
    return m;
}

static void assert_close(Mat got, Mat want, double tol, const char *what)
{
    ck_assert_int_eq(got.rows, want.rows);
    ck_assert_int_eq(got.cols, want.cols);
    for (int i = 0; i < got.rows; i++)
        for (int j = 0; j < got.cols; j++) {
            double g = MAT_AT(got, i, j), w = MAT_AT(want, i, j);
            ck_assert_msg(fabs(g - w) <= tol * (1.0 + fabs(w)), "%s[%d,%d] = %.9g, NumPy %.9g",
                          what, i, j, g, w);
        }
}

static const char *const CASES[] = {"1x1", "odd", "wide"};

START_TEST(matches_numpy)
{
    const char *c = CASES[_i];
    char name[64];
    Mat m[5];
    const char *parts[5] = {"q", "k", "v", "out", "attn"};
    for (int p = 0; p < 5; p++) {
        snprintf(name, sizeof name, "att_%s_%s.npy", c, parts[p]);
        m[p] = load(name);
    }
    Mat out = mat_new(m[0].rows, m[2].cols), w = mat_new(m[0].rows, m[1].rows);
    attention_forward(out, w, m[0], m[1], m[2]);
    assert_close(out, m[3], 1e-6, "output");
    assert_close(w, m[4], 1e-6, "weights");
    for (int p = 0; p < 5; p++) mat_free(&m[p]);
    mat_free(&out);
    mat_free(&w);
}
END_TEST

/* ------------------------------------------------- the program, ch01 */

static const char *bin_dir(void)
{
    const char *d = getenv("BIN_DIR");
    return d ? d : "build/bin";
}

/* Runs a shell command line; returns its exit status, or 128 + signal. */
static int run(const char *cmd)
{
    int st = system(cmd);
    if (st == -1) return -1;
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

START_TEST(program_matches_numpy)
{
    char dir[] = "/tmp/ch01-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s/ch01 --query tests/fixtures/att_odd_q.npy --key tests/fixtures/att_odd_k.npy "
             "--value tests/fixtures/att_odd_v.npy --output %s/o.npy --attn %s/a.npy >/dev/null",
             bin_dir(), dir, dir);
    ck_assert_int_eq(run(cmd), 0);
    char path[256];
    Mat o, a, want_o = load("att_odd_out.npy"), want_a = load("att_odd_attn.npy");
    Error err;
    snprintf(path, sizeof path, "%s/o.npy", dir);
    ck_assert_msg(npy_load_mat(path, "output", &o, &err) == 0, "%s", err.msg);
    remove(path);
    snprintf(path, sizeof path, "%s/a.npy", dir);
    ck_assert_msg(npy_load_mat(path, "attn", &a, &err) == 0, "%s", err.msg);
    remove(path);
    rmdir(dir);
    assert_close(o, want_o, 1e-6, "ch01 --output");
    assert_close(a, want_a, 1e-6, "ch01 --attn");
    mat_free(&o);
    mat_free(&a);
    mat_free(&want_o);
    mat_free(&want_a);
}
END_TEST

/* Runs ch01 with `args`, expects exit `code` and `needle` in its stderr. */
static void expect_failure(const char *args, int code, const char *needle)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/ch01 %s >/dev/null 2>/tmp/ch01-test-stderr.txt", bin_dir(), args);
    ck_assert_int_eq(run(cmd), code);
    FILE *fp = fopen("/tmp/ch01-test-stderr.txt", "r");
    ck_assert_ptr_nonnull(fp);
    char msg[1024] = "";
    size_t n = fread(msg, 1, sizeof msg - 1, fp);
    msg[n] = '\0';
    fclose(fp);
    remove("/tmp/ch01-test-stderr.txt");
    ck_assert_msg(strncmp(msg, "ch01: ", 6) == 0, "message should start with ch01: %s", msg);
    ck_assert_msg(strstr(msg, needle) != NULL, "expected '%s' in: %s", needle, msg);
}

#define Q "--query tests/fixtures/att_odd_q.npy "
#define K "--key tests/fixtures/att_odd_k.npy "
#define V "--value tests/fixtures/att_odd_v.npy "

START_TEST(program_contract_errors)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s/ch01 --help >/dev/null", bin_dir());
    ck_assert_int_eq(run(cmd), 0);
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
