/*
 * main.c - chapter 6's program, build/bin/ch06.
 *
 * With no arguments: one encoder layer on "the cat sat on the mat", step by
 * step with the shape of every intermediate; then a deep stack of random
 * layers wired four ways (no residual and no norm, residual only, post-norm,
 * pre-norm) and how the scale of the activations moves with depth, as a
 * table and a plot. --seed draws other layers; --norm-first shows the
 * worked example in the pre-norm order.
 * With --params/--heads/--input: torch.nn.TransformerEncoderLayer's forward
 * pass on a state_dict .npz and an .npy batch, for checking against PyTorch.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "encoder_layer.h"
#include "multihead.h"
#include "npy.h"
#include "ops.h"
#include "params.h"
#include "plot.h"
#include "positional.h"
#include "report.h"
#include "rng.h"

static const char *const USAGE =
    "usage: ch06 [options]\n"
    "Chapter 6: the feed-forward network, layer normalisation and the residual\n"
    "connection, assembled into one encoder layer (torch.nn.TransformerEncoderLayer,\n"
    "batch_first, ReLU, no dropout).\n"
    "With no file options, runs the demo: one layer step by step, then a deep stack\n"
    "of random layers wired four ways and the scale of the activations with depth.\n"
    "\n"
    "  --params LAYER.npz        one layer's state_dict: self_attn.in_proj_weight (3E, E),\n"
    "                            self_attn.in_proj_bias (3E), self_attn.out_proj.weight (E, E),\n"
    "                            self_attn.out_proj.bias (E), linear1.weight (F, E),\n"
    "                            linear1.bias (F), linear2.weight (E, F), linear2.bias (E),\n"
    "                            norm1.weight, norm1.bias, norm2.weight, norm2.bias (E)\n"
    "  --heads H                 number of heads; H must divide E\n"
    "  --input X.npy             the input batch (B, S, E)\n"
    "  --norm-first              pre-norm: x + SelfAttn(norm1(x)), ... (default: post-norm,\n"
    "                            norm1(x + SelfAttn(x)), ..., as the paper and PyTorch)\n"
    "  --key-padding-mask M.npy  (B, S) bool or integer, nonzero = a padding key\n"
    "  --output O.npy            write the output (B, S, E)\n"
    "  (with files, figures are drawn only when --plot is given; in the demo,\n"
    "  --norm-first picks the order of the worked example)\n";

/* Root mean square of every entry: the "scale" of a set of activations.
 *   m: (R, C) */
static double rms(Mat m)
{
    double sum = 0.0;
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < m.cols; j++) sum += (double)MAT_AT(m, i, j) * MAT_AT(m, i, j);
    return sqrt(sum / ((double)m.rows * m.cols));
}

/* ============================================== 1. one layer, step by step */

enum { TOKENS = 6, WIDTH = 8, HEADS = 2, HIDDEN = 32 };
static const char *const SENTENCE[TOKENS] = {"the", "cat", "sat", "on", "the", "mat"};

/* Every tensor of the set, with its PyTorch shape and size, and the total. */
static void print_params(const ParamSet *ps)
{
    printf("The parameters of one layer, under torch.nn.TransformerEncoderLayer's names:\n");
    for (int k = 0; k < ps->count; k++) {
        const Param *p = &ps->items[k];
        char shape[32];
        if (p->ndim == 1) snprintf(shape, sizeof shape, "(%d)", p->cols);
        else snprintf(shape, sizeof shape, "(%d, %d)", p->rows, p->cols);
        printf("  %-26s %-9s %5d\n", p->name, shape, p->rows * p->cols);
    }
    printf("  %-26s %-9s %5zu\n", "total", "", ps->size);
    ParamSet base;   /* only declared, never allocated: the sizes are all we need */
    params_init(&base);
    encoder_layer_declare(&base, "", 512, 2048);
    size_t ffn = 2 * (size_t)512 * 2048 + 2048 + 512;
    printf("The paper's base model (E = 512, F = 2048) has %zu per layer, %zu of them\n"
           "(%.0f%%) in the feed-forward network.\n\n", base.size, ffn,
           100.0 * (double)ffn / (double)base.size);
    params_free(&base);
}

/* One line of the walk-through: the step, its shape and its scale. */
static void step(const char *what, Mat m, const char *note)
{
    char shape[32];
    snprintf(shape, sizeof shape, "(%d, %d)", m.rows, m.cols);
    printf("  %-34s %-8s  rms %6.3f   %s\n", what, shape, rms(m), note);
}

