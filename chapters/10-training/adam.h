/**
 * \file adam.h
 * \brief Chapter 10: the optimiser and the learning-rate schedule of
 * "Attention Is All You Need" (section 5.3).
 *
 * Adam (Kingma and Ba, 2015), written as torch.optim.Adam computes it:
 * \verbatim
   m = beta1 m + (1 - beta1) g          v = beta2 v + (1 - beta2) g^2
   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
   \endverbatim
 * The paper's betas are (0.9, 0.98) and eps 1e-9.
 *
 * The schedule:
 * \verbatim
   lr(step) = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)
   \endverbatim
 * a linear warm-up for `warmup` steps, then decay as 1/sqrt(step).
 * \ingroup api_ch10
 */
#ifndef ADAM_H
#define ADAM_H

#include <stddef.h>

/** \addtogroup api_ch10
 *  @{ */

/** \brief Adam's state: its settings, the step count and two moments per parameter. */
typedef struct {
    float beta1,               ///< 0.9 in the paper
          beta2,               ///< 0.98 in the paper
          eps;                 ///< 1e-9 in the paper
    long step;                 ///< steps taken so far (t)
    size_t n;                  ///< number of parameters
    float *m,                  ///< (n) first moments
          *v;                  ///< (n) second moments
} Adam;

/**
 * \brief Moments zero, step 0.
 * \param[out] a the optimiser, to release with adam_free
 * \param n the number of parameters
 * \param beta1 the first moment's decay
 * \param beta2 the second moment's decay
 * \param eps added to the denominator
 */
void adam_init(Adam *a, size_t n, float beta1, float beta2, float eps);
/**
 * \brief Releases the moments.
 * \param a the optimiser
 */
void adam_free(Adam *a);
/**
 * \brief One step: params (n) move against grads (n) with learning rate lr.
 * \param a the optimiser; its step and moments advance
 * \param[in,out] params (n)
 * \param[in] grads (n)
 * \param lr the learning rate of this step
 */
void adam_step(Adam *a, float *params, const float *grads, float lr);

/**
 * \brief The paper's learning rate at step (counting from 1).
 * \param step the step, from 1
 * \param d_model the model width E
 * \param warmup the steps of linear growth
 * \param factor multiplies the whole schedule
 * \return the rate
 */
float noam_rate(long step, int d_model, int warmup, float factor);

/**
 * \brief Scales grads (n) so their L2 norm is at most max_norm
 * (torch.nn.utils.clip_grad_norm_).
 * \param[in,out] grads (n)
 * \param n their number
 * \param max_norm the largest norm allowed
 * \return the norm before scaling
 */
float clip_grad_norm(float *grads, size_t n, float max_norm);

/** @} */

#endif
