/*
 * test_backward.c - chapter 10's backward passes against finite differences.
 *
 * Every backward function is checked on small random shapes against central
 * differences of a scalar objective: J = sum(dout * f(x)) with a random dout
 * for a piece f (so d J / d out = dout, the gradient the backward function
 * is given), and the loss itself for the loss and the whole model. Every
 * entry of every input and parameter is perturbed, one at a time:
 *
 *   fd = (J(x + h) - J(x - h)) / ((x + h) - (x - h))     (the denominator as
 *                                                          float rounded it)
 *
 * The forward passes compute in float32, which limits how well fd can agree:
 * J carries a rounding error of about 1e-7 of its size, divided by 2h, and
 * central differences have a truncation error O(h^2). With h = 3e-3 both
 * stay below the tolerance used here,
 *
 *   |fd - backward| <= 1e-2 max(|fd|, |backward|) + 1e-4     (FD_RTOL, FD_ATOL)
 *
 * (the largest disagreement on these cases is 0.16 of it; with h = 1e-2 the
 * truncation error of the layer norm reaches 0.5 of it), while a mistake in
 * a formula (a missing scale, a transpose, a lost term) is off by tens of
 * percent. The whole-model checks, whose objective is a mean loss of about 2
 * through many float32 layers, allow 2e-4 absolute (FD_ATOL_MODEL; largest
 * disagreement 0.25 of the tolerance).
 *
 * ReLU has a kink at 0 where finite differences say nothing: the
 * feed-forward case is drawn with no hidden unit within 0.05 of it (h moves
 * one by at most 3e-3); in the whole model, where that cannot be arranged,
 * an entry with a kink within h passes on a one-sided difference (check_fd),
 * which 0 to 3 of the ~500-700 entries of each model need.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "suites.h"
#include "testutil.h"
#include "backward.h"
#include "encoder.h"
#include "loss.h"
#include "masking.h"
#include "ops.h"
#include "rng.h"
#include "train.h"

#define FD_H 3e-3f
#define FD_RTOL 1e-2
#define FD_ATOL 1e-4
#define FD_ATOL_MODEL 2e-4

/* What the "adds into" functions find in their destinations before they run. */
#define PRE 0.25f

typedef double (*Objective)(void *ctx);

/* ------------------------------------------------------------ helpers */

/* sum of a .* b, in double. */
static double dot(Mat a, Mat b)
{
    double s = 0.0;
    for (int i = 0; i < a.rows; i++)
        for (int j = 0; j < a.cols; j++) s += (double)MAT_AT(a, i, j) * MAT_AT(b, i, j);
    return s;
}

static Mat random_mat(int rows, int cols, Rng *r, float lo, float hi)
{
    Mat m = mat_new(rows, cols);
    mat_rand_uniform(m, r, lo, hi);
    return m;
}

/* How a finite-difference check is made: the step, the absolute part of the
 * tolerance, and whether the function may have kinks inside +-h (see
 * check_fd). */
typedef struct {
    float h;
    double atol;
    int kinks;
} FdStep;

/* The pieces: smooth where they are evaluated. */
static const FdStep PIECE = {FD_H, FD_ATOL, 0};
/* The whole model: its ReLUs are not kept away from their kinks, and its
 * loss carries more float32 rounding. */
static const FdStep MODEL = {FD_H, FD_ATOL_MODEL, 1};

static int fd_agrees(double fd, double an, double atol)
{
    return isfinite(an) && fabs(fd - an) <= FD_RTOL * fmax(fabs(fd), fabs(an)) + atol;
}

/* Central differences of f with respect to every entry of x, against the
 * backward pass's gradient g minus `offset` (what g held before it ran).
 * x, g: same shape.
 *
 * With s->kinks, a function that is only piecewise smooth (ReLU) may have a
 * kink between x - h and x + h; the gradient at x is then the slope of the
 * piece x is on, which one of the one-sided differences (J(x + h) - J(x)) / h
 * or (J(x) - J(x - h)) / h still measures: the entry passes if either does,
 * and the number of such entries is returned. */