/* Mean and standard deviation (biased, as LayerNorm) of every row of a and of b,
 * side by side.   stats: (R, 4)   a, b: (R, C) */
static void row_stats(Mat stats, Mat a, Mat b)
{
    Mat both[2] = {a, b};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < a.rows; i++) {
            double mean = 0.0, var = 0.0;
            for (int j = 0; j < a.cols; j++) mean += MAT_AT(both[k], i, j);
            mean /= a.cols;
            for (int j = 0; j < a.cols; j++) {
                double d = MAT_AT(both[k], i, j) - mean;
                var += d * d;
            }
            MAT_AT(stats, i, 2 * k) = (float)mean;
            MAT_AT(stats, i, 2 * k + 1) = (float)sqrt(var / a.cols);
        }
}

static int count_zeros(Mat m)
{
    int n = 0;
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < m.cols; j++) n += MAT_AT(m, i, j) == 0.0f;
    return n;
}

/* The feed-forward network in its two halves, so the hidden layer can be shown.
 *   out: (N, E)  hidden: (N, F)  x: (N, E) */
static void feedforward_steps(Mat out, Mat hidden, Mat x, const FeedForward *ff)
{
    linear_forward(hidden, x, ff->w1, ff->b1);
    mat_relu(hidden);
    linear_forward(out, hidden, ff->w2, ff->b2);
}

static void worked_example(uint64_t seed, int norm_first)
{
    printf("--- One encoder layer, step by step (%s)\n\n",
           norm_first ? "pre-norm, --norm-first" : "post-norm, as the paper");
    ParamSet ps;
    params_init(&ps);
    encoder_layer_declare(&ps, "", WIDTH, HIDDEN);
    params_alloc(&ps);
    EncoderLayer layer = encoder_layer_bind(&ps, "", HEADS, norm_first);
    Rng rng;
    rng_seed(&rng, seed);
    encoder_layer_init(&layer, &rng);   /* PyTorch's initialisation */
    print_params(&ps);

    Mat x = mat_new(TOKENS, WIDTH);                 /* (S, E) the input */
    Mat a = mat_new(TOKENS, WIDTH);                 /* (S, E) self-attention's output */
    Mat attn = mat_new(HEADS * TOKENS, TOKENS);     /* (H S, S) its weights */
    Mat r = mat_new(TOKENS, WIDTH);                 /* (S, E) after the first block */
    Mat n = mat_new(TOKENS, WIDTH);                 /* (S, E) a normalised copy */
    Mat hidden = mat_new(TOKENS, HIDDEN);           /* (S, F) inside the FFN */
    Mat f = mat_new(TOKENS, WIDTH);                 /* (S, E) the FFN's output */
    Mat out = mat_new(TOKENS, WIDTH);               /* (S, E) the layer's output */
    Mat stats = mat_new(TOKENS, 4);                 /* (S, 4) row means and stds */
    mat_rand_normal(x, &rng, 0.0f, 1.0f);
    positional_add(x);

    printf("\"the cat sat on the mat\": S = %d tokens, E = %d, H = %d heads, F = %d.\n"
           "x = random N(0, 1) embeddings (seed %llu) + chapter 5's PE.\n\n", TOKENS, WIDTH,
           HEADS, HIDDEN, (unsigned long long)seed);
    char note[64];
    step("x", x, "the input");
    if (!norm_first) {
        mha_forward(a, attn, x, x, x, &layer.self_attn, NULL);
        step("a = SelfAttn(x)", a, "weights (H S, S) = (12, 6)");
        mat_add(r, x, a);
        step("x + a", r, "the residual connection");
        layernorm_forward(n, r, &layer.norm1);
        step("x1 = norm1(x + a)", n, "every row: mean 0, std 1");
        feedforward_steps(f, hidden, n, &layer.ff);
        snprintf(note, sizeof note, "%d of %d entries are 0", count_zeros(hidden),
                 TOKENS * HIDDEN);
        step("h = ReLU(x1 W1^T + b1)", hidden, note);
        step("f = h W2^T + b2", f, "back to width E");
        mat_add(out, n, f);
        step("x1 + f", out, "the residual connection");
        layernorm_forward(out, out, &layer.norm2);
        step("out = norm2(x1 + f)", out, "the layer's output");
        row_stats(stats, r, n);
    } else {
        layernorm_forward(n, x, &layer.norm1);
        step("n1 = norm1(x)", n, "every row: mean 0, std 1");
        mha_forward(a, attn, n, n, n, &layer.self_attn, NULL);
        step("a = SelfAttn(n1)", a, "weights (H S, S) = (12, 6)");
        mat_add(r, x, a);
        step("x1 = x + a", r, "the residual connection");
        layernorm_forward(out, r, &layer.norm2);
        step("n2 = norm2(x1)", out, "every row: mean 0, std 1");
        feedforward_steps(f, hidden, out, &layer.ff);
        snprintf(note, sizeof note, "%d of %d entries are 0", count_zeros(hidden),
                 TOKENS * HIDDEN);
        step("h = ReLU(n2 W1^T + b1)", hidden, note);
        step("f = h W2^T + b2", f, "back to width E");
        mat_add(out, r, f);
        step("out = x1 + f", out, "the layer's output, not normalised");
        row_stats(stats, x, n);
    }
    putchar('\n');
    static const char *const STAT_COLS[4] = {"mean in", "std in", "mean out", "std out"};
    mat_show(norm_first ? "norm1 row by row: x in, n1 = norm1(x) out"
                    : "norm1 row by row: x + a in, x1 = norm1(x + a) out",
         stats, SENTENCE, STAT_COLS, 3);
    mat_show("out, the layer's output (rows: tokens)", out, SENTENCE, NULL, 3);

    mat_copy(r, x);
    encoder_layer_forward(r, attn, &layer, NULL);
    printf("encoder_layer_forward does the same in one call: max |difference| = %g.\n"
           "Every step keeps the shape (S, E) except inside the FFN, which widens each\n"
           "token to F = %d and back: the layer maps a sentence to a sentence of the same\n"
           "shape, which is what lets chapter 7 stack N of them.\n\n",
           (double)mat_max_abs_diff(r, out), HIDDEN);

    Mat all[] = {x, a, attn, r, n, hidden, f, out, stats};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(&all[k]);
    params_free(&ps);
}

