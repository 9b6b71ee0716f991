/*
 * encoder_layer.h - chapter 6: the position-wise feed-forward network, layer
 * normalisation and the residual connection, assembled with chapter 4's
 * multi-head self-attention into one encoder layer.
 *
 *   FFN(x) = ReLU(x W1^T + b1) W2^T + b2                 row by row
 *   LayerNorm(x) = (x - mean) / sqrt(var + eps) * gamma + beta   row by row
 *
 *   post-norm (the paper, PyTorch's default):
 *       x = norm1(x + SelfAttn(x));      x = norm2(x + FFN(x))
 *   pre-norm (--norm-first):
 *       x = x + SelfAttn(norm1(x));      x = x + FFN(norm2(x))
 *
 * Parameters are views into a ParamSet (common/params.h), under the names of
 * torch.nn.TransformerEncoderLayer: self_attn.*, linear1.*, linear2.*,
 * norm1.*, norm2.*.
 *
 * Sizes: S positions, E model width, F feed-forward width, H heads.
 */
#ifndef ENCODER_LAYER_H
#define ENCODER_LAYER_H

#include "mat.h"
#include "multihead.h"
#include "params.h"

#define LAYERNORM_EPS 1e-5f

typedef struct {
    Mat weight;   /* (1, E) gamma */
    Mat bias;     /* (1, E) beta */
} LayerNorm;

typedef struct {
    Mat w1;       /* (F, E) linear1.weight */
    Mat b1;       /* (1, F) linear1.bias */
    Mat w2;       /* (E, F) linear2.weight */
    Mat b2;       /* (1, E) linear2.bias */
} FeedForward;

typedef struct {
    MHA self_attn;      /* multi-head self-attention (views, chapter 4) */
    FeedForward ff;     /* position-wise feed-forward */
    LayerNorm norm1;    /* around the attention block */
    LayerNorm norm2;    /* around the feed-forward block */
    int norm_first;     /* 0: post-norm (the paper), 1: pre-norm */
} EncoderLayer;

/* out = LayerNorm(x), eps 1e-5, biased variance.   out, x: (N, E); out may be x */
void layernorm_forward(Mat out, Mat x, const LayerNorm *ln);

/* out = ReLU(x W1^T + b1) W2^T + b2.   out: (N, E)  x: (N, E) */
void feedforward_forward(Mat out, Mat x, const FeedForward *ff);

/* Declares a layer's tensors under prefix (e.g. "encoder.layers.0."):
 * self_attn.*, linear1.*, linear2.*, norm1.*, norm2.* */
void layernorm_declare(ParamSet *ps, const char *prefix, int E);
void feedforward_declare(ParamSet *ps, const char *prefix, int E, int F);
void encoder_layer_declare(ParamSet *ps, const char *prefix, int E, int F);

/* Points a layer's fields at its tensors in ps (after params_alloc). */
LayerNorm layernorm_bind(const ParamSet *ps, const char *prefix);
FeedForward feedforward_bind(const ParamSet *ps, const char *prefix);
EncoderLayer encoder_layer_bind(const ParamSet *ps, const char *prefix, int heads, int norm_first);

/* Initialises a layer's tensors as PyTorch does: attention as chapter 4,
 * linear layers uniform in +-1/sqrt(fan_in), norms gamma 1 and beta 0. */
void layernorm_init(LayerNorm *ln);
void feedforward_init(FeedForward *ff, Rng *r);
void encoder_layer_init(EncoderLayer *l, Rng *r);

/* One encoder layer, in place.
 *   x:    (S, E) the input, overwritten by the output
 *   attn: (H * S, S) the self-attention weights, head h at rows [h S, (h + 1) S)
 *   mask: (S, S) or NULL; nonzero = blocked (the source's padding keys) */
void encoder_layer_forward(Mat x, Mat attn, const EncoderLayer *l, const Mat *mask);

#endif
