/*
 * main.c - chapter 8's program, build/bin/ch08.
 *
 * With no arguments: a small model with random (untrained) weights encodes
 * "the cat sat on the mat" with chapter 7's encoder, then runs the decoder on
 * the target prefix "<bos> le chat est assis sur le tapis". It prints the
 * masks, the weights and the output, shows that causality is computed (a later
 * target token cannot change an earlier output), and draws the decoder's
 * self-attention and cross-attention for every layer and head.
 * With --params/--src/--tgt: the decoder's output on token ids from .npy
 * files and a whole-model .npz (../shared/CONTRACT.md), for checking against
 * PyTorch's torch.nn.Transformer.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "decoder.h"
#include "encoder.h"
#include "npy.h"
#include "params.h"
#include "plot.h"
#include "report.h"
#include "rng.h"

static const char *const USAGE =
    "usage: ch08 [options]\n"
    "Chapter 8: the decoder: causal self-attention, cross-attention over the\n"
    "encoder's output, feed-forward; N layers and the optional final norm.\n"
    "With no file options, runs the demo: a small random (untrained) model on\n"
    "\"the cat sat on the mat\" -> \"<bos> le chat est assis sur le tapis\".\n"
    "\n"
    "  --params MODEL.npz     a whole model (src_embed.weight, tgt_embed.weight,\n"
    "                         encoder.*, decoder.*, config.nhead, config.norm_first;\n"
    "                         generator.* is not used)\n"
    "  --src SRC.npy          source token ids (B, S), integers; 0 is padding\n"
    "  --tgt TGT.npy          target token ids (B, T), integers; 0 is padding\n"
    "  --output Y.npy         write the decoder's output (B, T, E), after its final\n"
    "                         norm, before the generator\n"
    "  --self-attn A.npy      write the self-attention weights (B, N, H, T, T)\n"
    "  --cross-attn C.npy     write the cross-attention weights (B, N, H, T, S)\n"
    "  (with files, figures are drawn only when --plot is given)\n";

/* Every layer's and head's weights in one figure, layers down, heads across;
 * blocked cells are drawn grey ("blocked"), never as a small weight.
 *   weights: (N * H * T, K), layer n, head h at rows [(n H + h) T, ...)
 *   mask:    (T, K), nonzero = blocked */
static void plot_attention_grid(const PlotOpts *o, const char *name, const char *title,
                                Mat weights, int N, int H, Mat mask,
                                const char *const *rows, const char *const *cols,
                                const char *xlabel, const char *ylabel)
{
    int T = mask.rows, K = mask.cols;
    Mat shown = mat_new(N * H * T, K);   /* a copy: blocked cells become NaN */
    mat_copy(shown, weights);
    Mat *maps = xcalloc((size_t)(N * H), sizeof *maps, "figure panels");
    char **titles = xcalloc((size_t)(N * H), sizeof *titles, "panel titles");
    for (int p = 0; p < N * H; p++) {
        maps[p] = mat_rows(shown, p * T, T);
        for (int i = 0; i < T; i++)
            for (int j = 0; j < K; j++)
                if (MAT_AT(mask, i, j) != 0.0f) MAT_AT(maps[p], i, j) = NAN;
        titles[p] = xmalloc(48, 1, "a panel title");
        snprintf(titles[p], 48, "layer %d, head %d", p / H + 1, p % H + 1);
    }
    Error err;
    int rc = plot_heatmap_grid(o, name, title, maps, (const char *const *)titles, N, H, rows,
                               cols, xlabel, ylabel, &err);
    for (int p = 0; p < N * H; p++) free(titles[p]);
    free(titles);
    free(maps);
    mat_free(&shown);
    if (rc != 0) data_error_from(&err);
    if (o->format == PLOT_PNG || o->format == PLOT_SVG)
        printf("Figure: %s/%s.%s (with %s.dat and %s.gp beside it)\n", o->outdir, name,
               o->format == PLOT_PNG ? "png" : "svg", name, name);
}

