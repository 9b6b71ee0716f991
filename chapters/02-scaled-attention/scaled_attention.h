/**
 * \file scaled_attention.h
 * \brief Chapter 2: scaled dot-product attention,
 * \verbatim
   weights = softmax(Q K^T / sqrt(D)),  output = weights V
   \endverbatim
 * One step more than chapter 1: the scores are divided by sqrt(D) before the
 * softmax, so their spread no longer grows with the width D (the chapter page
 * shows why, and the demo measures it).
 *
 * Sizes as in chapter 1: L queries, S keys/values, D query/key width, Dv value width.
 *
 * softmax_sharpness measures how close the weights are to one-hot; the demo
 * uses it to show what goes wrong without the scaling.
 * \ingroup api_ch02
 */
#ifndef SCALED_ATTENTION_H
#define SCALED_ATTENTION_H

#include "mat.h"

/**
 * \defgroup api_ch02 Chapter 2: scaled attention
 * \brief Dividing the scores by sqrt(D), and measuring what goes wrong
 * without it. The chapter: \ref ch02.
 * @{
 */

/**
 * \brief The factor 1 / sqrt(D) for queries and keys of width D.
 * \param d the width D
 * \return 1 / sqrt(d)
 */
float attention_scale(int d);

/**
 * \brief weights = softmax(Q K^T / sqrt(D)), output = weights V.
 * \param[out] output (L, Dv)
 * \param[out] weights (L, S)
 * \param[in] q (L, D)
 * \param[in] k (S, D)
 * \param[in] v (S, Dv)
 */
void scaled_attention_forward(Mat output, Mat weights, Mat q, Mat k, Mat v);

/**
 * \brief How peaked the rows of a softmax are, each measure averaged over the rows.
 *
 * For S keys the two ends are: uniform weights (1/S each) and one-hot.
 */
typedef struct {
    double max_weight;   ///< the largest weight of a row: 1/S uniform, 1 one-hot
    double entropy;      ///< -sum_j w_j ln w_j in nats: ln S uniform, 0 one-hot
    double grad_norm;    /**< Frobenius norm of the softmax's Jacobian d w / d s,
                              (S-1)^(1/2) / S uniform, 0 one-hot: no gradient flows */
} Sharpness;

/**
 * \brief Fills *sharp from the weights (each row a softmax).
 * \param[out] sharp the three measures
 * \param[in] weights (L, S)
 */
void softmax_sharpness(Sharpness *sharp, Mat weights);

/** @} */

#endif
