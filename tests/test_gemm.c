/*
 * test_gemm.c - the fast matrix multiply (common/gemm.c) against the plain
 * triple loop mat_mul_plain, for every micro-kernel this CPU can run: edge
 * sizes around the tile and block sizes, tall and wide shapes, the four
 * transpose combinations, alpha and beta, views with strides wider than
 * their rows; and, with OpenMP, bit-identical results on 1 and 2 threads.
 *
 * The two sum in different orders, so they agree to rounding: entry (i, j)
 * may differ by a few K float epsilons times the size of the terms summed,
 *   bound(i, j) = |alpha| sum_k |op(A)[i,k]| |op(B)[k,j]| + |beta C[i,j]|,
 * computed here with the plain loop on absolute values. A wrong index or a
 * missing slice of the sum shows up as an error of the size of the bound.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "suites.h"
#include "gemm.h"
#include "ops.h"
#include "rng.h"

/* A (rows, cols) view inside a larger matrix: one row and `pad` (> 0)
 * columns more on each side, so its stride is wider than its rows. The frame
 * holds `frame` (NaN for inputs: a read outside the view would show). */
typedef struct {
    Mat whole;
    Mat view;
} Framed;

static Framed framed_new(int rows, int cols, int pad, float frame)
{
    Framed f;
    f.whole = mat_new(rows + 2, cols + 2 * pad);
    mat_fill(f.whole, frame);
    f.view = mat_block(f.whole, 1, pad, rows, cols);
    return f;
}

static Mat abs_copy(Mat m)
{
    Mat a = mat_new(m.rows, m.cols);
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < m.cols; j++) MAT_AT(a, i, j) = fabsf(MAT_AT(m, i, j));
    return a;
}

/* 1 if every entry of f.whole outside f.view still equals `frame`. */
static int frame_untouched(Framed f, float frame)
{
    int r0 = 1, c0 = (int)(f.view.data - f.whole.data) % f.whole.stride;
    for (int i = 0; i < f.whole.rows; i++)
        for (int j = 0; j < f.whole.cols; j++) {
            int inside = i >= r0 && i < r0 + f.view.rows && j >= c0 && j < c0 + f.view.cols;
            if (!inside && MAT_AT(f.whole, i, j) != frame) return 0;
        }
    return 1;
}

/* C = alpha op(A) op(B) + beta C with every kernel, against the plain loop.
 * A, B and C are framed views; with beta == 0, C starts as NaN. */
static void check_shape(Rng *r, int M, int N, int K, Trans ta, Trans tb, float alpha, float beta)
{
    const float frame = 7.0f;
    Framed a = ta ? framed_new(K, M, 3, NAN) : framed_new(M, K, 3, NAN);
    Framed b = tb ? framed_new(N, K, 2, NAN) : framed_new(K, N, 2, NAN);
    Framed c = framed_new(M, N, 1, frame);
    mat_rand_uniform(a.view, r, -1.0f, 1.0f);
    mat_rand_uniform(b.view, r, -1.0f, 1.0f);
    Mat c0 = mat_new(M, N);   /* C's starting values */
    if (beta == 0.0f)
        mat_fill(c0, NAN);
    else
        mat_rand_uniform(c0, r, -1.0f, 1.0f);

    Mat want = mat_new(M, N), bound = mat_new(M, N);
    mat_copy(want, c0);
    mat_mul_plain(want, alpha, a.view, ta, b.view, tb, beta);
    Mat abs_a = abs_copy(a.view), abs_b = abs_copy(b.view), abs_c = abs_copy(c0);
    mat_mul_plain(bound, fabsf(alpha), abs_a, ta, abs_b, tb, 0.0f);
    double tol = 2.0 * (K + 2) * FLT_EPSILON;

    for (int kn = 0; kn < gemm_kernel_count(); kn++) {
        mat_copy(c.view, c0);
        gemm_with(kn, c.view, alpha, a.view, ta, b.view, tb, beta);
        ck_assert_msg(frame_untouched(c, frame), "%s M=%d N=%d K=%d ta=%d tb=%d: wrote outside C",
                      gemm_kernel_name(kn), M, N, K, ta, tb);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double got = MAT_AT(c.view, i, j), exp = MAT_AT(want, i, j);
                double size = MAT_AT(bound, i, j) + (beta == 0.0f ? 0.0 : fabs(beta) * MAT_AT(abs_c, i, j));
                ck_assert_msg(fabs(got - exp) <= tol * size + 1e-30,
                              "%s M=%d N=%d K=%d ta=%d tb=%d alpha=%g beta=%g: C[%d,%d] = %.9g, "
                              "plain %.9g", gemm_kernel_name(kn), M, N, K, ta, tb, (double)alpha,
                              (double)beta, i, j, got, exp);
            }
    }
    mat_free(&abs_a);
    mat_free(&abs_b);
    mat_free(&abs_c);
    mat_free(&want);
    mat_free(&bound);
    mat_free(&c0);
    mat_free(&a.whole);
    mat_free(&b.whole);
    mat_free(&c.whole);
}