/* ================================================ the model of this chapter */

/* The sizes of a model; a file's come from the shapes of its arrays. */
typedef struct {
    int E;                    /* model width */
    int H;                    /* heads */
    int enc_F, dec_F;         /* feed-forward widths of the two stacks */
    int enc_layers, dec_layers;
    int Vs, Vt;               /* source and target vocabularies */
    int norm_first;           /* 0: post-norm, 1: pre-norm */
    int enc_norm, dec_norm;   /* 1 if encoder.norm.* / decoder.norm.* exist */
} Sizes;

/* Chapter 9 wraps all this (and the generator) into one Transformer; here the
 * pieces stay in sight: two embedding tables, an encoder, a decoder. */
typedef struct {
    Sizes sz;
    ParamSet ps;       /* every tensor, one allocation, PyTorch's names */
    Mat src_embed;     /* (Vs, E) */
    Mat tgt_embed;     /* (Vt, E) */
    Encoder enc;       /* views into ps */
    Decoder dec;       /* views into ps */
} Model;

/* Declares every tensor of a model of these sizes (no memory yet). */
static void model_declare(ParamSet *ps, const Sizes *sz)
{
    params_init(ps);
    params_add(ps, "src_embed.weight", 2, sz->Vs, sz->E);
    params_add(ps, "tgt_embed.weight", 2, sz->Vt, sz->E);
    encoder_declare(ps, "encoder.", sz->enc_layers, sz->E, sz->enc_F, sz->enc_norm);
    decoder_declare(ps, "decoder.", sz->dec_layers, sz->E, sz->dec_F, sz->dec_norm);
}

/* Declares every tensor, allocates them (zeros) and binds the views. */
static void model_build(Model *m, const Sizes *sz)
{
    m->sz = *sz;
    model_declare(&m->ps, sz);
    params_alloc(&m->ps);
    m->src_embed = params_mat(&m->ps, "src_embed.weight");
    m->tgt_embed = params_mat(&m->ps, "tgt_embed.weight");
    m->enc = encoder_bind(&m->ps, "encoder.", sz->enc_layers, sz->H, sz->norm_first, sz->enc_norm);
    m->dec = decoder_bind(&m->ps, "decoder.", sz->dec_layers, sz->H, sz->norm_first, sz->dec_norm);
}

static void model_free(Model *m)
{
    encoder_free(&m->enc);
    decoder_free(&m->dec);
    params_free(&m->ps);
}

//! [model_forward]
/* One source and one target through the encoder and the decoder.
 *   y:      (T, E) the decoder's output      self_w: (N H T, T)   cross_w: (N H T, S)
 *   enc_w:  (N_enc H S, S) the encoder's weights (chapter 7)
 *   src: S ids   tgt: T ids, each within its vocabulary */
static void model_forward(Mat y, Mat self_w, Mat cross_w, Mat enc_w, const Model *m,
                          const int64_t *src, int S, const int64_t *tgt, int T)
{
    Mat memory = mat_new(S, m->sz.E);   /* (S, E) the encoder's output */
    Mat src_mask = mat_new(S, S);       /* (S, S) source padding, for the encoder */
    Mat self_mask = mat_new(T, T);      /* (T, T) causal + target padding */
    Mat cross_mask = mat_new(T, S);     /* (T, S) source padding, for the decoder */

    mask_from_pad_ids(src_mask, src);
    embedding_forward(memory, m->src_embed, src);
    encoder_forward(memory, enc_w, &m->enc, &src_mask);

    decoder_masks(self_mask, cross_mask, tgt, src);
    embedding_forward(y, m->tgt_embed, tgt);
    decoder_forward(y, self_w, cross_w, memory, &m->dec, &self_mask, &cross_mask);

    mat_free(&memory);
    mat_free(&src_mask);
    mat_free(&self_mask);
    mat_free(&cross_mask);
}
//! [model_forward]

