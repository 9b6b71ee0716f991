/*
 * train.c - chapter 10: the forward pass that remembers, the backward pass,
 * and the whole model's gradients (see train.h and the chapter page).
 *
 * The functions here go one pair of sequences at a time: the readable
 * reference, which the chapter page walks through and the tests hold
 * against PyTorch. transformer_backward and transformer_loss compute the
 * same numbers on the whole batch at once (batched.c), which is several
 * times faster.
 */
#include "train.h"

#include <stdlib.h>
#include <string.h>
#include "backward.h"
#include "batched.h"
#include "loss.h"
#include "masking.h"
#include "ops.h"

void transformer_grad_view(Transformer *g, Transformer *m)
{
    const TransformerConfig *c = &m->cfg;
    if (!m->params.grad) params_alloc_grad(&m->params);
    ParamSet alias = m->params;   /* the same names and offsets ... */
    alias.data = m->params.grad;  /* ... over the gradient buffer */
    memset(g, 0, sizeof *g);
    g->cfg = *c;
    g->encoder = encoder_bind(&alias, "encoder.", c->enc_layers, c->H, c->norm_first, c->enc_norm);
    g->decoder = decoder_bind(&alias, "decoder.", c->dec_layers, c->H, c->norm_first, c->dec_norm);
    g->src_embed = params_mat(&alias, "src_embed.weight");
    g->tgt_embed = params_mat(&alias, "tgt_embed.weight");
    g->gen_weight = params_mat(&alias, "generator.weight");
    g->gen_bias = params_mat(&alias, "generator.bias");
}

void transformer_grad_view_free(Transformer *g)
{
    encoder_free(&g->encoder);
    decoder_free(&g->decoder);
}

//! [dropout_forward]
void dropout_forward(Mat x, Mat keep, float p, Rng *r)
{
    if (p <= 0.0f) return;
    for (int i = 0; i < x.rows; i++)
        for (int j = 0; j < x.cols; j++) {
            float k = rng_uniform(r) < p ? 0.0f : 1.0f / (1.0f - p);
            MAT_AT(keep, i, j) = k;
            MAT_AT(x, i, j) *= k;
        }
}
//! [dropout_forward]

/* ------------------------------------------------- the residual block */

typedef enum { SELF_ATTENTION, CROSS_ATTENTION, FEED_FORWARD } SublayerKind;

/* Which sublayer a block holds, with its parameters (or its gradients). */
typedef struct {
    SublayerKind kind;
    const MHA *attn;          /* for the two attentions */
    const FeedForward *ff;    /* for the feed-forward network */
    const LayerNorm *norm;    /* the block's layer norm */
} Sublayer;

/* What one block's backward pass needs from its forward pass. */
typedef struct {
    Mat in;       /* (N, E) the block's input x */
    Mat fin;      /* (N, E) what the sublayer saw: x (post-norm) or norm(x) (pre-norm) */
    Mat sum;      /* (N, E) post-norm only: x + dropout(sublayer), the norm's input */
    Mat keep;     /* (N, E) dropout multipliers; unused when p = 0 */
    Mat attn;     /* (H N, S) the attention weights; empty for the feed-forward */
} BlockCache;

static void block_cache_init(BlockCache *c, int N, int E, int H, int S, SublayerKind kind)
{
    c->in = mat_new(N, E);
    c->fin = mat_new(N, E);
    c->sum = mat_new(N, E);
    c->keep = mat_new(N, E);
    c->attn = kind == FEED_FORWARD ? mat_new(0, 0) : mat_new(H * N, S);
}

static void block_cache_free(BlockCache *c)
{
    mat_free(&c->in);
    mat_free(&c->fin);
    mat_free(&c->sum);
    mat_free(&c->keep);
    mat_free(&c->attn);
}

//! [block_forward]
static void block_forward(Mat x, BlockCache *c, Sublayer f, int norm_first, Mat memory,
                          const Mat *mask, float p, Rng *r)
{
    Mat y = mat_new(x.rows, x.cols);   /* (N, E) the sublayer's output */
    mat_copy(c->in, x);
    if (norm_first) layernorm_forward(c->fin, x, f.norm);
    else mat_copy(c->fin, x);
    if (f.kind == FEED_FORWARD) feedforward_forward(y, c->fin, f.ff);
    else if (f.kind == SELF_ATTENTION) mha_forward(y, c->attn, c->fin, c->fin, c->fin, f.attn, mask);
    else mha_forward(y, c->attn, c->fin, memory, memory, f.attn, mask);
    dropout_forward(y, c->keep, p, r);
    mat_add(x, x, y);                                  /* the residual connection */
    if (!norm_first) {
        mat_copy(c->sum, x);
        layernorm_forward(x, c->sum, f.norm);
    }
    mat_free(&y);
}
//! [block_forward]