static void check_all_transposes(Rng *r, int M, int N, int K, float alpha, float beta)
{
    for (int t = 0; t < 4; t++) check_shape(r, M, N, K, (Trans)(t & 1), (Trans)(t >> 1), alpha, beta);
}

START_TEST(kernels_are_listed)
{
    ck_assert_int_ge(gemm_kernel_count(), 1);
    /* The portable kernel runs everywhere and comes last. */
    ck_assert_ptr_nonnull(strstr(gemm_kernel_name(gemm_kernel_count() - 1), "portable"));
    ck_assert_ptr_null(gemm_kernel_name(gemm_kernel_count()));
}
END_TEST

START_TEST(squares_around_the_tile_sizes)
{
    /* Tiles are at most 16 x 32: every size up to 33 is a different mix of
     * whole and partial tiles; 63 .. 129 cross two and four tiles. */
    Rng r;
    rng_seed(&r, 1);
    for (int n = 1; n <= 33; n++) check_all_transposes(&r, n, n, n, 1.0f, 0.0f);
    static const int big[] = {63, 64, 65, 127, 129};
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        check_all_transposes(&r, big[s], big[s], big[s], 1.0f, 0.0f);
}
END_TEST

START_TEST(mixed_shapes_all_transposes)
{
    static const int shapes[][3] = {
        {1, 1, 1},     {1, 1, 300},  {1, 40, 7},    {37, 1, 9},    {5, 3, 1},
        {13, 35, 17},  {12, 32, 64}, {65, 31, 127}, {10, 384, 64}, {640, 12, 24},
    };
    Rng r;
    rng_seed(&r, 2);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        check_all_transposes(&r, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f);
}
END_TEST

START_TEST(block_boundaries)
{
    /* The sum is cut into slices of KC = 256, the rows into blocks of up to
     * MC = 192, the columns into bands of NC = 2048. */
    static const int shapes[][3] = {
        {9, 11, 255}, {9, 11, 256}, {9, 11, 257}, {7, 5, 513},       /* K across slices */
        {191, 9, 13}, {192, 9, 13}, {193, 9, 13}, {385, 33, 31},     /* M across blocks */
        {3, 2047, 5}, {3, 2049, 5}, {2, 4100, 3},                   /* N across bands */
        {1000, 3, 5}, {3, 1000, 5}, {2, 3, 1000},                   /* tall, wide, long */
    };
    Rng r;
    rng_seed(&r, 3);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        check_all_transposes(&r, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f);
}
END_TEST

START_TEST(alpha_and_beta)
{
    static const float ab[][2] = {{-0.5f, 2.0f}, {1.0f, 1.0f}, {2.0f, -1.0f}, {0.0f, 0.5f}, {3.0f, 0.0f}};
    Rng r;
    rng_seed(&r, 4);
    for (size_t s = 0; s < sizeof ab / sizeof ab[0]; s++) {
        check_all_transposes(&r, 7, 9, 5, ab[s][0], ab[s][1]);
        check_all_transposes(&r, 50, 70, 300, ab[s][0], ab[s][1]);   /* two slices */
    }
}
END_TEST

