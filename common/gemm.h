/**
 * \file gemm.h
 * \brief The fast matrix multiply behind mat_mul: the same
 * C <- alpha op(A) op(B) + beta C as the readable triple loop mat_mul_plain,
 * computed the way optimised libraries do it.
 *
 * The method is Goto and van de Geijn's ("Anatomy of High-Performance Matrix
 * Multiplication", 2008):
 *   - cut the sum over K into slices and C into blocks that fit the caches;
 *   - copy ("pack") each slice of op(A) and op(B) into a contiguous buffer,
 *     so transposes and strides cost nothing in the innermost loop;
 *   - compute C an MR x NR tile at a time with a micro-kernel that keeps the
 *     tile in registers;
 *   - share the blocks out among OpenMP threads (when built with OpenMP).
 *
 * The micro-kernel is chosen at run time: AVX-512 or AVX2 with FMA on x86-64
 * CPUs that have them, a portable C version everywhere else. Each entry of C
 * is summed in the same order whatever the number of threads, so results are
 * identical on 1 or 2 threads (OMP_NUM_THREADS sets how many).
 *
 * mat_mul calls gemm for all but tiny products: call mat_mul, not this.
 * Added with the performance work that follows chapter 10.
 * \ingroup api_common
 */
#ifndef GEMM_H
#define GEMM_H

#include "mat.h"
#include "ops.h"

/** \addtogroup api_common
 *  @{ */

/**
 * \brief C <- alpha op(A) op(B) + beta C with the best micro-kernel of this CPU.
 *
 * Shapes are not checked here (mat_mul does). With beta == 0, C's old
 * contents are ignored (even NaN).
 * \param c (M, N) the result, a matrix or a view
 * \param alpha scales the product
 * \param a A; op(A) is (M, K)
 * \param ta whether A is used transposed
 * \param b B; op(B) is (K, N)
 * \param tb whether B is used transposed
 * \param beta scales C's old contents
 */
void gemm(Mat c, float alpha, Mat a, Trans ta, Mat b, Trans tb, float beta);

/**
 * \brief How many micro-kernels this CPU can run. Kernel 0 is the best, the
 * one gemm uses; tests and the benchmark use the others to compare.
 * \return at least 1 (the portable kernel runs everywhere)
 */
int gemm_kernel_count(void);
/**
 * \brief A kernel's name and tile size, such as "avx512 12x32".
 * \param kernel 0 (the best) to gemm_kernel_count() - 1
 * \return the name, or NULL for any other number
 */
const char *gemm_kernel_name(int kernel);
/**
 * \brief gemm with a given micro-kernel; exits (3) if this CPU cannot run it.
 * \param kernel 0 (the best) to gemm_kernel_count() - 1
 * \param c (M, N) the result
 * \param alpha scales the product
 * \param a A; op(A) is (M, K)
 * \param ta whether A is used transposed
 * \param b B; op(B) is (K, N)
 * \param tb whether B is used transposed
 * \param beta scales C's old contents
 */
void gemm_with(int kernel, Mat c, float alpha, Mat a, Trans ta, Mat b, Trans tb, float beta);

/**
 * \brief How many threads gemm uses for large products.
 * \return OpenMP's thread count (OMP_NUM_THREADS); 1 without OpenMP or
 * when called from inside a parallel region
 */
int gemm_max_threads(void);

/** @} */

#endif