/* ================================================= 2. a deep random stack */

enum { DEPTH = 48, STACK_S = 16, STACK_E = 64, STACK_H = 4, STACK_F = 256 };

/* Four ways to wire the same two sublayers. */
typedef enum { PLAIN, RESIDUAL, POST_NORM, PRE_NORM, VARIANTS } Wiring;
static const char *const WIRING_NAMES[VARIANTS] = {
    "no residual, no norm", "residual, no norm", "post-norm", "pre-norm"};

//! [wirings]
/* One layer of the stack, in place, wired as w.   x: (S, E)  attn: (H S, S) */
static void stack_layer(Mat x, Mat attn, const EncoderLayer *l, Wiring w)
{
    Mat y = mat_new(x.rows, x.cols);   /* (S, E) */
    EncoderLayer with_order = *l;
    switch (w) {
    case PLAIN:                        /* x = FFN(SelfAttn(x)) */
        mha_forward(y, attn, x, x, x, &l->self_attn, NULL);
        feedforward_forward(x, y, &l->ff);
        break;
    case RESIDUAL:                     /* x = x + SelfAttn(x); x = x + FFN(x) */
        mha_forward(y, attn, x, x, x, &l->self_attn, NULL);
        mat_add(x, x, y);
        feedforward_forward(y, x, &l->ff);
        mat_add(x, x, y);
        break;
    default:                           /* the real layer, in either order */
        with_order.norm_first = w == PRE_NORM;
        encoder_layer_forward(x, attn, &with_order, NULL);
    }
    mat_free(&y);
}
//! [wirings]

/* The mean cosine similarity between two different rows: 1 when every token
 * carries the same vector (up to scale).   x: (S, E) */
static double token_similarity(Mat x)
{
    double sum = 0.0;
    int pairs = 0;
    for (int i = 0; i < x.rows; i++)
        for (int j = i + 1; j < x.rows; j++) {
            double dot = 0.0, ni = 0.0, nj = 0.0;
            for (int e = 0; e < x.cols; e++) {
                dot += (double)MAT_AT(x, i, e) * MAT_AT(x, j, e);
                ni += (double)MAT_AT(x, i, e) * MAT_AT(x, i, e);
                nj += (double)MAT_AT(x, j, e) * MAT_AT(x, j, e);
            }
            sum += dot / sqrt(ni * nj + 1e-30);
            pairs++;
        }
    return pairs ? sum / pairs : 1.0;
}