/* ============================================================ the demo */

enum { DEMO_E = 16, DEMO_H = 2, DEMO_F = 64, DEMO_LAYERS = 2, S_LEN = 8, T_LEN = 9 };

static const char *const SRC_VOCAB[] = {"<pad>", "<bos>", "<eos>", "the", "cat", "sat",
                                        "on",    "mat",   "dog",   "a",   "rug"};
static const char *const TGT_VOCAB[] = {"<pad>", "<bos>", "<eos>", "le",    "chat",   "est",
                                        "assis", "sur",   "tapis", "chien", "maison", "la"};
enum { VS = sizeof SRC_VOCAB / sizeof *SRC_VOCAB, VT = sizeof TGT_VOCAB / sizeof *TGT_VOCAB };

/* "the cat sat on the mat <eos>" and its translation so far, each padded by
 * one position as if it shared a batch with a longer pair. */
static const int64_t SRC_IDS[S_LEN] = {3, 4, 5, 6, 3, 7, 2, 0};
static const int64_t TGT_IDS[T_LEN] = {1, 3, 4, 5, 6, 7, 3, 8, 0};
/* The causality check changes target position 4 ("assis" -> "chien") and, on
 * its own, source position 5 ("mat" -> "dog"). */
enum { TGT_CHANGED = 4, TGT_NEW = 9, SRC_CHANGED = 5, SRC_NEW = 8 };

/* The largest |a[i, j] - b[i, j]| over row i. */
static float row_max_diff(Mat a, Mat b, int i)
{
    float worst = 0.0f;
    for (int j = 0; j < a.cols; j++) {
        float d = fabsf(MAT_AT(a, i, j) - MAT_AT(b, i, j));
        if (d > worst) worst = d;
    }
    return worst;
}

/* Largest |row sum - 1| over the rows, and the largest weight on a blocked cell.
 *   w: (R, K) with R a multiple of T   mask: (T, K) */
static void check_rows(float *sum_err, float *blocked_max, Mat w, Mat mask)
{
    *sum_err = 0.0f;
    *blocked_max = 0.0f;
    for (int r = 0; r < w.rows; r++) {
        float sum = 0.0f;
        for (int j = 0; j < w.cols; j++) {
            float v = MAT_AT(w, r, j);
            sum += v;
            if (MAT_AT(mask, r % mask.rows, j) != 0.0f && fabsf(v) > *blocked_max)
                *blocked_max = fabsf(v);
        }
        if (fabsf(sum - 1.0f) > *sum_err) *sum_err = fabsf(sum - 1.0f);
    }
}

