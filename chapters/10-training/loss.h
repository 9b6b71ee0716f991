/**
 * \file loss.h
 * \brief Chapter 10: the training loss, cross-entropy with label smoothing.
 *
 * It is defined exactly as torch.nn.CrossEntropyLoss(ignore_index=0,
 * label_smoothing=e) over the flattened logits:
 * \verbatim
   p = softmax(logits_t)                      one row per target position t
   q = (1 - e) onehot(y_t) + e / V            the smoothed target
   loss_t = - sum_c q_c log p_c
   loss = (sum of loss_t over positions with y_t != 0) / (their number)
   \endverbatim
 * and its gradient, d loss / d logits_t = (p - q) / count, 0 where y_t = 0.
 *
 * Sizes: T positions, V target vocabulary.
 * \ingroup api_ch10
 */
#ifndef LOSS_H
#define LOSS_H

#include <stdint.h>
#include "mat.h"

/** \addtogroup api_ch10
 *  @{ */

/** \brief The id that is ignored (padding), as the contract's ignore_index. */
#define IGNORE_ID 0

/**
 * \brief Number of positions of target that count (target != IGNORE_ID).
 * \param target n ids
 * \param n their number
 * \return the count
 */
int loss_count(const int64_t *target, int n);

/**
 * \brief The loss of one sequence and its gradient at the logits.
 *
 * Writes dlogits = (p - q) * inv_count (0 on ignored rows). Pass inv_count =
 * 1 / (counted positions of the whole batch), so the batch's gradients add
 * up to those of the mean. Never evaluates log(0): log p comes from a
 * log-softmax.
 * \param[out] dlogits (T, V)
 * \param[in] logits (T, V)
 * \param target T ids
 * \param smoothing the label smoothing e
 * \param inv_count 1 / (counted positions of the whole batch)
 * \return the SUM of loss_t over the counted positions of this sequence
 */
double cross_entropy_backward(Mat dlogits, Mat logits, const int64_t *target, float smoothing,
                              float inv_count);

/** @} */

#endif
