/*
 * ops.c - the plain kernels (see ops.h). Each loop is written to be read
 * beside its formula in the chapter pages. mat_mul hands all but tiny
 * products to the fast gemm (gemm.h), or to OpenBLAS when built with
 * USE_OPENBLAS (make BLAS=openblas).
 * Introduced with chapter 1.
 */
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "gemm.h"
#ifdef USE_OPENBLAS
#include <cblas.h>
#endif

/* Element (i, j) of op(m): m itself, or its transpose. */
static inline float op_at(Mat m, Trans t, int i, int j)
{
    return t == TRANS ? MAT_AT(m, j, i) : MAT_AT(m, i, j);
}

//! [mat_mul]
void mat_mul_plain(Mat c, float alpha, Mat a, Trans ta, Mat b, Trans tb, float beta)
{
    int M = ta ? a.cols : a.rows, K = ta ? a.rows : a.cols;
    int Kb = tb ? b.cols : b.rows, N = tb ? b.rows : b.cols;
    if (K != Kb || c.rows != M || c.cols != N) {
        fprintf(stderr, "mat_mul: op(A) is (%d, %d), op(B) is (%d, %d), C is (%d, %d)\n",
                M, K, Kb, N, c.rows, c.cols);
        exit(3);
    }
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            float sum = 0.0f;
            for (int k = 0; k < K; k++) sum += op_at(a, ta, i, k) * op_at(b, tb, k, j);
            float old = beta == 0.0f ? 0.0f : beta * MAT_AT(c, i, j);
            MAT_AT(c, i, j) = alpha * sum + old;
        }
    }
}
//! [mat_mul]

/* Products with fewer multiply-adds (M N K) than this take the plain loop:
 * for them, packing blocks for the fast kernels costs more than it saves
 * (measured: 0.07 us plain, 0.11 us fast at 4 x 4 x 4; 0.37 and 0.19 us at
 * 8 x 8 x 8). */
#define FAST_MIN (8 * 8 * 8)

void mat_mul(Mat c, float alpha, Mat a, Trans ta, Mat b, Trans tb, float beta)
{
    int M = ta ? a.cols : a.rows, K = ta ? a.rows : a.cols;
    int Kb = tb ? b.cols : b.rows, N = tb ? b.rows : b.cols;
    /* Wrong shapes go to the plain loop too: it reports them and exits. */
    if (K != Kb || c.rows != M || c.cols != N || (double)M * N * K < FAST_MIN) {
        mat_mul_plain(c, alpha, a, ta, b, tb, beta);
        return;
    }
#ifdef USE_OPENBLAS
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
                N, K, alpha, a.data, a.stride, b.data, b.stride, beta, c.data, c.stride);
#else
    gemm(c, alpha, a, ta, b, tb, beta);
#endif
}

static void check_same(Mat a, Mat b, const char *what)
{
    mat_check_shape(b, a.rows, a.cols, what);
}

void mat_add(Mat c, Mat a, Mat b)
{
    check_same(a, b, "mat_add second operand");
    check_same(a, c, "mat_add result");
    for (int i = 0; i < a.rows; i++)
        for (int j = 0; j < a.cols; j++) MAT_AT(c, i, j) = MAT_AT(a, i, j) + MAT_AT(b, i, j);
}

void mat_scale(Mat m, float s)
{
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < m.cols; j++) MAT_AT(m, i, j) *= s;
}

void mat_add_bias(Mat m, Mat bias)
{
    mat_check_shape(bias, 1, m.cols, "mat_add_bias bias");
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < m.cols; j++) MAT_AT(m, i, j) += MAT_AT(bias, 0, j);
}

void mat_relu(Mat m)
{
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < m.cols; j++)
            if (!(MAT_AT(m, i, j) > 0.0f)) MAT_AT(m, i, j) = 0.0f;
}

/* The largest entry of row i; -INFINITY when every entry is blocked. */
static float row_max(Mat m, int i)
{
    float mx = -INFINITY;
    for (int j = 0; j < m.cols; j++)
        if (MAT_AT(m, i, j) > mx) mx = MAT_AT(m, i, j);
    return mx;
}

//! [softmax_rows]
void softmax_rows(Mat m)
{
    for (int i = 0; i < m.rows; i++) {
        float mx = row_max(m, i);
        if (mx == -INFINITY) {            /* every key blocked: no weight anywhere */
            for (int j = 0; j < m.cols; j++) MAT_AT(m, i, j) = 0.0f;
            continue;
        }
        float sum = 0.0f;
        for (int j = 0; j < m.cols; j++) {
            float e = expf(MAT_AT(m, i, j) - mx);   /* exp(-inf) = 0: blocked */
            MAT_AT(m, i, j) = e;
            sum += e;
        }
        for (int j = 0; j < m.cols; j++) MAT_AT(m, i, j) /= sum;
    }
}
//! [softmax_rows]

void log_softmax_rows(Mat m)
{
    for (int i = 0; i < m.rows; i++) {
        float mx = row_max(m, i);
        if (mx == -INFINITY) continue;     /* all blocked: stays -inf, no NaN */
        float sum = 0.0f;
        for (int j = 0; j < m.cols; j++) sum += expf(MAT_AT(m, i, j) - mx);
        /* (x - max) - log(sum), never x - (max + log(sum)): at |x| ~ 1e4 a
         * float cannot hold max + log(sum) to better than 1e-3. */
        float log_sum = logf(sum);
        for (int j = 0; j < m.cols; j++) MAT_AT(m, i, j) = (MAT_AT(m, i, j) - mx) - log_sum;
    }
}

//! [layernorm_rows]
void layernorm_rows(Mat out, Mat x, Mat gamma, Mat beta, float eps)
{
    check_same(x, out, "layernorm_rows output");
    mat_check_shape(gamma, 1, x.cols, "layernorm_rows gamma");
    mat_check_shape(beta, 1, x.cols, "layernorm_rows beta");
    int C = x.cols;
    for (int i = 0; i < x.rows; i++) {
        double mean = 0.0, var = 0.0;
        for (int j = 0; j < C; j++) mean += MAT_AT(x, i, j);
        mean /= C;
        for (int j = 0; j < C; j++) {
            double d = MAT_AT(x, i, j) - mean;
            var += d * d;
        }
        var /= C;                                   /* biased, as PyTorch */
        double rstd = 1.0 / sqrt(var + eps);        /* eps inside the root */
        for (int j = 0; j < C; j++) {
            double xhat = (MAT_AT(x, i, j) - mean) * rstd;
            MAT_AT(out, i, j) = (float)(xhat * MAT_AT(gamma, 0, j) + MAT_AT(beta, 0, j));
        }
    }
}
//! [layernorm_rows]

void argmax_rows(int *idx, Mat m)
{
    for (int i = 0; i < m.rows; i++) {
        int best = 0;
        for (int j = 1; j < m.cols; j++)
            if (MAT_AT(m, i, j) > MAT_AT(m, i, best)) best = j;
        idx[i] = best;
    }
}
