/*
 * decoder.h - chapter 8: the decoder. Each layer has three sublayers, each
 * with its residual connection and layer norm (chapter 6):
 *
 *   causal self-attention over the target so far     (norm1)
 *   cross-attention: target queries, source keys      (norm2)
 *   and values (the encoder's output, the "memory")
 *   feed-forward                                       (norm3)
 *
 *   post-norm: y = norm1(y + SelfAttn(y)); y = norm2(y + CrossAttn(y, m));
 *              y = norm3(y + FFN(y))
 *   pre-norm:  y = y + SelfAttn(norm1(y)); y = y + CrossAttn(norm2(y), m);
 *              y = y + FFN(norm3(y))
 *
 * Parameter names are those of torch.nn.TransformerDecoderLayer: self_attn.*,
 * multihead_attn.* (the cross-attention), linear1.*, linear2.*, norm1.*,
 * norm2.*, norm3.*; and decoder.layers.{i}.*, decoder.norm.* for the stack.
 *
 * Sizes: T target positions, S source positions, E model width, H heads,
 * N layers.
 */
#ifndef DECODER_H
#define DECODER_H

#include <stdint.h>
#include "encoder_layer.h"

typedef struct {
    MHA self_attn;      /* causal self-attention over the target */
    MHA cross_attn;     /* multihead_attn: queries from the target, keys and values from memory */
    FeedForward ff;
    LayerNorm norm1, norm2, norm3;
    int norm_first;     /* 0: post-norm, 1: pre-norm */
} DecoderLayer;

typedef struct {
    int layers;            /* N */
    DecoderLayer *layer;   /* N layers (views into a ParamSet) */
    int has_norm;          /* 1 if the final norm exists */
    LayerNorm norm;        /* decoder.norm.* */
} Decoder;

/* The decoder's two masks for one pair of sequences (nonzero = blocked):
 *   self_mask:  (T, T) key j is blocked for query i if j > i (the future) or
 *               tgt[j] is padding (PAD_ID)
 *   cross_mask: (T, S) source key j is blocked for every query if src[j] is padding
 *   tgt: T ids   src: S ids */
void decoder_masks(Mat self_mask, Mat cross_mask, const int64_t *tgt, const int64_t *src);

void decoder_layer_declare(ParamSet *ps, const char *prefix, int E, int F);
DecoderLayer decoder_layer_bind(const ParamSet *ps, const char *prefix, int heads, int norm_first);
void decoder_layer_init(DecoderLayer *l, Rng *r);

/* One decoder layer, in place.
 *   y:          (T, E) the target's vectors, overwritten by the output
 *   self_w:     (H * T, T) self-attention weights, head h at rows [h T, (h + 1) T)
 *   cross_w:    (H * T, S) cross-attention weights, target rows by source columns
 *   memory:     (S, E) the encoder's output
 *   self_mask:  (T, T) or NULL (causal and target padding); nonzero = blocked
 *   cross_mask: (T, S) or NULL (source padding) */
void decoder_layer_forward(Mat y, Mat self_w, Mat cross_w, Mat memory, const DecoderLayer *l,
                           const Mat *self_mask, const Mat *cross_mask);

void decoder_declare(ParamSet *ps, const char *prefix, int layers, int E, int F, int has_norm);
Decoder decoder_bind(const ParamSet *ps, const char *prefix, int layers, int heads, int norm_first,
                     int has_norm);
void decoder_init(Decoder *dec, Rng *r);
void decoder_free(Decoder *dec);

/* The stack and the final norm, in place.
 *   y:       (T, E) the embedded target; on return the decoder's output
 *   self_w:  (N * H * T, T)  layer n, head h at rows [(n H + h) T, (n H + h + 1) T)
 *   cross_w: (N * H * T, S)  the same layout
 *   memory:  (S, E)  masks as decoder_layer_forward */
void decoder_forward(Mat y, Mat self_w, Mat cross_w, Mat memory, const Decoder *dec,
                     const Mat *self_mask, const Mat *cross_mask);

#endif
