/*
 * main.c - chapter 2's program, build/bin/ch02.
 *
 * With no arguments: the experiment behind the 1/sqrt(D) of scaled
 * attention. Random queries and keys of width D = 4 ... 1024 (standard
 * normal entries, as the variance argument assumes) give raw scores whose
 * variance grows like D, and a softmax that turns nearly one-hot; scaled
 * scores keep variance 1 and a softmax that stays soft. Then one sentence at
 * D = 512, its weights unscaled and scaled side by side.
 * With --query/--key/--value: scaled attention on .npy files, for checking
 * against NumPy or PyTorch.
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
#include "rng.h"
#include "scaled_attention.h"

static const char *const USAGE =
    "usage: ch02 [options]\n"
    "Chapter 2: scaled dot-product attention, weights = softmax(Q K^T / sqrt(D)),\n"
    "output = weights V.\n"
    "With no file options, runs the demo: why divide by sqrt(D), measured on random\n"
    "queries and keys of width D = 4 ... 1024 (--seed picks them).\n"
    "\n"
    "  --query Q.npy      queries (L, D)\n"
    "  --key K.npy        keys (S, D)\n"
    "  --value V.npy      values (S, Dv)\n"
    "  --output O.npy     write the output (L, Dv)\n"
    "  --attn A.npy       write the attention weights (L, S)\n"
    "  (with files, figures are drawn only when --plot is given)\n";

/* A figure that cannot be written is a data error (it names the file). */
static void draw_error(int rc, const Error *err)
{
    if (rc != 0) data_error_from(err);
}

/* ------------------------------------------------ the experiment: D grows
 *
 * For each width D, TRIALS times: draw Q (L, D) and K (S, D) with independent
 * N(0, 1) entries, compute the scores Q K^T once, and feed them to the
 * softmax twice, as they are and divided by sqrt(D). The variance of the
 * scores is pooled over every score of every trial; the sharpness of the
 * weights (largest weight, entropy, size of the gradient) is averaged over
 * every row of every trial.
 */

enum {
    WIDTHS = 9,        /* D = 4, 8, ..., 1024 */
    FIRST_WIDTH = 4,
    KEYS = 16,         /* L = S = 16: a uniform row has weights 1/16 */
    TRIALS = 200,      /* 200 x 16 rows per point: curves smooth to about 1% */
};

/* What one width D gives, unscaled ("raw") and scaled. */
typedef struct {
    int d;                  /* the width D of queries and keys */
    double var_raw;         /* variance of q.k */
    double var_scaled;      /* variance of q.k / sqrt(D) */
    Sharpness raw, scaled;  /* of softmax(q.k) and softmax(q.k / sqrt(D)) */
} WidthResult;

/* Running sums for the variance of many scores: n, sum x, sum x^2. */
typedef struct {
    double n;        /* how many scores */
    double sum;      /* their sum */
    double sum_sq;   /* the sum of their squares */
} Moments;

/* Adds every entry of scores to the sums.   scores: (L, S) */
static void moments_add(Moments *m, Mat scores)
{
    for (int i = 0; i < scores.rows; i++)
        for (int j = 0; j < scores.cols; j++) {
            double s = MAT_AT(scores, i, j);
            m->n += 1.0;
            m->sum += s;
            m->sum_sq += s * s;
        }
}

static double moments_variance(const Moments *m)
{
    double mean = m->sum / m->n;
    return m->sum_sq / m->n - mean * mean;
}

/* Adds one trial's share of the average.   weights: (L, S) */
static void sharpness_add(Sharpness *total, Mat weights)
{
    Sharpness s;
    softmax_sharpness(&s, weights);
    total->max_weight += s.max_weight / TRIALS;
    total->entropy += s.entropy / TRIALS;
    total->grad_norm += s.grad_norm / TRIALS;
}