static void print_causality(const Model *m, Mat y, const int64_t *src, const int64_t *tgt,
                            const char *const *tgt_words)
{
    Mat y_tgt = mat_new(T_LEN, DEMO_E), y_src = mat_new(T_LEN, DEMO_E);   /* (T, E) */
    Mat self_w = mat_new(DEMO_LAYERS * DEMO_H * T_LEN, T_LEN);
    Mat cross_w = mat_new(DEMO_LAYERS * DEMO_H * T_LEN, S_LEN);
    Mat enc_w = mat_new(DEMO_LAYERS * DEMO_H * S_LEN, S_LEN);
    int64_t tgt2[T_LEN], src2[S_LEN];
    memcpy(tgt2, tgt, sizeof tgt2);
    memcpy(src2, src, sizeof src2);
    tgt2[TGT_CHANGED] = TGT_NEW;
    src2[SRC_CHANGED] = SRC_NEW;
    model_forward(y_tgt, self_w, cross_w, enc_w, m, src, S_LEN, tgt2, T_LEN);
    model_forward(y_src, self_w, cross_w, enc_w, m, src2, S_LEN, tgt, T_LEN);

    printf("Causality, computed and not told. Run the decoder again twice: once with target\n"
           "position %d changed (\"%s\" -> \"%s\"), once with source position %d changed\n"
           "(\"%s\" -> \"%s\"). Largest |change| of each output row:\n\n",
           TGT_CHANGED, TGT_VOCAB[tgt[TGT_CHANGED]], TGT_VOCAB[TGT_NEW], SRC_CHANGED,
           SRC_VOCAB[src[SRC_CHANGED]], SRC_VOCAB[SRC_NEW]);
    printf("  pos  target   target %d changed   source %d changed\n", TGT_CHANGED, SRC_CHANGED);
    float before = 0.0f;
    for (int i = 0; i < T_LEN; i++) {
        float dt = row_max_diff(y, y_tgt, i), ds = row_max_diff(y, y_src, i);
        if (i < TGT_CHANGED && dt > before) before = dt;
        char a[32], b[32];
        snprintf(a, sizeof a, dt == 0.0f ? "0" : "%.2e", (double)dt);
        snprintf(b, sizeof b, ds == 0.0f ? "0" : "%.2e", (double)ds);
        printf("  %3d  %-7s  %-18s %s\n", i, tgt_words[i], a, b);
    }
    printf("\nRows 0-%d, which come before the change, differ by %g: the mask removed the\n"
           "later tokens from their sums, so their numbers are the same to the last bit.\n"
           "The source is another story: every target row reads all of it through the\n"
           "cross-attention, so a change anywhere in the source reaches every row.\n\n",
           TGT_CHANGED - 1, (double)before);
    mat_free(&y_tgt);
    mat_free(&y_src);
    mat_free(&self_w);
    mat_free(&cross_w);
    mat_free(&enc_w);
}

