/**
 * \file transformer.h
 * \brief Chapter 9: the whole encoder-decoder Transformer.
 * \verbatim
   memory = Encoder(Embed_src[src] * sqrt(E) + PE)                  (S, E)
   y      = Decoder(Embed_tgt[tgt] * sqrt(E) + PE, memory)          (T, E)
   logits = y W_gen^T + b_gen                                        (T, Vt)
   log p(next token) = log_softmax(logits)
   \endverbatim
 * Masks follow the contract: source positions holding PAD_ID are blocked as
 * keys in the encoder and in the cross-attention; target positions holding
 * PAD_ID are blocked as keys in the decoder's self-attention, on top of the
 * causal mask.
 *
 * Every parameter lives in one ParamSet under the names of the contract
 * (torch.nn.Transformer's state_dict plus src_embed, tgt_embed, generator),
 * so a PyTorch model saved as .npz runs here unchanged.
 *
 * Sizes: S source length, T target length, E d_model, F d_ff, H heads,
 * Vs and Vt vocabularies.
 * \ingroup api_ch09
 */
#ifndef TRANSFORMER_H
#define TRANSFORMER_H

#include <stdint.h>
#include "decoder.h"
#include "encoder.h"

/**
 * \defgroup api_ch09 Chapter 9: the encoder-decoder
 * \brief The whole model, its PyTorch-compatible parameter file, greedy
 * decoding, parameter counts. The chapter: \ref ch09.
 * @{
 */

/** \brief The sizes and options of a model. */
typedef struct {
    int E;             ///< d_model
    int F;             ///< d_ff
    int H;             ///< heads
    int enc_layers;    ///< N on the encoder side
    int dec_layers;    ///< N on the decoder side
    int Vs,            ///< source vocabulary
        Vt;            ///< target vocabulary
    int norm_first;    ///< 0: post-norm, 1: pre-norm
    int enc_norm;      ///< 1 if encoder.norm.* exists
    int dec_norm;      ///< 1 if decoder.norm.* exists
} TransformerConfig;

/** \brief A whole model: its parameters and the views into them. */
typedef struct {
    TransformerConfig cfg;   ///< its sizes
    ParamSet params;      ///< every tensor, one allocation
    Encoder encoder;      ///< views into params
    Decoder decoder;      ///< views into params
    Mat src_embed;        ///< (Vs, E)
    Mat tgt_embed;        ///< (Vt, E)
    Mat gen_weight;       ///< (Vt, E) generator.weight
    Mat gen_bias;         ///< (1, Vt) generator.bias
} Transformer;

/** \brief Where the attention weights of one forward pass go (for figures). */
typedef struct {
    Mat enc;        ///< (enc_layers * H * S, S)  layer n, head h: rows [(n H + h) S, ...)
    Mat dec_self;   ///< (dec_layers * H * T, T)
    Mat cross;      ///< (dec_layers * H * T, S)  target rows, source columns
} AttentionMaps;

/**
 * \brief Declares every tensor of a model with this configuration.
 * \param ps the set, before params_alloc
 * \param cfg the sizes
 */
void transformer_declare(ParamSet *ps, const TransformerConfig *cfg);
/**
 * \brief A new model with PyTorch-style random initialisation.
 * \param[out] m the model, to release with transformer_free
 * \param cfg the sizes
 * \param r the random generator
 */
void transformer_new(Transformer *m, const TransformerConfig *cfg, Rng *r);
/**
 * \brief Reads a model from .npz: sizes come from the shapes, heads and norm
 * order from config.nhead and config.norm_first.
 * \param[out] m the model, to release with transformer_free
 * \param path the .npz file
 * \param[out] err the message on any problem
 * \return 0, or -1 with err set
 */
int transformer_load(Transformer *m, const char *path, Error *err);
/**
 * \brief Writes the model as .npz (atomically), with config.nhead and config.norm_first.
 * \param m the model
 * \param path the .npz file
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int transformer_save(const Transformer *m, const char *path, Error *err);
/**
 * \brief Releases the parameters and the layer arrays.
 * \param m the model
 */
void transformer_free(Transformer *m);

/**
 * \brief Room for the attention weights of one pair of sequences.
 * \param cfg the model's sizes
 * \param S the source length
 * \param T the target length
 * \return the three matrices, to release with attention_maps_free
 */
AttentionMaps attention_maps_new(const TransformerConfig *cfg, int S, int T);
/**
 * \brief Releases the three matrices.
 * \param a the maps
 */
void attention_maps_free(AttentionMaps *a);

/**
 * \brief Checks that every id is in [0, V).
 * \param ids n ids
 * \param n their number
 * \param V the vocabulary's size
 * \param what names the ids in the message
 * \param[out] err the message, naming `what` and the place
 * \return 0, or -1 with err set
 */
