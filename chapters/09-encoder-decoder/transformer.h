/*
 * transformer.h - chapter 9: the whole encoder-decoder Transformer.
 *
 *   memory = Encoder(Embed_src[src] * sqrt(E) + PE)                  (S, E)
 *   y      = Decoder(Embed_tgt[tgt] * sqrt(E) + PE, memory)          (T, E)
 *   logits = y W_gen^T + b_gen                                        (T, Vt)
 *   log p(next token) = log_softmax(logits)
 *
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
 */
#ifndef TRANSFORMER_H
#define TRANSFORMER_H

#include <stdint.h>
#include "decoder.h"
#include "encoder.h"

typedef struct {
    int E;             /* d_model */
    int F;             /* d_ff */
    int H;             /* heads */
    int enc_layers;    /* N on the encoder side */
    int dec_layers;    /* N on the decoder side */
    int Vs, Vt;        /* source and target vocabularies */
    int norm_first;    /* 0: post-norm, 1: pre-norm */
    int enc_norm;      /* 1 if encoder.norm.* exists */
    int dec_norm;      /* 1 if decoder.norm.* exists */
} TransformerConfig;

typedef struct {
    TransformerConfig cfg;
    ParamSet params;      /* every tensor, one allocation */
    Encoder encoder;      /* views into params */
    Decoder decoder;
    Mat src_embed;        /* (Vs, E) */
    Mat tgt_embed;        /* (Vt, E) */
    Mat gen_weight;       /* (Vt, E) generator.weight */
    Mat gen_bias;         /* (1, Vt) generator.bias */
} Transformer;

/* Where the attention weights of one forward pass go (for figures). */
typedef struct {
    Mat enc;        /* (enc_layers * H * S, S)  layer n, head h: rows [(n H + h) S, ...) */
    Mat dec_self;   /* (dec_layers * H * T, T) */
    Mat cross;      /* (dec_layers * H * T, S)  target rows, source columns */
} AttentionMaps;

/* Declares every tensor of a model with this configuration. */
void transformer_declare(ParamSet *ps, const TransformerConfig *cfg);
/* A new model with PyTorch-style random initialisation. */
void transformer_new(Transformer *m, const TransformerConfig *cfg, Rng *r);
/* Reads a model from .npz: sizes come from the shapes, heads and norm order
 * from config.nhead and config.norm_first. -1 with err set on any problem. */
int transformer_load(Transformer *m, const char *path, Error *err);
/* Writes the model as .npz (atomically), with config.nhead and config.norm_first. */
int transformer_save(const Transformer *m, const char *path, Error *err);
void transformer_free(Transformer *m);

AttentionMaps attention_maps_new(const TransformerConfig *cfg, int S, int T);
void attention_maps_free(AttentionMaps *a);

/* 0 if every id is in [0, V); else -1 with err naming `what` and the place. */
int check_ids(const int64_t *ids, int n, int V, const char *what, Error *err);

/* The encoder alone.   memory: (S, E)   enc_attn: (enc_layers * H * S, S) */
void transformer_encode(Mat memory, Mat enc_attn, const Transformer *m, const int64_t *src, int S);
/* The decoder and generator on a memory.   logits: (T, Vt)
 *   dec_self: (dec_layers * H * T, T)   cross: (dec_layers * H * T, S) */
void transformer_decode(Mat logits, Mat dec_self, Mat cross, const Transformer *m, Mat memory,
                        const int64_t *src, int S, const int64_t *tgt, int T);
/* Both: logits (T, Vt) for one pair of sequences. maps may be NULL. */
void transformer_forward(Mat logits, AttentionMaps *maps, const Transformer *m, const int64_t *src,
                         int S, const int64_t *tgt, int T);

/* The number of parameters of a model with this configuration, by part. */
typedef struct {
    int64_t src_embed;    /* src_embed.weight (Vs, E) */
    int64_t tgt_embed;    /* tgt_embed.weight (Vt, E); 0 when shared */
    int64_t enc_attn;     /* encoder.layers.*.self_attn.* */
    int64_t enc_ff;       /* encoder.layers.*.linear1.*, linear2.* */
    int64_t enc_norm;     /* encoder.layers.*.norm1/2.* and encoder.norm.* */
    int64_t dec_self;     /* decoder.layers.*.self_attn.* */
    int64_t dec_cross;    /* decoder.layers.*.multihead_attn.* */
    int64_t dec_ff;       /* decoder.layers.*.linear1.*, linear2.* */
    int64_t dec_norm;     /* decoder.layers.*.norm1/2/3.* and decoder.norm.* */
    int64_t generator;    /* generator.weight (Vt, E) and .bias (Vt); only the bias when shared */
    int64_t total;
} ParamCount;

/* Counts by name over the tensors transformer_declare declares (nothing is
 * allocated). With shared = 1, one (V, E) matrix serves as the source
 * embedding, the target embedding and the generator's weight, as in the
 * paper (section 3.4); it needs Vs == Vt and is counted once. */
ParamCount transformer_count(const TransformerConfig *cfg, int shared);

/* The generator's second half: log p(next token) = log_softmax(logits), row
 * by row.   logp, logits: (T, Vt); logp may be logits itself */
void transformer_log_probs(Mat logp, Mat logits);

/* Greedy decoding: starts from bos, appends the most likely token until eos
 * or max_len tokens (bos included). Returns the length written to out. */
int greedy_decode(int64_t *out, int max_len, const Transformer *m, const int64_t *src, int S,
                  int64_t bos, int64_t eos);

#endif
