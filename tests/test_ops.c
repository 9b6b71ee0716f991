/*
 * test_ops.c - the kernels of common/ops.c against independent computations:
 * a double-precision triple loop written here for mat_mul, and values worked
 * out by hand (with a calculator's precision) for softmax and layer norm.
 */
#include <math.h>
#include <stdlib.h>
#include "suites.h"
#include "ops.h"
#include "rng.h"

/* ------------------------------------------------------------- mat_mul */

/* The reference: C = alpha op(A) op(B) + beta C, summed in double. */
static void reference_mul(double *c, int M, int N, float alpha, Mat a, Trans ta, Mat b,
                          Trans tb, float beta, Mat c0)
{
    int K = ta ? a.rows : a.cols;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                double x = ta ? MAT_AT(a, k, i) : MAT_AT(a, i, k);
                double y = tb ? MAT_AT(b, j, k) : MAT_AT(b, k, j);
                s += x * y;
            }
            c[i * N + j] = alpha * s + (beta == 0.0f ? 0.0 : beta * MAT_AT(c0, i, j));
        }
}

static void check_mul(Rng *r, int M, int N, int K, Trans ta, Trans tb, float alpha, float beta)
{
    Mat a = ta ? mat_new(K, M) : mat_new(M, K);
    Mat b = tb ? mat_new(N, K) : mat_new(K, N);
    Mat c = mat_new(M, N);
    mat_rand_uniform(a, r, -1.0f, 1.0f);
    mat_rand_uniform(b, r, -1.0f, 1.0f);
    mat_rand_uniform(c, r, -1.0f, 1.0f);
    double *want = malloc(sizeof(double) * (size_t)(M * N + 1));
    reference_mul(want, M, N, alpha, a, ta, b, tb, beta, c);
    mat_mul(c, alpha, a, ta, b, tb, beta);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            ck_assert_msg(fabs(MAT_AT(c, i, j) - want[i * N + j]) <= 1e-5 * (K + 1),
                          "M=%d N=%d K=%d ta=%d tb=%d: C[%d,%d] = %g, expected %g", M, N, K,
                          ta, tb, i, j, (double)MAT_AT(c, i, j), want[i * N + j]);
    free(want);
    mat_free(&a);
    mat_free(&b);
    mat_free(&c);
}

START_TEST(mat_mul_random_shapes_all_transposes)
{
    static const int shapes[][3] = {{1, 1, 1}, {1, 7, 3}, {5, 1, 2}, {3, 4, 1},
                                    {2, 3, 5}, {17, 9, 13}, {33, 31, 64}};
    Rng r;
    rng_seed(&r, 42);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            check_mul(&r, shapes[s][0], shapes[s][1], shapes[s][2], (Trans)(t & 1),
                      (Trans)(t >> 1), 1.0f, 0.0f);
            check_mul(&r, shapes[s][0], shapes[s][1], shapes[s][2], (Trans)(t & 1),
                      (Trans)(t >> 1), -0.5f, 2.0f);
        }
}
END_TEST

START_TEST(mat_mul_hand_example)
{
    /* [1 2; 3 4] [5 6; 7 8] = [19 22; 43 50] */
    const float av[] = {1, 2, 3, 4}, bv[] = {5, 6, 7, 8};
    Mat a = mat_from(2, 2, av), b = mat_from(2, 2, bv), c = mat_new(2, 2);
    mat_mul(c, 1.0f, a, NO_TRANS, b, NO_TRANS, 0.0f);
    ck_assert_float_eq(MAT_AT(c, 0, 0), 19);
    ck_assert_float_eq(MAT_AT(c, 0, 1), 22);
    ck_assert_float_eq(MAT_AT(c, 1, 0), 43);
    ck_assert_float_eq(MAT_AT(c, 1, 1), 50);
    /* A^T B = [1 3; 2 4] [5 6; 7 8] = [26 30; 38 44] */
    mat_mul(c, 1.0f, a, TRANS, b, NO_TRANS, 0.0f);
    ck_assert_float_eq(MAT_AT(c, 0, 0), 26);
    ck_assert_float_eq(MAT_AT(c, 1, 1), 44);
    mat_free(&a);
    mat_free(&b);
    mat_free(&c);
}
END_TEST

