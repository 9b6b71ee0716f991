/*
 * main.c - chapter 4's program, build/bin/ch04.
 *
 * With no arguments: four hand-built heads over "the cat sat on the mat",
 * each made to look for something different (the previous word, the word
 * itself, the nouns, the verb-subject link), drawn side by side.
 * With --params/--heads/--query/--key/--value: torch.nn.MultiheadAttention's
 * forward pass on .npy files and a state_dict .npz, for checking against
 * PyTorch; batched inputs, a key-padding mask, an attention mask, --causal.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "masking.h"
#include "multihead.h"
#include "npy.h"
#include "plot.h"
#include "report.h"

static const char *const USAGE =
    "usage: ch04 [options]\n"
    "Chapter 4: multi-head attention, as torch.nn.MultiheadAttention (batch_first).\n"
    "With no file options, runs the demo: four hand-built heads over\n"
    "\"the cat sat on the mat\" (--causal blocks the future there too).\n"
    "\n"
    "  --params MHA.npz          in_proj_weight (3E, E), in_proj_bias (3E),\n"
    "                            out_proj.weight (E, E), out_proj.bias (E)\n"
    "  --heads H                 number of heads; H must divide E\n"
    "  --query Q.npy             queries (L, E) or (B, L, E)\n"
    "  --key K.npy               keys (S, E) or (B, S, E), same rank as the query\n"
    "  --value V.npy             values, shaped as the keys\n"
    "  --key-padding-mask P.npy  (S) or (B, S), bool or integer, nonzero = key blocked\n"
    "  --mask M.npy              attn_mask (L, S), bool or integer, nonzero = blocked\n"
    "  --causal                  also block key j for query i when j > i\n"
    "  --output O.npy            write the output, shaped as the query\n"
    "  --attn A.npy              write every head's weights, (H, L, S) or (B, H, L, S)\n"
    "  (with files, figures are drawn only when --plot is given)\n";

/* Every head's weights side by side in one figure, blocked cells grey.
 *   attn: (H * L, S), head h is rows [h L, (h + 1) L)   mask: (L, S) or NULL */
static void plot_heads(const PlotOpts *o, const char *name, const char *title, Mat attn, int H,
                       const Mat *mask, const char *const *tokens_q,
                       const char *const *tokens_k, const char *const *head_titles)
{
    int L = attn.rows / H, S = attn.cols;
    Mat shown = mat_new(H * L, S);   /* a copy: blocked cells become NaN ("blocked") */
    mat_copy(shown, attn);
    Mat *maps = xcalloc((size_t)H, sizeof *maps, "figure panels");
    char **titles = xcalloc((size_t)H, sizeof *titles, "panel titles");
    for (int h = 0; h < H; h++) {
        maps[h] = mat_rows(shown, h * L, L);
        for (int i = 0; mask && i < L; i++)
            for (int j = 0; j < S; j++)
                if (MAT_AT(*mask, i, j) != 0.0f) MAT_AT(maps[h], i, j) = NAN;
        titles[h] = xmalloc(64, 1, "a panel title");
        snprintf(titles[h], 64, "head %d", h + 1);
        if (head_titles) snprintf(titles[h], 64, "%s", head_titles[h]);
    }
    Error err;
    int rc = plot_heatmap_grid(o, name, title, maps, (const char *const *)titles, 1, H, tokens_q,
                               tokens_k, "key", "query", &err);
    for (int h = 0; h < H; h++) free(titles[h]);
    free(titles);
    free(maps);
    mat_free(&shown);
    if (rc != 0) data_error_from(&err);
    if (o->format == PLOT_PNG || o->format == PLOT_SVG)
        printf("Figure: %s/%s.%s (with %s.dat and %s.gp beside it)\n", o->outdir, name,
               o->format == PLOT_PNG ? "png" : "svg", name, name);
}

/* ============================================================ the demo */

enum { TOKENS = 6, WIDTH = 8, HEADS = 4, DH = WIDTH / HEADS };
static const char *const SENTENCE[TOKENS] = {"the", "cat", "sat", "on", "the", "mat"};

/* Chapter 1's four made-up features, two word-class tags, and two numbers
 * that say where the word is: the point at angle 45 degrees x position on a
 * circle (chapter 5 builds real positional encodings from the same idea). */