static int check_fd(Mat x, Mat g, float offset, const FdStep *s, Objective f, void *ctx,
                    const char *what)
{
    ck_assert_int_eq(x.rows, g.rows);
    ck_assert_int_eq(x.cols, g.cols);
    double j0 = f(ctx);
    int one_sided = 0;
    for (int i = 0; i < x.rows; i++)
        for (int j = 0; j < x.cols; j++) {
            float v = MAT_AT(x, i, j);
            MAT_AT(x, i, j) = v + s->h;
            float up = MAT_AT(x, i, j);
            double jp = f(ctx);
            MAT_AT(x, i, j) = v - s->h;
            float down = MAT_AT(x, i, j);
            double jm = f(ctx);
            MAT_AT(x, i, j) = v;
            double fd = (jp - jm) / ((double)up - down), an = (double)MAT_AT(g, i, j) - offset;
            if (fd_agrees(fd, an, s->atol)) continue;
            double right = (jp - j0) / ((double)up - v), left = (j0 - jm) / ((double)v - down);
            int ok = s->kinks && (fd_agrees(right, an, 2 * s->atol) ||
                                  fd_agrees(left, an, 2 * s->atol));
            ck_assert_msg(ok, "%s[%d][%d]: finite difference %.7g, backward %.7g", what, i, j,
                          fd, an);
            one_sided++;
        }
    f(ctx);   /* leaves what the objective computes as it is at x */
    return one_sided;
}

/* ------------------------------------------------- linear, ReLU, softmax */

typedef struct {
    Mat x, w, b, dout, out;
} LinearCtx;

static double linear_objective(void *p)
{
    LinearCtx *c = p;
    linear_forward(c->out, c->x, c->w, c->b);
    return dot(c->dout, c->out);
}

START_TEST(linear_matches_finite_differences)
{
    Rng r;
    rng_seed(&r, 101);
    int N = 3, I = 4, O = 5;
    LinearCtx c = {random_mat(N, I, &r, -1, 1), random_mat(O, I, &r, -1, 1),
                   random_mat(1, O, &r, -1, 1), random_mat(N, O, &r, -1, 1), mat_new(N, O)};
    /* The gradients are ADDED: start from PRE and take it off afterwards. */
    Mat dx = mat_new(N, I), dw = mat_new(O, I), db = mat_new(1, O);
    mat_fill(dx, PRE);
    mat_fill(dw, PRE);
    mat_fill(db, PRE);
    linear_backward(dx, dw, db, c.dout, c.x, c.w);
    check_fd(c.x, dx, PRE, &PIECE, linear_objective, &c, "linear dx");
    check_fd(c.w, dw, PRE, &PIECE, linear_objective, &c, "linear dW");
    check_fd(c.b, db, PRE, &PIECE, linear_objective, &c, "linear db");
    Mat *all[] = {&c.x, &c.w, &c.b, &c.dout, &c.out, &dx, &dw, &db};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(all[k]);
}
END_TEST

START_TEST(relu_by_hand)
{
    /* PyTorch's convention at the kink: ReLU'(0) = 0. */
    const float h[6] = {-1.0f, 0.0f, 2.0f, 0.5f, -0.0f, 3.0f};
    const float d[6] = {5.0f, 6.0f, 7.0f, -8.0f, 9.0f, -1.0f};
    const float want[6] = {0.0f, 0.0f, 7.0f, -8.0f, 0.0f, -1.0f};
    Mat hm = mat_from(2, 3, h), dm = mat_from(2, 3, d);
    relu_backward(dm, hm);
    for (int k = 0; k < 6; k++) ck_assert_float_eq(dm.data[k], want[k]);
    mat_free(&hm);
    mat_free(&dm);
}
END_TEST

typedef struct {
    Mat scores, dout, weights;
} SoftmaxCtx;

static double softmax_objective(void *p)
{
    SoftmaxCtx *c = p;
    mat_copy(c->weights, c->scores);
    softmax_rows(c->weights);
    return dot(c->dout, c->weights);
}