int check_ids(const int64_t *ids, int n, int V, const char *what, Error *err);

/**
 * \brief Reads a batch of token ids (B, L) from an .npy file named on the
 * command line: an integer dtype, 2-D, B >= 1 and L in [1, 2^20].
 * \param[out] t the ids, to release with tensor_free (released on a failure)
 * \param path the file
 * \param option the option that named it (`--src`: (B, S); any other: (B, T))
 * \param[out] err the message, naming the file, the option and the shape found
 * \return 0, or -1 with err set
 */
int load_token_ids(Tensor *t, const char *path, const char *option, Error *err);
/**
 * \brief Checks with check_ids that every row of a batch of ids is in a
 * model's vocabulary.
 * \param ids (B, L), from load_token_ids
 * \param V the vocabulary's size
 * \param path the file the ids came from
 * \param option the option that named it (`--src`)
 * \param which the vocabulary: "source" or "target"
 * \param params the model's file
 * \param[out] err the message, naming the file, the row, the place and the model
 * \return 0, or -1 with err set
 */
int check_token_vocab(const Tensor *ids, int V, const char *path, const char *option,
                      const char *which, const char *params, Error *err);

/**
 * \brief The encoder alone.
 * \param[out] memory (S, E)
 * \param[out] enc_attn (enc_layers * H * S, S)
 * \param m the model
 * \param src S ids
 * \param S the source length
 */
void transformer_encode(Mat memory, Mat enc_attn, const Transformer *m, const int64_t *src, int S);
/**
 * \brief The decoder and generator on a memory.
 * \param[out] logits (T, Vt)
 * \param[out] dec_self (dec_layers * H * T, T)
 * \param[out] cross (dec_layers * H * T, S)
 * \param m the model
 * \param[in] memory (S, E) from transformer_encode
 * \param src S ids (for the cross-attention's padding mask)
 * \param S the source length
 * \param tgt T ids
 * \param T the target length
 */
void transformer_decode(Mat logits, Mat dec_self, Mat cross, const Transformer *m, Mat memory,
                        const int64_t *src, int S, const int64_t *tgt, int T);
/**
 * \brief Both: logits for one pair of sequences.
 * \param[out] logits (T, Vt)
 * \param[out] maps the attention weights, or NULL
 * \param m the model
 * \param src S ids
 * \param S the source length
 * \param tgt T ids
 * \param T the target length
 */
void transformer_forward(Mat logits, AttentionMaps *maps, const Transformer *m, const int64_t *src,
                         int S, const int64_t *tgt, int T);

/** \brief The number of parameters of a model with this configuration, by part. */
typedef struct {
    int64_t src_embed;    ///< src_embed.weight (Vs, E)
    int64_t tgt_embed;    ///< tgt_embed.weight (Vt, E); 0 when shared
    int64_t enc_attn;     ///< encoder.layers.*.self_attn.*
    int64_t enc_ff;       ///< encoder.layers.*.linear1.*, linear2.*
    int64_t enc_norm;     ///< encoder.layers.*.norm1/2.* and encoder.norm.*
    int64_t dec_self;     ///< decoder.layers.*.self_attn.*
    int64_t dec_cross;    ///< decoder.layers.*.multihead_attn.*
    int64_t dec_ff;       ///< decoder.layers.*.linear1.*, linear2.*
    int64_t dec_norm;     ///< decoder.layers.*.norm1/2/3.* and decoder.norm.*
    int64_t generator;    ///< generator.weight (Vt, E) and .bias (Vt); only the bias when shared
    int64_t total;        ///< the sum of the parts
} ParamCount;

/**
 * \brief Counts by name over the tensors transformer_declare declares
 * (nothing is allocated).
 * \param cfg the sizes
 * \param shared 1: one (V, E) matrix serves as the source embedding, the
 *        target embedding and the generator's weight, as in the paper
 *        (section 3.4); it needs Vs == Vt and is counted once
 * \return the counts
 */
ParamCount transformer_count(const TransformerConfig *cfg, int shared);

/**
 * \brief The generator's second half: log p(next token) = log_softmax(logits), row by row.
 * \param[out] logp (T, Vt); may be logits itself
 * \param[in] logits (T, Vt)
 */
void transformer_log_probs(Mat logp, Mat logits);

/**
 * \brief Greedy decoding: starts from bos, appends the most likely token until
 * eos or max_len tokens (bos included).
 * \param[out] out room for max_len ids
 * \param max_len the most tokens to write, bos included
 * \param m the model
 * \param src S ids
 * \param S the source length
 * \param bos the beginning-of-sentence id
 * \param eos the end-of-sentence id
 * \return the length written to out
 */
int greedy_decode(int64_t *out, int max_len, const Transformer *m, const int64_t *src, int S,
                  int64_t bos, int64_t eos);

/** @} */

#endif