enum { ANIMAL, OBJECT, ACTION, GRAMMAR, NOUN, VERB, POS_COS, POS_SIN };
static const char *const FEATURES[WIDTH] = {"animal", "object", "action", "grammar",
                                            "noun",   "verb",   "pos_cos", "pos_sin"};
static const float WORDS[TOKENS][POS_COS] = {
    /* animal object action grammar noun verb */
    {0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f},   /* the */
    {2.0f, 0.0f, 0.5f, 0.0f, 1.0f, 0.0f},   /* cat */
    {0.5f, 0.0f, 2.0f, 0.0f, 0.0f, 1.0f},   /* sat */
    {0.0f, 0.5f, 0.5f, 1.0f, 0.0f, 0.0f},   /* on  */
    {0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f},   /* the */
    {0.0f, 2.0f, 0.0f, 0.0f, 1.0f, 0.0f},   /* mat */
};

static const char *const HEAD_TITLES[HEADS] = {"head 1: previous word", "head 2: same word",
                                               "head 3: nouns", "head 4: verb <-> subject"};
/* Rows of the projections: head h owns rows 2h and 2h+1 of W_Q, W_K and W_V. */
static const char *const HEAD_DIMS[WIDTH] = {"h1.0", "h1.1", "h2.0", "h2.1",
                                             "h3.0", "h3.1", "h4.0", "h4.1"};
/* The output columns: W_O is the identity, so they are the heads' values. */
static const char *const OUT_COLS[WIDTH] = {"prev.noun", "prev.verb", "self.noun", "self.verb",
                                            "nouns.ani", "nouns.obj", "link.ani", "link.act"};

static void demo_embeddings(Mat x)   /* (L, E) */
{
    const float step = 3.14159265f / 4.0f;   /* 45 degrees per position */
    for (int i = 0; i < TOKENS; i++) {
        for (int f = 0; f < POS_COS; f++) MAT_AT(x, i, f) = WORDS[i][f];
        /* cosf(pi / 2) is -4e-8, not 0 (pi itself is rounded): snap such
         * crumbs so that the printed table reads 0.00, not -0.00. */
        float c = cosf(step * (float)i), s = sinf(step * (float)i);
        MAT_AT(x, i, POS_COS) = fabsf(c) < 1e-6f ? 0.0f : c;
        MAT_AT(x, i, POS_SIN) = fabsf(s) < 1e-6f ? 0.0f : s;
    }
}

//! [demo_heads]
/* Each head reads a different pair of features. A score is q . k / sqrt(2),
 * so a weight of 10 in W_Q makes the scores ten times sharper. */
static void demo_parameters(MHA *m)
{
    Mat wq = mha_w(m, 0), wk = mha_w(m, 1), wv = mha_w(m, 2), bq = mha_b(m, 0);
    /* Head 1, previous word: the key is the position point p_j, the query is
     * p_i turned back by 45 degrees, so it lines up with p_(i-1). */
    MAT_AT(wq, 0, POS_COS) = 10.0f;  MAT_AT(wq, 0, POS_SIN) = 10.0f;
    MAT_AT(wq, 1, POS_COS) = -10.0f; MAT_AT(wq, 1, POS_SIN) = 10.0f;
    MAT_AT(wk, 0, POS_COS) = 1.0f;   MAT_AT(wk, 1, POS_SIN) = 1.0f;
    MAT_AT(wv, 0, NOUN) = 1.0f;      MAT_AT(wv, 1, VERB) = 1.0f;
    /* Head 2, same word: query and key are both the position point. */
    MAT_AT(wq, 2, POS_COS) = 14.0f;  MAT_AT(wq, 3, POS_SIN) = 14.0f;
    MAT_AT(wk, 2, POS_COS) = 1.0f;   MAT_AT(wk, 3, POS_SIN) = 1.0f;
    MAT_AT(wv, 2, NOUN) = 1.0f;      MAT_AT(wv, 3, VERB) = 1.0f;
    /* Head 3, nouns: every query is the same constant (the bias), and the
     * key says "I am a noun". */
    MAT_AT(bq, 0, 4) = 4.0f;
    MAT_AT(wk, 4, NOUN) = 1.0f;
    MAT_AT(wv, 4, ANIMAL) = 1.0f;    MAT_AT(wv, 5, OBJECT) = 1.0f;
    /* Head 4, verb <-> subject: a verb asks for an animal, an animal asks
     * for a verb; other words ask nothing (query 0: flat weights). */
    MAT_AT(wq, 6, VERB) = 3.0f;      MAT_AT(wk, 6, ANIMAL) = 1.0f;
    MAT_AT(wq, 7, ANIMAL) = 3.0f;    MAT_AT(wk, 7, VERB) = 1.0f;
    MAT_AT(wv, 6, ANIMAL) = 1.0f;    MAT_AT(wv, 7, ACTION) = 1.0f;
    /* The output projection passes the concatenated heads through unchanged. */
    for (int e = 0; e < m->E; e++) MAT_AT(m->out_proj_weight, e, e) = 1.0f;
}
//! [demo_heads]