START_TEST(softmax_matches_finite_differences)
{
    Rng r;
    rng_seed(&r, 102);
    int L = 3, S = 5;
    SoftmaxCtx c = {random_mat(L, S, &r, -2, 2), random_mat(L, S, &r, -1, 1), mat_new(L, S)};
    softmax_objective(&c);
    Mat ds = mat_new(L, S);
    softmax_backward(ds, c.dout, c.weights);
    check_fd(c.scores, ds, 0.0f, &PIECE, softmax_objective, &c, "softmax dscores");
    /* In place (dscores == dweights), as attention_backward calls it. */
    Mat inplace = mat_new(L, S);
    mat_copy(inplace, c.dout);
    softmax_backward(inplace, inplace, c.weights);
    for (int k = 0; k < L * S; k++) ck_assert_float_eq(inplace.data[k], ds.data[k]);
    /* Each row of dscores sums to 0: softmax ignores a shift of its row. */
    for (int i = 0; i < L; i++) {
        double sum = 0.0;
        for (int j = 0; j < S; j++) sum += MAT_AT(ds, i, j);
        ck_assert_msg(fabs(sum) < 1e-6, "row %d of dscores sums to %g", i, sum);
    }
    Mat *all[] = {&c.scores, &c.dout, &c.weights, &ds, &inplace};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(all[k]);
}
END_TEST

/* ------------------------------------------------- attention, one head */

typedef struct {
    Mat q, k, v, dout, out, weights, mask;
} AttentionCtx;

static double attention_objective(void *p)
{
    AttentionCtx *c = p;
    masked_attention_forward(c->out, c->weights, c->q, c->k, c->v, &c->mask);
    return dot(c->dout, c->out);
}

START_TEST(attention_matches_finite_differences)
{
    Rng r;
    rng_seed(&r, 103);
    int L = 4, S = 5, D = 3, Dv = 2;
    AttentionCtx c = {random_mat(L, D, &r, -1, 1),   random_mat(S, D, &r, -1, 1),
                      random_mat(S, Dv, &r, -1, 1),  random_mat(L, Dv, &r, -1, 1),
                      mat_new(L, Dv), mat_new(L, S), mat_new(L, S)};
    /* Key 2 blocked for every query, query 0 also kept from key 4, and
     * query 3 blocked from every key (zero weights, zero output). */
    for (int i = 0; i < L; i++) MAT_AT(c.mask, i, 2) = 1.0f;
    MAT_AT(c.mask, 0, 4) = 1.0f;
    mat_fill(mat_rows(c.mask, 3, 1), 1.0f);
    attention_objective(&c);

    /* attention_backward WRITES its outputs: start them with junk. */
    Mat dq = mat_new(L, D), dk = mat_new(S, D), dv = mat_new(S, Dv);
    mat_fill(dq, 7.0f);
    mat_fill(dk, 7.0f);
    mat_fill(dv, 7.0f);
    attention_backward(dq, dk, dv, c.dout, c.weights, c.q, c.k, c.v);
    check_fd(c.q, dq, 0.0f, &PIECE, attention_objective, &c, "attention dq");
    check_fd(c.k, dk, 0.0f, &PIECE, attention_objective, &c, "attention dk");
    check_fd(c.v, dv, 0.0f, &PIECE, attention_objective, &c, "attention dv");
    /* Exact zeros where nothing can flow: the all-blocked query, the key
     * no query may see. */
    for (int j = 0; j < D; j++) {
        ck_assert_float_eq(MAT_AT(dq, 3, j), 0.0f);
        ck_assert_float_eq(MAT_AT(dk, 2, j), 0.0f);
    }
    for (int j = 0; j < Dv; j++) ck_assert_float_eq(MAT_AT(dv, 2, j), 0.0f);
    Mat *all[] = {&c.q, &c.k, &c.v, &c.dout, &c.out, &c.weights, &c.mask, &dq, &dk, &dv};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(all[k]);
}
END_TEST

