/**
 * \file positional.h
 * \brief Chapter 5: the sinusoidal positional encoding of
 * "Attention Is All You Need" (Vaswani et al., 2017, section 3.5):
 * \verbatim
   PE[pos, 2i]     = sin(pos / 10000^(2i / D))
   PE[pos, 2i + 1] = cos(pos / 10000^(2i / D))      pos = 0, 1, 2, ...
   \endverbatim
 * Attention alone cannot tell positions apart (the chapter demonstrates it);
 * adding PE to the embeddings gives every position its own signature.
 * \ingroup api_ch05
 */
#ifndef POSITIONAL_H
#define POSITIONAL_H

#include "mat.h"

/**
 * \defgroup api_ch05 Chapter 5: positional encoding
 * \brief The sinusoidal table; why attention alone cannot see word order.
 * The chapter: \ref ch05.
 * @{
 */

/**
 * \brief Fills the table.
 * \param[out] pe (N, D), row pos is PE[pos, :]
 */
void positional_encoding(Mat pe);

/**
 * \brief x[pos, :] += PE[pos, :] for pos = 0 ... L - 1.
 * \param[in,out] x (L, D)
 */
void positional_add(Mat x);

/**
 * \brief The angular frequency of column pair i (columns 2i and 2i + 1) in a
 * table of width d: w_i = 1 / 10000^(2i / d). Its wavelength is 2 pi / w_i.
 * \param pair the pair i
 * \param d the table's width D
 * \return w_i
 */
double positional_frequency(int pair, int d);

/**
 * \brief The fixed linear map that moves every position k steps on:
 * PE[pos + k, :]^T = M_k PE[pos, :]^T for every pos.
 *
 * Block-diagonal, one 2x2 rotation per column pair i,
 * \verbatim
   [ cos(w_i k)   sin(w_i k) ]
   [ -sin(w_i k)  cos(w_i k) ].
   \endverbatim
 * With an odd D the last column is a sine without its cosine, so it is not a
 * linear function of the row; m's last row and column are left zero.
 * \param[out] m (D, D)
 * \param k the number of steps
 */
void positional_shift_matrix(Mat m, int k);

/** @} */

#endif