static void print_param_count(const MHA *m)
{
    long E = m->E;
    printf("Parameters (the layout of torch.nn.MultiheadAttention):\n"
           "  in_proj_weight   (3E, E) = (%ld, %ld)  %5ld   W_Q, W_K, W_V stacked\n"
           "  in_proj_bias     (3E)    = (%ld)      %5ld   b_Q, b_K, b_V\n"
           "  out_proj.weight  (E, E)  = (%ld, %ld)    %5ld   W_O\n"
           "  out_proj.bias    (E)     = (%ld)       %5ld   b_O\n"
           "  total 4 E^2 + 4 E = 4 x %ld + 4 x %ld = %ld  (mha_param_count: %ld)\n",
           3 * E, E, 3 * E * E, 3 * E, 3 * E, E, E, E * E, E, E, E * E, E, 4 * E * E + 4 * E,
           mha_param_count(m));
    MHA base = mha_new(512, 8);
    printf("  The paper's base model, E = 512 with 8 heads: %ld per attention layer.\n"
           "  The count does not depend on H: more heads only cut E into thinner slices.\n\n",
           mha_param_count(&base));
    mha_free(&base);
}

static void run_demo(const CommonOpts *opts, int causal)
{
    printf("Chapter 4: multi-head attention\n\n");
    printf("\"the cat sat on the mat\": L = S = %d tokens of width E = %d, H = %d heads of\n"
           "Dh = E / H = %d. Head h reads columns [%d h, %d h + %d) of Q' = X W_Q^T + b_Q,\n"
           "K' = X W_K^T + b_K and V' = X W_V^T + b_V: views, not copies.\n\n",
           TOKENS, WIDTH, HEADS, DH, DH, DH, DH);

    MHA m = mha_new(WIDTH, HEADS);
    demo_parameters(&m);
    print_param_count(&m);

    Mat x = mat_new(TOKENS, WIDTH);               /* (L, E) */
    Mat attn = mat_new(HEADS * TOKENS, TOKENS);   /* (H L, S) */
    Mat out = mat_new(TOKENS, WIDTH);             /* (L, E) */
    Mat mask = mat_new(TOKENS, TOKENS);           /* (L, S) */
    demo_embeddings(x);
    mask_causal(mask);

    mat_show("X, the embeddings (rows: tokens, cols: features)", x, SENTENCE, FEATURES, 2);
    mat_show("W_Q, rows [0, E) of in_proj_weight (rows: head dims, cols: features)", mha_w(&m, 0),
         HEAD_DIMS, FEATURES, 0);
    static const char *const BQ[1] = {"b_Q"};
    mat_show("b_Q, the first E entries of in_proj_bias", mha_b(&m, 0), BQ, HEAD_DIMS, 0);
    mat_show("W_K, rows [E, 2E) of in_proj_weight", mha_w(&m, 1), HEAD_DIMS, FEATURES, 0);
    mat_show("W_V, rows [2E, 3E) of in_proj_weight (W_O is the identity)", mha_w(&m, 2), HEAD_DIMS,
         FEATURES, 0);

    mha_forward(out, attn, x, x, x, &m, causal ? &mask : NULL);
    if (causal) printf("With --causal: query i may not look at keys j > i.\n\n");

    for (int h = 0; h < HEADS; h++) {
        char title[96];
        snprintf(title, sizeof title, "%s, weights (rows: queries, cols: keys)", HEAD_TITLES[h]);
        mat_show(title, mat_rows(attn, h * TOKENS, TOKENS), SENTENCE, SENTENCE, 3);
    }
    mat_show("output = concat(heads) W_O^T + b_O (here: the heads' values, side by side)", out,
         SENTENCE, OUT_COLS, 2);
    printf("Four heads, one input, four different patterns: each head has its own\n"
           "W_Q and W_K, so each asks its own question of the same words.\n\n");

    plot_heads(&opts->plot, causal ? "heads_causal" : "heads",
               causal ? "Four heads over the same sentence, causal mask (grey: blocked)"
                      : "Four heads over the same sentence",
               attn, HEADS, causal ? &mask : NULL, SENTENCE, SENTENCE, HEAD_TITLES);

    mat_free(&x);
    mat_free(&attn);
    mat_free(&out);
    mat_free(&mask);
    mha_free(&m);
}