/* ------------------------------------------------- multi-head attention */

typedef struct {
    MHA m;
    Mat query, memory, dout, out, attn, mask;
    int self;   /* 1: query, key and value are all `query` */
} MhaCtx;

static double mha_objective(void *p)
{
    MhaCtx *c = p;
    Mat kv = c->self ? c->query : c->memory;
    mha_forward(c->out, c->attn, c->query, kv, kv, &c->m, &c->mask);
    return dot(c->dout, c->out);
}

/* Self-attention (case 0: L = 5, E = 6, H = 2) and cross-attention (case 1:
 * L = 3 queries over S = 5 memory rows, E = 6, H = 3), each with a blocked
 * key and a query whose keys are all blocked. */
START_TEST(mha_matches_finite_differences)
{
    int self = _i == 0, L = self ? 5 : 3, S = self ? 5 : 3 + 2, E = 6, H = self ? 2 : 3;
    Rng r;
    rng_seed(&r, 104 + (uint64_t)_i);
    MhaCtx c = {mha_new(E, H), random_mat(L, E, &r, -1, 1), random_mat(S, E, &r, -1, 1),
                random_mat(L, E, &r, -1, 1), mat_new(L, E), mat_new(H * L, S), mat_new(L, S),
                self};
    mha_init(&c.m, &r);
    mat_rand_uniform(c.m.in_proj_bias, &r, -0.3f, 0.3f);
    mat_rand_uniform(c.m.out_proj_bias, &r, -0.3f, 0.3f);
    for (int i = 0; i < L; i++) MAT_AT(c.mask, i, 1) = 1.0f;
    mat_fill(mat_rows(c.mask, L - 2, 1), 1.0f);
    mha_objective(&c);

    MHA g = mha_new(E, H);   /* the parameters' gradients, zero */
    Mat dquery = mat_new(L, E), dmemory = mat_new(S, E);
    mat_fill(dquery, PRE);
    mat_fill(dmemory, PRE);
    if (self) mha_backward(dquery, dquery, dquery, &g, c.dout, c.attn, c.query, c.query, c.query,
                           &c.m);
    else mha_backward(dquery, dmemory, dmemory, &g, c.dout, c.attn, c.query, c.memory, c.memory,
                      &c.m);
    const char *name = self ? "self-attention" : "cross-attention";
    char what[96];
    snprintf(what, sizeof what, "%s dquery", name);
    check_fd(c.query, dquery, PRE, &PIECE, mha_objective, &c, what);
    if (!self) check_fd(c.memory, dmemory, PRE, &PIECE, mha_objective, &c,
                        "cross-attention dmemory (key and value)");
    snprintf(what, sizeof what, "%s in_proj_weight", name);
    check_fd(c.m.in_proj_weight, g.in_proj_weight, 0.0f, &PIECE, mha_objective, &c, what);
    snprintf(what, sizeof what, "%s in_proj_bias", name);
    check_fd(c.m.in_proj_bias, g.in_proj_bias, 0.0f, &PIECE, mha_objective, &c, what);
    /* The key bias shifts a whole row of scores, which no softmax sees: its
     * gradient is exactly 0 (not rounding noise, which Adam would amplify). */
    for (int j = E; j < 2 * E; j++) ck_assert_float_eq(MAT_AT(g.in_proj_bias, 0, j), 0.0f);
    snprintf(what, sizeof what, "%s out_proj.weight", name);
    check_fd(c.m.out_proj_weight, g.out_proj_weight, 0.0f, &PIECE, mha_objective, &c, what);
    snprintf(what, sizeof what, "%s out_proj.bias", name);
    check_fd(c.m.out_proj_bias, g.out_proj_bias, 0.0f, &PIECE, mha_objective, &c, what);

    mha_free(&c.m);
    mha_free(&g);
    Mat *all[] = {&c.query, &c.memory, &c.dout, &c.out, &c.attn, &c.mask, &dquery, &dmemory};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(all[k]);
}
END_TEST