START_TEST(mat_mul_on_views_leaves_the_rest_alone)
{
    /* Multiply a head-like column block of a wide matrix into a block of C. */
    Rng r;
    rng_seed(&r, 5);
    Mat big_a = mat_new(6, 12), big_b = mat_new(12, 9), big_c = mat_new(8, 10);
    mat_rand_uniform(big_a, &r, -1, 1);
    mat_rand_uniform(big_b, &r, -1, 1);
    mat_fill(big_c, 7.0f);
    Mat a = mat_cols(big_a, 4, 4);              /* (6, 4), stride 12 */
    Mat b = mat_block(big_b, 2, 3, 4, 5);       /* (4, 5), stride 9 */
    Mat c = mat_block(big_c, 1, 2, 6, 5);       /* (6, 5), stride 10 */
    mat_mul(c, 1.0f, a, NO_TRANS, b, NO_TRANS, 0.0f);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 10; j++) {
            int inside = i >= 1 && i < 7 && j >= 2 && j < 7;
            if (!inside) {
                ck_assert_float_eq(MAT_AT(big_c, i, j), 7.0f);
                continue;
            }
            double s = 0.0;
            for (int k = 0; k < 4; k++)
                s += (double)MAT_AT(big_a, i - 1, 4 + k) * MAT_AT(big_b, 2 + k, 3 + j - 2);
            ck_assert_double_eq_tol(MAT_AT(big_c, i, j), s, 1e-5);
        }
    /* Q K^T for one head: both operands column views, the second transposed. */
    Mat scores = mat_new(6, 6);
    mat_mul(scores, 1.0f, a, NO_TRANS, a, TRANS, 0.0f);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            double s = 0.0;
            for (int k = 0; k < 4; k++) s += (double)MAT_AT(a, i, k) * MAT_AT(a, j, k);
            ck_assert_double_eq_tol(MAT_AT(scores, i, j), s, 1e-5);
        }
    mat_free(&scores);
    mat_free(&big_a);
    mat_free(&big_b);
    mat_free(&big_c);
}
END_TEST

START_TEST(mat_mul_beta_zero_ignores_old_nan)
{
    const float av[] = {1, 2}, bv[] = {3, 4};
    Mat a = mat_from(1, 2, av), b = mat_from(2, 1, bv), c = mat_new(1, 1);
    MAT_AT(c, 0, 0) = NAN;
    mat_mul(c, 1.0f, a, NO_TRANS, b, NO_TRANS, 0.0f);
    ck_assert_float_eq(MAT_AT(c, 0, 0), 11.0f);
    mat_free(&a);
    mat_free(&b);
    mat_free(&c);
}
END_TEST

START_TEST(mat_mul_shape_mismatch_exits)
{
    Mat a = mat_new(2, 3), b = mat_new(4, 2), c = mat_new(2, 2);
    mat_mul(c, 1.0f, a, NO_TRANS, b, NO_TRANS, 0.0f);   /* K 3 vs 4: exits 3 */
}
END_TEST

/* ---------------------------------------------------- element-wise ops */

START_TEST(add_scale_bias_relu)
{
    const float av[] = {1, -2, 3, -4, 5, -6}, bv[] = {10, 20, 30, 40, 50, 60},
                biasv[] = {0.5f, -0.5f, 1};
    Mat a = mat_from(2, 3, av), b = mat_from(2, 3, bv), bias = mat_from(1, 3, biasv);
    mat_add(a, a, b);            /* 11 18 33 / 36 55 54 */
    mat_scale(a, 0.5f);          /* 5.5 9 16.5 / 18 27.5 27 */
    mat_add_bias(a, bias);       /* 6 8.5 17.5 / 18.5 27 28 */
    const float want[] = {6, 8.5f, 17.5f, 18.5f, 27, 28};
    for (int k = 0; k < 6; k++) ck_assert_float_eq(a.data[k], want[k]);
    Mat m = mat_from(2, 3, av);
    mat_relu(m);
    const float relu[] = {1, 0, 3, 0, 5, 0};
    for (int k = 0; k < 6; k++) ck_assert_float_eq(m.data[k], relu[k]);
    mat_free(&a);
    mat_free(&b);
    mat_free(&bias);
    mat_free(&m);
}
END_TEST