/* ============================================================ with files */

typedef struct {
    const char *params, *query, *key, *value;   /* input files */
    const char *key_padding, *mask;             /* optional input files */
    const char *output, *attn;                  /* output files, may be NULL */
    int heads;                                  /* --heads, 0 if not given */
    int causal;                                 /* --causal */
} Files;

/* "(2, 3, 4)" for a shape given as numbers. */
static char *shape_str(char *buf, size_t len, int ndim, const int64_t *shape)
{
    Tensor t = {.ndim = ndim};
    memcpy(t.shape, shape, (size_t)ndim * sizeof *shape);
    return tensor_shape_str(&t, buf, len);
}

/* A real-valued, finite tensor of rank 2 or 3 from an .npy file. */
static Tensor load_input(const char *path, const char *option)
{
    Tensor t;
    Error err;
    char s[256];
    if (npy_load(path, &t, &err) != 0) data_error_from(&err);
    tensor_shape_str(&t, s, sizeof s);
    if (t.dtype != DT_F32)
        data_error("%s: %s must hold real numbers (<f4 or <f8), found %s", path, option,
                   t.file_dtype);
    if (t.ndim != 2 && t.ndim != 3)
        data_error("%s: %s must be 2-D (L, E) or 3-D (B, L, E), found shape %s", path, option, s);
    for (int d = 0; d < t.ndim; d++)
        if (t.shape[d] < 1 || t.shape[d] > INT_MAX)
            data_error("%s: %s has shape %s; every size must be between 1 and %d", path, option,
                       s, INT_MAX);
    int64_t bad = tensor_find_nonfinite(&t);
    if (bad >= 0)
        data_error("%s: %s holds %g at flat index %lld; inputs must be finite", path, option,
                   (double)t.f[bad], (long long)bad);
    return t;
}

/* A bool or integer mask of exactly `ndim` dimensions `shape`, as 0/1 floats. */
static float *load_mask(const char *path, const char *option, int ndim, const int64_t *shape,
                        const char *shape_name)
{
    Tensor t;
    Error err;
    if (npy_load(path, &t, &err) != 0) data_error_from(&err);
    if (t.dtype != DT_I64)
        data_error("%s: %s must be bool or integer (nonzero = blocked), found %s: PyTorch adds "
                   "a float mask to the scores instead; save it with mask.astype(bool)",
                   path, option, t.file_dtype);
    int fits = t.ndim == ndim;
    for (int d = 0; d < ndim && fits; d++) fits = t.shape[d] == shape[d];
    if (!fits) {
        char want[128], found[128];
        data_error("%s: %s must have shape %s %s, found %s", path, option, shape_name,
                   shape_str(want, sizeof want, ndim, shape),
                   tensor_shape_str(&t, found, sizeof found));
    }
    float *m = xmalloc((size_t)t.size, sizeof *m, "a mask");
    for (int64_t k = 0; k < t.size; k++) m[k] = t.i[k] != 0 ? 1.0f : 0.0f;
    tensor_free(&t);
    return m;
}