/* ------------------------------------------------- layer norm, feed-forward */

typedef struct {
    LayerNorm ln;
    Mat x, dout, out;
} NormCtx;

static double norm_objective(void *p)
{
    NormCtx *c = p;
    layernorm_forward(c->out, c->x, &c->ln);
    return dot(c->dout, c->out);
}

START_TEST(layernorm_matches_finite_differences)
{
    Rng r;
    rng_seed(&r, 106);
    int N = 3, E = 5;
    NormCtx c = {{random_mat(1, E, &r, 0.5f, 1.5f), random_mat(1, E, &r, -0.5f, 0.5f)},
                 random_mat(N, E, &r, -1, 1), random_mat(N, E, &r, -1, 1), mat_new(N, E)};
    /* Rows of different spread and offset: the statistics matter. */
    for (int j = 0; j < E; j++) {
        MAT_AT(c.x, 1, j) = 3.0f * MAT_AT(c.x, 1, j) + 2.0f;
        MAT_AT(c.x, 2, j) = 0.5f * MAT_AT(c.x, 2, j) - 1.0f;
    }
    LayerNorm g = {mat_new(1, E), mat_new(1, E)};
    mat_fill(g.weight, PRE);
    mat_fill(g.bias, PRE);
    Mat dx = mat_new(N, E);
    mat_fill(dx, PRE);
    layernorm_backward(dx, &g, c.dout, c.x, &c.ln);
    check_fd(c.x, dx, PRE, &PIECE, norm_objective, &c, "layer norm dx");
    check_fd(c.ln.weight, g.weight, PRE, &PIECE, norm_objective, &c, "layer norm dgamma");
    check_fd(c.ln.bias, g.bias, PRE, &PIECE, norm_objective, &c, "layer norm dbeta");
    Mat *all[] = {&c.ln.weight, &c.ln.bias, &c.x, &c.dout, &c.out, &g.weight, &g.bias, &dx};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(all[k]);
}
END_TEST

typedef struct {
    FeedForward ff;
    Mat x, dout, out;
} FfCtx;

static double ff_objective(void *p)
{
    FfCtx *c = p;
    feedforward_forward(c->out, c->x, &c->ff);
    return dot(c->dout, c->out);
}

/* The smallest |hidden pre-activation| of x W1^T + b1. */
static float relu_margin(const FfCtx *c)
{
    Mat h = mat_new(c->x.rows, c->ff.w1.rows);
    linear_forward(h, c->x, c->ff.w1, c->ff.b1);
    float least = INFINITY;
    for (int k = 0; k < h.rows * h.cols; k++) least = fminf(least, fabsf(h.data[k]));
    mat_free(&h);
    return least;
}

