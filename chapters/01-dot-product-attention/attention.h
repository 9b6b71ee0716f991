/**
 * \file attention.h
 * \brief Chapter 1: dot-product attention, the operation the whole
 * Transformer is built around.
 * \verbatim
   scores  = Q K^T              (L, S)  how well each query matches each key
   weights = softmax(scores)    (L, S)  each row sums to 1
   output  = weights V          (L, Dv) a weighted average of the values
   \endverbatim
 * Size letters, used in every chapter:
 * \verbatim
   L  queries (target length)     S  keys and values (source length)
   D  width of a query and a key  Dv width of a value
   \endverbatim
 * Later chapters call these pieces and add one step each: scaling
 * (chapter 2), masking (chapter 3), heads (chapter 4).
 * \ingroup api_ch01
 */
#ifndef ATTENTION_H
#define ATTENTION_H

#include "mat.h"

/**
 * \defgroup api_ch01 Chapter 1: dot-product attention
 * \brief softmax(Q K^T) V: queries, keys, values, weights. The chapter: \ref ch01.
 * @{
 */

/**
 * \brief scores = Q K^T
 * \param[out] scores (L, S)
 * \param[in] q (L, D)
 * \param[in] k (S, D)
 */
void attention_scores(Mat scores, Mat q, Mat k);

/**
 * \brief output = weights V
 * \param[out] output (L, Dv)
 * \param[in] weights (L, S)
 * \param[in] v (S, Dv)
 */
void attention_mix(Mat output, Mat weights, Mat v);

/**
 * \brief The whole chapter: weights = softmax(Q K^T), output = weights V.
 * \param[out] output (L, Dv)
 * \param[out] weights (L, S)
 * \param[in] q (L, D)
 * \param[in] k (S, D)
 * \param[in] v (S, Dv)
 */
void attention_forward(Mat output, Mat weights, Mat q, Mat k, Mat v);

/** @} */

#endif