/* Checks that query, key and value fit together and the module; sets the sizes. */
static void check_inputs(const Files *f, const Tensor *q, const Tensor *k, const Tensor *v,
                         int E, int *B, int *L, int *S)
{
    char sq[128], sk[128], sv[128];
    tensor_shape_str(q, sq, sizeof sq);
    tensor_shape_str(k, sk, sizeof sk);
    tensor_shape_str(v, sv, sizeof sv);
    if (k->ndim != q->ndim || v->ndim != q->ndim)
        data_error("%s, %s and %s: query %s, key %s and value %s must all be 2-D or all 3-D",
                   f->query, f->key, f->value, sq, sk, sv);
    int batched = q->ndim == 3;
    *B = batched ? (int)q->shape[0] : 1;
    *L = (int)q->shape[batched];
    *S = (int)k->shape[batched];
    if (batched && (k->shape[0] != *B || v->shape[0] != *B))
        data_error("%s, %s and %s: batch sizes differ: query %s, key %s, value %s", f->query,
                   f->key, f->value, sq, sk, sv);
    const Tensor *all[3] = {q, k, v};
    const char *paths[3] = {f->query, f->key, f->value};
    const char *names[3] = {"query", "key", "value"};
    for (int a = 0; a < 3; a++)
        if (all[a]->shape[all[a]->ndim - 1] != E)
            data_error("%s: the %s's width is %lld but %s has E = %d (in_proj_weight is (3E, E))",
                       paths[a], names[a], (long long)all[a]->shape[all[a]->ndim - 1], f->params,
                       E);
    if (v->shape[batched] != *S)
        data_error("%s and %s: %d keys but %lld values (key %s, value %s)", f->key, f->value, *S,
                   (long long)v->shape[batched], sk, sv);
}

static void run_files(const Files *f, const CommonOpts *opts)
{
    Npz z;
    Error err;
    MHA m;
    if (npz_load(f->params, &z, &err) != 0) data_error_from(&err);
    if (mha_load(&m, &z, "", f->heads, f->params, &err) != 0) data_error_from(&err);
    npz_free(&z);
    int E = m.E, H = m.H;

    Tensor q = load_input(f->query, "--query");   /* (B, L, E) or (L, E) */
    Tensor k = load_input(f->key, "--key");       /* (B, S, E) or (S, E) */
    Tensor v = load_input(f->value, "--value");   /* (B, S, E) or (S, E) */
    int B, L, S, batched = q.ndim == 3;
    check_inputs(f, &q, &k, &v, E, &B, &L, &S);

    if ((double)B * H * L * S > (double)(SIZE_MAX / sizeof(float)))
        data_error("%s: %d x %d x %d x %d attention weights do not fit in memory", f->query, B,
                   H, L, S);

    float *key_padding = NULL;   /* (B, S) of 0/1 */
    float *attn_mask = NULL;     /* (L, S) of 0/1 */
    if (f->key_padding) {
        int64_t shape[2] = {B, S};
        key_padding = load_mask(f->key_padding, "--key-padding-mask", batched ? 2 : 1,
                                batched ? shape : shape + 1, batched ? "(B, S) =" : "(S) =");
    }
    if (f->mask) {
        int64_t shape[2] = {L, S};
        attn_mask = load_mask(f->mask, "--mask", 2, shape, "(L, S) =");
    }

    size_t le = (size_t)L * (size_t)E, se = (size_t)S * (size_t)E;
    size_t hls = (size_t)H * (size_t)L * (size_t)S;
    float *out = xcalloc((size_t)B * le, sizeof *out, "the output");     /* (B, L, E) */
    float *attn = xcalloc((size_t)B * hls, sizeof *attn, "the weights"); /* (B, H, L, S) */
    int masked = f->causal || key_padding || attn_mask;
    Mat mask = mat_new(L, S);   /* one sequence's combined mask */
    Mat first_mask = mat_new(L, S);
    long empty_rows = 0;
    for (int b = 0; b < B; b++) {
        Mat am = mat_wrap(attn_mask, L, S);   /* used only when the file was given */
        Mat kp = mat_wrap(key_padding ? key_padding + (size_t)b * (size_t)S : NULL, 1, S);
        mha_build_mask(mask, attn_mask ? &am : NULL, key_padding ? &kp : NULL, f->causal);
        if (b == 0) mat_copy(first_mask, mask);
        for (int i = 0; i < L; i++) {
            int open = 0;
            for (int j = 0; j < S; j++) open += MAT_AT(mask, i, j) == 0.0f;
            empty_rows += open == 0;
        }
        mha_forward(mat_wrap(out + b * le, L, E), mat_wrap(attn + b * hls, H * L, S),
                    mat_wrap(q.f + b * le, L, E), mat_wrap(k.f + b * se, S, E),
                    mat_wrap(v.f + b * se, S, E), &m, masked ? &mask : NULL);
    }

    int64_t out_shape[3] = {B, L, E}, attn_shape[4] = {B, H, L, S};
    cli_check_finite(out, (size_t)B * le, f->params);   /* the parameters or the inputs */
    cli_check_finite(attn, (size_t)B * hls, f->params);
    if (f->output) cli_save_f32(f->output, out, q.ndim, out_shape + !batched);
    if (f->attn) cli_save_f32(f->attn, attn, q.ndim + 1, attn_shape + !batched);

    char sq[128], sk[128], sa[128];
    printf("multi-head attention: E = %d, H = %d head%s of Dh = %d, %ld parameters\n", E, H,
           H == 1 ? "" : "s", E / H, mha_param_count(&m));
    printf("query %s, key and value %s -> output %s, weights %s\n",
           tensor_shape_str(&q, sq, sizeof sq), tensor_shape_str(&k, sk, sizeof sk), sq,
           shape_str(sa, sizeof sa, q.ndim + 1, attn_shape + !batched));
    if (empty_rows > 0)
        printf("%ld query row(s) have every key blocked: zero weights, and their output is "
               "out_proj.bias\n", empty_rows);
    if (opts->plot_given)
        plot_heads(&opts->plot, "heads", batched ? "Every head's weights, batch element 0"
                                                 : "Every head's weights",
                   mat_wrap(attn, H * L, S), H, masked ? &first_mask : NULL, NULL, NULL, NULL);

    free(out);
    free(attn);
    free(key_padding);
    free(attn_mask);
    mat_free(&mask);
    mat_free(&first_mask);
    tensor_free(&q);
    tensor_free(&k);
    tensor_free(&v);
    mha_free(&m);
}