//! [block_backward]
/* dx: on entry d loss / d block output, on return d loss / d block input.
 * dmemory (cross-attention only) collects d loss / d memory. */
static void block_backward(Mat dx, Mat dmemory, const BlockCache *c, Sublayer f, Sublayer g,
                           int norm_first, Mat memory, float p)
{
    int N = dx.rows, E = dx.cols;
    if (!norm_first) {                           /* through the norm first */
        Mat dsum = mat_new(N, E);
        layernorm_backward(dsum, g.norm, dx, c->sum, f.norm);
        mat_copy(dx, dsum);
        mat_free(&dsum);
    }
    /* dx is now d loss / d (x + dropout(sublayer)): it flows to x unchanged
     * (the residual path) and into the sublayer through dropout. */
    Mat dy = mat_new(N, E), dfin = mat_new(N, E);
    mat_copy(dy, dx);
    if (p > 0.0f)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < E; j++) MAT_AT(dy, i, j) *= MAT_AT(c->keep, i, j);
    if (f.kind == FEED_FORWARD) feedforward_backward(dfin, g.ff, dy, c->fin, f.ff);
    else if (f.kind == SELF_ATTENTION)
        mha_backward(dfin, dfin, dfin, g.attn, dy, c->attn, c->fin, c->fin, c->fin, f.attn);
    else mha_backward(dfin, dmemory, dmemory, g.attn, dy, c->attn, c->fin, memory, memory, f.attn);
    if (norm_first) layernorm_backward(dx, g.norm, dfin, c->in, f.norm);   /* dx += ... */
    else mat_add(dx, dx, dfin);
    mat_free(&dy);
    mat_free(&dfin);
}
//! [block_backward]

/* The blocks of encoder layer n (self-attention, feed-forward) and decoder
 * layer n (self-attention, cross-attention, feed-forward). */
static Sublayer enc_block(const Encoder *e, int n, int k)
{
    const EncoderLayer *l = &e->layer[n];
    Sublayer s = k == 0 ? (Sublayer){SELF_ATTENTION, &l->self_attn, NULL, &l->norm1}
                        : (Sublayer){FEED_FORWARD, NULL, &l->ff, &l->norm2};
    return s;
}

static Sublayer dec_block(const Decoder *d, int n, int k)
{
    const DecoderLayer *l = &d->layer[n];
    if (k == 0) return (Sublayer){SELF_ATTENTION, &l->self_attn, NULL, &l->norm1};
    if (k == 1) return (Sublayer){CROSS_ATTENTION, &l->cross_attn, NULL, &l->norm2};
    return (Sublayer){FEED_FORWARD, NULL, &l->ff, &l->norm3};
}

/* ------------------------------------------------- one pair of sequences */

typedef struct {
    Mat src_keep, tgt_keep;   /* (S, E), (T, E) dropout after the embeddings */
    BlockCache *enc;          /* enc_layers * 2 blocks */
    BlockCache *dec;          /* dec_layers * 3 blocks */
    Mat enc_norm_in;          /* (S, E) input of encoder.norm */
    Mat dec_norm_in;          /* (T, E) input of decoder.norm */
    Mat memory;               /* (S, E) the encoder's output */
    Mat y;                    /* (T, E) the decoder's output, the generator's input */
    Mat logits;               /* (T, Vt) */
    Mat enc_mask, self_mask, cross_mask;   /* (S, S), (T, T), (T, S) */
} PairCache;

static void pair_cache_init(PairCache *pc, const TransformerConfig *c, int S, int T)
{
    int E = c->E, H = c->H;
    pc->src_keep = mat_new(S, E);
    pc->tgt_keep = mat_new(T, E);
    pc->enc = xcalloc((size_t)c->enc_layers * 2, sizeof(BlockCache), "encoder caches");
    pc->dec = xcalloc((size_t)c->dec_layers * 3, sizeof(BlockCache), "decoder caches");
    for (int n = 0; n < c->enc_layers; n++) {
        block_cache_init(&pc->enc[2 * n], S, E, H, S, SELF_ATTENTION);
        block_cache_init(&pc->enc[2 * n + 1], S, E, H, S, FEED_FORWARD);
    }
    for (int n = 0; n < c->dec_layers; n++) {
        block_cache_init(&pc->dec[3 * n], T, E, H, T, SELF_ATTENTION);
        block_cache_init(&pc->dec[3 * n + 1], T, E, H, S, CROSS_ATTENTION);
        block_cache_init(&pc->dec[3 * n + 2], T, E, H, S, FEED_FORWARD);
    }
    pc->enc_norm_in = mat_new(S, E);
    pc->dec_norm_in = mat_new(T, E);
    pc->memory = mat_new(S, E);
    pc->y = mat_new(T, E);
    pc->logits = mat_new(T, c->Vt);
    pc->enc_mask = mat_new(S, S);
    pc->self_mask = mat_new(T, T);
    pc->cross_mask = mat_new(T, S);
}

