/*
 * main.c - chapter 3's program, build/bin/ch03.
 *
 * With no arguments: a ragged batch of three sentences padded with <pad> to
 * one length; their padding masks, the causal mask, the two combined, and the
 * attention weights each one leaves; then a query whose keys are all blocked.
 * With --query/--key/--value (and --mask and/or --causal): masked scaled
 * attention on .npy files, for checking against PyTorch.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "cli.h"
#include "masking.h"
#include "npy.h"
#include "ops.h"
#include "plot.h"
#include "qkv_files.h"
#include "report.h"
#include "scaled_attention.h"

static const char *const USAGE =
    "usage: ch03 [options]\n"
    "Chapter 3: masked attention, weights = softmax(mask(Q K^T / sqrt(D))), output = weights V.\n"
    "With no file options, runs the demo on a padded batch of three sentences.\n"
    "\n"
    "  --query Q.npy      queries (L, D)\n"
    "  --key K.npy        keys (S, D)\n"
    "  --value V.npy      values (S, Dv)\n"
    "  --mask M.npy       mask (L, S), bool or integer: true (nonzero) = blocked\n"
    "  --causal           also block every key j > i for query i (combined with --mask)\n"
    "  --output O.npy     write the output (L, Dv)\n"
    "  --attn A.npy       write the attention weights (L, S)\n"
    "  (with files, figures are drawn only when --plot is given)\n";

/* ------------------------------------------------------------ the demo */

enum { FEATURES = 4, WORDS = 10, BATCH = 3, T = 6 };
static const char *const FEATURE_NAMES[FEATURES] = {"animal", "object", "action", "grammar"};

/* The vocabulary, with chapter 1's four hand-made features. <pad> is all
 * zeros, as an embedding with padding_idx leaves it: it has nothing to say. */
static const char *const VOCAB[WORDS] = {"the", "cat", "sat", "on",   "mat",
                                         "dog", "ran", "cats", "sleep", "<pad>"};
static const float EMBEDDINGS[WORDS * FEATURES] = {
    /* animal object action grammar */
    0.0f, 0.0f, 0.0f, 1.0f,   /* the */
    2.0f, 0.0f, 0.5f, 0.0f,   /* cat */
    0.5f, 0.0f, 2.0f, 0.0f,   /* sat */
    0.0f, 0.5f, 0.5f, 1.0f,   /* on */
    0.0f, 2.0f, 0.0f, 0.0f,   /* mat */
    2.0f, 0.0f, 1.0f, 0.0f,   /* dog */
    0.5f, 0.0f, 2.0f, 0.5f,   /* ran */
    2.0f, 0.0f, 0.0f, 0.5f,   /* cats */
    0.5f, 0.0f, 1.5f, 0.0f,   /* sleep */
    0.0f, 0.0f, 0.0f, 0.0f,   /* <pad> */
};

/* The batch: three sentences padded on the right to the longest, T tokens. */
static const char *const BATCH_TOKENS[BATCH][T] = {
    {"the", "cat", "sat", "on", "the", "mat"},
    {"the", "dog", "ran", "<pad>", "<pad>", "<pad>"},
    {"cats", "sleep", "<pad>", "<pad>", "<pad>", "<pad>"},
};
static const int LENGTHS[BATCH] = {6, 3, 2};
static const char *const PANEL_TITLES[BATCH] = {
    "the cat sat on the mat",
    "the dog ran (+3 <pad>)",
    "cats sleep (+4 <pad>)",
};
static const char *const POSITIONS[T] = {"0", "1", "2", "3", "4", "5"};

/* x: (T, D), row t the embedding of tokens[t]. */
static void embed(Mat x, const char *const *tokens)
{
    for (int t = 0; t < x.rows; t++) {
        int w = 0;
        while (w < WORDS - 1 && strcmp(VOCAB[w], tokens[t]) != 0) w++;
        for (int f = 0; f < FEATURES; f++) MAT_AT(x, t, f) = EMBEDDINGS[w * FEATURES + f];
    }
}

/* For a figure: dst = src, with NaN wherever mask is nonzero, so that the
 * plot draws those cells as "blocked" instead of as a weight of 0.
 *   dst, src, mask: (L, S) */
