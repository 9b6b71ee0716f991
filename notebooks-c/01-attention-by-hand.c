/*
 * 01-attention-by-hand.c - a notebook (see notebook.h): chapter 1's
 * attention on a three-word sentence, one step at a time, each step first
 * by hand and then with the library's function, which must agree.
 * Run it as a program (make notebooks does, and renders the .ipynb and .md).
 */

// %% [markdown]
// # Attention by hand: "the cat sat"
//
// This notebook follows [chapter 1](../chapters/01-dot-product-attention/README.md)
// on the shortest sentence that still has something to decide: three words.
// Every number is computed twice, once with a loop you can follow on paper
// and once with the book's function, and the two must agree.
//
// A notebook here is a C program: the cells below run from top to bottom as
// the body of `main`, and each cell shows what it printed.

// %%
#include <math.h>
#include <stdio.h>

#include "attention.h"
#include "notebook.h"
#include "ops.h"
#include "report.h"

// %% [markdown]
// The rest of the notebook is the body of `main`.

// %%
int main(void)
{
    // %% [markdown]
    // ## Step 0: three words, four features
    //
    // Each word is a vector of four hand-made features: *animal*, *object*,
    // *action* and *grammar* (chapter 1's table). In chapter 1 the queries,
    // the keys and the values are all the embeddings themselves, so
    // $Q = K = V = X$.

    // %%
    enum { L = 3, D = 4 };
    const char *words[L] = {"the", "cat", "sat"};
    const char *features[D] = {"animal", "object", "action", "grammar"};
    const float embedding[L * D] = {
        0.0f, 0.0f, 0.0f, 1.0f,   /* the */
        2.0f, 0.0f, 0.5f, 0.0f,   /* cat */
        0.5f, 0.0f, 2.0f, 0.0f,   /* sat */
    };
    Mat x = mat_from(L, D, embedding);   /* (L, D) */
    mat_show("X (rows: words, cols: features)", x, words, features, 2);

    // %% [markdown]
    // ## Step 1: scores, one dot product at a time
    //
    // The score of query $i$ against key $j$ is $\sum_d Q_{id} K_{jd}$. Here is
    // "cat" asking about "sat", term by term:

    // %%
    float score = 0.0f;
    for (int d = 0; d < D; d++) {
        float term = MAT_AT(x, 1, d) * MAT_AT(x, 2, d);
        printf("  %-8s %4.1f x %4.1f = %5.2f\n", features[d], MAT_AT(x, 1, d), MAT_AT(x, 2, d), term);
        score += term;
    }
    printf("score(cat, sat) = %.2f\n", score);

    // %% [markdown]
    // All nine scores at once are one matrix product, $Q K^\top$, which is
    // what `attention_scores` computes. The entry (cat, sat) must be the
    // number above.

    // %%
    Mat scores = mat_new(L, L);   /* (L, S) */
    attention_scores(scores, x, x);
    mat_show("scores = Q K^T (rows: queries, cols: keys)", scores, words, words, 2);
    printf("by hand %.2f, by attention_scores %.2f\n", score, MAT_AT(scores, 1, 2));

    // %% [markdown]
    // ## Step 2: softmax, one row by hand
    //
    // A row of scores becomes weights that are positive and sum to 1:
    // $w_j = e^{s_j} / \sum_{j'} e^{s_{j'}}$. Subtracting the row's largest
    // score first changes nothing (the factor cancels) and keeps `expf` from
    // overflowing.

    // %%
    float w_by_hand[L], sum = 0.0f, mx = MAT_AT(scores, 1, 0);
    for (int j = 1; j < L; j++) mx = fmaxf(mx, MAT_AT(scores, 1, j));
    for (int j = 0; j < L; j++) {
        w_by_hand[j] = expf(MAT_AT(scores, 1, j) - mx);
        printf("  exp(%.2f - %.2f) = %.4f\n", MAT_AT(scores, 1, j), mx, w_by_hand[j]);
        sum += w_by_hand[j];
    }
    printf("  sum = %.4f\n", sum);
    for (int j = 0; j < L; j++) printf("  w(cat -> %s) = %.4f\n", words[j], w_by_hand[j] / sum);

    // %% [markdown]
    // `softmax_rows` does that for every row, in place, so `weights` starts
    // as a copy of the scores. The "cat" row must match the numbers above.

    // %%
    Mat weights = mat_new(L, L);   /* (L, S) */
    mat_copy(weights, scores);
    softmax_rows(weights);
    mat_show("weights = softmax(scores), row by row", weights, words, words, 4);
    for (int i = 0; i < L; i++) {
        float row = 0.0f;
        for (int j = 0; j < L; j++) row += MAT_AT(weights, i, j);
        printf("row %-3s sums to %.6f\n", words[i], row);
    }

    // %% [markdown]
    // "cat" and "sat" each put 89% of their weight on themselves: without
    // projections a long vector matches itself best. "the" matches only
    // itself, and weakly (a score of 1), so it keeps 58% and splits the rest
    // evenly. As a picture (rows: queries, columns: keys):

    // %%
    PlotOpts fig = nb_figures("01-attention-by-hand");
    Error err;
    if (plot_heatmap(&fig, "weights", "softmax(Q K^T) for \"the cat sat\"", weights, words, words,
                     "key", "query", &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    nb_show(&fig, "weights");

    // %% [markdown]
    // ## Step 3: the output, a weighted average of the values
    //
    // Row $i$ of the output is $\sum_j w_{ij} V_j$. For "cat", by hand:

    // %%
    for (int d = 0; d < D; d++) {
        float o = 0.0f;
        for (int j = 0; j < L; j++) o += MAT_AT(weights, 1, j) * MAT_AT(x, j, d);
        printf("  output(cat, %-7s) = %.4f\n", features[d], o);
    }

    // %% [markdown]
    // `attention_mix` computes every row as one product, weights times $V$:

    // %%
    Mat output = mat_new(L, D);   /* (L, Dv) */
    attention_mix(output, weights, x);
    mat_show("output = weights V", output, words, features, 4);

    // %% [markdown]
    // ## All at once
    //
    // `attention_forward` is the three steps in a row. It must give exactly
    // the same numbers as the steps above, since it calls the same functions.

    // %%
    Mat output2 = mat_new(L, D), weights2 = mat_new(L, L);
    attention_forward(output2, weights2, x, x, x);
    float diff = 0.0f;
    for (int i = 0; i < L; i++)
        for (int d = 0; d < D; d++) diff = fmaxf(diff, fabsf(MAT_AT(output2, i, d) - MAT_AT(output, i, d)));
    printf("largest difference between attention_forward and the steps: %g\n", diff);

    // %% [markdown]
    // Try it: give "the" an *animal* feature of 1 in `embedding` and run the
    // notebook again. Which word does "the" look at now, and why?

    // %%
    mat_free(&output2);
    mat_free(&weights2);
    mat_free(&output);
    mat_free(&weights);
    mat_free(&scores);
    mat_free(&x);
    return 0;
}