START_TEST(feedforward_matches_finite_differences)
{
    Rng r;
    rng_seed(&r, 107);
    int N = 3, E = 4, F = 6;
    FfCtx c = {{mat_new(F, E), mat_new(1, F), mat_new(E, F), mat_new(1, E)},
               mat_new(N, E), random_mat(N, E, &r, -1, 1), mat_new(N, E)};
    /* Draw until no hidden unit sits near ReLU's kink: a perturbation of
     * FD_H moves a pre-activation by at most FD_H here (|x|, |W1| <= 1). */
    int tries = 0;
    do {
        mat_rand_uniform(c.x, &r, -1, 1);
        mat_rand_uniform(c.ff.w1, &r, -1, 1);
        mat_rand_uniform(c.ff.b1, &r, -0.5f, 0.5f);
        ck_assert_int_lt(++tries, 1000);
    } while (relu_margin(&c) < 0.05f);
    mat_rand_uniform(c.ff.w2, &r, -1, 1);
    mat_rand_uniform(c.ff.b2, &r, -0.5f, 0.5f);

    FeedForward g = {mat_new(F, E), mat_new(1, F), mat_new(E, F), mat_new(1, E)};
    Mat dx = mat_new(N, E);
    mat_fill(dx, PRE);
    feedforward_backward(dx, &g, c.dout, c.x, &c.ff);
    check_fd(c.x, dx, PRE, &PIECE, ff_objective, &c, "feed-forward dx");
    check_fd(c.ff.w1, g.w1, 0.0f, &PIECE, ff_objective, &c, "feed-forward dW1");
    check_fd(c.ff.b1, g.b1, 0.0f, &PIECE, ff_objective, &c, "feed-forward db1");
    check_fd(c.ff.w2, g.w2, 0.0f, &PIECE, ff_objective, &c, "feed-forward dW2");
    check_fd(c.ff.b2, g.b2, 0.0f, &PIECE, ff_objective, &c, "feed-forward db2");
    /* Some hidden units must be off, or ReLU's backward was never tested. */
    Mat h = mat_new(N, F);
    linear_forward(h, c.x, c.ff.w1, c.ff.b1);
    int off = 0;
    for (int k = 0; k < N * F; k++) off += h.data[k] < 0.0f;
    ck_assert_int_gt(off, 0);
    ck_assert_int_lt(off, N * F);
    Mat *all[] = {&c.ff.w1, &c.ff.b1, &c.ff.w2, &c.ff.b2, &c.x,   &c.dout, &c.out,
                  &g.w1,    &g.b1,    &g.w2,    &g.b2,    &dx,    &h};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(all[k]);
}
END_TEST

/* ------------------------------------------------- embedding */

typedef struct {
    Mat table, dout, out;
    const int64_t *ids;
} EmbedCtx;

static double embed_objective(void *p)
{
    EmbedCtx *c = p;
    embedding_forward(c->out, c->table, c->ids);
    return dot(c->dout, c->out);
}

START_TEST(embedding_matches_finite_differences)
{
    Rng r;
    rng_seed(&r, 108);
    /* Id 2 used twice (its gradients add up), ids 1 and 3 unused. E = 6:
     * the forward's scale sqrt(6) is no round number. */
    const int64_t ids[4] = {2, 0, 2, 4};
    int V = 5, E = 6, N = 4;
    EmbedCtx c = {random_mat(V, E, &r, -1, 1), random_mat(N, E, &r, -1, 1), mat_new(N, E), ids};
    Mat dtable = mat_new(V, E);
    mat_fill(dtable, PRE);
    embedding_backward(dtable, c.dout, ids);
    check_fd(c.table, dtable, PRE, &PIECE, embed_objective, &c, "embedding dtable");
    for (int j = 0; j < E; j++) {
        ck_assert_float_eq(MAT_AT(dtable, 1, j), PRE);
        ck_assert_float_eq(MAT_AT(dtable, 3, j), PRE);
        /* By hand: row 4 is sqrt(6) dout[3]. */
        ck_assert_float_eq_tol(MAT_AT(dtable, 4, j) - PRE, sqrtf(6.0f) * MAT_AT(c.dout, 3, j),
                               1e-6f);
    }
    mat_free(&c.table);
    mat_free(&c.dout);
    mat_free(&c.out);
    mat_free(&dtable);
}
END_TEST

/* ------------------------------------------------- generator and loss */

typedef struct {
    Mat y, gw, gb, logits;
    const int64_t *target;
    float smoothing;
    int count;
    int from_logits;   /* 1: the objective starts at the logits (no generator) */
} LossCtx;

static double loss_objective(void *p)
{
    LossCtx *c = p;
    if (!c->from_logits) linear_forward(c->logits, c->y, c->gw, c->gb);
    Mat d = mat_new(c->logits.rows, c->logits.cols);
    double sum = cross_entropy_backward(d, c->logits, c->target, c->smoothing, 1.0f);
    mat_free(&d);
    return sum / c->count;
}

/* Generator (a linear layer) + log-softmax + cross-entropy, mean over the
 * counted positions; case 0 without, case 1 with label smoothing 0.1. */