static void blocked_as_nan(Mat dst, Mat src, Mat mask)
{
    mat_copy(dst, src);
    for (int i = 0; i < dst.rows; i++)
        for (int j = 0; j < dst.cols; j++)
            if (MAT_AT(mask, i, j) != 0.0f) MAT_AT(dst, i, j) = NAN;
}

/* Writes one figure and says where; a failure to write is a data error. */
static void figure_done(const PlotOpts *o, const char *name, int rc, const Error *err)
{
    if (rc != 0) data_error_from(err);
    if (o->format == PLOT_PNG || o->format == PLOT_SVG)
        printf("Figure: %s/%s.%s\n", o->outdir, name, o->format == PLOT_PNG ? "png" : "svg");
}

/* A mask as a picture: allowed cells show their mask value 0 in white,
 * blocked cells (mask value 1) are drawn grey and crossed, as in the
 * weights figures. maps: count (T, T) matrices, overwritten. */
static void plot_masks(const PlotOpts *o, const char *name, const char *title, Mat *maps,
                       const Mat *masks, int count)
{
    for (int b = 0; b < count; b++) {
        mat_fill(maps[b], 0.0f);
        blocked_as_nan(maps[b], maps[b], masks[b]);
    }
    Error err;
    int rc = count == 1
                 ? plot_heatmap(o, name, title, maps[0], POSITIONS, POSITIONS, "key position",
                                "query position", &err)
                 : plot_heatmap_grid(o, name, title, maps, PANEL_TITLES, 1, count, POSITIONS,
                                     POSITIONS, "key position", "query position", &err);
    figure_done(o, name, rc, &err);
}

/* The attention weights of every sentence under its mask, blocked cells
 * drawn as blocked. maps: BATCH (T, T) matrices, overwritten. */
static void plot_weights(const PlotOpts *o, const char *name, const char *title, Mat *maps,
                         const Mat *weights, const Mat *masks)
{
    for (int b = 0; b < BATCH; b++) blocked_as_nan(maps[b], weights[b], masks[b]);
    Error err;
    int rc = plot_heatmap_grid(o, name, title, maps, PANEL_TITLES, 1, BATCH, POSITIONS, POSITIONS,
                               "key position", "query position", &err);
    figure_done(o, name, rc, &err);
}

/* The share of row i's weight that lands on keys first..S-1. */
static float weight_from(Mat weights, int i, int first)
{
    float sum = 0.0f;
    for (int j = first; j < weights.cols; j++) sum += MAT_AT(weights, i, j);
    return sum;
}

/* Sentence 1 step by step: no mask, the padding mask, the causal mask, both. */
static void demo_one_sentence(Mat x, Mat pad, Mat causal, Mat both)
{
    const char *const *tok = BATCH_TOKENS[1];
    int len = LENGTHS[1];
    Mat weights = mat_new(T, T);         /* (L, S) */
    Mat output = mat_new(T, FEATURES);   /* (L, Dv) */
    Mat scores = mat_new(T, T);          /* (L, S) */

    printf("--- Sentence 1, \"the dog ran\" padded with 3 <pad> to T = %d.\n\n", T);
    masked_attention_forward(output, weights, x, x, x, NULL);
    mat_show("Without a mask: weights = softmax(Q K^T / sqrt(D))", weights, tok, tok, 3);
    printf("Without a mask the real words attend to the padding: \"the\" puts %.1f%% of its\n"
           "weight on the three <pad> keys, which are not words at all.\n\n",
           100.0 * weight_from(weights, 0, len));

    mat_show("Padding mask (1 = true = blocked: key j is <pad>, the same for every query)", pad,
         tok, tok, 0);
    masked_attention_forward(output, weights, x, x, x, &pad);
    mat_show("With the padding mask: weights", weights, tok, tok, 3);
    printf("Now \"the\" puts %.1f%% on the pads and the real keys share all of it.\n"
           "The <pad> queries (rows 3-5) still get weights and an output: a zero query\n"
           "scores every key the same, so its output is the plain average of the three\n"
           "real values:\n\n", 100.0 * weight_from(weights, 0, len));
    mat_show("output = weights V (the <pad> rows are not blocked, they are ignored later)", output,
         tok, FEATURE_NAMES, 3);
    printf("No real word ever reads those rows (pad keys are blocked in every layer), and\n"
           "the loss of chapter 10 skips target positions that hold <pad>. Blocking the\n"
           "keys is enough.\n\n");

    mat_show("Causal mask (1 = blocked: key j > i is in query i's future)", causal, POSITIONS,
         POSITIONS, 0);
    mat_show("Causal OR padding, sentence 1 (a decoder's self-attention mask)", both, tok, tok, 0);

    attention_scores(scores, x, x);
    mat_scale(scores, attention_scale(FEATURES));
    mask_apply(scores, both);
    mat_show("Scores Q K^T / sqrt(D) after mask_apply: a blocked score is -inf", scores, tok, tok, 2);
    masked_attention_forward(output, weights, x, x, x, &both);
    mat_show("Weights with causal OR padding: exp(-inf) = 0, so every blocked weight is exactly 0",
         weights, tok, tok, 3);
    printf("\"the\" (row 0) may only look at itself: weight 1. \"ran\" (row 2) sees \"the\",\n"
           "\"dog\" and itself. The <pad> rows see the three real words and nothing after.\n\n");

    mat_free(&weights);
    mat_free(&output);
    mat_free(&scores);
}

