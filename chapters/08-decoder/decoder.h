/**
 * \file decoder.h
 * \brief Chapter 8: the decoder. Each layer has three sublayers, each
 * with its residual connection and layer norm (chapter 6):
 * \verbatim
   causal self-attention over the target so far     (norm1)
   cross-attention: target queries, source keys      (norm2)
   and values (the encoder's output, the "memory")
   feed-forward                                       (norm3)

   post-norm: y = norm1(y + SelfAttn(y)); y = norm2(y + CrossAttn(y, m));
              y = norm3(y + FFN(y))
   pre-norm:  y = y + SelfAttn(norm1(y)); y = y + CrossAttn(norm2(y), m);
              y = y + FFN(norm3(y))
   \endverbatim
 * Parameter names are those of torch.nn.TransformerDecoderLayer: self_attn.*,
 * multihead_attn.* (the cross-attention), linear1.*, linear2.*, norm1.*,
 * norm2.*, norm3.*; and decoder.layers.{i}.*, decoder.norm.* for the stack.
 *
 * Sizes: T target positions, S source positions, E model width, H heads,
 * N layers.
 * \ingroup api_ch08
 */
#ifndef DECODER_H
#define DECODER_H

#include <stdint.h>
#include "encoder_layer.h"

/**
 * \defgroup api_ch08 Chapter 8: the decoder
 * \brief Causal self-attention, cross-attention over the encoder's output.
 * The chapter: \ref ch08.
 * @{
 */

/** \brief One decoder layer, as torch.nn.TransformerDecoderLayer. */
typedef struct {
    MHA self_attn;      ///< causal self-attention over the target
    MHA cross_attn;     ///< multihead_attn: queries from the target, keys and values from memory
    FeedForward ff;     ///< position-wise feed-forward
    LayerNorm norm1,    ///< around the self-attention
              norm2,    ///< around the cross-attention
              norm3;    ///< around the feed-forward network
    int norm_first;     ///< 0: post-norm, 1: pre-norm
} DecoderLayer;

/** \brief A stack of N decoder layers and the optional final norm. */
typedef struct {
    int layers;            ///< N
    DecoderLayer *layer;   ///< N layers (views into a ParamSet)
    int has_norm;          ///< 1 if the final norm exists
    LayerNorm norm;        ///< decoder.norm.*
} Decoder;

/**
 * \brief The decoder's two masks for one pair of sequences (nonzero = blocked).
 * \param[out] self_mask (T, T) key j is blocked for query i if j > i (the
 *             future) or tgt[j] is padding (PAD_ID)
 * \param[out] cross_mask (T, S) source key j is blocked for every query if
 *             src[j] is padding
 * \param tgt T ids
 * \param src S ids
 */
void decoder_masks(Mat self_mask, Mat cross_mask, const int64_t *tgt, const int64_t *src);

/**
 * \brief Declares self_attn.*, multihead_attn.*, linear1.*, linear2.*,
 * norm1.*, norm2.*, norm3.* under prefix.
 * \param ps the set, before params_alloc
 * \param prefix e.g. "decoder.layers.0."
 * \param E the model width
 * \param F the feed-forward width
 */
void decoder_layer_declare(ParamSet *ps, const char *prefix, int E, int F);
/**
 * \brief A layer viewing its tensors under prefix.
 * \param ps the set, allocated
 * \param prefix as given to decoder_layer_declare
 * \param heads the number of heads H
 * \param norm_first 0: post-norm, 1: pre-norm
 * \return the views
 */
DecoderLayer decoder_layer_bind(const ParamSet *ps, const char *prefix, int heads, int norm_first);
/**
 * \brief Initialises a layer as PyTorch does (chapter 6's rules).
 * \param l the layer
 * \param r the random generator
 */
void decoder_layer_init(DecoderLayer *l, Rng *r);

/**
 * \brief One decoder layer, in place.
 * \param[in,out] y (T, E) the target's vectors, overwritten by the output
 * \param[out] self_w (H * T, T) self-attention weights, head h at rows [h T, (h + 1) T)
 * \param[out] cross_w (H * T, S) cross-attention weights, target rows by source columns
 * \param[in] memory (S, E) the encoder's output
 * \param l the layer
 * \param[in] self_mask (T, T) or NULL (causal and target padding); nonzero = blocked
 * \param[in] cross_mask (T, S) or NULL (source padding)
 */
void decoder_layer_forward(Mat y, Mat self_w, Mat cross_w, Mat memory, const DecoderLayer *l,
                           const Mat *self_mask, const Mat *cross_mask);

/**
 * \brief Declares N layers under prefix + "layers.{i}." and, if has_norm, the
 * final norm prefix + "norm.*".
 * \param ps the set, before params_alloc
 * \param prefix "decoder." in a whole model
 * \param layers N
 * \param E the model width
 * \param F the feed-forward width
 * \param has_norm 1 to declare the final norm
 */
void decoder_declare(ParamSet *ps, const char *prefix, int layers, int E, int F, int has_norm);
/**
 * \brief Binds a decoder to its tensors; decoder_free releases the layer array.
 * \param ps the set, allocated
 * \param prefix as given to decoder_declare
 * \param layers N
 * \param heads the number of heads H
 * \param norm_first 0: post-norm, 1: pre-norm
 * \param has_norm 1 if the final norm was declared
 * \return the decoder
 */
Decoder decoder_bind(const ParamSet *ps, const char *prefix, int layers, int heads, int norm_first,
                     int has_norm);
/**
 * \brief Initialises every layer and the final norm as PyTorch does.
 * \param dec the decoder
 * \param r the random generator
 */
void decoder_init(Decoder *dec, Rng *r);
/**
 * \brief Releases the layer array (the tensors belong to the ParamSet).
 * \param dec the decoder
 */
void decoder_free(Decoder *dec);

/**
 * \brief The stack and the final norm, in place.
 * \param[in,out] y (T, E) the embedded target; on return the decoder's output
 * \param[out] self_w (N * H * T, T) layer n, head h at rows [(n H + h) T, (n H + h + 1) T)
 * \param[out] cross_w (N * H * T, S) the same layout
 * \param[in] memory (S, E) the encoder's output
 * \param dec the decoder
 * \param[in] self_mask (T, T) or NULL, as decoder_layer_forward
 * \param[in] cross_mask (T, S) or NULL, as decoder_layer_forward
 */
void decoder_forward(Mat y, Mat self_w, Mat cross_w, Mat memory, const Decoder *dec,
                     const Mat *self_mask, const Mat *cross_mask);

/** @} */

#endif