static void run_demo(const CommonOpts *opts)
{
    printf("Chapter 8: the decoder\n\n");
    Sizes sz = {.E = DEMO_E, .H = DEMO_H, .enc_F = DEMO_F, .dec_F = DEMO_F,
                .enc_layers = DEMO_LAYERS, .dec_layers = DEMO_LAYERS, .Vs = VS, .Vt = VT,
                .norm_first = 0, .enc_norm = 1, .dec_norm = 1};   /* post-norm, as the paper */
    Model m;
    model_build(&m, &sz);
    Rng r;
    rng_seed(&r, opts->seed);
    mat_rand_normal(m.src_embed, &r, 0.0f, 1.0f);   /* torch.nn.Embedding: N(0, 1) */
    mat_rand_normal(m.tgt_embed, &r, 0.0f, 1.0f);
    encoder_init(&m.enc, &r);
    decoder_init(&m.dec, &r);

    printf("A small model with RANDOM weights (seed %llu): nothing here is trained, so the\n"
           "attention patterns are arbitrary; chapter 10 trains the model. What does not\n"
           "depend on training is what this chapter is about: the shapes, the masks, and\n"
           "which numbers can influence which.\n\n",
           (unsigned long long)opts->seed);
    printf("  E = %d, H = %d heads of %d, F = %d, N = %d encoder and %d decoder layers,\n"
           "  post-norm, final norms on both stacks, vocabularies %d (source) and %d (target):\n"
           "  %zu parameters in one ParamSet.\n\n",
           DEMO_E, DEMO_H, DEMO_E / DEMO_H, DEMO_F, DEMO_LAYERS, DEMO_LAYERS, VS, VT, m.ps.size);

    const char *src_words[S_LEN], *tgt_words[T_LEN];
    printf("  source (S = %d):", S_LEN);
    for (int s = 0; s < S_LEN; s++) printf(" %s", src_words[s] = SRC_VOCAB[SRC_IDS[s]]);
    printf("\n  target (T = %d):", T_LEN);
    for (int t = 0; t < T_LEN; t++) printf(" %s", tgt_words[t] = TGT_VOCAB[TGT_IDS[t]]);
    printf("\n\n");

    Mat self_mask = mat_new(T_LEN, T_LEN), cross_mask = mat_new(T_LEN, S_LEN);
    decoder_masks(self_mask, cross_mask, TGT_IDS, SRC_IDS);
    mat_show("Self-attention mask (T, T): 1 = blocked (the future, and the <pad> key)", self_mask,
         tgt_words, tgt_words, 0);
    mat_show("Cross-attention mask (T, S): 1 = blocked (source padding)", cross_mask, tgt_words,
         src_words, 0);

    Mat y = mat_new(T_LEN, DEMO_E);                                      /* (T, E) */
    Mat self_w = mat_new(DEMO_LAYERS * DEMO_H * T_LEN, T_LEN);           /* (N H T, T) */
    Mat cross_w = mat_new(DEMO_LAYERS * DEMO_H * T_LEN, S_LEN);          /* (N H T, S) */
    Mat enc_w = mat_new(DEMO_LAYERS * DEMO_H * S_LEN, S_LEN);            /* (N H S, S) */
    model_forward(y, self_w, cross_w, enc_w, &m, SRC_IDS, S_LEN, TGT_IDS, T_LEN);

    printf("Shapes: memory = encoder(source) (%d, %d); decoder input = target embedding\n"
           "(%d, %d); self-attention weights (N, H, T, T) = (%d, %d, %d, %d); cross-attention\n"
           "weights (N, H, T, S) = (%d, %d, %d, %d); decoder output (T, E) = (%d, %d).\n\n",
           S_LEN, DEMO_E, T_LEN, DEMO_E, DEMO_LAYERS, DEMO_H, T_LEN, T_LEN, DEMO_LAYERS, DEMO_H,
           T_LEN, S_LEN, T_LEN, DEMO_E);

    mat_show("Layer 1, head 1, self-attention (rows: target queries, cols: target keys)",
         mat_rows(self_w, 0, T_LEN), tgt_words, tgt_words, 2);
    mat_show("Layer 1, head 1, cross-attention (rows: target queries, cols: source keys)",
         mat_rows(cross_w, 0, T_LEN), tgt_words, src_words, 2);

    float self_err, self_blocked, cross_err, cross_blocked;
    check_rows(&self_err, &self_blocked, self_w, self_mask);
    check_rows(&cross_err, &cross_blocked, cross_w, cross_mask);
    printf("Over all %d layers and %d heads: every row sums to 1 (largest |sum - 1|: %.1e\n"
           "self, %.1e cross), and the largest weight on a blocked cell is %g (self) and\n"
           "%g (cross).\n\n",
           DEMO_LAYERS, DEMO_H, (double)self_err, (double)cross_err, (double)self_blocked,
           (double)cross_blocked);

    static const char *const E_COLS[] = {"e0", "e1", "e2", "e3", "e4", "e5"};
    mat_show("Decoder output y (T, E), first 6 of 16 columns (after the final norm)",
         mat_cols(y, 0, 6), tgt_words, E_COLS, 3);
    printf("Chapter 9 turns each row of y into next-token scores with one more linear map:\n"
           "row t predicts the target token at position t + 1.\n\n");

    print_causality(&m, y, SRC_IDS, TGT_IDS, tgt_words);

    plot_attention_grid(&opts->plot, "self_attention",
                        "Decoder self-attention, every layer and head (grey: blocked)", self_w,
                        DEMO_LAYERS, DEMO_H, self_mask, tgt_words, tgt_words, "target key",
                        "target query");
    plot_attention_grid(&opts->plot, "cross_attention",
                        "Decoder cross-attention: target rows, source columns (grey: padding)",
                        cross_w, DEMO_LAYERS, DEMO_H, cross_mask, tgt_words, src_words,
                        "source key", "target query");

    mat_free(&y);
    mat_free(&self_w);
    mat_free(&cross_w);
    mat_free(&enc_w);
    mat_free(&self_mask);
    mat_free(&cross_mask);
    model_free(&m);
}

/* ============================================================ with files */

typedef struct {
    const char *params, *src, *tgt;                /* input files */
    const char *output, *self_attn, *cross_attn;   /* output files, may be NULL */
} Files;