/* x as printf's %g would, but "NaN" for every NaN (printf may say -nan). */
static const char *number_text(char buf[32], float x)
{
    if (isnan(x)) return "NaN";
    snprintf(buf, 32, "%g", (double)x);
    return buf;
}

/* A query with no key to look at: an empty sentence, all padding. */
static void demo_all_blocked(void)
{
    static const char *const EMPTY[T] = {"<pad>", "<pad>", "<pad>", "<pad>", "<pad>", "<pad>"};
    Mat x = mat_new(T, FEATURES), v = mat_new(T, FEATURES);   /* (T, D), (T, Dv) */
    Mat pad = mat_new(T, T), weights = mat_new(T, T);          /* (L, S) */
    Mat output = mat_new(T, FEATURES);                         /* (L, Dv) */

    printf("--- Every key blocked: an empty sentence (length 0) in the batch.\n\n");
    embed(x, EMPTY);
    /* Give the values something to carry, so a zero output is not a given. */
    for (int t = 0; t < T; t++)
        for (int f = 0; f < FEATURES; f++) MAT_AT(v, t, f) = 1.0f + (float)f;
    mask_padding(pad, 0);
    mat_show("Padding mask for length 0: every key blocked", pad, EMPTY, EMPTY, 0);
    masked_attention_forward(output, weights, x, x, v, &pad);
    mat_show("Weights: all zero, not NaN", weights, EMPTY, EMPTY, 3);
    mat_show("Output = weights V (values all 1, 2, 3, 4): all zero", output, EMPTY, FEATURE_NAMES, 3);
    /* The two ways a plain softmax fails on such a row, computed here. */
    float mx = -INFINITY, e = expf(-INFINITY), sum = (float)T * e;
    char b1[32], b2[32], b3[32], b4[32];
    printf("Done naively, such a row gives NaN: without the max subtraction every\n"
           "exp(-inf) is %s, their sum is %s and e / sum = %s; with it, -inf - (-inf)\n"
           "= %s already. PyTorch returns NaN here, and a NaN spreads through every later\n"
           "layer. softmax_rows checks for a row whose maximum is -inf and gives it zero\n"
           "weights, so the output row is zero.\n\n",
           number_text(b1, e), number_text(b2, sum), number_text(b3, e / sum),
           number_text(b4, -INFINITY - mx));

    mat_free(&x);
    mat_free(&v);
    mat_free(&pad);
    mat_free(&weights);
    mat_free(&output);
}

