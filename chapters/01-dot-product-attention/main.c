/*
 * main.c - chapter 1's program, build/bin/ch01.
 *
 * With no arguments: attention over the sentence "the cat sat on the mat",
 * with small embeddings picked by hand so every number can be followed.
 * With --query/--key/--value: dot-product attention on .npy files, for
 * checking against NumPy or PyTorch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "attention.h"
#include "cli.h"
#include "ops.h"
#include "plot.h"
#include "qkv_files.h"
#include "report.h"

static const char *const USAGE =
    "usage: ch01 [options]\n"
    "Chapter 1: dot-product attention, weights = softmax(Q K^T), output = weights V.\n"
    "With no file options, runs the demo on \"the cat sat on the mat\".\n"
    "\n"
    "  --query Q.npy      queries (L, D)\n"
    "  --key K.npy        keys (S, D)\n"
    "  --value V.npy      values (S, Dv)\n"
    "  --output O.npy     write the output (L, Dv)\n"
    "  --attn A.npy       write the attention weights (L, S)\n"
    "  (with files, figures are drawn only when --plot is given)\n";

/* ------------------------------------------------------------ the demo */

enum { TOKENS = 6, FEATURES = 4 };
static const char *const SENTENCE[TOKENS] = {"the", "cat", "sat", "on", "the", "mat"};
static const char *const FEATURE_NAMES[FEATURES] = {"animal", "object", "action", "grammar"};

/* One row per token; the columns are the four made-up features above. */
static const float EMBEDDINGS[TOKENS * FEATURES] = {
    /* animal object action grammar */
    0.0f, 0.0f, 0.0f, 1.0f,   /* the */
    2.0f, 0.0f, 0.5f, 0.0f,   /* cat */
    0.5f, 0.0f, 2.0f, 0.0f,   /* sat */
    0.0f, 0.5f, 0.5f, 1.0f,   /* on  */
    0.0f, 0.0f, 0.0f, 1.0f,   /* the */
    0.0f, 2.0f, 0.0f, 0.0f,   /* mat */
};

static void run_demo(const CommonOpts *opts)
{
    printf("Chapter 1: dot-product attention\n\n");
    printf("The sentence \"the cat sat on the mat\": L = S = %d tokens, each a vector of\n"
           "D = %d hand-picked features. Queries, keys and values are all the same\n"
           "embeddings X: Q = K = V = X (learned projections come in chapter 4).\n\n",
           TOKENS, FEATURES);

    Mat x = mat_from(TOKENS, FEATURES, EMBEDDINGS);     /* (L, D) */
    Mat scores = mat_new(TOKENS, TOKENS);               /* (L, S) */
    Mat weights = mat_new(TOKENS, TOKENS);              /* (L, S) */
    Mat output = mat_new(TOKENS, FEATURES);             /* (L, Dv) */

    mat_show("X, the embeddings (rows: tokens, cols: features)", x, SENTENCE, FEATURE_NAMES, 2);

    attention_scores(scores, x, x);
    mat_show("scores = Q K^T (rows: queries, cols: keys)", scores, SENTENCE, SENTENCE, 2);

    attention_forward(output, weights, x, x, x);
    mat_show("weights = softmax(scores), row by row", weights, SENTENCE, SENTENCE, 3);
    mat_show("output = weights V (each row a weighted average of V's rows)", output, SENTENCE,
         FEATURE_NAMES, 3);

    float worst = 0.0f;
    for (int i = 0; i < TOKENS; i++) {
        float sum = 0.0f;
        for (int j = 0; j < TOKENS; j++) sum += MAT_AT(weights, i, j);
        if (fabsf(sum - 1.0f) > worst) worst = fabsf(sum - 1.0f);
    }
    printf("Every row of weights sums to 1 (largest |sum - 1| = %.1e).\n", worst);
    printf("The two \"the\" rows are identical: same embedding, same weights.\n"
           "\"cat\", \"sat\" and \"mat\" attend mostly to themselves (a long vector has\n"
           "its largest dot product with itself); \"the\" spreads its weight over the\n"
           "grammar words the, on, the. Chapter 4's projections let a word look elsewhere.\n");

    Error err;
    if (plot_heatmap(&opts->plot, "weights", "Dot-product attention weights, softmax(Q K^T)",
                     weights, SENTENCE, SENTENCE, "key", "query", &err) != 0)
        data_error_from(&err);
    if (opts->plot.format == PLOT_PNG || opts->plot.format == PLOT_SVG)
        printf("\nFigure: %s/weights.%s (with weights.dat and weights.gp beside it)\n",
               opts->plot.outdir, opts->plot.format == PLOT_PNG ? "png" : "svg");

    mat_free(&x);
    mat_free(&scores);
    mat_free(&weights);
    mat_free(&output);
}

/* ------------------------------------------------------- with .npy files */

static void run_files(const QkvFiles *f, const CommonOpts *opts)
{
    Mat q, k, v;   /* (L, D), (S, D), (S, Dv) */
    qkv_load(&q, &k, &v, f);

    Mat weights = mat_new(q.rows, k.rows);   /* (L, S) */
    Mat output = mat_new(q.rows, v.cols);    /* (L, Dv) */
    attention_forward(output, weights, q, k, v);
    qkv_save(f, output, weights);
    printf("attention: Q (%d, %d), K (%d, %d), V (%d, %d) -> output (%d, %d), weights (%d, %d)\n",
           q.rows, q.cols, k.rows, k.cols, v.rows, v.cols, output.rows, output.cols,
           weights.rows, weights.cols);
    Error err;
    if (opts->plot_given &&
        plot_heatmap(&opts->plot, "weights", "Attention weights", weights, NULL, NULL, "key",
                     "query", &err) != 0)
        data_error_from(&err);

    mat_free(&q);
    mat_free(&k);
    mat_free(&v);
    mat_free(&weights);
    mat_free(&output);
}

int main(int argc, char **argv)
{
    cli_init("ch01");
    CommonOpts opts;
    common_opts_init(&opts, "out/ch01");
    QkvFiles f;
    if (qkv_read_options(&f, &opts, argc, argv, USAGE)) run_files(&f, &opts);
    else run_demo(&opts);
    return 0;
}