START_TEST(generator_and_loss_match_finite_differences)
{
    Rng r;
    rng_seed(&r, 109 + (uint64_t)_i);
    int T = 5, E = 4, V = 6;
    const int64_t target[5] = {3, 0, 1, 5, 2};   /* position 1 is ignored */
    int count = loss_count(target, T);
    ck_assert_int_eq(count, 4);
    LossCtx c = {random_mat(T, E, &r, -1, 1), random_mat(V, E, &r, -1, 1),
                 random_mat(1, V, &r, -0.5f, 0.5f), mat_new(T, V), target, _i ? 0.1f : 0.0f,
                 count, 0};
    loss_objective(&c);
    Mat dlogits = mat_new(T, V), dy = mat_new(T, E), dgw = mat_new(V, E), dgb = mat_new(1, V);
    double sum = cross_entropy_backward(dlogits, c.logits, target, c.smoothing, 1.0f / count);
    ck_assert(sum > 0.0);
    for (int j = 0; j < V; j++) ck_assert_float_eq(MAT_AT(dlogits, 1, j), 0.0f);
    linear_backward(dy, dgw, dgb, dlogits, c.y, c.gw);

    check_fd(c.y, dy, 0.0f, &PIECE, loss_objective, &c, "loss d generator input");
    check_fd(c.gw, dgw, 0.0f, &PIECE, loss_objective, &c, "loss d generator.weight");
    check_fd(c.gb, dgb, 0.0f, &PIECE, loss_objective, &c, "loss d generator.bias");
    c.from_logits = 1;
    check_fd(c.logits, dlogits, 0.0f, &PIECE, loss_objective, &c, "loss dlogits");
    Mat *all[] = {&c.y, &c.gw, &c.gb, &c.logits, &dlogits, &dy, &dgw, &dgb};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(all[k]);
}
END_TEST

/* ------------------------------------------------- the whole model */

/* A tiny batch: B = 2, S = 4, T = 3, source and target padding, and an
 * ignored position (tgt_out 0) inside row 0. Vs = 5, Vt = 6. */
static const int64_t TINY_SRC[8] = {3, 1, 4, 0, 2, 2, 0, 0};
static const int64_t TINY_TGT[6] = {1, 5, 2, 1, 3, 0};
static const int64_t TINY_OUT[6] = {5, 0, 4, 3, 2, 0};

/* Variants: norm order, final norms, decoder layers, label smoothing. */
typedef struct {
    int norm_first, final_norms, dec_layers;
    float smoothing;
    const char *name;
} TinyVariant;

static const TinyVariant TINY[] = {
    {0, 1, 1, 0.1f, "post-norm"},
    {1, 1, 1, 0.0f, "pre-norm"},
    {0, 0, 2, 0.0f, "post-norm, no final norms, 2 decoder layers"},
    {1, 0, 2, 0.1f, "pre-norm, no final norms, 2 decoder layers"},
};
enum { NTINY = sizeof TINY / sizeof TINY[0] };

/* A random model: PyTorch-style initialisation, then every 1-D tensor
 * randomised (norm gains in [0.7, 1.3], biases in [-0.3, 0.3]) as the
 * reference script does, so no gradient is zero by accident. */
static Transformer tiny_model(const TinyVariant *v, uint64_t seed)
{
    TransformerConfig cfg = {4, 6, 2, 1, v->dec_layers, 5, 6, v->norm_first, v->final_norms,
                             v->final_norms};
    return random_model(&cfg, seed);
}

typedef struct {
    Transformer *m;
    Batch b;
    float smoothing, dropout;
    uint64_t seed;   /* dropout's: the same mask at every evaluation */
} ModelCtx;

static double model_objective(void *p)
{
    ModelCtx *c = p;
    if (c->dropout == 0.0f) return transformer_loss(c->m, &c->b, c->smoothing);
    Rng r;
    rng_seed(&r, c->seed);
    return transformer_backward(c->m, &c->b, c->smoothing, c->dropout, &r);
}

