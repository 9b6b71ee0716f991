/*
 * 02-scaling-and-softmax.c - a notebook (see notebook.h): what multiplying
 * the scores does to a softmax, why unscaled dot products of wide vectors
 * are large, and what chapter 2's 1/sqrt(D) changes. Seeded: the same
 * numbers on every run.
 */

// %% [markdown]
// # What scaling does to softmax
//
// [Chapter 2](../chapters/02-scaled-attention/README.md) divides the scores
// by $\sqrt{D}$ before the softmax. This notebook shows why, in three steps:
// what a factor in front of the scores does to the weights, how large the
// dot products of wide random vectors get, and what the softmax of such
// scores looks like with and without the scaling.

// %%
#include <math.h>
#include <stdio.h>

#include "attention.h"
#include "notebook.h"
#include "ops.h"
#include "report.h"
#include "rng.h"
#include "scaled_attention.h"

// %% [markdown]
// The rest of the notebook is the body of `main`.

// %%
int main(void)
{
    // %% [markdown]
    // ## One row of scores, multiplied by c
    //
    // Take four keys with the scores 3, 2, 1 and 0, and multiply them all by
    // a factor $c$ before the softmax. The order of the weights never
    // changes, but their contrast does: small $c$ flattens the row towards
    // 1/4 each, large $c$ sends it towards one-hot. `softmax_sharpness`
    // (chapter 2) measures the result: the largest weight, the entropy (ln 4
    // = 1.386 for a uniform row, 0 for one-hot) and how much gradient the
    // softmax lets through (0 for one-hot).

    // %%
    enum { KEYS = 4, FACTORS = 6 };
    const float base[KEYS] = {3.0f, 2.0f, 1.0f, 0.0f};
    const float factor[FACTORS] = {0.25f, 0.5f, 1.0f, 2.0f, 4.0f, 8.0f};
    const char *cols[KEYS + 3] = {"key 0", "key 1", "key 2", "key 3", "max w", "entropy", "grad"};
    char names[FACTORS][24];
    const char *rows[FACTORS];
    Mat table = mat_new(FACTORS, KEYS + 3);
    Mat row = mat_new(1, KEYS);   /* (1, S): one query's scores, then weights */
    for (int f = 0; f < FACTORS; f++) {
        for (int j = 0; j < KEYS; j++) MAT_AT(row, 0, j) = factor[f] * base[j];
        softmax_rows(row);
        Sharpness sh;
        softmax_sharpness(&sh, row);
        for (int j = 0; j < KEYS; j++) MAT_AT(table, f, j) = MAT_AT(row, 0, j);
        MAT_AT(table, f, KEYS) = (float)sh.max_weight;
        MAT_AT(table, f, KEYS + 1) = (float)sh.entropy;
        MAT_AT(table, f, KEYS + 2) = (float)sh.grad_norm;
        snprintf(names[f], sizeof names[f], "c = %g", factor[f]);
        rows[f] = names[f];
    }
    mat_show("softmax(c * [3, 2, 1, 0])", table, rows, cols, 4);

    // %% [markdown]
    // The same as curves, the weight of each key against $c$ (log scale):

    // %%
    enum { POINTS = 61 };
    float cs[POINTS], curve[KEYS][POINTS];
    for (int p = 0; p < POINTS; p++) {
        cs[p] = powf(10.0f, -1.0f + 2.0f * (float)p / (POINTS - 1));   /* 0.1 ... 10 */
        for (int j = 0; j < KEYS; j++) MAT_AT(row, 0, j) = cs[p] * base[j];
        softmax_rows(row);
        for (int j = 0; j < KEYS; j++) curve[j][p] = MAT_AT(row, 0, j);
    }
    const float *ys[KEYS] = {curve[0], curve[1], curve[2], curve[3]};
    const char *labels[KEYS] = {"key 0 (score 3c)", "key 1 (2c)", "key 2 (c)", "key 3 (0)"};
    PlotOpts fig = nb_figures("02-scaling-and-softmax");
    Error err;
    if (plot_lines(&fig, "factor", "softmax(c * [3, 2, 1, 0]) against c", cs, ys, labels, KEYS,
                   POINTS, "c", "weight", PLOT_LOGX, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    nb_show(&fig, "factor");

    // %% [markdown]
    // ## Wide vectors make large scores
    //
    // Where would a large $c$ come from? From the width. If the $D$ entries
    // of a query and a key are independent with mean 0 and variance 1, their
    // dot product is a sum of $D$ products of variance 1 each, so it has
    // variance $D$: its typical size grows like $\sqrt{D}$. Dividing by
    // $\sqrt{D}$ brings the variance back to 1 whatever the width. Measured
    // on 2000 random pairs for each width:

    // %%
    enum { WIDTHS = 5, PAIRS = 2000 };
    const int widths[WIDTHS] = {4, 16, 64, 256, 1024};
    Rng rng;
    rng_seed(&rng, 1);
    for (int w = 0; w < WIDTHS; w++) {
        int d = widths[w];
        Mat q = mat_new(1, d), k = mat_new(1, d), s = mat_new(1, 1);
        double sum = 0.0, sum2 = 0.0;
        for (int p = 0; p < PAIRS; p++) {
            mat_rand_normal(q, &rng, 0.0f, 1.0f);
            mat_rand_normal(k, &rng, 0.0f, 1.0f);
            attention_scores(s, q, k);   /* q . k */
            sum += MAT_AT(s, 0, 0);
            sum2 += (double)MAT_AT(s, 0, 0) * MAT_AT(s, 0, 0);
        }
        double mean = sum / PAIRS, var = sum2 / PAIRS - mean * mean;
        double scale = attention_scale(d);
        printf("D = %4d   var(q.k) = %8.2f   var(q.k / sqrt(D)) = %.3f\n", d, var, var * scale * scale);
        mat_free(&q);
        mat_free(&k);
        mat_free(&s);
    }

    // %% [markdown]
    // ## What it does to attention
    //
    // Now eight random queries and eight random keys of width $D = 512$.
    // Unscaled, the scores have a standard deviation near $\sqrt{512} \approx 23$:
    // that is the table above with $c$ far past 8, and nearly every row is
    // one-hot. Scaled by $1/\sqrt{512}$, the same queries and keys give rows
    // that still weigh several keys.

    // %%
    enum { L = 8, D = 512 };
    Mat q = mat_new(L, D), k = mat_new(L, D);   /* (L, D), (S, D) */
    mat_rand_normal(q, &rng, 0.0f, 1.0f);
    mat_rand_normal(k, &rng, 0.0f, 1.0f);
    Mat w[2] = {mat_new(L, L), mat_new(L, L)};   /* (L, S): raw, scaled */
    attention_scores(w[0], q, k);
    mat_copy(w[1], w[0]);
    mat_scale(w[1], attention_scale(D));
    softmax_rows(w[0]);
    softmax_rows(w[1]);
    const char *what[2] = {"softmax(Q K^T)", "softmax(Q K^T / sqrt(D))"};
    for (int m = 0; m < 2; m++) {
        Sharpness sh;
        softmax_sharpness(&sh, w[m]);
        printf("%-26s max weight %.3f   entropy %.3f (ln 8 = %.3f)   gradient %.4f\n", what[m],
               sh.max_weight, sh.entropy, log(8.0), sh.grad_norm);
    }
    const char *ids[L] = {"0", "1", "2", "3", "4", "5", "6", "7"};
    if (plot_heatmap_grid(&fig, "weights", "8 random queries and keys, D = 512", w, what, 1, 2, ids,
                          ids, "key", "query", &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    nb_show(&fig, "weights");

    // %% [markdown]
    // Unscaled, a query gives on average 96% of its weight to one key, and
    // the gradient that would train the queries and keys is six times
    // smaller than with the scaling (0.058 against 0.367), and it only
    // shrinks as D grows: the model would learn slowly, if at all. That is
    // the whole reason for the $1/\sqrt{D}$ of chapter 2.
    //
    // Try it: set `D` to 16 and run the notebook again. How much does the
    // unscaled row still differ from the scaled one?

    // %%
    for (int m = 0; m < 2; m++) mat_free(&w[m]);
    mat_free(&q);
    mat_free(&k);
    mat_free(&row);
    mat_free(&table);
    return 0;
}