static void pair_cache_free(PairCache *pc, const TransformerConfig *c)
{
    for (int i = 0; i < 2 * c->enc_layers; i++) block_cache_free(&pc->enc[i]);
    for (int i = 0; i < 3 * c->dec_layers; i++) block_cache_free(&pc->dec[i]);
    free(pc->enc);
    free(pc->dec);
    Mat *m[] = {&pc->src_keep, &pc->tgt_keep, &pc->enc_norm_in, &pc->dec_norm_in, &pc->memory,
                &pc->y, &pc->logits, &pc->enc_mask, &pc->self_mask, &pc->cross_mask};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) mat_free(m[i]);
}

/* The masks of the contract (chapter 9): padding keys, and causal in the decoder. */
static void make_masks(PairCache *pc, const int64_t *src, const int64_t *tgt, int T)
{
    mask_from_pad_ids(pc->enc_mask, src);
    mask_from_pad_ids(pc->cross_mask, src);
    Mat pad = mat_new(T, T);
    mask_causal(pc->self_mask);
    mask_from_pad_ids(pad, tgt);
    mask_combine(pc->self_mask, pc->self_mask, pad);
    mat_free(&pad);
}

//! [pair_forward]
/* The forward pass of chapter 9, keeping every block's inputs: logits in pc. */
static void pair_forward(PairCache *pc, const Transformer *m, const int64_t *src,
                         const int64_t *tgt, float p, Rng *r)
{
    const TransformerConfig *c = &m->cfg;
    make_masks(pc, src, tgt, pc->y.rows);
    Mat x = pc->memory, none = {0};            /* the encoder works in place here */
    embedding_forward(x, m->src_embed, src);
    dropout_forward(x, pc->src_keep, p, r);
    for (int n = 0; n < c->enc_layers; n++)
        for (int k = 0; k < 2; k++)
            block_forward(x, &pc->enc[2 * n + k], enc_block(&m->encoder, n, k), c->norm_first,
                          none, &pc->enc_mask, p, r);
    if (c->enc_norm) {
        mat_copy(pc->enc_norm_in, x);
        layernorm_forward(x, pc->enc_norm_in, &m->encoder.norm);
    }
    Mat y = pc->y;
    embedding_forward(y, m->tgt_embed, tgt);
    dropout_forward(y, pc->tgt_keep, p, r);
    for (int n = 0; n < c->dec_layers; n++)
        for (int k = 0; k < 3; k++)
            block_forward(y, &pc->dec[3 * n + k], dec_block(&m->decoder, n, k), c->norm_first,
                          pc->memory, k == 0 ? &pc->self_mask : &pc->cross_mask, p, r);
    if (c->dec_norm) {
        mat_copy(pc->dec_norm_in, y);
        layernorm_forward(y, pc->dec_norm_in, &m->decoder.norm);
    }
    linear_forward(pc->logits, y, m->gen_weight, m->gen_bias);
}
//! [pair_forward]

/* Keeps only the multipliers of dropout (dx *= keep) when p > 0. */
static void dropout_backward(Mat dx, Mat keep, float p)
{
    if (p <= 0.0f) return;
    for (int i = 0; i < dx.rows; i++)
        for (int j = 0; j < dx.cols; j++) MAT_AT(dx, i, j) *= MAT_AT(keep, i, j);
}