/* The first dimension of a 2-D float array of the file, checked in [1, hi]. */
static int rows_of(const Npz *z, const char *path, const char *name, int cols, int hi)
{
    const int64_t shape[2] = {-1, cols};
    Error err;
    const Tensor *t = npz_get_f32(z, path, name, 2, shape, &err);
    if (!t) data_error_from(&err);
    if (t->shape[0] < 1 || t->shape[0] > hi)
        data_error("%s: %s has %lld rows, must have 1 to %d", path, name,
                   (long long)t->shape[0], hi);
    return (int)t->shape[0];
}

/* Reads the sizes off the file's shapes, then every tensor into a new model. */
static void load_model(Model *m, const char *path)
{
    Npz z;
    Error err;
    if (npz_load(path, &z, &err) != 0) data_error_from(&err);
    Sizes sz;
    const int64_t any2[2] = {-1, -1};
    const Tensor *se = npz_get_f32(&z, path, "src_embed.weight", 2, any2, &err);
    if (!se) data_error_from(&err);
    if (se->shape[1] < 1 || se->shape[1] > 1 << 16)
        data_error("%s: src_embed.weight is (%lld, %lld); its width E must be 1 to 65536", path,
                   (long long)se->shape[0], (long long)se->shape[1]);
    sz.E = (int)se->shape[1];
    sz.Vs = rows_of(&z, path, "src_embed.weight", sz.E, 1 << 24);
    sz.Vt = rows_of(&z, path, "tgt_embed.weight", sz.E, 1 << 24);
    sz.enc_layers = count_layers(&z, "encoder.");
    sz.dec_layers = count_layers(&z, "decoder.");
    if (sz.enc_layers < 1 || sz.dec_layers < 1)
        data_error("%s: found %d encoder and %d decoder layers (encoder.layers.{i}.linear1.weight, "
                   "decoder.layers.{i}.linear1.weight); both need at least 1",
                   path, sz.enc_layers, sz.dec_layers);
    if (sz.enc_layers > MAX_LAYERS || sz.dec_layers > MAX_LAYERS)
        data_error("%s: more than %d layers", path, MAX_LAYERS);
    sz.enc_F = rows_of(&z, path, "encoder.layers.0.linear1.weight", sz.E, 1 << 20);
    sz.dec_F = rows_of(&z, path, "decoder.layers.0.linear1.weight", sz.E, 1 << 20);
    if (npz_get_int(&z, path, "config.nhead", 1, sz.E, &sz.H, &err) != 0) data_error_from(&err);
    if (sz.E % sz.H != 0)
        data_error("%s: config.nhead = %d does not divide the model width E = %d", path, sz.H,
                   sz.E);
    if (npz_get_int(&z, path, "config.norm_first", 0, 1, &sz.norm_first, &err) != 0)
        data_error_from(&err);
    sz.enc_norm = npz_get(&z, "encoder.norm.weight") != NULL;
    sz.dec_norm = npz_get(&z, "decoder.norm.weight") != NULL;

    static const char *const ignore[] = {"config.", "generator.", NULL};
    ParamSet declared;   /* every array there before memory is set aside: sizes came from the file */
    model_declare(&declared, &sz);
    if (params_check(&declared, &z, path, ignore, &err) != 0) data_error_from(&err);
    params_free(&declared);
    model_build(m, &sz);
    if (params_load(&m->ps, &z, path, ignore, &err) != 0) data_error_from(&err);
    npz_free(&z);
}

