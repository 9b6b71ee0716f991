/**
 * \file ops.h
 * \brief The kernels of the book: matrix multiply, element-wise arithmetic,
 * softmax, layer norm, ReLU, argmax. Each is the plain, readable loop; the
 * chapter pages quote them. The matrix multiply has a fast twin (gemm.h) that
 * mat_mul calls for all but tiny products; the tests hold the two equal.
 *
 * Shapes are written (rows, cols). Every function works on views too.
 * Introduced with chapter 1.
 * \ingroup api_common
 */
#ifndef OPS_H
#define OPS_H

#include "mat.h"

/** \addtogroup api_common
 *  @{ */

/** \brief Whether an operand of mat_mul is used as it is or transposed. */
typedef enum {
    NO_TRANS = 0,   ///< as it is
    TRANS = 1       ///< transposed, on the fly (no copy is made)
} Trans;

/**
 * \brief C <- alpha * op(A) * op(B) + beta * C
 *
 * With beta == 0, C's old contents are ignored (even NaN). Shapes that do not
 * fit together stop the program (exit 3) with a message.
 * mat_mul picks the fastest way: the plain loop for tiny products, the
 * blocked kernels of gemm.h otherwise (or OpenBLAS's cblas_sgemm in a
 * `make BLAS=openblas` build).
 * \param[in,out] c (M, N)
 * \param alpha scales the product
 * \param[in] a A; op(A) is (M, K)
 * \param ta whether A is used transposed
 * \param[in] b B; op(B) is (K, N)
 * \param tb whether B is used transposed
 * \param beta scales C's old contents
 */
void mat_mul(Mat c, float alpha, Mat a, Trans ta, Mat b, Trans tb, float beta);
/**
 * \brief The same, as the readable triple loop: one dot product per entry of C.
 * \param[in,out] c (M, N)
 * \param alpha scales the product
 * \param[in] a A; op(A) is (M, K)
 * \param ta whether A is used transposed
 * \param[in] b B; op(B) is (K, N)
 * \param tb whether B is used transposed
 * \param beta scales C's old contents
 */
void mat_mul_plain(Mat c, float alpha, Mat a, Trans ta, Mat b, Trans tb, float beta);

/**
 * \brief c <- a + b (same shapes; c may be a or b).
 * \param[out] c (R, C)
 * \param[in] a (R, C)
 * \param[in] b (R, C)
 */
void mat_add(Mat c, Mat a, Mat b);
/**
 * \brief m <- s * m
 * \param[in,out] m (R, C)
 * \param s the factor
 */
void mat_scale(Mat m, float s);
/**
 * \brief m[i, :] <- m[i, :] + bias for every row i.
 * \param[in,out] m (R, C)
 * \param[in] bias (1, C)
 */
void mat_add_bias(Mat m, Mat bias);
/**
 * \brief m <- max(m, 0)
 * \param[in,out] m (R, C)
 */
void mat_relu(Mat m);

/**
 * \brief Row-wise softmax in place: m[i, j] <- exp(m[i,j] - max_i) / sum_j(...).
 *
 * An entry equal to -INFINITY is *blocked*: it comes out exactly 0. A row in
 * which every entry is blocked comes out all zeros (not NaN).
 * \param[in,out] m (R, C): scores in, weights out
 */
void softmax_rows(Mat m);
/**
 * \brief Row-wise log-softmax in place: m[i, j] <- m[i, j] - logsumexp(m[i, :]).
 * \param[in,out] m (R, C)
 */
void log_softmax_rows(Mat m);

/**
 * \brief Layer normalisation of each row (as torch.nn.LayerNorm over the last dim):
 * out[i, :] = (x[i, :] - mean_i) / sqrt(var_i + eps) * gamma + beta,
 * with the biased variance var_i = mean((x[i, :] - mean_i)^2).
 * \param[out] out (R, C); may be x
 * \param[in] x (R, C)
 * \param[in] gamma (1, C)
 * \param[in] beta (1, C)
 * \param eps added to the variance inside the square root
 */
void layernorm_rows(Mat out, Mat x, Mat gamma, Mat beta, float eps);

/**
 * \brief For each row i, the index of its largest entry (the first, on ties).
 * \param[out] idx R ints
 * \param[in] m (R, C)
 */
void argmax_rows(int *idx, Mat m);

/** @} */

#endif