typedef struct {
    float scale[VARIANTS][DEPTH + 1];     /* rms after layer l (l = 0: the input) */
    float similar[VARIANTS][DEPTH + 1];   /* token_similarity after layer l */
    float final_norm;                     /* rms of the pre-norm stack after a final LayerNorm */
} StackRun;

static void run_stack(StackRun *out, uint64_t seed)
{
    ParamSet ps;
    params_init(&ps);
    char prefix[32];
    for (int l = 0; l < DEPTH; l++) {
        snprintf(prefix, sizeof prefix, "layers.%d.", l);
        encoder_layer_declare(&ps, prefix, STACK_E, STACK_F);
    }
    layernorm_declare(&ps, "norm.", STACK_E);   /* the final norm of a pre-norm stack */
    params_alloc(&ps);
    EncoderLayer layers[DEPTH];
    Rng rng;
    rng_seed(&rng, seed);
    for (int l = 0; l < DEPTH; l++) {
        snprintf(prefix, sizeof prefix, "layers.%d.", l);
        layers[l] = encoder_layer_bind(&ps, prefix, STACK_H, 0);
        encoder_layer_init(&layers[l], &rng);
    }
    LayerNorm final = layernorm_bind(&ps, "norm.");
    layernorm_init(&final);

    Mat x0 = mat_new(STACK_S, STACK_E);              /* (S, E) the same input for all */
    Mat x = mat_new(STACK_S, STACK_E);               /* (S, E) */
    Mat attn = mat_new(STACK_H * STACK_S, STACK_S);  /* (H S, S) */
    mat_rand_normal(x0, &rng, 0.0f, 1.0f);
    for (int w = 0; w < VARIANTS; w++) {
        mat_copy(x, x0);
        out->scale[w][0] = (float)rms(x);
        out->similar[w][0] = (float)token_similarity(x);
        for (int l = 0; l < DEPTH; l++) {
            stack_layer(x, attn, &layers[l], (Wiring)w);
            out->scale[w][l + 1] = (float)rms(x);
            out->similar[w][l + 1] = (float)token_similarity(x);
        }
        if (w == PRE_NORM) {
            layernorm_forward(x, x, &final);
            out->final_norm = (float)rms(x);
        }
    }
    mat_free(&x0);
    mat_free(&x);
    mat_free(&attn);
    params_free(&ps);
}

static void show_stack(const StackRun *run, uint64_t seed)
{
    printf("--- A deep stack: %d random layers (PyTorch's initialisation, seed %llu)\n\n"
           "S = %d tokens of E = %d, H = %d, F = %d; the input is N(0, 1), rms 1. The same\n"
           "layers, wired four ways; rms is the scale of the activations after each layer,\n"
           "sim the mean cosine similarity between two tokens (1: all tokens alike).\n\n",
           DEPTH, (unsigned long long)seed, STACK_S, STACK_E, STACK_H, STACK_F);
    printf("  layer");
    for (int w = 0; w < VARIANTS; w++) printf("  %20s", WIRING_NAMES[w]);
    printf("\n       ");
    for (int w = 0; w < VARIANTS; w++) printf("  %11s %8s", "rms", "sim");
    putchar('\n');
    static const int SHOWN[] = {0, 1, 2, 4, 8, 16, 24, 32, 40, 48};
    for (size_t k = 0; k < sizeof SHOWN / sizeof SHOWN[0]; k++) {
        int l = SHOWN[k];
        printf("  %5d", l);
        for (int w = 0; w < VARIANTS; w++)
            printf("  %11.3g %8.3f", (double)run->scale[w][l], (double)run->similar[w][l]);
        putchar('\n');
    }
    printf("\n  pre-norm after the final LayerNorm of the stack: rms %.3f\n\n",
           (double)run->final_norm);
}