/* Token ids (B, L) from an .npy file, each checked to be in [0, V). */
static Tensor load_ids(const char *path, const char *option, int V, const char *vocab,
                       const char *model)
{
    Tensor t;
    Error err;
    char s[128];
    if (npy_load(path, &t, &err) != 0) data_error_from(&err);
    tensor_shape_str(&t, s, sizeof s);
    if (t.dtype != DT_I64)
        data_error("%s: %s must hold integer token ids (<i8, <i4 or |u1), found %s", path, option,
                   t.file_dtype);
    if (t.ndim != 2)
        data_error("%s: %s must be 2-D (B, L), found shape %s", path, option, s);
    if (t.shape[0] < 1 || t.shape[1] < 1 || t.shape[0] > INT_MAX || t.shape[1] > 1 << 20)
        data_error("%s: %s has shape %s; it needs at least one sequence of 1 to %d tokens", path,
                   option, s, 1 << 20);
    for (int64_t k = 0; k < t.size; k++)
        if (t.i[k] < 0 || t.i[k] >= V)
            data_error("%s: %s: token id %lld at (%lld, %lld) is outside the %s vocabulary "
                       "[0, %d) of %s", path, option, (long long)t.i[k],
                       (long long)(k / t.shape[1]), (long long)(k % t.shape[1]), vocab, V, model);
    return t;
}

static void run_files(const Files *f, const CommonOpts *opts)
{
    Model m;
    load_model(&m, f->params);
    const Sizes *z = &m.sz;
    Tensor src = load_ids(f->src, "--src", z->Vs, "source", f->params);   /* (B, S) */
    Tensor tgt = load_ids(f->tgt, "--tgt", z->Vt, "target", f->params);   /* (B, T) */
    if (src.shape[0] != tgt.shape[0]) {
        char a[64], b[64];
        data_error("%s and %s: batch sizes differ: --src %s, --tgt %s", f->src, f->tgt,
                   tensor_shape_str(&src, a, sizeof a), tensor_shape_str(&tgt, b, sizeof b));
    }
    int B = (int)src.shape[0], S = (int)src.shape[1], T = (int)tgt.shape[1];
    int N = z->dec_layers, H = z->H;
    double biggest = (double)B * N * H * T * (T > S ? T : S);
    if (biggest > (double)INT_MAX || (double)z->enc_layers * H * S * S > (double)INT_MAX)
        data_error("%s and %s: B = %d, S = %d, T = %d make more attention weights than this "
                   "program holds (2^31)", f->src, f->tgt, B, S, T);

    size_t te = (size_t)T * (size_t)z->E;
    size_t nhtt = (size_t)N * H * T * T, nhts = (size_t)N * H * T * S;
    float *out = xcalloc((size_t)B * te, sizeof *out, "the output");     /* (B, T, E) */
    float *self_w = xcalloc((size_t)B * nhtt, sizeof *self_w, "weights");   /* (B, N, H, T, T) */
    float *cross_w = xcalloc((size_t)B * nhts, sizeof *cross_w, "weights"); /* (B, N, H, T, S) */
    Mat enc_w = mat_new(z->enc_layers * H * S, S);   /* chapter 7's, not written out */
    for (int b = 0; b < B; b++)
        model_forward(mat_wrap(out + b * te, T, z->E), mat_wrap(self_w + b * nhtt, N * H * T, T),
                      mat_wrap(cross_w + b * nhts, N * H * T, S), enc_w, &m,
                      src.i + (size_t)b * S, S, tgt.i + (size_t)b * T, T);

    int64_t out_shape[3] = {B, T, z->E};
    int64_t self_shape[5] = {B, N, H, T, T}, cross_shape[5] = {B, N, H, T, S};
    cli_check_finite(out, (size_t)B * te, f->params);   /* no NaN in a file: cli.h */
    cli_check_finite(self_w, (size_t)B * nhtt, f->params);
    cli_check_finite(cross_w, (size_t)B * nhts, f->params);
    if (f->output) cli_save_f32(f->output, out, 3, out_shape);
    if (f->self_attn) cli_save_f32(f->self_attn, self_w, 5, self_shape);
    if (f->cross_attn) cli_save_f32(f->cross_attn, cross_w, 5, cross_shape);

    printf("decoder: E = %d, H = %d, F = %d, %d decoder layer%s over %d encoder layer%s, %s,\n"
           "final norms: encoder %s, decoder %s; %zu parameters used (generator.* ignored)\n",
           z->E, H, z->dec_F, N, N == 1 ? "" : "s", z->enc_layers, z->enc_layers == 1 ? "" : "s",
           z->norm_first ? "pre-norm" : "post-norm",
           z->enc_norm ? "yes" : "no", z->dec_norm ? "yes" : "no", m.ps.size);
    printf("src (%d, %d), tgt (%d, %d) -> output (%d, %d, %d), self-attention (%d, %d, %d, %d, "
           "%d), cross-attention (%d, %d, %d, %d, %d)\n",
           B, S, B, T, B, T, z->E, B, N, H, T, T, B, N, H, T, S);

    if (opts->plot_given) {
        Mat self_mask = mat_new(T, T), cross_mask = mat_new(T, S);
        decoder_masks(self_mask, cross_mask, tgt.i, src.i);
        plot_attention_grid(&opts->plot, "self_attention",
                            "Decoder self-attention, batch element 0 (grey: blocked)",
                            mat_wrap(self_w, N * H * T, T), N, H, self_mask, NULL, NULL,
                            "target position", "target position");
        plot_attention_grid(&opts->plot, "cross_attention",
                            "Decoder cross-attention, batch element 0 (grey: padding)",
                            mat_wrap(cross_w, N * H * T, S), N, H, cross_mask, NULL, NULL,
                            "source position", "target position");
        mat_free(&self_mask);
        mat_free(&cross_mask);
    }

    free(out);
    free(self_w);
    free(cross_w);
    mat_free(&enc_w);
    tensor_free(&src);
    tensor_free(&tgt);
    model_free(&m);
}