START_TEST(argmax_takes_first_of_ties)
{
    const float v[] = {1, 3, 3, 0, -5, -1, -1, -7};
    Mat m = mat_from(2, 4, v);
    int idx[2];
    argmax_rows(idx, m);
    ck_assert_int_eq(idx[0], 1);
    ck_assert_int_eq(idx[1], 1);
    mat_free(&m);
}
END_TEST

/* ------------------------------------------------------------- softmax */

START_TEST(softmax_hand_values_and_rows_sum_to_1)
{
    /* softmax(1, 2, 3) = (0.0900306, 0.2447285, 0.6652410) */
    const float v[] = {1, 2, 3, 101, 102, 103};
    Mat m = mat_from(2, 3, v);
    softmax_rows(m);
    const double want[] = {0.09003057317038046, 0.24472847105479767, 0.6652409557748219};
    for (int i = 0; i < 2; i++)   /* shifting a row changes nothing */
        for (int j = 0; j < 3; j++) ck_assert_double_eq_tol(MAT_AT(m, i, j), want[j], 1e-7);
    Rng r;
    rng_seed(&r, 9);
    Mat big = mat_new(20, 37);
    mat_rand_normal(big, &r, 0.0f, 5.0f);
    softmax_rows(big);
    for (int i = 0; i < 20; i++) {
        double s = 0.0;
        for (int j = 0; j < 37; j++) {
            ck_assert(MAT_AT(big, i, j) >= 0.0f);
            s += MAT_AT(big, i, j);
        }
        ck_assert_double_eq_tol(s, 1.0, 1e-6);
    }
    mat_free(&m);
    mat_free(&big);
}
END_TEST

