/*
 * ops.h - the kernels of the book: matrix multiply, element-wise arithmetic,
 * softmax, layer norm, ReLU, argmax. Each is the plain, readable loop; the
 * chapter pages quote them. A faster matrix multiply lives beside the plain
 * one later, and the tests hold the two equal.
 *
 * Shapes are written (rows, cols). Every function works on views too.
 * Introduced with chapter 1.
 */
#ifndef OPS_H
#define OPS_H

#include "mat.h"

/* Whether an operand of mat_mul is used as it is or transposed. */
typedef enum { NO_TRANS = 0, TRANS = 1 } Trans;

/* C <- alpha * op(A) * op(B) + beta * C
 *   op(A): (M, K), op(B): (K, N), C: (M, N).
 * With beta == 0, C's old contents are ignored (even NaN). */
void mat_mul(Mat c, float alpha, Mat a, Trans ta, Mat b, Trans tb, float beta);

/* c <- a + b (same shapes; c may be a or b). */
void mat_add(Mat c, Mat a, Mat b);
/* m <- s * m */
void mat_scale(Mat m, float s);
/* m[i, :] <- m[i, :] + bias for every row i.   m: (R, C), bias: (1, C) */
void mat_add_bias(Mat m, Mat bias);
/* m <- max(m, 0) */
void mat_relu(Mat m);

/* Row-wise softmax in place: m[i, j] <- exp(m[i,j] - max_i) / sum_j(...).
 * An entry equal to -INFINITY is *blocked*: it comes out exactly 0. A row in
 * which every entry is blocked comes out all zeros (not NaN). */
void softmax_rows(Mat m);
/* Row-wise log-softmax in place: m[i, j] <- m[i, j] - logsumexp(m[i, :]). */
void log_softmax_rows(Mat m);

/* Layer normalisation of each row (as torch.nn.LayerNorm over the last dim):
 *   out[i, :] = (x[i, :] - mean_i) / sqrt(var_i + eps) * gamma + beta
 * with the biased variance var_i = mean((x[i, :] - mean_i)^2).
 *   out, x: (R, C)   gamma, beta: (1, C); out may be x. */
void layernorm_rows(Mat out, Mat x, Mat gamma, Mat beta, float eps);

/* For each row i, the index of its largest entry (the first, on ties).
 *   m: (R, C)   idx: R ints */
void argmax_rows(int *idx, Mat m);

#endif