static void plot_stack(const PlotOpts *o, const StackRun *run)
{
    float depth[DEPTH + 1];
    for (int l = 0; l <= DEPTH; l++) depth[l] = (float)l;
    const float *ys[VARIANTS];
    for (int w = 0; w < VARIANTS; w++) ys[w] = run->scale[w];
    Error err;
    if (plot_lines(o, "scale_vs_depth", "Scale of the activations through 48 random layers",
                   depth, ys, WIRING_NAMES, VARIANTS, DEPTH + 1, "layer",
                   "rms of the activations (log scale)", PLOT_LOGY, &err) != 0)
        data_error_from(&err);
    for (int w = 0; w < VARIANTS; w++) ys[w] = run->similar[w];
    if (plot_lines(o, "token_similarity", "How alike the tokens become through 48 random layers",
                   depth, ys, WIRING_NAMES, VARIANTS, DEPTH + 1, "layer",
                   "mean cosine similarity of two tokens", 0, &err) != 0)
        data_error_from(&err);
    if (o->format == PLOT_PNG || o->format == PLOT_SVG) {
        const char *ext = o->format == PLOT_PNG ? "png" : "svg";
        printf("Figures: %s/scale_vs_depth.%s, %s/token_similarity.%s\n"
               "(each with its .dat and .gp beside it)\n", o->outdir, ext, o->outdir, ext);
    }
}

static void run_demo(const CommonOpts *opts, int norm_first)
{
    printf("Chapter 6: feed-forward, layer norm, residual: the encoder layer\n\n");
    printf("An encoder layer is two blocks. Each block wraps a sublayer (self-attention,\n"
           "then a feed-forward network applied to every token alone) in a residual\n"
           "connection and a LayerNorm:\n"
           "  post-norm (the paper; PyTorch's default, norm_first=False):\n"
           "      x = norm1(x + SelfAttn(x));   x = norm2(x + FFN(x))\n"
           "  pre-norm (norm_first=True):\n"
           "      x = x + SelfAttn(norm1(x));   x = x + FFN(norm2(x))\n\n");
    worked_example(opts->seed, norm_first);

    StackRun run;
    run_stack(&run, opts->seed);
    show_stack(&run, opts->seed);
    printf("Without the residual path every layer multiplies the signal by a factor\n"
           "below 1 and attention averages the tokens together: the scale collapses\n"
           "to what the biases put back, and every token ends up the same vector.\n"
           "With the residual path alone the sum keeps growing, layer after layer.\n"
           "Post-norm renormalises after every block: rms 1 at every depth. Pre-norm\n"
           "keeps a clean residual path (x_L = x_0 + the sum of every block's output),\n"
           "so its stream grows slowly, and one final LayerNorm brings it back.\n\n");
    plot_stack(&opts->plot, &run);
}

/* ==================================================== with .npz/.npy files */

typedef struct {
    const char *params, *input;   /* input files */
    const char *key_padding;      /* optional input file */
    const char *output;           /* output file, may be NULL */
    int heads;                    /* --heads, 0 if not given */
    int norm_first;               /* --norm-first */
} Files;

/* The layer of the file: E from self_attn.in_proj_weight (3E, E), F from
 * linear1.weight (F, E); then every array is checked and copied by params_load. */
static EncoderLayer load_layer(ParamSet *ps, const char *path, int heads, int norm_first)
{
    Npz z;
    Error err;
    if (npz_load(path, &z, &err) != 0) data_error_from(&err);
    const int64_t any[2] = {-1, -1};
    const Tensor *w_in = npz_get_f32(&z, path, "self_attn.in_proj_weight", 2, any, &err);
    if (!w_in) data_error_from(&err);
    int64_t E = w_in->shape[1];
    if (E < 1 || E > INT_MAX / 3 || w_in->shape[0] != 3 * E)
        data_error("%s: self_attn.in_proj_weight must have shape (3E, E) with E >= 1, found "
                   "(%lld, %lld)", path, (long long)w_in->shape[0], (long long)E);
    if (E % heads != 0)
        data_error("%s: %d heads do not divide the model width E = %lld (from "
                   "self_attn.in_proj_weight, (%lld, %lld)); try a divisor of %lld", path, heads,
                   (long long)E, (long long)(3 * E), (long long)E, (long long)E);
    const int64_t f_shape[2] = {-1, E};
    const Tensor *w1 = npz_get_f32(&z, path, "linear1.weight", 2, f_shape, &err);
    if (!w1) data_error_from(&err);
    int64_t F = w1->shape[0];
    if (F < 1 || F > INT_MAX)
        data_error("%s: linear1.weight must have shape (F, E) with F >= 1, found (%lld, %lld)",
                   path, (long long)F, (long long)E);

    params_init(ps);
    encoder_layer_declare(ps, "", (int)E, (int)F);
    params_alloc(ps);
    if (params_load(ps, &z, path, NULL, &err) != 0) data_error_from(&err);
    npz_free(&z);
    return encoder_layer_bind(ps, "", heads, norm_first);
}

