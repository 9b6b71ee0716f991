/*
 * transformer.c - chapter 9: the whole model, its parameter file, and greedy
 * decoding (see transformer.h and the chapter page, README.md).
 */
#include "transformer.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "masking.h"
#include "ops.h"

/* ------------------------------------------------------- parameters */

void transformer_declare(ParamSet *ps, const TransformerConfig *c)
{
    params_add(ps, "src_embed.weight", 2, c->Vs, c->E);
    params_add(ps, "tgt_embed.weight", 2, c->Vt, c->E);
    encoder_declare(ps, "encoder.", c->enc_layers, c->E, c->F, c->enc_norm);
    decoder_declare(ps, "decoder.", c->dec_layers, c->E, c->F, c->dec_norm);
    params_add(ps, "generator.weight", 2, c->Vt, c->E);
    params_add(ps, "generator.bias", 1, 1, c->Vt);
}

//! [transformer_count]
/* Which part of the model a tensor belongs to, from its name. */
static int64_t *part_of(ParamCount *pc, const char *name)
{
    int enc = strncmp(name, "encoder.", 8) == 0, dec = strncmp(name, "decoder.", 8) == 0;
    if (strncmp(name, "src_embed.", 10) == 0) return &pc->src_embed;
    if (strncmp(name, "tgt_embed.", 10) == 0) return &pc->tgt_embed;
    if (strncmp(name, "generator.", 10) == 0) return &pc->generator;
    if (strstr(name, ".self_attn.")) return enc ? &pc->enc_attn : &pc->dec_self;
    if (strstr(name, ".multihead_attn.")) return &pc->dec_cross;
    if (strstr(name, ".linear")) return enc ? &pc->enc_ff : &pc->dec_ff;
    if (strstr(name, "norm") && (enc || dec)) return enc ? &pc->enc_norm : &pc->dec_norm;
    return NULL;
}

ParamCount transformer_count(const TransformerConfig *cfg, int shared)
{
    ParamSet ps;
    params_init(&ps);
    transformer_declare(&ps, cfg);   /* names and shapes only: nothing allocated */
    ParamCount pc = {0};
    for (int i = 0; i < ps.count; i++) {
        int64_t n = (int64_t)ps.items[i].rows * ps.items[i].cols;
        int64_t *part = part_of(&pc, ps.items[i].name);
        if (part) *part += n;   /* every name has a part; the tests check the sum */
        pc.total += n;
    }
    params_free(&ps);
    if (shared) {   /* one (V, E) matrix: drop the two copies counted above */
        int64_t table = (int64_t)cfg->Vt * cfg->E;
        pc.tgt_embed -= table;
        pc.generator -= table;
        pc.total -= 2 * table;
    }
    return pc;
}
//! [transformer_count]

/* Allocates the declared tensors and points the model's fields at them. */
static void bind(Transformer *m)
{
    const TransformerConfig *c = &m->cfg;
    params_alloc(&m->params);
    m->encoder =
        encoder_bind(&m->params, "encoder.", c->enc_layers, c->H, c->norm_first, c->enc_norm);
    m->decoder =
        decoder_bind(&m->params, "decoder.", c->dec_layers, c->H, c->norm_first, c->dec_norm);
    m->src_embed = params_mat(&m->params, "src_embed.weight");
    m->tgt_embed = params_mat(&m->params, "tgt_embed.weight");
    m->gen_weight = params_mat(&m->params, "generator.weight");
    m->gen_bias = params_mat(&m->params, "generator.bias");
}

void transformer_new(Transformer *m, const TransformerConfig *cfg, Rng *r)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    params_init(&m->params);
    transformer_declare(&m->params, cfg);
    bind(m);
    mat_rand_normal(m->src_embed, r, 0.0f, 1.0f);   /* torch.nn.Embedding: N(0, 1) */
    mat_rand_normal(m->tgt_embed, r, 0.0f, 1.0f);
    encoder_init(&m->encoder, r);
    decoder_init(&m->decoder, r);
    linear_init(m->gen_weight, m->gen_bias, r);
}

void transformer_free(Transformer *m)
{
    encoder_free(&m->encoder);
    decoder_free(&m->decoder);
    params_free(&m->params);
}