START_TEST(beta_zero_ignores_nan_beta_one_accumulates)
{
    /* Through mat_mul, on a product big enough for the fast path. */
    Rng r;
    rng_seed(&r, 5);
    Mat a = mat_new(40, 300), b = mat_new(300, 50), c = mat_new(40, 50), twice = mat_new(40, 50);
    mat_rand_uniform(a, &r, -1, 1);
    mat_rand_uniform(b, &r, -1, 1);
    mat_fill(c, NAN);
    mat_mul(c, 1.0f, a, NO_TRANS, b, NO_TRANS, 0.0f);
    int i, j;
    ck_assert_msg(mat_all_finite(c, &i, &j), "NaN at (%d, %d)", i, j);
    mat_copy(twice, c);
    mat_mul(twice, 1.0f, a, NO_TRANS, b, NO_TRANS, 1.0f);   /* C + A B = 2 A B */
    for (i = 0; i < 40; i++)
        for (j = 0; j < 50; j++)
            ck_assert_float_eq_tol(MAT_AT(twice, i, j), 2.0f * MAT_AT(c, i, j), 1e-4f);
    mat_free(&a);
    mat_free(&b);
    mat_free(&c);
    mat_free(&twice);
}
END_TEST

START_TEST(mat_mul_large_shape_mismatch_exits)
{
    Mat a = mat_new(100, 300), b = mat_new(299, 100), c = mat_new(100, 100);
    mat_mul(c, 1.0f, a, NO_TRANS, b, NO_TRANS, 0.0f);   /* K 300 vs 299: exits 3 */
}
END_TEST

#ifdef _OPENMP
/* The same product on 1 and on 2 threads, compared bit for bit. */
static void check_threads(Rng *r, int M, int N, int K, Trans ta, Trans tb, float beta)
{
    Mat a = ta ? mat_new(K, M) : mat_new(M, K), b = tb ? mat_new(N, K) : mat_new(K, N);
    Mat c0 = mat_new(M, N), one = mat_new(M, N), two = mat_new(M, N);
    mat_rand_uniform(a, r, -1.0f, 1.0f);
    mat_rand_uniform(b, r, -1.0f, 1.0f);
    mat_rand_uniform(c0, r, -1.0f, 1.0f);
    int saved = omp_get_max_threads();
    for (int kn = 0; kn < gemm_kernel_count(); kn++) {
        mat_copy(one, c0);
        mat_copy(two, c0);
        omp_set_num_threads(1);
        gemm_with(kn, one, 0.75f, a, ta, b, tb, beta);
        omp_set_num_threads(2);
        ck_assert_int_eq(gemm_max_threads(), 2);
        gemm_with(kn, two, 0.75f, a, ta, b, tb, beta);
        ck_assert_msg(memcmp(one.data, two.data, sizeof(float) * (size_t)M * N) == 0,
                      "%s M=%d N=%d K=%d ta=%d tb=%d: 1 and 2 threads differ",
                      gemm_kernel_name(kn), M, N, K, ta, tb);
    }
    omp_set_num_threads(saved);
    mat_free(&a);
    mat_free(&b);
    mat_free(&c0);
    mat_free(&one);
    mat_free(&two);
}

START_TEST(same_bits_on_1_and_2_threads)
{
    /* Shapes that split by rows, by columns (M small), across slices and
     * bands, and the training step's. */
    static const int shapes[][3] = {
        {640, 96, 128}, {333, 257, 300}, {10, 2100, 64}, {7, 300, 600}, {201, 65, 513},
    };
    Rng r;
    rng_seed(&r, 6);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            check_threads(&r, shapes[s][0], shapes[s][1], shapes[s][2], (Trans)(t & 1),
                          (Trans)(t >> 1), t == 3 ? 0.0f : 1.0f);
}
END_TEST
#endif

Suite *gemm_suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("against_plain");
    tcase_set_timeout(tc, 120);   /* the plain loop is slow under sanitizers */
    tcase_add_checked_fixture(tc, silence_stderr, NULL);
    tcase_add_test(tc, kernels_are_listed);
    tcase_add_test(tc, squares_around_the_tile_sizes);
    tcase_add_test(tc, mixed_shapes_all_transposes);
    tcase_add_test(tc, block_boundaries);
    tcase_add_test(tc, alpha_and_beta);
    tcase_add_test(tc, beta_zero_ignores_nan_beta_one_accumulates);
    tcase_add_exit_test(tc, mat_mul_large_shape_mismatch_exits, 3);
    suite_add_tcase(s, tc);
#ifdef _OPENMP
    tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, same_bits_on_1_and_2_threads);
    suite_add_tcase(s, tc);
#endif
    return s;
}
