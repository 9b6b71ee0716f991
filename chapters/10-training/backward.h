/*
 * backward.h - chapter 10: the backward pass of every piece of the model.
 *
 * Each function takes the gradient of the loss with respect to a piece's
 * output (dout) and what the forward pass saw (its inputs, and for attention
 * its weights), and
 *   - ADDS the gradients of the piece's parameters into a struct of the same
 *     type as the piece, whose views point into ParamSet.grad;
 *   - ADDS the gradients of the piece's inputs into dx (so that a tensor used
 *     twice, like x in self-attention x -> (Q, K, V), collects both).
 * What the forward computed inside the piece (projections, the hidden layer
 * of the feed-forward network, a norm's mean and deviation) is recomputed
 * from the inputs: a little more arithmetic, much less to keep.
 *
 * Sizes: N rows (positions), I inputs, O outputs, L queries, S keys, E model
 * width, F feed-forward width, H heads, Dh = E / H, V vocabulary.
 */
#ifndef BACKWARD_H
#define BACKWARD_H

#include <stdint.h>
#include "encoder_layer.h"
#include "multihead.h"

/* out = x W^T + b:   dx += dout W,  dW += dout^T x,  db += sum over rows of dout
 *   dx, x: (N, I)   dw, w: (O, I)   db: (1, O)   dout: (N, O) */
void linear_backward(Mat dx, Mat dw, Mat db, Mat dout, Mat x, Mat w);

/* a = ReLU(h):  dh = da where h > 0, else 0 (in place).   d, h: (N, F) */
void relu_backward(Mat d, Mat h);

/* weights = softmax(scores) row by row:
 *   dscores = weights * (dweights - sum_j dweights * weights)     (all (L, S))
 * Blocked entries have weight 0, so their gradient is 0 too. */
void softmax_backward(Mat dscores, Mat dweights, Mat weights);

/* One head of masked scaled attention, output = softmax(mask(q k^T / sqrt(D))) v.
 * Writes (not adds) dq, dk, dv.
 *   dq, q: (L, D)  dk, k: (S, D)  dv, v: (S, Dv)  dout: (L, Dv)  weights: (L, S) */
void attention_backward(Mat dq, Mat dk, Mat dv, Mat dout, Mat weights, Mat q, Mat k, Mat v);

/* Multi-head attention (chapter 4). attn holds the forward's weights.
 *   dquery, query: (L, E)   dkey, key, dvalue, value: (S, E)   dout: (L, E)
 *   attn: (H L, S)   grad: the module's gradient views */
void mha_backward(Mat dquery, Mat dkey, Mat dvalue, const MHA *grad, Mat dout, Mat attn,
                  Mat query, Mat key, Mat value, const MHA *m);

/* Layer norm (chapter 6).   dx, x, dout: (N, E) */
void layernorm_backward(Mat dx, const LayerNorm *grad, Mat dout, Mat x, const LayerNorm *ln);

/* Feed-forward network (chapter 6).   dx, x, dout: (N, E) */
void feedforward_backward(Mat dx, const FeedForward *grad, Mat dout, Mat x, const FeedForward *ff);

/* Embedding (chapter 7), x = table[ids] * sqrt(E) + PE:
 *   dtable[ids[s]] += sqrt(E) dx[s]     dtable: (V, E)  dx: (N, E)  ids: N */
void embedding_backward(Mat dtable, Mat dx, const int64_t *ids);

#endif