/* The input batch: real numbers, (B, S, E), finite. */
static Tensor load_input(const char *path, int E)
{
    Tensor t;
    Error err;
    char s[256];
    if (npy_load(path, &t, &err) != 0) data_error_from(&err);
    tensor_shape_str(&t, s, sizeof s);
    if (t.dtype != DT_F32)
        data_error("%s: --input must hold real numbers (<f4 or <f8), found %s", path,
                   t.file_dtype);
    if (t.ndim != 3)
        data_error("%s: --input must be 3-D (B, S, E), found shape %s", path, s);
    if (t.shape[0] < 1 || t.shape[1] < 1 || t.shape[0] > INT_MAX || t.shape[1] > INT_MAX)
        data_error("%s: --input has shape %s; B and S must be between 1 and %d", path, s,
                   INT_MAX);
    if (t.shape[2] != E)
        data_error("%s: --input has width %lld (shape %s) but the layer has E = %d", path,
                   (long long)t.shape[2], s, E);
    int64_t bad = tensor_find_nonfinite(&t);
    if (bad >= 0)
        data_error("%s: --input holds %g at flat index %lld; inputs must be finite", path,
                   (double)t.f[bad], (long long)bad);
    return t;
}

/* The (B, S) key padding mask, bool or integer, as 0/1 floats. */
static float *load_padding(const char *path, int B, int S)
{
    Tensor t;
    Error err;
    char s[256];
    if (npy_load(path, &t, &err) != 0) data_error_from(&err);
    if (t.dtype != DT_I64)
        data_error("%s: --key-padding-mask must be bool or integer (nonzero = padding), found "
                   "%s: PyTorch adds a float mask to the scores instead; save it with "
                   "mask.astype(bool)", path, t.file_dtype);
    if (t.ndim != 2 || t.shape[0] != B || t.shape[1] != S)
        data_error("%s: --key-padding-mask must have shape (B, S) = (%d, %d), found %s", path, B,
                   S, tensor_shape_str(&t, s, sizeof s));
    float *m = xmalloc((size_t)t.size, sizeof *m, "the key padding mask");
    for (int64_t k = 0; k < t.size; k++) m[k] = t.i[k] != 0 ? 1.0f : 0.0f;
    tensor_free(&t);
    return m;
}

/* Batch element 0's attention weights, one panel per head, padding keys grey.
 *   attn: (H S, S)   mask: (S, S) */
static void plot_heads(const PlotOpts *o, Mat attn, int H, Mat mask)
{
    int S = attn.cols;
    Mat *maps = xcalloc((size_t)H, sizeof *maps, "figure panels");
    char **titles = xcalloc((size_t)H, sizeof *titles, "panel titles");
    for (int h = 0; h < H; h++) {
        maps[h] = mat_rows(attn, h * S, S);
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++)
                if (MAT_AT(mask, i, j) != 0.0f) MAT_AT(maps[h], i, j) = NAN;
        titles[h] = xmalloc(32, 1, "a panel title");
        snprintf(titles[h], 32, "head %d", h + 1);
    }
    Error err;
    int rc = plot_heatmap_grid(o, "self_attention", "Self-attention weights, batch element 0 "
                               "(grey: padding)", maps, (const char *const *)titles, 1, H, NULL,
                               NULL, "key", "query", &err);
    for (int h = 0; h < H; h++) free(titles[h]);
    free(titles);
    free(maps);
    if (rc != 0) data_error_from(&err);
}