static void run_demo(const CommonOpts *opts)
{
    printf("Chapter 3: masking\n\n");
    printf("A batch holds sentences of different lengths. To stack them into one tensor the\n"
           "short ones are padded with <pad> up to the longest, T = %d. Attention must not\n"
           "look at the pads (the padding mask), and a decoder must not look ahead (the\n"
           "causal mask). A mask entry 1 (true) means BLOCKED, as in PyTorch.\n\n", T);
    for (int b = 0; b < BATCH; b++) {
        printf("  sentence %d (length %d):", b, LENGTHS[b]);
        for (int t = 0; t < T; t++) printf(" %s", BATCH_TOKENS[b][t]);
        putchar('\n');
    }
    printf("\nEmbeddings: chapter 1's four features (%s, %s, %s, %s); <pad> is all zeros.\n"
           "Q = K = V = the embeddings; scores are scaled by 1/sqrt(D) = %.2f (chapter 2).\n\n",
           FEATURE_NAMES[0], FEATURE_NAMES[1], FEATURE_NAMES[2], FEATURE_NAMES[3],
           (double)attention_scale(FEATURES));

    Mat x[BATCH], pad[BATCH], both[BATCH], w_pad[BATCH], w_both[BATCH], maps[BATCH];
    Mat causal = mat_new(T, T);            /* (L, S), the same for every sentence */
    Mat output = mat_new(T, FEATURES);     /* (L, Dv), scratch: the figures show weights */
    mask_causal(causal);
    for (int b = 0; b < BATCH; b++) {
        x[b] = mat_new(T, FEATURES);       /* (T, D) */
        pad[b] = mat_new(T, T);            /* (L, S) each */
        both[b] = mat_new(T, T);
        w_pad[b] = mat_new(T, T);
        w_both[b] = mat_new(T, T);
        maps[b] = mat_new(T, T);
        embed(x[b], BATCH_TOKENS[b]);
        mask_padding(pad[b], LENGTHS[b]);
        mask_combine(both[b], pad[b], causal);
        masked_attention_forward(output, w_pad[b], x[b], x[b], x[b], &pad[b]);
        masked_attention_forward(output, w_both[b], x[b], x[b], x[b], &both[b]);
    }

    demo_one_sentence(x[1], pad[1], causal, both[1]);
    demo_all_blocked();

    const PlotOpts *o = &opts->plot;
    plot_masks(o, "masks_padding", "Padding masks: 0 = allowed (white), 1 = true = blocked (grey x)", maps, pad, BATCH);
    plot_masks(o, "mask_causal", "Causal mask: 0 = allowed (white), 1 = blocked, the future (grey x)", maps, &causal, 1);
    plot_masks(o, "masks_combined", "Causal OR padding: 0 = allowed (white), 1 = blocked (grey x)", maps, both, BATCH);
    plot_weights(o, "weights_padding", "Weights with the padding mask (encoder self-attention)",
                 maps, w_pad, pad);
    plot_weights(o, "weights_combined",
                 "Weights with causal OR padding (decoder self-attention)", maps, w_both, both);
    if (o->format == PLOT_PNG || o->format == PLOT_SVG)
        printf("(each with its .dat and .gp beside it)\n");

    for (int b = 0; b < BATCH; b++) {
        mat_free(&x[b]);
        mat_free(&pad[b]);
        mat_free(&both[b]);
        mat_free(&w_pad[b]);
        mat_free(&w_both[b]);
        mat_free(&maps[b]);
    }
    mat_free(&causal);
    mat_free(&output);
}

/* ------------------------------------------------------- with .npy files */

typedef struct {
    QkvFiles qkv;       /* chapter 1's files: Q, K, V in; output and weights out */
    const char *mask;   /* mask file, may be NULL */
    int causal;         /* 1 if --causal */
} Files;

/* Reads a bool or integer mask of shape (L, S) into 0s and 1s. A float mask
 * is refused: PyTorch *adds* a float mask to the scores, so a file of 0.0
 * and 1.0 would mean "nudge by 1" there and "block" here. */
static Mat load_mask(const char *path, int rows, int cols)
{
    Tensor t;
    Error err;
    if (npy_load(path, &t, &err) != 0) data_error_from(&err);
    char shape[256], dtype[sizeof t.file_dtype];
    tensor_shape_str(&t, shape, sizeof shape);
    memcpy(dtype, t.file_dtype, sizeof dtype);
    if (t.dtype != DT_I64) {
        tensor_free(&t);
        data_error("%s: --mask has dtype %s; a mask must be bool (|b1) or integer (<i8, <i4, "
                   "|u1), true = blocked (a float mask is additive in PyTorch, so it is "
                   "refused: save it with mask.astype(bool))", path, dtype);
    }
    if (t.ndim != 2 || t.shape[0] != rows || t.shape[1] != cols) {
        tensor_free(&t);
        data_error("%s: --mask has shape %s, but %d queries and %d keys need (L, S) = (%d, %d)",
                   path, shape, rows, cols, rows, cols);
    }
    Mat m = mat_new(rows, cols);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            MAT_AT(m, i, j) = t.i[(size_t)i * (size_t)cols + (size_t)j] != 0 ? 1.0f : 0.0f;
    tensor_free(&t);
    return m;
}