//! [measure_width]
static WidthResult measure_width(Rng *rng, int d)
{
    WidthResult r = {.d = d};
    Mat q = mat_new(KEYS, d), k = mat_new(KEYS, d);   /* (L, D), (S, D) */
    Mat raw = mat_new(KEYS, KEYS), scaled = mat_new(KEYS, KEYS);   /* (L, S) */
    Moments m_raw = {0}, m_scaled = {0};
    for (int t = 0; t < TRIALS; t++) {
        mat_rand_normal(q, rng, 0.0f, 1.0f);
        mat_rand_normal(k, rng, 0.0f, 1.0f);
        attention_scores(raw, q, k);             /* q.k: variance D */
        mat_copy(scaled, raw);
        mat_scale(scaled, attention_scale(d));   /* q.k / sqrt(D): variance 1 */
        moments_add(&m_raw, raw);
        moments_add(&m_scaled, scaled);
        softmax_rows(raw);
        softmax_rows(scaled);
        sharpness_add(&r.raw, raw);
        sharpness_add(&r.scaled, scaled);
    }
    r.var_raw = moments_variance(&m_raw);
    r.var_scaled = moments_variance(&m_scaled);
    mat_free(&q);
    mat_free(&k);
    mat_free(&raw);
    mat_free(&scaled);
    return r;
}
//! [measure_width]

static void print_results(const WidthResult *res)
{
    static const char *const COLS[] = {"var raw", "var scaled", "max w raw", "max w scaled",
                                       "H raw", "H scaled", "grad raw", "grad scaled"};
    char names[WIDTHS][16];
    const char *rows[WIDTHS];
    Mat table = mat_new(WIDTHS, 8);
    for (int w = 0; w < WIDTHS; w++) {
        snprintf(names[w], sizeof names[w], "D = %d", res[w].d);
        rows[w] = names[w];
        const double v[8] = {res[w].var_raw, res[w].var_scaled,
                             res[w].raw.max_weight, res[w].scaled.max_weight,
                             res[w].raw.entropy, res[w].scaled.entropy,
                             res[w].raw.grad_norm, res[w].scaled.grad_norm};
        for (int c = 0; c < 8; c++) MAT_AT(table, w, c) = (float)v[c];
    }
    mat_show("Scores and softmax as D grows (raw: softmax(q.k), scaled: softmax(q.k / sqrt(D)))",
         table, rows, COLS, 3);
    printf("  var      variance of the scores over %d x %d x %d scores (theory: D raw, 1 scaled)\n"
           "  max w    the largest weight of a row (1/%d = %.4f uniform, 1 one-hot)\n"
           "  H        the entropy of a row in nats (ln %d = %.3f uniform, 0 one-hot)\n"
           "  grad     |d weights / d scores| of a row: how much gradient the softmax\n"
           "           lets through (0 one-hot)\n\n",
           TRIALS, KEYS, KEYS, KEYS, 1.0 / KEYS, KEYS, log((double)KEYS));
    mat_free(&table);
}