/* Reads the sizes off the shapes of the file's arrays. */
static int infer_config(TransformerConfig *c, const Npz *z, const char *path, Error *err)
{
    const int64_t any2[2] = {-1, -1};
    const Tensor *src = npz_get_f32(z, path, "src_embed.weight", 2, any2, err);
    if (!src) return -1;
    const Tensor *tgt = npz_get_f32(z, path, "tgt_embed.weight", 2, any2, err);
    if (!tgt) return -1;
    if (src->shape[1] != tgt->shape[1] || src->shape[1] < 1 || src->shape[1] > 1 << 16)
        return error_set(err, "%s: src_embed.weight is (%lld, %lld) and tgt_embed.weight "
                         "(%lld, %lld): the widths (d_model) must agree and be in [1, 65536]", path,
                         (long long)src->shape[0], (long long)src->shape[1],
                         (long long)tgt->shape[0], (long long)tgt->shape[1]);
    if (src->shape[0] < 1 || tgt->shape[0] < 1 || src->shape[0] > 1 << 24 ||
        tgt->shape[0] > 1 << 24)
        return error_set(err, "%s: vocabularies must hold 1 to 2^24 tokens", path);
    c->E = (int)src->shape[1];
    c->Vs = (int)src->shape[0];
    c->Vt = (int)tgt->shape[0];
    c->enc_layers = count_layers(z, "encoder.");
    c->dec_layers = count_layers(z, "decoder.");
    if (c->enc_layers < 1 || c->dec_layers < 1)
        return error_set(err, "%s: found %d encoder and %d decoder layers (encoder.layers.{i}.*, "
                         "decoder.layers.{i}.*); both need at least 1", path, c->enc_layers,
                         c->dec_layers);
    if (c->enc_layers > MAX_LAYERS || c->dec_layers > MAX_LAYERS)
        return error_set(err, "%s: more than %d encoder or decoder layers", path, MAX_LAYERS);
    const int64_t any_f[2] = {-1, c->E};
    const Tensor *l1 = npz_get_f32(z, path, "encoder.layers.0.linear1.weight", 2, any_f, err);
    if (!l1) return -1;
    if (l1->shape[0] < 1 || l1->shape[0] > 1 << 20)
        return error_set(err, "%s: d_ff of %lld is out of range", path, (long long)l1->shape[0]);
    c->F = (int)l1->shape[0];
    c->enc_norm = npz_get(z, "encoder.norm.weight") != NULL;
    c->dec_norm = npz_get(z, "decoder.norm.weight") != NULL;
    if (npz_get_int(z, path, "config.nhead", 1, c->E, &c->H, err) != 0) return -1;
    if (c->E % c->H != 0)
        return error_set(err, "%s: config.nhead = %d does not divide d_model = %d", path, c->H,
                         c->E);
    return npz_get_int(z, path, "config.norm_first", 0, 1, &c->norm_first, err);
}

int transformer_load(Transformer *m, const char *path, Error *err)
{
    memset(m, 0, sizeof *m);
    Npz z;
    if (npz_load(path, &z, err) != 0) return -1;
    /* config.* holds the sizes (infer_config); optim.* and train.* are a checkpoint's
     * optimiser and run state (chapter 10), not parameters. */
    static const char *const ignore[] = {"config.", "optim.", "train.", NULL};
    int rc = infer_config(&m->cfg, &z, path, err);
    if (rc == 0) {
        params_init(&m->params);
        transformer_declare(&m->params, &m->cfg);
        /* Every array there, with its shape, before memory is set aside for
         * them: the sizes come from the file (params.h). */
        rc = params_check(&m->params, &z, path, ignore, err);
        if (rc != 0) params_free(&m->params);
    }
    if (rc == 0) {
        bind(m);
        rc = params_load(&m->params, &z, path, ignore, err);
        if (rc != 0) transformer_free(m);
    }
    npz_free(&z);
    return rc;
}

int transformer_save(const Transformer *m, const char *path, Error *err)
{
    NpzWriter w;
    npz_writer_init(&w);
    params_save(&m->params, &w, 0);
    int64_t nhead = m->cfg.H, norm_first = m->cfg.norm_first;
    npz_add_i64(&w, "config.nhead", &nhead, 0, NULL);
    npz_add_i64(&w, "config.norm_first", &norm_first, 0, NULL);
    int rc = npz_write(&w, path, err);
    npz_writer_free(&w);
    return rc;
}

AttentionMaps attention_maps_new(const TransformerConfig *c, int S, int T)
{
    AttentionMaps a = {mat_new(c->enc_layers * c->H * S, S), mat_new(c->dec_layers * c->H * T, T),
                       mat_new(c->dec_layers * c->H * T, S)};
    return a;
}

void attention_maps_free(AttentionMaps *a)
{
    mat_free(&a->enc);
    mat_free(&a->dec_self);
    mat_free(&a->cross);
}

int check_ids(const int64_t *ids, int n, int V, const char *what, Error *err)
{
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return error_set(err, "%s: token id %lld at position %d is outside the vocabulary "
                             "[0, %d)", what, (long long)ids[i], i, V);
    return 0;
}