/* Every parameter of the model: d loss / d parameter from transformer_backward
 * against central differences of the loss. The gradients are copied out
 * first (an objective with dropout runs transformer_backward again). Only a
 * few entries may need a one-sided difference (a ReLU kink within h). */
static void check_model(ModelCtx *c, const char *name)
{
    Transformer *m = c->m;
    Rng r;
    rng_seed(&r, c->seed);
    double loss = transformer_backward(m, &c->b, c->smoothing, c->dropout, &r);
    ck_assert(isfinite(loss) && loss > 0.0);
    float *grad = malloc(m->params.size * sizeof(float));
    ck_assert_ptr_nonnull(grad);
    memcpy(grad, m->params.grad, m->params.size * sizeof(float));
    int one_sided = 0;
    for (int k = 0; k < m->params.count; k++) {
        const Param *p = &m->params.items[k];
        Mat x = mat_wrap(m->params.data + p->offset, p->rows, p->cols);
        Mat g = mat_wrap(grad + p->offset, p->rows, p->cols);
        one_sided += check_fd(x, g, 0.0f, &MODEL, model_objective, c, p->name);
    }
    ck_assert_msg((size_t)one_sided * 100 <= m->params.size, "%s: %d of %zu entries one-sided",
                  name, one_sided, m->params.size);
    free(grad);
}

/* The residual blocks in both orders, with and without the final norms,
 * through transformer_backward, every parameter of the model. */
START_TEST(model_matches_finite_differences)
{
    Transformer m = tiny_model(&TINY[_i], 110 + (uint64_t)_i);
    ModelCtx c = {&m, {2, 4, 3, TINY_SRC, TINY_TGT, TINY_OUT}, TINY[_i].smoothing, 0.0f, 0};
    /* Without dropout, transformer_backward's loss is the evaluation loss. */
    Rng r;
    rng_seed(&r, 1);
    double a = transformer_backward(&m, &c.b, c.smoothing, 0.0f, &r);
    double b = transformer_loss(&m, &c.b, c.smoothing);
    ck_assert_msg(fabs(a - b) <= 1e-6 * b, "%s: backward's loss %.9g, evaluation %.9g",
                  TINY[_i].name, a, b);
    check_model(&c, TINY[_i].name);
    transformer_free(&m);
}
END_TEST

/* With dropout 0.2: the gradient of the loss under one fixed dropout mask
 * (the same seed draws the same mask whatever the parameters are). */
START_TEST(model_with_dropout_matches_finite_differences)
{
    Transformer m = tiny_model(&TINY[_i], 120 + (uint64_t)_i);
    ModelCtx c = {&m, {2, 4, 3, TINY_SRC, TINY_TGT, TINY_OUT}, TINY[_i].smoothing, 0.2f, 77};
    /* Dropout does change the loss, and the same seed gives the same loss. */
    double plain = transformer_loss(&m, &c.b, c.smoothing);
    double once = model_objective(&c), again = model_objective(&c);
    ck_assert(once == again);
    ck_assert_msg(fabs(once - plain) > 1e-4, "dropout changed nothing: %g", once);
    check_model(&c, TINY[_i].name);
    transformer_free(&m);
}
END_TEST

Suite *backward_suite(void)
{
    Suite *s = suite_create("backward (chapter 10)");
    TCase *tc = tcase_create("pieces");
    tcase_add_test(tc, linear_matches_finite_differences);
    tcase_add_test(tc, relu_by_hand);
    tcase_add_test(tc, softmax_matches_finite_differences);
    tcase_add_test(tc, attention_matches_finite_differences);
    tcase_add_loop_test(tc, mha_matches_finite_differences, 0, 2);
    tcase_add_test(tc, layernorm_matches_finite_differences);
    tcase_add_test(tc, feedforward_matches_finite_differences);
    tcase_add_test(tc, embedding_matches_finite_differences);
    tcase_add_loop_test(tc, generator_and_loss_match_finite_differences, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("whole model");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, model_matches_finite_differences, 0, NTINY);
    tcase_add_loop_test(tc, model_with_dropout_matches_finite_differences, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