//! [pair_backward]
/* From d loss / d logits back to every parameter, in the reverse order. */
static void pair_backward(const PairCache *pc, const Transformer *m, const Transformer *g,
                          Mat dlogits, const int64_t *src, const int64_t *tgt, float p)
{
    const TransformerConfig *c = &m->cfg;
    int S = pc->memory.rows, T = pc->y.rows, E = c->E;
    Mat dy = mat_new(T, E), dmemory = mat_new(S, E), tmp = mat_new(T > S ? T : S, E);

    linear_backward(dy, g->gen_weight, g->gen_bias, dlogits, pc->y, m->gen_weight);
    if (c->dec_norm) {
        Mat d = mat_rows(tmp, 0, T);
        mat_fill(d, 0.0f);
        layernorm_backward(d, &g->decoder.norm, dy, pc->dec_norm_in, &m->decoder.norm);
        mat_copy(dy, d);
    }
    for (int n = c->dec_layers - 1; n >= 0; n--)
        for (int k = 2; k >= 0; k--)
            block_backward(dy, dmemory, &pc->dec[3 * n + k], dec_block(&m->decoder, n, k),
                           dec_block(&g->decoder, n, k), c->norm_first, pc->memory, p);
    dropout_backward(dy, pc->tgt_keep, p);
    embedding_backward(g->tgt_embed, dy, tgt);

    Mat dx = dmemory;                          /* the encoder's output gradient */
    if (c->enc_norm) {
        Mat d = mat_rows(tmp, 0, S);
        mat_fill(d, 0.0f);
        layernorm_backward(d, &g->encoder.norm, dx, pc->enc_norm_in, &m->encoder.norm);
        mat_copy(dx, d);
    }
    Mat none = {0};                            /* the encoder has no memory input */
    for (int n = c->enc_layers - 1; n >= 0; n--)
        for (int k = 1; k >= 0; k--)
            block_backward(dx, none, &pc->enc[2 * n + k], enc_block(&m->encoder, n, k),
                           enc_block(&g->encoder, n, k), c->norm_first, none, p);
    dropout_backward(dx, pc->src_keep, p);
    embedding_backward(g->src_embed, dx, src);
    mat_free(&dy);
    mat_free(&dmemory);
    mat_free(&tmp);
}
//! [pair_backward]

static int batch_count(const Batch *b)
{
    return loss_count(b->tgt_out, b->B * b->T);
}

double transformer_backward_pairs(Transformer *m, const Batch *b, float smoothing, float dropout,
                                  Rng *r)
{
    Transformer g;
    transformer_grad_view(&g, m);
    memset(m->params.grad, 0, m->params.size * sizeof(float));
    int count = batch_count(b);
    float inv = count > 0 ? 1.0f / (float)count : 0.0f;
    double total = 0.0;
    for (int i = 0; i < b->B; i++) {
        const int64_t *src = b->src + (size_t)i * b->S, *tgt = b->tgt + (size_t)i * b->T;
        PairCache pc;
        pair_cache_init(&pc, &m->cfg, b->S, b->T);
        pair_forward(&pc, m, src, tgt, dropout, r);
        Mat dlogits = mat_new(b->T, m->cfg.Vt);
        total += cross_entropy_backward(dlogits, pc.logits, b->tgt_out + (size_t)i * b->T,
                                        smoothing, inv);
        pair_backward(&pc, m, &g, dlogits, src, tgt, dropout);
        mat_free(&dlogits);
        pair_cache_free(&pc, &m->cfg);
    }
    transformer_grad_view_free(&g);
    return count > 0 ? total / count : 0.0;
}

double transformer_loss_pairs(const Transformer *m, const Batch *b, float smoothing)
{
    int count = batch_count(b);
    double total = 0.0;
    for (int i = 0; i < b->B; i++) {
        Mat logits = mat_new(b->T, m->cfg.Vt), d = mat_new(b->T, m->cfg.Vt);
        transformer_forward(logits, NULL, m, b->src + (size_t)i * b->S, b->S,
                            b->tgt + (size_t)i * b->T, b->T);
        total += cross_entropy_backward(d, logits, b->tgt_out + (size_t)i * b->T, smoothing, 0.0f);
        mat_free(&logits);
        mat_free(&d);
    }
    return count > 0 ? total / count : 0.0;
}

/* The batched step's workspace, kept from one call to the next (one per
 * thread, like the multiply's packing buffers in gemm.c): sized by the first
 * batch, it is reused by every later one that fits, so a training loop
 * allocates nothing after its first step. */
static _Thread_local BatchWork *kept;

static BatchWork *kept_work(void)
{
    if (!kept) kept = batch_work_new();
    return kept;
}

double transformer_backward(Transformer *m, const Batch *b, float smoothing, float dropout, Rng *r)
{
    return batched_backward(m, kept_work(), b, smoothing, dropout, r);
}

double transformer_loss(const Transformer *m, const Batch *b, float smoothing)
{
    return batched_loss(m, kept_work(), b, smoothing);
}

void transformer_release_work(void)
{
    batch_work_free(kept);
    kept = NULL;
}
