/*
 * train.h - chapter 10: one training step's worth of calculus for the whole
 * model of chapter 9: a forward pass that keeps what the backward pass needs,
 * the backward pass, and dropout.
 *
 * Every sublayer of the encoder and decoder sits in the same residual block
 * (chapter 6), in one of two orders:
 *   post-norm: x' = norm(x + dropout(sublayer(x)))
 *   pre-norm:  x' = x + dropout(sublayer(norm(x)))
 * so one block forward and one block backward serve all five kinds of
 * sublayer use (encoder self-attention and feed-forward; decoder
 * self-attention, cross-attention and feed-forward). Dropout is the paper's
 * (section 5.4): on each sublayer's output before the residual sum, and on
 * the sums of embeddings and positional encodings.
 *
 * Gradients go into a Transformer whose views point into params.grad
 * (transformer_grad_view), so they sit under the same names as the
 * parameters and an optimiser step is one loop over one array.
 * Sizes: S source length, T target length, E d_model, Vt target vocabulary.
 */
#ifndef TRAIN_H
#define TRAIN_H

#include <stdint.h>
#include "transformer.h"

/* A batch of B pairs of equal lengths (shorter sequences padded with 0). */
typedef struct {
    int B, S, T;
    const int64_t *src;       /* (B, S) source ids */
    const int64_t *tgt;       /* (B, T) decoder input: BOS y1 y2 ... */
    const int64_t *tgt_out;   /* (B, T) what each position must predict: y1 y2 ... EOS */
} Batch;

/* A Transformer with the model's shapes whose views point into m->params.grad
 * (allocated here if it is not yet). Free with transformer_grad_view_free. */
void transformer_grad_view(Transformer *g, Transformer *m);
void transformer_grad_view_free(Transformer *g);

/* Dropout in place: each entry is zeroed with probability p, the others are
 * scaled by 1 / (1 - p); keep (same shape) records the multipliers for the
 * backward pass. p = 0 changes nothing and draws no random numbers. */
void dropout_forward(Mat x, Mat keep, float p, Rng *r);

/* The gradients of the batch's mean loss, written into m->params.grad (set to
 * zero first); returns the mean loss (torch.nn.CrossEntropyLoss with
 * ignore_index 0 and label_smoothing). dropout 0 makes it deterministic. */
double transformer_backward(Transformer *m, const Batch *b, float smoothing, float dropout,
                            Rng *r);

/* The batch's mean loss with no gradients (evaluation: no dropout). */
double transformer_loss(const Transformer *m, const Batch *b, float smoothing);

#endif