static void plot_results(const CommonOpts *opts, const WidthResult *res)
{
    float x[WIDTHS], var_raw[WIDTHS], var_scaled[WIDTHS];
    float max_raw[WIDTHS], max_scaled[WIDTHS], h_raw[WIDTHS], h_scaled[WIDTHS];
    float g_raw[WIDTHS], g_scaled[WIDTHS];
    double uniform_h = log((double)KEYS);
    for (int w = 0; w < WIDTHS; w++) {
        x[w] = (float)res[w].d;
        var_raw[w] = (float)res[w].var_raw;
        var_scaled[w] = (float)res[w].var_scaled;
        max_raw[w] = (float)res[w].raw.max_weight;
        max_scaled[w] = (float)res[w].scaled.max_weight;
        h_raw[w] = (float)(res[w].raw.entropy / uniform_h);
        h_scaled[w] = (float)(res[w].scaled.entropy / uniform_h);
        g_raw[w] = (float)res[w].raw.grad_norm;
        g_scaled[w] = (float)res[w].scaled.grad_norm;
    }
    Error err;
    const float *var_curves[] = {var_raw, var_scaled};
    const char *const var_labels[] = {"raw scores q.k", "scaled scores q.k / sqrt(D)"};
    draw_error(plot_lines(&opts->plot, "variance",
                          "Variance of the scores of random queries and keys",
                          x, var_curves, var_labels, 2, WIDTHS, "D, width of queries and keys",
                          "variance (log scale)", PLOT_LOGX | PLOT_LOGY, &err), &err);

    const float *soft_curves[] = {max_raw, max_scaled, h_raw, h_scaled, g_raw, g_scaled};
    char max_label[2][64], h_label[2][64];
    snprintf(max_label[0], sizeof max_label[0], "largest weight, raw");
    snprintf(max_label[1], sizeof max_label[1], "largest weight, scaled");
    snprintf(h_label[0], sizeof h_label[0], "entropy / ln %d, raw", KEYS);
    snprintf(h_label[1], sizeof h_label[1], "entropy / ln %d, scaled", KEYS);
    const char *const soft_labels[] = {max_label[0], max_label[1], h_label[0], h_label[1],
                                       "gradient size, raw", "gradient size, scaled"};
    draw_error(plot_lines(&opts->plot, "softmax",
                          "Softmax over 16 keys: raw scores saturate, scaled ones do not",
                          x, soft_curves, soft_labels, 6, WIDTHS, "D, width of queries and keys",
                          "per row, averaged", PLOT_LOGX, &err), &err);
}

/* ---------------------------------------------- one sentence, side by side */

enum { TOKENS = 7, EXAMPLE_WIDTH = 512 };
static const char *const SENTENCE[TOKENS] = {"my", "cat", "sat", "on", "the", "warm", "mat"};

/* The spread of the entries of m: sqrt of their variance.   m: (L, S) */
static double spread(Mat m)
{
    Moments mo = {0};
    moments_add(&mo, m);
    return sqrt(moments_variance(&mo));
}

static void run_example(const CommonOpts *opts)
{
    /* Its own stream: the example stays the same if the experiment changes. */
    Rng rng;
    rng_seed_stream(&rng, opts->seed, 2);
    Mat q = mat_new(TOKENS, EXAMPLE_WIDTH), k = mat_new(TOKENS, EXAMPLE_WIDTH);   /* (L, D), (S, D) */
    mat_rand_normal(q, &rng, 0.0f, 1.0f);
    mat_rand_normal(k, &rng, 0.0f, 1.0f);
    Mat w[2] = {mat_new(TOKENS, TOKENS), mat_new(TOKENS, TOKENS)};   /* (L, S) unscaled, scaled */
    attention_scores(w[0], q, k);
    mat_copy(w[1], w[0]);
    mat_scale(w[1], attention_scale(EXAMPLE_WIDTH));
    printf("One sentence, \"my cat sat on the warm mat\", with a random query and key of\n"
           "width D = %d per token (what learned projections look like before training).\n"
           "The raw scores spread %.1f around 0 (sqrt(D) = %.1f); the scaled ones %.2f.\n\n",
           EXAMPLE_WIDTH, spread(w[0]), sqrt((double)EXAMPLE_WIDTH), spread(w[1]));
    softmax_rows(w[0]);
    softmax_rows(w[1]);
    mat_show("softmax(Q K^T), unscaled (rows: queries, cols: keys)", w[0], SENTENCE, SENTENCE, 3);
    mat_show("softmax(Q K^T / sqrt(D)), scaled", w[1], SENTENCE, SENTENCE, 3);
    Sharpness s[2];
    softmax_sharpness(&s[0], w[0]);
    softmax_sharpness(&s[1], w[1]);
    printf("Largest weight per row, on average: %.3f unscaled, %.3f scaled.\n"
           "Entropy per row: %.3f unscaled, %.3f scaled (ln %d = %.3f is uniform).\n",
           s[0].max_weight, s[1].max_weight, s[0].entropy, s[1].entropy, TOKENS,
           log((double)TOKENS));

    Error err;
    char title[96];
    snprintf(title, sizeof title, "Random queries and keys of width D = %d", EXAMPLE_WIDTH);
    const char *const panels[2] = {"unscaled: softmax(Q K^T)", "scaled: softmax(Q K^T / sqrt(D))"};
    draw_error(plot_heatmap_grid(&opts->plot, "example", title, w, panels, 1, 2, SENTENCE,
                                 SENTENCE, "key", "query", &err), &err);
    mat_free(&q);
    mat_free(&k);
    mat_free(&w[0]);
    mat_free(&w[1]);
}

