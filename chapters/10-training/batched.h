/**
 * \file batched.h
 * \brief Chapter 10: the training step of train.h computed on the whole
 * batch at once, the way it runs fast.
 *
 * train.c runs the model one pair of sequences at a time: every matrix
 * product then has S or T rows (10 in the reference configuration), and
 * copying the weights into the multiply's packed blocks costs as much as the
 * arithmetic. Here the batch's positions are stacked,
 * \verbatim
   source side  X (B S, E): rows [b S, (b + 1) S) are pair b
   target side  Y (B T, E): rows [b T, (b + 1) T) are pair b
   \endverbatim
 * so that every position-wise piece (embeddings, projections, feed-forward,
 * layer norm, generator, loss) is one product or one loop over B S or B T
 * rows. Only attention looks across positions: it runs for each (pair, head)
 * on views of the stacked projections, with that pair's masks, B H of them
 * shared out among OpenMP threads.
 *
 * The numbers are those of train.c's per-pair step up to float rounding
 * (tests/test_batched.c holds them together), dropout included: the masks
 * are drawn from the generator in the per-pair order. Every sum runs in an
 * order that does not depend on the number of threads, so the results do
 * not either.
 *
 * Everything the step computes lives in a workspace (BatchWork), allocated
 * once and reused by every later step with the same or smaller shapes.
 * transformer_backward and transformer_loss (train.h) keep one and call
 * these functions.
 *
 * Sizes: B pairs, S source length, T target length, E d_model, H heads.
 * \ingroup api_ch10
 */
#ifndef BATCHED_H
#define BATCHED_H

#include <stddef.h>
#include "rng.h"
#include "train.h"
#include "transformer.h"

/** \addtogroup api_ch10
 *  @{ */

/**
 * \brief The memory of the batched step: activations kept for the backward
 * pass, their gradients, scratch. Opaque; see batched.c.
 */
typedef struct BatchWork BatchWork;

/**
 * \brief An empty workspace; the first step sizes it.
 * \return the workspace, to release with batch_work_free
 */
BatchWork *batch_work_new(void);

/**
 * \brief Releases a workspace (NULL is allowed).
 * \param w the workspace
 */
void batch_work_free(BatchWork *w);

/**
 * \brief Caps the workspace: a batch whose step would need more memory is
 * done in slices of pairs (at least one pair a slice), whose gradients add
 * up to the whole batch's.
 * \param w the workspace
 * \param floats the most floats a slice may take; 0 restores the default,
 *        2^24 (64 MB)
 */
void batch_work_limit(BatchWork *w, size_t floats);

/**
 * \brief transformer_backward on the whole batch at once: the gradients of
 * the batch's mean loss, written into m->params.grad (set to zero first).
 *
 * A batch too big for the workspace's budget (batch_work_limit) is done in
 * slices of pairs whose gradients add up.
 * \param m the model; its params.grad is written (allocated if need be)
 * \param w the workspace
 * \param b the batch
 * \param smoothing the label smoothing
 * \param dropout the probability of dropout
 * \param r the random generator for dropout (unused when dropout is 0)
 * \return the mean loss
 */
double batched_backward(Transformer *m, BatchWork *w, const Batch *b, float smoothing,
                        float dropout, Rng *r);

/**
 * \brief transformer_loss on the whole batch at once: the mean loss, no
 * gradients, no dropout.
 * \param m the model
 * \param w the workspace
 * \param b the batch
 * \param smoothing the label smoothing
 * \return the mean loss
 */
double batched_loss(const Transformer *m, BatchWork *w, const Batch *b, float smoothing);

/** @} */

#endif
