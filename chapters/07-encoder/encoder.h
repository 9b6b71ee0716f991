/*
 * encoder.h - chapter 7: the encoder. Token ids become vectors, positions are
 * added, and N encoder layers (chapter 6) refine them:
 *
 *   x = Embed[src] * sqrt(E) + PE          (S, E)
 *   x = layer_N( ... layer_1(x))           each with self-attention over x
 *   memory = norm(x)                       when the final norm is present
 *
 * The source's padding (id 0) is blocked as a key for every query.
 * Parameter names are those of torch.nn.TransformerEncoder:
 * encoder.layers.{i}.*, and the optional encoder.norm.*.
 *
 * Sizes: S source positions, E model width, F feed-forward width, H heads,
 * N layers, V vocabulary.
 */
#ifndef ENCODER_H
#define ENCODER_H

#include <stdint.h>
#include "encoder_layer.h"

#define PAD_ID 0

typedef struct {
    int layers;            /* N */
    EncoderLayer *layer;   /* N layers (views into a ParamSet) */
    int has_norm;          /* 1 if the final norm exists */
    LayerNorm norm;        /* the final norm (encoder.norm.*) */
} Encoder;

/* x[s, :] = table[ids[s], :] * sqrt(E) + PE[s, :].
 *   x: (S, E)  table: (V, E)  ids: S ids, each in [0, V) (the caller checks) */
void embedding_forward(Mat x, Mat table, const int64_t *ids);

/* mask[i][j] = 1 where key j is padding (ids[j] == PAD_ID).   mask: (L, S), ids: S */
void mask_from_pad_ids(Mat mask, const int64_t *ids);

/* Declares N layers under prefix + "layers.{i}." and, if has_norm, the final
 * norm prefix + "norm.*" (prefix is "encoder." in a whole model). */
void encoder_declare(ParamSet *ps, const char *prefix, int layers, int E, int F, int has_norm);
/* Binds an encoder to its tensors; encoder_free releases the layer array. */
Encoder encoder_bind(const ParamSet *ps, const char *prefix, int layers, int heads, int norm_first,
                     int has_norm);
void encoder_init(Encoder *enc, Rng *r);
void encoder_free(Encoder *enc);

/* Runs the layers and the final norm, in place.
 *   x:    (S, E) the embedded source; on return the memory
 *   attn: (N * H * S, S) self-attention weights; layer n, head h at rows
 *         [(n H + h) S, (n H + h + 1) S)
 *   mask: (S, S) or NULL; nonzero = blocked */
void encoder_forward(Mat x, Mat attn, const Encoder *enc, const Mat *mask);

#endif