START_TEST(softmax_blocked_entries_are_exactly_zero)
{
    /* Row 0: keys 1 and 3 blocked; the other two share the weight as
     * softmax(1, 3) = (0.1192029, 0.8807971). Row 1: everything blocked. */
    const float v[] = {1, -INFINITY, 3, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    Mat m = mat_from(2, 4, v);
    softmax_rows(m);
    ck_assert_double_eq_tol(MAT_AT(m, 0, 0), 0.11920292202211755, 1e-7);
    ck_assert(MAT_AT(m, 0, 1) == 0.0f);
    ck_assert_double_eq_tol(MAT_AT(m, 0, 2), 0.8807970779778824, 1e-7);
    ck_assert(MAT_AT(m, 0, 3) == 0.0f);
    for (int j = 0; j < 4; j++) {
        ck_assert(!isnan(MAT_AT(m, 1, j)));
        ck_assert(MAT_AT(m, 1, j) == 0.0f);
    }
    mat_free(&m);
}
END_TEST

START_TEST(softmax_huge_logits_stay_finite)
{
    const float v[] = {1e4f, -1e4f, 0, 1e4f, 1e4f, -1e4f};
    Mat m = mat_from(2, 3, v);
    softmax_rows(m);
    ck_assert_float_eq(MAT_AT(m, 0, 0), 1.0f);
    ck_assert_float_eq(MAT_AT(m, 0, 1), 0.0f);
    ck_assert_float_eq(MAT_AT(m, 1, 0), 0.5f);
    ck_assert_float_eq(MAT_AT(m, 1, 1), 0.5f);
    ck_assert_float_eq(MAT_AT(m, 1, 2), 0.0f);
    Mat l = mat_from(2, 3, v);
    log_softmax_rows(l);
    for (int k = 0; k < 6; k++) ck_assert(isfinite(l.data[k]));
    ck_assert_float_eq(MAT_AT(l, 0, 0), 0.0f);
    ck_assert_float_eq(MAT_AT(l, 0, 1), -2e4f);
    ck_assert_double_eq_tol(MAT_AT(l, 1, 0), -0.6931471805599453, 1e-6);
    mat_free(&m);
    mat_free(&l);
}
END_TEST

START_TEST(log_softmax_hand_values)
{
    /* log softmax(1, 2, 3) = (-2.4076060, -1.4076060, -0.4076060) */
    const float v[] = {1, 2, 3};
    Mat m = mat_from(1, 3, v);
    log_softmax_rows(m);
    ck_assert_double_eq_tol(MAT_AT(m, 0, 0), -2.40760596444438, 1e-6);
    ck_assert_double_eq_tol(MAT_AT(m, 0, 1), -1.40760596444438, 1e-6);
    ck_assert_double_eq_tol(MAT_AT(m, 0, 2), -0.40760596444438, 1e-6);
    mat_free(&m);
}
END_TEST

/* ----------------------------------------------------------- layer norm */

START_TEST(layernorm_hand_values)
{
    /* x = (1, 2, 3, 4): mean 2.5, biased variance 1.25,
     * x_hat = (x - 2.5) / sqrt(1.25 + 1e-5) = (-1.3416354, -0.4472118, 0.4472118, 1.3416354);
     * with gamma (1, 2, 0.5, -1) and beta (0, 0.5, 1, 0):
     * (-1.3416354, -0.3944236, 1.2236059, -1.3416354). */
    const float xv[] = {1, 2, 3, 4, 5, 5, 5, 5}, gv[] = {1, 2, 0.5f, -1}, bv[] = {0, 0.5f, 1, 0};
    Mat x = mat_from(2, 4, xv), g = mat_from(1, 4, gv), b = mat_from(1, 4, bv);
    Mat out = mat_new(2, 4);
    layernorm_rows(out, x, g, b, 1e-5f);
    const double want[] = {-1.3416354199689269, -0.394423613312618, 1.2236059033281546,
                           -1.3416354199689269};
    for (int j = 0; j < 4; j++) ck_assert_double_eq_tol(MAT_AT(out, 0, j), want[j], 1e-6);
    /* A constant row has variance 0: eps keeps it finite and x_hat = 0, so out = beta. */
    for (int j = 0; j < 4; j++) ck_assert_double_eq_tol(MAT_AT(out, 1, j), bv[j], 1e-6);
    layernorm_rows(x, x, g, b, 1e-5f);   /* in place gives the same */
    for (int j = 0; j < 4; j++) ck_assert_double_eq_tol(MAT_AT(x, 0, j), want[j], 1e-6);
    mat_free(&x);
    mat_free(&g);
    mat_free(&b);
    mat_free(&out);
}
END_TEST

Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("mat_mul");
    tcase_add_checked_fixture(tc, silence_stderr, NULL);
    tcase_add_test(tc, mat_mul_random_shapes_all_transposes);
    tcase_add_test(tc, mat_mul_hand_example);
    tcase_add_test(tc, mat_mul_on_views_leaves_the_rest_alone);
    tcase_add_test(tc, mat_mul_beta_zero_ignores_old_nan);
    tcase_add_exit_test(tc, mat_mul_shape_mismatch_exits, 3);
    suite_add_tcase(s, tc);
    tc = tcase_create("elementwise");
    tcase_add_test(tc, add_scale_bias_relu);
    tcase_add_test(tc, argmax_takes_first_of_ties);
    suite_add_tcase(s, tc);
    tc = tcase_create("softmax");
    tcase_add_test(tc, softmax_hand_values_and_rows_sum_to_1);
    tcase_add_test(tc, softmax_blocked_entries_are_exactly_zero);
    tcase_add_test(tc, softmax_huge_logits_stay_finite);
    tcase_add_test(tc, log_softmax_hand_values);
    suite_add_tcase(s, tc);
    tc = tcase_create("layernorm");
    tcase_add_test(tc, layernorm_hand_values);
    suite_add_tcase(s, tc);
    return s;
}