int load_token_ids(Tensor *t, const char *path, const char *option, Error *err)
{
    char s[256];
    if (npy_load(path, t, err) != 0) return -1;
    tensor_shape_str(t, s, sizeof s);
    int rc = 0;
    if (t->dtype != DT_I64)
        rc = error_set(err, "%s: %s must hold integer token ids (<i8, <i4 or |u1), found %s",
                       path, option, t->file_dtype);
    else if (t->ndim != 2)
        rc = error_set(err, "%s: %s must be 2-D (B, %s), found shape %s", path, option,
                       strcmp(option, "--src") == 0 ? "S" : "T", s);
    else if (t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] > INT_MAX || t->shape[1] > 1 << 20)
        rc = error_set(err, "%s: %s has shape %s; B must be at least 1 and the length in "
                       "[1, %d]", path, option, s, 1 << 20);
    if (rc != 0) tensor_free(t);
    return rc;
}

int check_token_vocab(const Tensor *ids, int V, const char *path, const char *option,
                      const char *which, const char *params, Error *err)
{
    int L = (int)ids->shape[1];
    for (int b = 0; b < (int)ids->shape[0]; b++) {
        char what[512];
        Error e;
        snprintf(what, sizeof what, "%s: %s row %d", path, option, b);
        if (check_ids(ids->i + (size_t)b * (size_t)L, L, V, what, &e) != 0)
            return error_set(err, "%s (the %s vocabulary of %s)", e.msg, which, params);
    }
    return 0;
}

/* ---------------------------------------------------------- forward */

//! [transformer_encode]
void transformer_encode(Mat memory, Mat enc_attn, const Transformer *m, const int64_t *src, int S)
{
    Mat mask = mat_new(S, S);                     /* source padding, as keys */
    mask_from_pad_ids(mask, src);
    embedding_forward(memory, m->src_embed, src); /* (S, E), chapter 7 */
    encoder_forward(memory, enc_attn, &m->encoder, &mask);
    mat_free(&mask);
}
//! [transformer_encode]

//! [transformer_decode]
void transformer_decode(Mat logits, Mat dec_self, Mat cross, const Transformer *m, Mat memory,
                        const int64_t *src, int S, const int64_t *tgt, int T)
{
    Mat self_mask = mat_new(T, T), pad = mat_new(T, T), cross_mask = mat_new(T, S);
    mask_causal(self_mask);                       /* no peeking at later targets */
    mask_from_pad_ids(pad, tgt);
    mask_combine(self_mask, self_mask, pad);      /* ... nor at target padding */
    mask_from_pad_ids(cross_mask, src);           /* nor at source padding */

    Mat y = mat_new(T, m->cfg.E);                 /* (T, E) */
    embedding_forward(y, m->tgt_embed, tgt);
    decoder_forward(y, dec_self, cross, memory, &m->decoder, &self_mask, &cross_mask);
    linear_forward(logits, y, m->gen_weight, m->gen_bias);   /* (T, Vt), the generator */

    mat_free(&y);
    mat_free(&self_mask);
    mat_free(&pad);
    mat_free(&cross_mask);
}
//! [transformer_decode]

void transformer_forward(Mat logits, AttentionMaps *maps, const Transformer *m, const int64_t *src,
                         int S, const int64_t *tgt, int T)
{
    AttentionMaps own = {{0}, {0}, {0}};
    if (!maps) {
        own = attention_maps_new(&m->cfg, S, T);
        maps = &own;
    }
    Mat memory = mat_new(S, m->cfg.E);
    transformer_encode(memory, maps->enc, m, src, S);
    transformer_decode(logits, maps->dec_self, maps->cross, m, memory, src, S, tgt, T);
    mat_free(&memory);
    attention_maps_free(&own);
}

//! [transformer_log_probs]
void transformer_log_probs(Mat logp, Mat logits)
{
    if (logp.data != logits.data) mat_copy(logp, logits);
    log_softmax_rows(logp);   /* x - max - log(sum exp(x - max)): no overflow */
}
//! [transformer_log_probs]

//! [greedy_decode]
int greedy_decode(int64_t *out, int max_len, const Transformer *m, const int64_t *src, int S,
                  int64_t bos, int64_t eos)
{
    const TransformerConfig *c = &m->cfg;
    Mat memory = mat_new(S, c->E), enc_attn = mat_new(c->enc_layers * c->H * S, S);
    transformer_encode(memory, enc_attn, m, src, S);   /* the source is read once */
    int T = 0;
    out[T++] = bos;
    while (T < max_len) {
        /* Run the decoder on everything so far; the last row predicts the next token. */
        Mat logits = mat_new(T, c->Vt);
        Mat self_w = mat_new(c->dec_layers * c->H * T, T);   /* weights, not needed here */
        Mat cross = mat_new(c->dec_layers * c->H * T, S);
        transformer_decode(logits, self_w, cross, m, memory, src, S, out, T);
        int next;
        argmax_rows(&next, mat_rows(logits, T - 1, 1));
        mat_free(&logits);
        mat_free(&self_w);
        mat_free(&cross);
        out[T++] = next;
        if (next == eos) break;
    }
    mat_free(&memory);
    mat_free(&enc_attn);
    return T;
}
//! [greedy_decode]
