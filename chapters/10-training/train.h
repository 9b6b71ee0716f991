/**
 * \file train.h
 * \brief Chapter 10: one training step's worth of calculus for the whole
 * model of chapter 9: a forward pass that keeps what the backward pass needs,
 * the backward pass, and dropout.
 *
 * Every sublayer of the encoder and decoder sits in the same residual block
 * (chapter 6), in one of two orders:
 * \verbatim
   post-norm: x' = norm(x + dropout(sublayer(x)))
   pre-norm:  x' = x + dropout(sublayer(norm(x)))
   \endverbatim
 * so one block forward and one block backward serve all five kinds of
 * sublayer use (encoder self-attention and feed-forward; decoder
 * self-attention, cross-attention and feed-forward). Dropout is the paper's
 * (section 5.4): on each sublayer's output before the residual sum, and on
 * the sums of embeddings and positional encodings.
 *
 * Gradients go into a Transformer whose views point into params.grad
 * (transformer_grad_view), so they sit under the same names as the
 * parameters and an optimiser step is one loop over one array.
 *
 * Sizes: S source length, T target length, E d_model, Vt target vocabulary.
 * \ingroup api_ch10
 */
#ifndef TRAIN_H
#define TRAIN_H

#include <stdint.h>
#include "transformer.h"

/**
 * \defgroup api_ch10 Chapter 10: training
 * \brief Backward passes, cross-entropy with label smoothing, Adam with the
 * paper's warm-up schedule, dropout, the copy and reverse tasks, training
 * runs with checkpoints, animated figures. The chapter: \ref ch10.
 * @{
 */

/** \brief A batch of B pairs of equal lengths (shorter sequences padded with 0). */
typedef struct {
    int B,                    ///< pairs
        S,                    ///< source length
        T;                    ///< target length
    const int64_t *src;       ///< (B, S) source ids
    const int64_t *tgt;       ///< (B, T) decoder input: BOS y1 y2 ...
    const int64_t *tgt_out;   ///< (B, T) what each position must predict: y1 y2 ... EOS
} Batch;

/**
 * \brief A Transformer with the model's shapes whose views point into
 * m->params.grad (allocated here if it is not yet).
 * \param[out] g the gradient views, to release with transformer_grad_view_free
 * \param m the model
 */
void transformer_grad_view(Transformer *g, Transformer *m);
/**
 * \brief Releases the layer arrays of the views (the gradients stay in the model).
 * \param g the gradient views
 */
void transformer_grad_view_free(Transformer *g);

/**
 * \brief Dropout in place: each entry is zeroed with probability p, the
 * others are scaled by 1 / (1 - p).
 *
 * p = 0 changes nothing and draws no random numbers.
 * \param[in,out] x (N, E)
 * \param[out] keep (N, E) the multipliers, 0 or 1 / (1 - p), for the backward pass
 * \param p the probability of zeroing
 * \param r the random generator
 */
void dropout_forward(Mat x, Mat keep, float p, Rng *r);

/**
 * \brief The gradients of the batch's mean loss, written into m->params.grad
 * (set to zero first).
 *
 * The loss is torch.nn.CrossEntropyLoss with ignore_index 0 and
 * label_smoothing. dropout 0 makes it deterministic; with dropout, the same
 * generator state gives the same masks. The batch is computed all at once
 * (batched_backward, batched.h) in a workspace that is kept from one call to
 * the next; the numbers are transformer_backward_pairs's up to float
 * rounding, and the same on any number of threads.
 * \param m the model; its params.grad is written
 * \param b the batch
 * \param smoothing the label smoothing
 * \param dropout the probability of dropout
 * \param r the random generator for dropout
 * \return the mean loss
 */
double transformer_backward(Transformer *m, const Batch *b, float smoothing, float dropout,
                            Rng *r);

/**
 * \brief The batch's mean loss with no gradients (evaluation: no dropout),
 * computed all at once like transformer_backward.
 * \param m the model
 * \param b the batch
 * \param smoothing the label smoothing
 * \return the mean loss
 */
double transformer_loss(const Transformer *m, const Batch *b, float smoothing);

/**
 * \brief transformer_backward one pair at a time: the readable reference
 * that the chapter walks through (pair_forward, pair_backward in train.c).
 *
 * It draws dropout's random numbers in the same order as
 * transformer_backward, so the same generator state gives the same masks.
 * \param m the model; its params.grad is written
 * \param b the batch
 * \param smoothing the label smoothing
 * \param dropout the probability of dropout
 * \param r the random generator for dropout
 * \return the mean loss
 */
double transformer_backward_pairs(Transformer *m, const Batch *b, float smoothing, float dropout,
                                  Rng *r);

/**
 * \brief transformer_loss one pair at a time, through chapter 9's
 * transformer_forward: the reference for the batched forward pass.
 * \param m the model
 * \param b the batch
 * \param smoothing the label smoothing
 * \return the mean loss
 */
double transformer_loss_pairs(const Transformer *m, const Batch *b, float smoothing);

/**
 * \brief Releases the workspace that transformer_backward and
 * transformer_loss keep for the calling thread (the next call makes a new
 * one). Optional: for a program that wants its memory back before it ends.
 */
void transformer_release_work(void);

/** @} */

#endif
