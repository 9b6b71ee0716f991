/*
 * test_rng.c - the random stream is pinned: the same seed gives the same
 * numbers on every platform. Expected values come from the PCG authors'
 * published demo output (pcg32-demo, seed 42, stream 54) and from an
 * independent Python implementation of PCG32, run once; its outputs are
 * written out below.
 */
#include <math.h>
#include <stdlib.h>
#include "suites.h"
#include "rng.h"

START_TEST(pcg32_matches_reference_demo)
{
    /* pcg32_srandom_r(&rng, 42u, 54u), then six pcg32_random_r calls. */
    const uint32_t expected[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u,
                                  0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    Rng r;
    rng_seed_stream(&r, 42u, 54u);
    for (int i = 0; i < 6; i++) ck_assert_uint_eq(rng_u32(&r), expected[i]);
}
END_TEST

START_TEST(seed_is_pinned)
{
    /* rng_seed(1): the first words, and the uniforms made from their top 24 bits. */
    const uint32_t words[4] = {0xf063dc4bu, 0xb1241f91u, 0xf842f2c2u, 0xa65b6d95u};
    Rng r;
    rng_seed(&r, 1);
    for (int i = 0; i < 4; i++) ck_assert_uint_eq(rng_u32(&r), words[i]);
    rng_seed(&r, 1);
    ck_assert_float_eq(rng_uniform(&r), 0.9390237331390381f);
    ck_assert_float_eq(rng_uniform(&r), 0.691957414150238f);
}
END_TEST

START_TEST(same_seed_same_stream_other_seed_other_stream)
{
    Rng a, b, c;
    rng_seed(&a, 2026);
    rng_seed(&b, 2026);
    rng_seed(&c, 2027);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = rng_u32(&a);
        ck_assert_uint_eq(x, rng_u32(&b));
        differ += x != rng_u32(&c);
    }
    ck_assert_int_gt(differ, 95);
}
END_TEST

START_TEST(uniform_in_range_and_unbiased)
{
    Rng r;
    rng_seed(&r, 7);
    double sum = 0.0;
    enum { N = 100000 };
    for (int i = 0; i < N; i++) {
        float u = rng_uniform(&r);
        ck_assert(u >= 0.0f && u < 1.0f);
        sum += u;
    }
    ck_assert_double_eq_tol(sum / N, 0.5, 0.005);   /* std of the mean ~ 0.0009 */
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) counts[rng_below(&r, 7)]++;
    for (int k = 0; k < 7; k++) ck_assert_int_lt(abs(counts[k] - 10000), 500);
}
END_TEST

START_TEST(normal_has_mean_0_std_1)
{
    Rng r;
    rng_seed(&r, 11);
    double s = 0.0, s2 = 0.0;
    enum { N = 200000 };
    for (int i = 0; i < N; i++) {
        double x = rng_normal(&r);
        ck_assert(isfinite(x));
        s += x;
        s2 += x * x;
    }
    double mean = s / N, var = s2 / N - mean * mean;
    ck_assert_double_eq_tol(mean, 0.0, 0.01);
    ck_assert_double_eq_tol(var, 1.0, 0.02);
}
END_TEST

START_TEST(xavier_bound)
{
    /* fan_in 30, fan_out 10: a = sqrt(6 / 40) = 0.3873 */
    Rng r;
    rng_seed(&r, 3);
    Mat w = mat_new(10, 30);
    mat_rand_xavier(w, &r, 1.0f);
    float a = sqrtf(6.0f / 40.0f), lo = 0.0f, hi = 0.0f;
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 30; j++) {
            float x = MAT_AT(w, i, j);
            ck_assert(x >= -a && x < a);
            lo = fminf(lo, x);
            hi = fmaxf(hi, x);
        }
    ck_assert(lo < -0.8f * a && hi > 0.8f * a);   /* it fills the range */
    mat_free(&w);
}
END_TEST

Suite *rng_suite(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pcg32_matches_reference_demo);
    tcase_add_test(tc, seed_is_pinned);
    tcase_add_test(tc, same_seed_same_stream_other_seed_other_stream);
    tcase_add_test(tc, uniform_in_range_and_unbiased);
    tcase_add_test(tc, normal_has_mean_0_std_1);
    tcase_add_test(tc, xavier_bound);
    suite_add_tcase(s, tc);
    return s;
}
