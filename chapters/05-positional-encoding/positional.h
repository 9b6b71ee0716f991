/*
 * positional.h - chapter 5: the sinusoidal positional encoding of
 * "Attention Is All You Need" (Vaswani et al., 2017, section 3.5):
 *
 *   PE[pos, 2i]     = sin(pos / 10000^(2i / D))
 *   PE[pos, 2i + 1] = cos(pos / 10000^(2i / D))      pos = 0, 1, 2, ...
 *
 * Attention alone cannot tell positions apart (the chapter demonstrates it);
 * adding PE to the embeddings gives every position its own signature.
 */
#ifndef POSITIONAL_H
#define POSITIONAL_H

#include "mat.h"

/* Fills the table.   pe: (N, D), row pos is PE[pos, :] */
void positional_encoding(Mat pe);

/* x[pos, :] += PE[pos, :] for pos = 0 ... L - 1.   x: (L, D) */
void positional_add(Mat x);

/* The angular frequency of column pair i (columns 2i and 2i + 1) in a table
 * of width d: w_i = 1 / 10000^(2i / d). Its wavelength is 2 pi / w_i. */
double positional_frequency(int pair, int d);

/* The fixed linear map that moves every position k steps on:
 *   PE[pos + k, :]^T = M_k PE[pos, :]^T   for every pos,
 * block-diagonal, one 2x2 rotation per column pair i,
 *   [ cos(w_i k)   sin(w_i k) ]
 *   [ -sin(w_i k)  cos(w_i k) ].
 * With an odd D the last column is a sine without its cosine, so it is not a
 * linear function of the row; m's last row and column are left zero.
 *   m: (D, D) */
void positional_shift_matrix(Mat m, int k);

#endif
