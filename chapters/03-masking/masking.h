/*
 * masking.h - chapter 3: masks, which forbid some queries to look at some keys.
 *
 * A mask is a (L, S) matrix of 0s and 1s, with PyTorch's polarity:
 *   1 (true) = blocked: query i may not attend to key j,
 *   0        = allowed.
 * Blocking works on the scores: a blocked score becomes -infinity, so the
 * softmax gives it exactly 0 weight. A query whose keys are all blocked gets
 * all-zero weights and a zero output (never NaN).
 *
 * Two kinds of masks, and their combination:
 *   padding: sequences in a batch have different lengths; the pad positions
 *            of the keys are blocked for every query;
 *   causal:  query i may not see keys j > i (the future), for a decoder.
 */
#ifndef MASKING_H
#define MASKING_H

#include "mat.h"

/* mask[i][j] = 1 if j > i (the future), else 0.           mask: (L, S) */
void mask_causal(Mat mask);

/* mask[i][j] = 1 if key j is padding (j >= length), else 0. mask: (L, S) */
void mask_padding(Mat mask, int length);

/* dst = a OR b, element by element (dst may be a or b).   all (L, S) */
void mask_combine(Mat dst, Mat a, Mat b);

/* scores[i][j] = -infinity wherever mask[i][j] is nonzero. both (L, S) */
void mask_apply(Mat scores, Mat mask);

/* weights = softmax(mask(Q K^T / sqrt(D))), output = weights V.
 * mask may be NULL (nothing blocked).
 *   output: (L, Dv)  weights: (L, S)  q: (L, D)  k: (S, D)  v: (S, Dv)  mask: (L, S) */
void masked_attention_forward(Mat output, Mat weights, Mat q, Mat k, Mat v, const Mat *mask);

#endif