static void run_demo(const CommonOpts *opts)
{
    printf("Chapter 2: scaled dot-product attention\n\n");
    printf("Queries and keys with independent N(0, 1) entries, width D; %d queries\n"
           "against %d keys, %d random draws per width (seed %llu).\n\n",
           KEYS, KEYS, TRIALS, (unsigned long long)opts->seed);

    Rng rng;
    rng_seed(&rng, opts->seed);
    WidthResult res[WIDTHS];
    for (int w = 0; w < WIDTHS; w++) res[w] = measure_width(&rng, FIRST_WIDTH << w);
    print_results(res);
    printf("The raw variance doubles with D, as the page predicts (a sum of D products,\n"
           "each of variance 1); scaling by 1/sqrt(D) holds it at 1. Unscaled, the\n"
           "softmax heads for one-hot and its gradient for 0; scaled, nothing depends on D.\n\n");
    plot_results(opts, res);

    run_example(opts);
    if (opts->plot.format == PLOT_PNG || opts->plot.format == PLOT_SVG) {
        const char *ext = opts->plot.format == PLOT_PNG ? "png" : "svg";
        printf("\nFigures: %s/variance.%s, %s/softmax.%s, %s/example.%s\n"
               "(each with its .dat and .gp beside it)\n",
               opts->plot.outdir, ext, opts->plot.outdir, ext, opts->plot.outdir, ext);
    }
}

/* ------------------------------------------------------- with .npy files */

static void run_files(const QkvFiles *f, const CommonOpts *opts)
{
    Mat q, k, v;   /* (L, D), (S, D), (S, Dv) */
    qkv_load(&q, &k, &v, f);
    if (q.cols == 0)
        data_error("%s and %s: query and key width D is 0; the scale 1/sqrt(D) needs D >= 1",
                   f->query, f->key);

    Mat weights = mat_new(q.rows, k.rows);   /* (L, S) */
    Mat output = mat_new(q.rows, v.cols);    /* (L, Dv) */
    scaled_attention_forward(output, weights, q, k, v);
    qkv_save(f, output, weights);
    printf("scaled attention: Q (%d, %d), K (%d, %d), V (%d, %d), scale 1/sqrt(%d) = %.6g\n"
           "  -> output (%d, %d), weights (%d, %d)\n",
           q.rows, q.cols, k.rows, k.cols, v.rows, v.cols, q.cols,
           (double)attention_scale(q.cols), output.rows, output.cols, weights.rows,
           weights.cols);
    Error err;
    if (opts->plot_given)
        draw_error(plot_heatmap(&opts->plot, "weights", "Scaled attention weights", weights,
                                NULL, NULL, "key", "query", &err), &err);

    mat_free(&q);
    mat_free(&k);
    mat_free(&v);
    mat_free(&weights);
    mat_free(&output);
}

int main(int argc, char **argv)
{
    cli_init("ch02");
    CommonOpts opts;
    common_opts_init(&opts, "out/ch02");
    QkvFiles f;
    if (qkv_read_options(&f, &opts, argc, argv, USAGE)) run_files(&f, &opts);
    else run_demo(&opts);
    return 0;
}