static void run_files(const Files *f, const CommonOpts *opts)
{
    ParamSet ps;
    EncoderLayer layer = load_layer(&ps, f->params, f->heads, f->norm_first);
    int E = layer.self_attn.E, H = layer.self_attn.H, F = layer.ff.w1.rows;
    Tensor x = load_input(f->input, E);   /* (B, S, E), overwritten by the output */
    int B = (int)x.shape[0], S = (int)x.shape[1];
    if ((int64_t)H * S > INT_MAX)
        data_error("%s: %d heads x %d positions of attention weights are too many", f->input, H,
                   S);
    float *padding = f->key_padding ? load_padding(f->key_padding, B, S) : NULL;   /* (B, S) */

    Mat attn = mat_new(H * S, S);   /* (H S, S) one sequence's weights */
    Mat mask = mat_new(S, S);       /* (S, S) one sequence's mask */
    /* Batch element 0's weights and mask, kept for the figure. */
    Mat first_attn = opts->plot_given ? mat_new(H * S, S) : mat_wrap(NULL, 0, 0);   /* (H S, S) */
    Mat first_mask = opts->plot_given ? mat_new(S, S) : mat_wrap(NULL, 0, 0);       /* (S, S) */
    int empty = 0;
    size_t se = (size_t)S * (size_t)E;
    for (int b = 0; b < B; b++) {
        Mat kp = mat_wrap(padding ? padding + (size_t)b * S : NULL, 1, S);
        mha_build_mask(mask, NULL, padding ? &kp : NULL, 0);
        int open = 0;
        for (int j = 0; j < S; j++) open += MAT_AT(mask, 0, j) == 0.0f;
        empty += open == 0;
        encoder_layer_forward(mat_wrap(x.f + b * se, S, E), attn, &layer,
                              padding ? &mask : NULL);
        if (b == 0 && opts->plot_given) {
            mat_copy(first_attn, attn);
            mat_copy(first_mask, mask);
        }
    }

    /* Finite inputs can still overflow float32 (values near 1e38): say so
     * rather than write inf or NaN. */
    int64_t bad = tensor_find_nonfinite(&x);
    if (bad >= 0)
        data_error("%s: the output overflows float32 at flat index %lld (inputs or parameters "
                   "of %s too large)", f->input, (long long)bad, f->params);
    Error err;
    if (f->output && npy_save_f32(f->output, x.f, 3, x.shape, &err) != 0)
        data_error_from(&err);
    char s[128];
    printf("encoder layer (%s): E = %d, F = %d, H = %d heads of Dh = %d, %zu parameters\n",
           f->norm_first ? "pre-norm" : "post-norm", E, F, H, E / H, ps.size);
    printf("input %s -> output %s\n", tensor_shape_str(&x, s, sizeof s), s);
    if (empty > 0)
        printf("%d sequence(s) are all padding: their attention gives zeros (never NaN)\n",
               empty);
    if (opts->plot_given) plot_heads(&opts->plot, first_attn, H, first_mask);

    free(padding);
    tensor_free(&x);
    mat_free(&attn);
    mat_free(&mask);
    mat_free(&first_attn);
    mat_free(&first_mask);
    params_free(&ps);
}

/* ==================================================================== main */

int main(int argc, char **argv)
{
    cli_init("ch06");
    CommonOpts opts;
    common_opts_init(&opts, "out/ch06");
    Files f = {0};

    enum { OPT_PARAMS = 1, OPT_HEADS, OPT_INPUT, OPT_NORM_FIRST, OPT_KEY_PADDING, OPT_OUTPUT };
    static const struct option longopts[] = {
        {"params", required_argument, NULL, OPT_PARAMS},
        {"heads", required_argument, NULL, OPT_HEADS},
        {"input", required_argument, NULL, OPT_INPUT},
        {"norm-first", no_argument, NULL, OPT_NORM_FIRST},
        {"key-padding-mask", required_argument, NULL, OPT_KEY_PADDING},
        {"output", required_argument, NULL, OPT_OUTPUT},
        COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_next_option(argc, argv, longopts, NULL, &opts, USAGE)) != -1) {
        switch (c) {
        case OPT_PARAMS: f.params = optarg; break;
        case OPT_HEADS: f.heads = (int)parse_long("--heads", optarg, 1, INT_MAX); break;
        case OPT_INPUT: f.input = optarg; break;
        case OPT_NORM_FIRST: f.norm_first = 1; break;
        case OPT_KEY_PADDING: f.key_padding = optarg; break;
        case OPT_OUTPUT: f.output = optarg; break;
        }
    }

    int given = (f.params != NULL) + (f.heads != 0) + (f.input != NULL);
    if (given == 0) {
        const char *extra = f.output ? "--output" : f.key_padding ? "--key-padding-mask" : NULL;
        if (extra) usage_error("%s: needs --params, --heads and --input", extra);
        cli_check_outdir(&opts.plot);
        run_demo(&opts, f.norm_first);
    } else if (given < 3) {
        usage_error("%s: missing; --params, --heads and --input go together",
                    !f.params ? "--params" : !f.heads ? "--heads" : "--input");
    } else {
        cli_check_output(f.output, "--output");   /* before any work: see cli.h */
        if (opts.plot_given) cli_check_outdir(&opts.plot);
        run_files(&f, &opts);
    }
    return 0;
}