/* ============================================================ main */

int main(int argc, char **argv)
{
    cli_init("ch04");
    CommonOpts opts;
    common_opts_init(&opts, "out/ch04");
    Files f = {0};

    enum {
        OPT_PARAMS = 1, OPT_HEADS, OPT_QUERY, OPT_KEY, OPT_VALUE, OPT_KEY_PADDING,
        OPT_MASK, OPT_CAUSAL, OPT_OUTPUT, OPT_ATTN
    };
    static const struct option longopts[] = {
        {"params", required_argument, NULL, OPT_PARAMS},
        {"heads", required_argument, NULL, OPT_HEADS},
        {"query", required_argument, NULL, OPT_QUERY},
        {"key", required_argument, NULL, OPT_KEY},
        {"value", required_argument, NULL, OPT_VALUE},
        {"key-padding-mask", required_argument, NULL, OPT_KEY_PADDING},
        {"mask", required_argument, NULL, OPT_MASK},
        {"causal", no_argument, NULL, OPT_CAUSAL},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"attn", required_argument, NULL, OPT_ATTN},
        COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_next_option(argc, argv, longopts, NULL, &opts, USAGE)) != -1) {
        switch (c) {
        case OPT_PARAMS: f.params = optarg; break;
        case OPT_HEADS: f.heads = (int)parse_long("--heads", optarg, 1, INT_MAX); break;
        case OPT_QUERY: f.query = optarg; break;
        case OPT_KEY: f.key = optarg; break;
        case OPT_VALUE: f.value = optarg; break;
        case OPT_KEY_PADDING: f.key_padding = optarg; break;
        case OPT_MASK: f.mask = optarg; break;
        case OPT_CAUSAL: f.causal = 1; break;
        case OPT_OUTPUT: f.output = optarg; break;
        case OPT_ATTN: f.attn = optarg; break;
        }
    }

    int given = (f.params != NULL) + (f.heads != 0) + (f.query != NULL) + (f.key != NULL) +
                (f.value != NULL);
    if (given == 0) {
        const char *extra = f.output ? "--output" : f.attn ? "--attn" : f.mask ? "--mask"
                          : f.key_padding ? "--key-padding-mask" : NULL;
        if (extra)
            usage_error("%s: needs --params, --heads, --query, --key and --value", extra);
        cli_check_outdir(&opts.plot);
        run_demo(&opts, f.causal);
    } else if (given < 5) {
        const char *missing = !f.params ? "--params" : !f.heads ? "--heads" : !f.query ? "--query"
                            : !f.key ? "--key" : "--value";
        usage_error("%s: missing; --params, --heads, --query, --key and --value go together",
                    missing);
    } else {
        cli_check_output(f.output, "--output");   /* before any work: see cli.h */
        cli_check_output(f.attn, "--attn");
        if (opts.plot_given) cli_check_outdir(&opts.plot);
        run_files(&f, &opts);
    }
    return 0;
}
