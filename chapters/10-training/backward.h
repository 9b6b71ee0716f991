/**
 * \file backward.h
 * \brief Chapter 10: the backward pass of every piece of the model.
 *
 * Each function takes the gradient of the loss with respect to a piece's
 * output (dout) and what the forward pass saw (its inputs, and for attention
 * its weights), and
 *   - ADDS the gradients of the piece's parameters into a struct of the same
 *     type as the piece, whose views point into ParamSet.grad;
 *   - ADDS the gradients of the piece's inputs into dx (so that a tensor used
 *     twice, like x in self-attention x -> (Q, K, V), collects both).
 *
 * What the forward computed inside the piece (projections, the hidden layer
 * of the feed-forward network, a norm's mean and deviation) is recomputed
 * from the inputs: a little more arithmetic, much less to keep.
 *
 * Sizes: N rows (positions), I inputs, O outputs, L queries, S keys, E model
 * width, F feed-forward width, H heads, Dh = E / H, V vocabulary.
 * \ingroup api_ch10
 */
#ifndef BACKWARD_H
#define BACKWARD_H

#include <stdint.h>
#include "encoder_layer.h"
#include "multihead.h"

/** \addtogroup api_ch10
 *  @{ */

/**
 * \brief A linear map, out = x W^T + b, backwards:
 * dx += dout W,  dW += dout^T x,  db += sum over rows of dout.
 * \param[in,out] dx (N, I) d loss / d x, added to
 * \param[in,out] dw (O, I) d loss / d W, added to
 * \param[in,out] db (1, O) d loss / d b, added to
 * \param[in] dout (N, O) d loss / d out
 * \param[in] x (N, I) the forward's input
 * \param[in] w (O, I) the weight
 */
void linear_backward(Mat dx, Mat dw, Mat db, Mat dout, Mat x, Mat w);

/**
 * \brief a = ReLU(h) backwards: dh = da where h > 0, else 0 (in place).
 * \param[in,out] d (N, F) d loss / d a on entry, d loss / d h on return
 * \param[in] h (N, F) the forward's input
 */
void relu_backward(Mat d, Mat h);

/**
 * \brief weights = softmax(scores) row by row, backwards:
 * dscores = weights * (dweights - sum_j dweights * weights).
 *
 * Blocked entries have weight 0, so their gradient is 0 too.
 * \param[out] dscores (L, S); may be dweights itself
 * \param[in] dweights (L, S) d loss / d weights
 * \param[in] weights (L, S) the forward's output
 */
void softmax_backward(Mat dscores, Mat dweights, Mat weights);

/**
 * \brief One head of masked scaled attention backwards,
 * output = softmax(mask(q k^T / sqrt(D))) v. Writes (not adds) dq, dk, dv.
 * \param[out] dq (L, D)
 * \param[out] dk (S, D)
 * \param[out] dv (S, Dv)
 * \param[in] dout (L, Dv) d loss / d output
 * \param[in] weights (L, S) the forward's weights
 * \param[in] q (L, D) the queries
 * \param[in] k (S, D) the keys
 * \param[in] v (S, Dv) the values
 */
void attention_backward(Mat dq, Mat dk, Mat dv, Mat dout, Mat weights, Mat q, Mat k, Mat v);

/**
 * \brief Multi-head attention (chapter 4) backwards. attn holds the forward's weights.
 *
 * In self-attention pass the same matrix as dquery, dkey and dvalue: the
 * three contributions add up.
 * \param[in,out] dquery (L, E) added to
 * \param[in,out] dkey (S, E) added to
 * \param[in,out] dvalue (S, E) added to
 * \param grad the module's gradient views, added to; nothing is added to the
 *        key bias b_K, whose gradient is exactly 0 (a softmax ignores it)
 * \param[in] dout (L, E) d loss / d output
 * \param[in] attn (H L, S) the forward's weights
 * \param[in] query (L, E)
 * \param[in] key (S, E)
 * \param[in] value (S, E)
 * \param m the module
 */
void mha_backward(Mat dquery, Mat dkey, Mat dvalue, const MHA *grad, Mat dout, Mat attn,
                  Mat query, Mat key, Mat value, const MHA *m);

/**
 * \brief Layer norm (chapter 6) backwards.
 * \param[in,out] dx (N, E) added to
 * \param grad the norm's gradient views, added to
 * \param[in] dout (N, E) d loss / d output
 * \param[in] x (N, E) the forward's input
 * \param ln the norm
 */
void layernorm_backward(Mat dx, const LayerNorm *grad, Mat dout, Mat x, const LayerNorm *ln);

/**
 * \brief Feed-forward network (chapter 6) backwards.
 * \param[in,out] dx (N, E) added to
 * \param grad the network's gradient views, added to
 * \param[in] dout (N, E) d loss / d output
 * \param[in] x (N, E) the forward's input
 * \param ff the network
 */
void feedforward_backward(Mat dx, const FeedForward *grad, Mat dout, Mat x, const FeedForward *ff);

/**
 * \brief Embedding (chapter 7), x = table[ids] * sqrt(E) + PE, backwards:
 * dtable[ids[s]] += sqrt(E) dx[s].
 * \param[in,out] dtable (V, E) added to
 * \param[in] dx (N, E) d loss / d x
 * \param ids N token ids, each in [0, V)
 */
void embedding_backward(Mat dtable, Mat dx, const int64_t *ids);

/** @} */

#endif
