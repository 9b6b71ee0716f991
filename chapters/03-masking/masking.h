/**
 * \file masking.h
 * \brief Chapter 3: masks, which forbid some queries to look at some keys.
 *
 * A mask is a (L, S) matrix of 0s and 1s, with PyTorch's polarity:
 * - 1 (true) = blocked: query i may not attend to key j,
 * - 0        = allowed.
 *
 * Blocking works on the scores: a blocked score becomes -infinity, so the
 * softmax gives it exactly 0 weight. A query whose keys are all blocked gets
 * all-zero weights and a zero output (never NaN).
 *
 * Two kinds of masks, and their combination:
 * - padding: sequences in a batch have different lengths; the pad positions
 *   of the keys are blocked for every query;
 * - causal: query i may not see keys j > i (the future), for a decoder.
 * \ingroup api_ch03
 */
#ifndef MASKING_H
#define MASKING_H

#include "mat.h"

/**
 * \defgroup api_ch03 Chapter 3: masking
 * \brief Padding and causal masks; blocked keys get weight 0, an all-blocked
 * row gives zeros. The chapter: \ref ch03.
 * @{
 */

/**
 * \brief mask[i][j] = 1 if j > i (the future), else 0.
 * \param[out] mask (L, S)
 */
void mask_causal(Mat mask);

/**
 * \brief mask[i][j] = 1 if key j is padding (j >= length), else 0.
 * \param[out] mask (L, S)
 * \param length the number of real keys; keys from there on are padding
 */
void mask_padding(Mat mask, int length);

/**
 * \brief dst = a OR b, element by element (dst may be a or b).
 * \param[out] dst (L, S)
 * \param[in] a (L, S)
 * \param[in] b (L, S)
 */
void mask_combine(Mat dst, Mat a, Mat b);

/**
 * \brief scores[i][j] = -infinity wherever mask[i][j] is nonzero.
 * \param[in,out] scores (L, S)
 * \param[in] mask (L, S)
 */
void mask_apply(Mat scores, Mat mask);

/**
 * \brief weights = softmax(mask(Q K^T / sqrt(D))), output = weights V.
 * \param[out] output (L, Dv)
 * \param[out] weights (L, S)
 * \param[in] q (L, D)
 * \param[in] k (S, D)
 * \param[in] v (S, Dv)
 * \param[in] mask (L, S), or NULL (nothing blocked)
 */
void masked_attention_forward(Mat output, Mat weights, Mat q, Mat k, Mat v, const Mat *mask);

/** @} */

#endif
