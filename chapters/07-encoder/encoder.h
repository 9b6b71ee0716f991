/**
 * \file encoder.h
 * \brief Chapter 7: the encoder. Token ids become vectors, positions are
 * added, and N encoder layers (chapter 6) refine them:
 * \verbatim
   x = Embed[src] * sqrt(E) + PE          (S, E)
   x = layer_N( ... layer_1(x))           each with self-attention over x
   memory = norm(x)                       when the final norm is present
   \endverbatim
 * The source's padding (id 0) is blocked as a key for every query.
 * Parameter names are those of torch.nn.TransformerEncoder:
 * encoder.layers.{i}.*, and the optional encoder.norm.*.
 *
 * Sizes: S source positions, E model width, F feed-forward width, H heads,
 * N layers, V vocabulary.
 * \ingroup api_ch07
 */
#ifndef ENCODER_H
#define ENCODER_H

#include <stdint.h>
#include "encoder_layer.h"

/**
 * \defgroup api_ch07 Chapter 7: the encoder
 * \brief Embeddings scaled by sqrt(d_model), positions, a stack of layers,
 * the final norm. The chapter: \ref ch07.
 * @{
 */

/** \brief The pad token's id, for source and target: blocked as a key. */
#define PAD_ID 0

/** \brief The most layers a stack read from a file may have: a bound, so
 *  that counting and declaring them stay quick. */
enum { MAX_LAYERS = 1000 };

/** \brief A stack of N encoder layers and the optional final norm. */
typedef struct {
    int layers;            ///< N
    EncoderLayer *layer;   ///< N layers (views into a ParamSet)
    int has_norm;          ///< 1 if the final norm exists
    LayerNorm norm;        ///< the final norm (encoder.norm.*)
} Encoder;

/**
 * \brief x[s, :] = table[ids[s], :] * sqrt(E) + PE[s, :].
 * \param[out] x (S, E)
 * \param[in] table (V, E)
 * \param ids S ids, each in [0, V) (the caller checks)
 */
void embedding_forward(Mat x, Mat table, const int64_t *ids);

/**
 * \brief mask[i][j] = 1 where key j is padding (ids[j] == PAD_ID).
 * \param[out] mask (L, S)
 * \param ids S ids
 */
void mask_from_pad_ids(Mat mask, const int64_t *ids);

/**
 * \brief How many layers a model file holds under `prefix`: the layers
 * i = 0, 1, ... whose `prefix`layers.{i}.linear1.weight is there, counted
 * up to MAX_LAYERS + 1.
 * \param z the file's arrays
 * \param prefix "encoder." (or "decoder.": chapter 8's layers are named alike)
 * \return the number of layers; MAX_LAYERS + 1 means more than MAX_LAYERS
 */
int count_layers(const Npz *z, const char *prefix);

/**
 * \brief Declares N layers under prefix + "layers.{i}." and, if has_norm, the
 * final norm prefix + "norm.*".
 * \param ps the set, before params_alloc
 * \param prefix "encoder." in a whole model
 * \param layers N
 * \param E the model width
 * \param F the feed-forward width
 * \param has_norm 1 to declare the final norm
 */
void encoder_declare(ParamSet *ps, const char *prefix, int layers, int E, int F, int has_norm);
/**
 * \brief Binds an encoder to its tensors; encoder_free releases the layer array.
 * \param ps the set, allocated
 * \param prefix as given to encoder_declare
 * \param layers N
 * \param heads the number of heads H
 * \param norm_first 0: post-norm, 1: pre-norm
 * \param has_norm 1 if the final norm was declared
 * \return the encoder
 */
Encoder encoder_bind(const ParamSet *ps, const char *prefix, int layers, int heads, int norm_first,
                     int has_norm);
/**
 * \brief Initialises every layer and the final norm as PyTorch does.
 * \param enc the encoder
 * \param r the random generator
 */
void encoder_init(Encoder *enc, Rng *r);
/**
 * \brief Releases the layer array (the tensors belong to the ParamSet).
 * \param enc the encoder
 */
void encoder_free(Encoder *enc);

/**
 * \brief Runs the layers and the final norm, in place.
 * \param[in,out] x (S, E) the embedded source; on return the memory
 * \param[out] attn (N * H * S, S) self-attention weights; layer n, head h at
 *             rows [(n H + h) S, (n H + h + 1) S)
 * \param enc the encoder
 * \param[in] mask (S, S) or NULL; nonzero = blocked
 */
void encoder_forward(Mat x, Mat attn, const Encoder *enc, const Mat *mask);

/** @} */

#endif