/* ============================================================ main */

int main(int argc, char **argv)
{
    cli_init("ch08");
    CommonOpts opts;
    common_opts_init(&opts, "out/ch08");
    Files f = {0};

    enum { OPT_PARAMS = 1, OPT_SRC, OPT_TGT, OPT_OUTPUT, OPT_SELF_ATTN, OPT_CROSS_ATTN };
    static const struct option longopts[] = {
        {"params", required_argument, NULL, OPT_PARAMS},
        {"src", required_argument, NULL, OPT_SRC},
        {"tgt", required_argument, NULL, OPT_TGT},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"self-attn", required_argument, NULL, OPT_SELF_ATTN},
        {"cross-attn", required_argument, NULL, OPT_CROSS_ATTN},
        COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_next_option(argc, argv, longopts, NULL, &opts, USAGE)) != -1) {
        switch (c) {
        case OPT_PARAMS: f.params = optarg; break;
        case OPT_SRC: f.src = optarg; break;
        case OPT_TGT: f.tgt = optarg; break;
        case OPT_OUTPUT: f.output = optarg; break;
        case OPT_SELF_ATTN: f.self_attn = optarg; break;
        case OPT_CROSS_ATTN: f.cross_attn = optarg; break;
        }
    }

    int given = (f.params != NULL) + (f.src != NULL) + (f.tgt != NULL);
    if (given == 0) {
        const char *extra = f.output ? "--output" : f.self_attn ? "--self-attn"
                          : f.cross_attn ? "--cross-attn" : NULL;
        if (extra) usage_error("%s: needs --params, --src and --tgt", extra);
        cli_check_outdir(&opts.plot);
        run_demo(&opts);
    } else if (given < 3) {
        const char *missing = !f.params ? "--params" : !f.src ? "--src" : "--tgt";
        usage_error("%s: missing; --params, --src and --tgt go together", missing);
    } else {
        cli_check_output(f.output, "--output");   /* before any work: see cli.h */
        cli_check_output(f.self_attn, "--self-attn");
        cli_check_output(f.cross_attn, "--cross-attn");
        if (opts.plot_given) cli_check_outdir(&opts.plot);
        run_files(&f, &opts);
    }
    return 0;
}
