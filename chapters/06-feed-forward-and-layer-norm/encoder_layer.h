/**
 * \file encoder_layer.h
 * \brief Chapter 6: the position-wise feed-forward network, layer
 * normalisation and the residual connection, assembled with chapter 4's
 * multi-head self-attention into one encoder layer.
 * \verbatim
   FFN(x) = ReLU(x W1^T + b1) W2^T + b2                 row by row
   LayerNorm(x) = (x - mean) / sqrt(var + eps) * gamma + beta   row by row

   post-norm (the paper, PyTorch's default):
       x = norm1(x + SelfAttn(x));      x = norm2(x + FFN(x))
   pre-norm (--norm-first):
       x = x + SelfAttn(norm1(x));      x = x + FFN(norm2(x))
   \endverbatim
 * Parameters are views into a ParamSet (common/params.h), under the names of
 * torch.nn.TransformerEncoderLayer: self_attn.*, linear1.*, linear2.*,
 * norm1.*, norm2.*.
 *
 * Sizes: S positions, E model width, F feed-forward width, H heads.
 * \ingroup api_ch06
 */
#ifndef ENCODER_LAYER_H
#define ENCODER_LAYER_H

#include "mat.h"
#include "multihead.h"
#include "params.h"

/**
 * \defgroup api_ch06 Chapter 6: feed-forward and layer norm
 * \brief The feed-forward network, layer norm, residual connections: one
 * encoder layer, post-norm or pre-norm. The chapter: \ref ch06.
 * @{
 */

/** \brief The epsilon of torch.nn.LayerNorm, inside the square root. */
#define LAYERNORM_EPS 1e-5f

/** \brief A layer norm's two learned vectors. */
typedef struct {
    Mat weight;   ///< (1, E) gamma
    Mat bias;     ///< (1, E) beta
} LayerNorm;

/** \brief The position-wise feed-forward network's two linear maps. */
typedef struct {
    Mat w1;       ///< (F, E) linear1.weight
    Mat b1;       ///< (1, F) linear1.bias
    Mat w2;       ///< (E, F) linear2.weight
    Mat b2;       ///< (1, E) linear2.bias
} FeedForward;

/** \brief One encoder layer, as torch.nn.TransformerEncoderLayer. */
typedef struct {
    MHA self_attn;      ///< multi-head self-attention (views, chapter 4)
    FeedForward ff;     ///< position-wise feed-forward
    LayerNorm norm1;    ///< around the attention block
    LayerNorm norm2;    ///< around the feed-forward block
    int norm_first;     ///< 0: post-norm (the paper), 1: pre-norm
} EncoderLayer;

/**
 * \brief out = LayerNorm(x), eps 1e-5, biased variance.
 * \param[out] out (N, E); may be x
 * \param[in] x (N, E)
 * \param ln gamma and beta
 */
void layernorm_forward(Mat out, Mat x, const LayerNorm *ln);

/**
 * \brief out = ReLU(x W1^T + b1) W2^T + b2.
 * \param[out] out (N, E)
 * \param[in] x (N, E)
 * \param ff the two linear maps
 */
void feedforward_forward(Mat out, Mat x, const FeedForward *ff);

/**
 * \name Declaring a layer's tensors in a ParamSet
 * Under prefix (e.g. "encoder.layers.0."), with PyTorch's names.
 * @{
 */
/**
 * \brief Declares prefix + "weight" and "bias", each (E).
 * \param ps the set, before params_alloc
 * \param prefix e.g. "encoder.layers.0.norm1."
 * \param E the model width
 */
void layernorm_declare(ParamSet *ps, const char *prefix, int E);
/**
 * \brief Declares prefix + "linear1.*" and "linear2.*".
 * \param ps the set, before params_alloc
 * \param prefix e.g. "encoder.layers.0."
 * \param E the model width
 * \param F the feed-forward width
 */
void feedforward_declare(ParamSet *ps, const char *prefix, int E, int F);
/**
 * \brief Declares self_attn.*, linear1.*, linear2.*, norm1.*, norm2.* under prefix.
 * \param ps the set, before params_alloc
 * \param prefix e.g. "encoder.layers.0."
 * \param E the model width
 * \param F the feed-forward width
 */
void encoder_layer_declare(ParamSet *ps, const char *prefix, int E, int F);
/** @} */

/**
 * \name Binding: pointing a layer's fields at its tensors in ps (after params_alloc)
 * @{
 */
/**
 * \brief A layer norm viewing prefix + "weight" and "bias".
 * \param ps the set, allocated
 * \param prefix as given to layernorm_declare
 * \return the views
 */
LayerNorm layernorm_bind(const ParamSet *ps, const char *prefix);
/**
 * \brief A feed-forward network viewing prefix + "linear1.*" and "linear2.*".
 * \param ps the set, allocated
 * \param prefix as given to feedforward_declare
 * \return the views
 */
FeedForward feedforward_bind(const ParamSet *ps, const char *prefix);
/**
 * \brief A whole layer viewing its tensors under prefix.
 * \param ps the set, allocated
 * \param prefix as given to encoder_layer_declare
 * \param heads the number of heads H
 * \param norm_first 0: post-norm, 1: pre-norm
 * \return the views
 */
EncoderLayer encoder_layer_bind(const ParamSet *ps, const char *prefix, int heads, int norm_first);
/** @} */

/**
 * \name Initialising as PyTorch does
 * Attention as chapter 4, linear layers uniform in +-1/sqrt(fan_in), norms
 * gamma 1 and beta 0.
 * @{
 */
/**
 * \brief gamma 1, beta 0.
 * \param ln the norm
 */
void layernorm_init(LayerNorm *ln);
/**
 * \brief Both linear maps uniform in +-1/sqrt(fan_in).
 * \param ff the network
 * \param r the random generator
 */
void feedforward_init(FeedForward *ff, Rng *r);
/**
 * \brief The attention, the feed-forward network and both norms.
 * \param l the layer
 * \param r the random generator
 */
void encoder_layer_init(EncoderLayer *l, Rng *r);
/** @} */

/**
 * \brief One encoder layer, in place.
 * \param[in,out] x (S, E) the input, overwritten by the output
 * \param[out] attn (H * S, S) the self-attention weights, head h at rows [h S, (h + 1) S)
 * \param l the layer
 * \param[in] mask (S, S) or NULL; nonzero = blocked (the source's padding keys)
 */
void encoder_layer_forward(Mat x, Mat attn, const EncoderLayer *l, const Mat *mask);

/** @} */

#endif
