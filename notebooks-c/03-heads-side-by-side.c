/*
 * 03-heads-side-by-side.c - a notebook (see notebook.h): chapter 4's
 * multi-head attention on one sentence, every head's weights side by side,
 * and the check that a head is scaled attention (chapter 2) on a column
 * view of the projections. Seeded: the same numbers on every run.
 */

// %% [markdown]
// # Heads side by side
//
// [Chapter 4](../chapters/04-multi-head-attention/README.md) runs several
// attentions at once. Each head gets its own slice of the projected queries,
// keys and values, so each can look for something different. Here a module
// with four heads, initialised as PyTorch would, reads one sentence, and we
// look at what every head does with it.

// %%
#include <math.h>
#include <stdio.h>

#include "masking.h"
#include "multihead.h"
#include "notebook.h"
#include "positional.h"
#include "report.h"
#include "rng.h"
#include "scaled_attention.h"

// %% [markdown]
// The rest of the notebook is the body of `main`.

// %%
int main(void)
{
    // %% [markdown]
    // ## A sentence
    //
    // Six tokens, five different words. Each word gets a random vector of
    // width $E = 8$ (the same vector wherever the word appears), and
    // [chapter 5](../chapters/05-positional-encoding/README.md)'s positional
    // encoding is added, so the two "the" differ by their places.

    // %%
    enum { L = 6, E = 8, H = 4, DH = E / H, WORDS = 5 };
    const char *tokens[L] = {"the", "cat", "sat", "on", "the", "mat"};
    const int ids[L] = {0, 1, 2, 3, 0, 4};
    Rng rng;
    rng_seed(&rng, 1);
    Mat table = mat_new(WORDS, E);   /* (V, E): one row per word */
    mat_rand_normal(table, &rng, 0.0f, 2.0f);
    Mat x = mat_new(L, E);           /* (L, E) */
    for (int i = 0; i < L; i++) mat_copy(mat_rows(x, i, 1), mat_rows(table, ids[i], 1));
    positional_add(x);
    mat_show("X = word vectors + positions (rows: tokens)", x, tokens, NULL, 2);

    // %% [markdown]
    // ## Four heads
    //
    // `mha_new` and `mha_init` make a module of width 8 with $H = 4$ heads of
    // width $D_h = 2$, with PyTorch's initialisation. `mha_forward` returns
    // every head's weights stacked: head $h$ is rows $[hL, (h+1)L)$.

    // %%
    MHA m = mha_new(E, H);
    mha_init(&m, &rng);
    printf("%d parameters: 4 E^2 + 4 E with E = %d\n\n", (int)mha_param_count(&m), E);
    Mat out = mat_new(L, E);          /* (L, E) */
    Mat attn = mat_new(H * L, L);     /* (H L, S) */
    mha_forward(out, attn, x, x, x, &m, NULL);
    for (int h = 0; h < H; h++) {
        char title[64];
        snprintf(title, sizeof title, "head %d (rows: queries, cols: keys)", h + 1);
        mat_show(title, mat_rows(attn, h * L, L), tokens, tokens, 2);
    }

    // %% [markdown]
    // The same four matrices as one figure:

    // %%
    PlotOpts fig = nb_figures("03-heads-side-by-side");
    Mat maps[H];
    const char *titles[H] = {"head 1", "head 2", "head 3", "head 4"};
    for (int h = 0; h < H; h++) maps[h] = mat_rows(attn, h * L, L);
    Error err;
    if (plot_heatmap_grid(&fig, "heads", "Four heads over \"the cat sat on the mat\"", maps, titles,
                          1, H, tokens, tokens, "key", "query", &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    nb_show(&fig, "heads");

    // %% [markdown]
    // Nobody trained these heads, and still they differ: each one compares
    // a different two-dimensional slice of the projected vectors, so each
    // finds a different word most similar to each query. For "mat", head 1
    // looks at the first "the" (0.72), heads 2 and 3 at "mat" itself (0.96)
    // and head 4 at "on" (0.64). Training (chapter 10) turns such accidents
    // into useful habits.
    //
    // ## A head is a view, not a copy
    //
    // The projections are $Q' = X W_Q^\top + b_Q$, and the same for $K'$ and
    // $V'$, each (6, 8). Head $h$ is chapter 2's scaled attention on the
    // columns $[h D_h, (h+1) D_h)$ of the three, which `mat_cols` gives as a
    // view into the same memory. Computing head 3 that way must give the
    // rows of `attn` that `mha_forward` returned for it.

    // %%
    Mat qp = mat_new(L, E), kp = mat_new(L, E), vp = mat_new(L, E);   /* (L, E) each */
    linear_forward(qp, x, mha_w(&m, 0), mha_b(&m, 0));
    linear_forward(kp, x, mha_w(&m, 1), mha_b(&m, 1));
    linear_forward(vp, x, mha_w(&m, 2), mha_b(&m, 2));
    int h = 2;   /* head 3 */
    Mat head_out = mat_new(L, DH), head_w = mat_new(L, L);
    scaled_attention_forward(head_out, head_w, mat_cols(qp, h * DH, DH), mat_cols(kp, h * DH, DH),
                             mat_cols(vp, h * DH, DH));
    float diff = 0.0f;
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++)
            diff = fmaxf(diff, fabsf(MAT_AT(head_w, i, j) - MAT_AT(attn, h * L + i, j)));
    printf("head 3 reads columns [%d, %d) of Q', K' and V' (stride %d: a view)\n", h * DH,
           (h + 1) * DH, mat_cols(qp, h * DH, DH).stride);
    printf("largest difference from mha_forward's head 3: %g\n", diff);

    // %% [markdown]
    // ## The same heads, causal
    //
    // With chapter 3's causal mask every head loses the future: query $i$
    // may only look at keys $j \le i$. The blocked cells are drawn grey.
    // The first row has a single key left, so every head gives "the" all of
    // its weight.

    // %%
    Mat mask = mat_new(L, L);   /* (L, S), 1 = blocked */
    mask_causal(mask);
    mha_forward(out, attn, x, x, x, &m, &mask);
    for (int hh = 0; hh < H; hh++)
        for (int i = 0; i < L; i++)
            for (int j = 0; j < L; j++)
                if (MAT_AT(mask, i, j) != 0.0f) MAT_AT(attn, hh * L + i, j) = NAN;   /* drawn grey */
    if (plot_heatmap_grid(&fig, "heads_causal", "The same heads with a causal mask", maps, titles, 1,
                          H, tokens, tokens, "key", "query", &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    nb_show(&fig, "heads_causal");

    // %% [markdown]
    // ## Back to one vector per word
    //
    // The heads' outputs, each (6, 2), sit side by side as one (6, 8) matrix,
    // and $W_O$ mixes them: $\text{output} = [\text{head}_1 \cdots
    // \text{head}_4]\, W_O^\top + b_O$. That is the `out` of `mha_forward`,
    // one row per word, of the same width as the input:

    // %%
    mat_show("output of the causal module (rows: tokens)", out, tokens, NULL, 3);

    // %% [markdown]
    // Try it: set `H` to 2 or to 8 and run the notebook again. With 8 heads
    // each head has one dimension: how sharp can its weights still be?

    // %%
    mat_free(&mask);
    mat_free(&head_w);
    mat_free(&head_out);
    mat_free(&vp);
    mat_free(&kp);
    mat_free(&qp);
    mat_free(&attn);
    mat_free(&out);
    mha_free(&m);
    mat_free(&x);
    mat_free(&table);
    return 0;
}