/* The number of rows of mask with every entry blocked. */
static int rows_all_blocked(Mat mask)
{
    int n = 0;
    for (int i = 0; i < mask.rows; i++) {
        int j = 0;
        while (j < mask.cols && MAT_AT(mask, i, j) != 0.0f) j++;
        n += mask.cols > 0 && j == mask.cols;
    }
    return n;
}

static void run_files(const Files *f, const CommonOpts *opts)
{
    Mat q, k, v;   /* (L, D), (S, D), (S, Dv) */
    qkv_load(&q, &k, &v, &f->qkv);

    Mat mask = f->mask ? load_mask(f->mask, q.rows, k.rows) : mat_new(q.rows, k.rows);
    if (f->causal) {
        Mat causal = mat_new(q.rows, k.rows);   /* (L, S) */
        mask_causal(causal);
        mask_combine(mask, mask, causal);
        mat_free(&causal);
    }
    int masked = f->mask || f->causal;

    Mat weights = mat_new(q.rows, k.rows);   /* (L, S) */
    Mat output = mat_new(q.rows, v.cols);    /* (L, Dv) */
    masked_attention_forward(output, weights, q, k, v, masked ? &mask : NULL);
    qkv_save(&f->qkv, output, weights);
    printf("masked attention: Q (%d, %d), K (%d, %d), V (%d, %d), mask: %s%s%s -> output (%d, %d), "
           "weights (%d, %d)\n",
           q.rows, q.cols, k.rows, k.cols, v.rows, v.cols, f->mask ? f->mask : "",
           f->mask && f->causal ? " OR " : "", f->causal ? "causal" : masked ? "" : "none",
           output.rows, output.cols, weights.rows, weights.cols);
    if (masked) {
        printf("%d of %d queries have every key blocked: their weights and output rows are 0\n",
               rows_all_blocked(mask), q.rows);
    }
    if (opts->plot_given) {
        Mat picture = mat_new(q.rows, k.rows);   /* (L, S) */
        blocked_as_nan(picture, weights, mask);
        Error err;
        int rc = plot_heatmap(&opts->plot, "weights", "Masked attention weights (grey x = blocked)",
                              picture, NULL, NULL, "key", "query", &err);
        mat_free(&picture);
        if (rc != 0) data_error_from(&err);
    }

    mat_free(&q);
    mat_free(&k);
    mat_free(&v);
    mat_free(&mask);
    mat_free(&weights);
    mat_free(&output);
}

int main(int argc, char **argv)
{
    cli_init("ch03");
    CommonOpts opts;
    common_opts_init(&opts, "out/ch03");
    Files f = {0};

    enum { OPT_MASK = QKV_OPT_END, OPT_CAUSAL };
    static const struct option longopts[] = {
        QKV_LONG_OPTIONS,
        {"mask", required_argument, NULL, OPT_MASK},
        {"causal", no_argument, NULL, OPT_CAUSAL},
        COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_next_option(argc, argv, longopts, NULL, &opts, USAGE)) != -1) {
        switch (c) {
        case OPT_MASK: f.mask = optarg; break;
        case OPT_CAUSAL: f.causal = 1; break;
        default: qkv_files_handle(&f.qkv, c, optarg);
        }
    }

    if (qkv_files_given(&f.qkv)) {
        qkv_check_outputs(&f.qkv);   /* before any work: see cli.h */
        if (opts.plot_given) cli_check_outdir(&opts.plot);
        run_files(&f, &opts);
        return 0;
    }
    if (f.mask || f.causal || f.qkv.output || f.qkv.attn)
        usage_error("%s: needs --query, --key and --value", f.mask         ? "--mask"
                                                            : f.causal     ? "--causal"
                                                            : f.qkv.output ? "--output"
                                                                           : "--attn");
    cli_check_outdir(&opts.plot);
    run_demo(&opts);
    return 0;
}
