/*
 * test_train.c - chapter 10's training step against PyTorch
 * (tests/fixtures/make_ch10_ref.py): the whole model's gradients from
 * autograd, and torch.optim.Adam's parameters after a few steps on one
 * batch, both through the library and through the program build/bin/ch10;
 * plus the small pieces by hand: the cross-entropy with label smoothing, the
 * warm-up schedule, gradient clipping, dropout.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "adam.h"
#include "loss.h"
#include "npy.h"
#include "rng.h"
#include "train.h"

/* The contract's tolerance for the gradients: |got - want| <= 1e-5 + 1e-4 |want|.
 * The loss is a mean of a few float32 log-probabilities: 1e-5 relative. */
#define ABS_TOL 1e-5
#define REL_TOL 1e-4
#define LOSS_TOL 1e-5

/* Adam's reference: the parameters move by about lr = 0.01 per step, and
 * the float32 steps here land within 2.5e-7 of float64 PyTorch's; the
 * absolute floor 1e-6 is 1/10000 of one step. */
#define ADAM_ABS_TOL 1e-6
#define ADAM_STEPS 4
#define ADAM_LR 0.01f

typedef struct {
    const char *name;
    float smoothing;   /* as CASES in make_ch10_ref.py */
} Case;

static const Case CASES[] = {{"post", 0.0f}, {"pre", 0.1f}, {"nonorm", 0.1f}};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

/* ------------------------------------------------------------ helpers */

static void fixture(char *buf, size_t len, const char *name, const char *part)
{
    snprintf(buf, len, "tests/fixtures/ch10_%s_%s", name, part);
}

/* One reference case: the model, its batch and PyTorch's loss. */
typedef struct {
    Transformer m;
    Tensor src, tgt, tgt_out, loss;
    Batch b;
} CaseData;

static CaseData load_case(const char *name)
{
    CaseData c;
    char path[256];
    fixture(path, sizeof path, name, "model.npz");
    c.m = load_model(path);
    fixture(path, sizeof path, name, "src.npy");
    c.src = load_tensor(path);
    fixture(path, sizeof path, name, "tgt.npy");
    c.tgt = load_tensor(path);
    fixture(path, sizeof path, name, "tgt_out.npy");
    c.tgt_out = load_tensor(path);
    fixture(path, sizeof path, name, "loss.npy");
    c.loss = load_tensor(path);
    ck_assert_int_eq(c.src.ndim, 2);
    ck_assert_int_eq(c.tgt.ndim, 2);
    ck_assert_int_eq(c.tgt_out.shape[0], c.tgt.shape[0]);
    ck_assert_int_eq(c.tgt_out.shape[1], c.tgt.shape[1]);
    Batch b = {(int)c.src.shape[0], (int)c.src.shape[1], (int)c.tgt.shape[1], c.src.i, c.tgt.i,
               c.tgt_out.i};
    c.b = b;
    return c;
}

static void free_case(CaseData *c)
{
    transformer_free(&c->m);
    tensor_free(&c->src);
    tensor_free(&c->tgt);
    tensor_free(&c->tgt_out);
    tensor_free(&c->loss);
}

static void assert_loss(double got, double want, const char *what)
{
    ck_assert_msg(isfinite(got) && fabs(got - want) <= LOSS_TOL * fabs(want),
                  "%s: loss %.9f, PyTorch %.9f", what, got, want);
}

/* Every tensor of `ps` (its gradients, or its values) against the arrays of
 * the same names in z, which must hold no other float arrays. */
static void assert_all_close(const ParamSet *ps, const float *got, const Npz *z, const char *what)
{
    int floats = 0;
    for (int k = 0; k < z->count; k++) floats += z->arrays[k].dtype == DT_F32;
    ck_assert_msg(floats == ps->count, "%s: %d arrays, the model has %d tensors", what, floats,
                  ps->count);
    for (int k = 0; k < ps->count; k++) {
        const Param *p = &ps->items[k];
        const Tensor *t = npz_get(z, p->name);
        ck_assert_msg(t != NULL, "%s: no %s", what, p->name);
        ck_assert_int_eq(t->dtype, DT_F32);
        ck_assert_int_eq(t->size, (int64_t)p->rows * p->cols);
        for (int64_t i = 0; i < t->size; i++) {
            double g = got[p->offset + i], w = t->f[i];
            ck_assert_msg(isfinite(g) && fabs(g - w) <= ABS_TOL + REL_TOL * fabs(w),
                          "%s: %s[%lld] = %.9g, PyTorch %.9g", what, p->name, (long long)i, g, w);
        }
    }
}

/* ------------------------------------------------- gradients vs autograd */

START_TEST(grads_match_pytorch)
{
    const Case *cs = &CASES[_i];
    CaseData c = load_case(cs->name);
    Rng r;
    rng_seed(&r, 1);
    double loss = transformer_backward(&c.m, &c.b, cs->smoothing, 0.0f, &r);
    assert_loss(loss, c.loss.f[0], cs->name);

    char path[256];
    fixture(path, sizeof path, cs->name, "grads.npz");
    Npz want = load_npz(path);
    assert_all_close(&c.m.params, c.m.params.grad, &want, path);
    npz_free(&want);

    /* The evaluation loss is the same number, without gradients. */
    assert_loss(transformer_loss(&c.m, &c.b, cs->smoothing), c.loss.f[0], cs->name);
    free_case(&c);
}
END_TEST

START_TEST(cases_cover_the_contract)
{
    /* Both norm orders, the final norms present and absent, padding on both
     * sides, B > 1 and S != T: what the reference cases are there for. */
    CaseData post = load_case("post"), pre = load_case("pre"), nonorm = load_case("nonorm");
    ck_assert_int_eq(post.m.cfg.norm_first, 0);
    ck_assert_int_eq(pre.m.cfg.norm_first, 1);
    ck_assert_int_eq(post.m.cfg.enc_norm + post.m.cfg.dec_norm, 2);
    ck_assert_int_eq(nonorm.m.cfg.enc_norm + nonorm.m.cfg.dec_norm, 0);
    ck_assert_int_eq(nonorm.m.cfg.enc_layers, 3);
    CaseData *all[] = {&post, &pre, &nonorm};
    for (int k = 0; k < 3; k++) {
        const Batch *b = &all[k]->b;
        ck_assert_int_gt(b->B, 1);
        ck_assert_int_ne(b->S, b->T);
        int src_pad = 0, tgt_pad = 0, ignored = 0;
        for (int i = 0; i < b->B * b->S; i++) src_pad += b->src[i] == 0;
        for (int i = 0; i < b->B * b->T; i++) {
            tgt_pad += b->tgt[i] == 0;
            ignored += b->tgt_out[i] == 0 && b->tgt[i] != 0;
        }
        ck_assert_int_gt(src_pad, 0);
        ck_assert_int_gt(tgt_pad, 0);
        ck_assert_int_gt(ignored, 0);   /* an ignored position that is not padding */
        for (int i = 0; i < b->B; i++) ck_assert_int_ne(b->tgt[i * b->T], 0);
        free_case(all[k]);
    }
}
END_TEST

START_TEST(backward_starts_from_zero)
{
    /* Two calls give the same gradients: transformer_backward zeroes them
     * first (layers ADD into their gradients, so that matters). */
    CaseData c = load_case("pre");
    Rng r;
    rng_seed(&r, 1);
    transformer_backward(&c.m, &c.b, 0.1f, 0.0f, &r);
    size_t n = c.m.params.size;
    float *first = malloc(n * sizeof(float));
    ck_assert_ptr_nonnull(first);
    memcpy(first, c.m.params.grad, n * sizeof(float));
    transformer_backward(&c.m, &c.b, 0.1f, 0.0f, &r);
    ck_assert_mem_eq(first, c.m.params.grad, n * sizeof(float));

    /* The grad view sits on params.grad under the same names. */
    Transformer g;
    transformer_grad_view(&g, &c.m);
    ck_assert_ptr_eq(g.gen_weight.data,
                     c.m.params.grad + params_find(&c.m.params, "generator.weight")->offset);
    ck_assert_ptr_eq(g.decoder.layer[1].cross_attn.in_proj_weight.data,
                     params_grad(&c.m.params, "decoder.layers.1.multihead_attn.in_proj_weight").data);
    transformer_grad_view_free(&g);
    free(first);
    free_case(&c);
}
END_TEST

START_TEST(nothing_to_predict)
{
    /* Every target ignored: loss 0 and every gradient 0, never 0/0. */
    CaseData c = load_case("post");
    int64_t zeros[8] = {0};
    ck_assert_int_le(c.b.B * c.b.T, 8);
    c.b.tgt_out = zeros;
    Rng r;
    rng_seed(&r, 1);
    ck_assert(transformer_backward(&c.m, &c.b, 0.1f, 0.0f, &r) == 0.0);
    for (size_t i = 0; i < c.m.params.size; i++) ck_assert_float_eq(c.m.params.grad[i], 0.0f);
    ck_assert(transformer_loss(&c.m, &c.b, 0.1f) == 0.0);
    free_case(&c);
}
END_TEST

/* ------------------------------------------------- Adam vs torch.optim.Adam */

/* The parameters after Adam against PyTorch's. */
static void assert_params_like_adam(const Transformer *m, const Npz *want, const char *what)
{
    for (int k = 0; k < m->params.count; k++) {
        const Param *p = &m->params.items[k];
        const Tensor *t = npz_get(want, p->name);
        ck_assert_msg(t != NULL, "%s: no %s", what, p->name);
        ck_assert_int_eq(t->size, (int64_t)p->rows * p->cols);
        for (int64_t i = 0; i < t->size; i++) {
            double got = m->params.data[p->offset + i], w = t->f[i];
            ck_assert_msg(isfinite(got) && fabs(got - w) <= ADAM_ABS_TOL + REL_TOL * fabs(w),
                          "%s: %s[%lld] = %.9g, torch.optim.Adam %.9g", what, p->name,
                          (long long)i, got, w);
        }
    }
}

/* The key biases (entries [E, 2E) of every in_proj_bias) get no gradient at
 * all: a constant added to a whole row of scores changes no softmax. Their
 * gradient must be exactly 0, not float32 rounding (~1e-8): Adam divides by
 * the gradient's own size and would turn rounding into steps of a full lr.
 * So after Adam they are exactly where they started (PyTorch's, whose
 * float64 gradient is ~1e-17, moved by ~1e-10). */
static void assert_key_bias_unchanged(const Transformer *after, const Transformer *before)
{
    int E = after->cfg.E, checked = 0;
    for (int k = 0; k < after->params.count; k++) {
        const Param *p = &after->params.items[k];
        size_t n = strlen(p->name);
        if (n < 12 || strcmp(p->name + n - 12, "in_proj_bias") != 0) continue;
        for (int i = E; i < 2 * E; i++)
            ck_assert_msg(after->params.data[p->offset + i] == before->params.data[p->offset + i],
                          "%s[%d] (a key bias) moved: %.9g, was %.9g", p->name, i,
                          after->params.data[p->offset + i], before->params.data[p->offset + i]);
        checked++;
    }
    ck_assert_int_eq(checked, after->cfg.enc_layers + 2 * after->cfg.dec_layers);
}

START_TEST(adam_matches_pytorch)
{
    CaseData c = load_case("post");
    Tensor losses = load_tensor("tests/fixtures/ch10_adam_losses.npy");
    ck_assert_int_eq(losses.size, ADAM_STEPS);
    Adam a;
    adam_init(&a, c.m.params.size, 0.9f, 0.98f, 1e-9f);
    Rng r;
    rng_seed(&r, 1);
    for (int k = 0; k < ADAM_STEPS; k++) {
        double loss = transformer_backward(&c.m, &c.b, 0.0f, 0.0f, &r);
        char what[64];
        snprintf(what, sizeof what, "before step %d", k + 1);
        assert_loss(loss, losses.f[k], what);
        adam_step(&a, c.m.params.data, c.m.params.grad, ADAM_LR);
    }
    ck_assert_int_eq(a.step, ADAM_STEPS);
    /* Overfitting one batch: the loss went down at every step. */
    for (int k = 1; k < ADAM_STEPS; k++) ck_assert(losses.f[k] < losses.f[k - 1]);
    Npz want = load_npz("tests/fixtures/ch10_adam_params.npz");
    assert_params_like_adam(&c.m, &want, "adam");
    Transformer before = load_model("tests/fixtures/ch10_post_model.npz");
    assert_key_bias_unchanged(&c.m, &before);
    transformer_free(&before);
    npz_free(&want);
    adam_free(&a);
    tensor_free(&losses);
    free_case(&c);
}
END_TEST

START_TEST(adam_by_hand)
{
    /* One parameter, gradients 2 then -1, lr 0.1, betas (0.9, 0.98):
     *   step 1: m = 0.2, v = 0.08, m^ = 0.2 / 0.1 = 2, v^ = 0.08 / 0.02 = 4:
     *           p -= 0.1 * 2 / (2 + 1e-9) = 0.1
     *   step 2: m = 0.18 - 0.1 = 0.08, v = 0.0784 + 0.02 = 0.0984,
     *           m^ = 0.08 / 0.19, v^ = 0.0984 / 0.0396:
     *           p -= 0.1 * 0.4210526 / 1.5763402 = 0.0267112 */
    Adam a;
    adam_init(&a, 1, 0.9f, 0.98f, 1e-9f);
    float p = 1.0f, g = 2.0f;
    adam_step(&a, &p, &g, 0.1f);
    ck_assert_float_eq_tol(p, 0.9f, 1e-6f);
    ck_assert_float_eq_tol(a.m[0], 0.2f, 1e-7f);
    ck_assert_float_eq_tol(a.v[0], 0.08f, 1e-7f);
    g = -1.0f;
    adam_step(&a, &p, &g, 0.1f);
    ck_assert_float_eq_tol(p, 0.9f - 0.0267112f, 1e-6f);
    ck_assert_int_eq(a.step, 2);
    /* A zero gradient from the start never moves a parameter (0 / eps). */
    Adam z;
    adam_init(&z, 1, 0.9f, 0.98f, 1e-9f);
    float q = 0.5f, zero = 0.0f;
    for (int k = 0; k < 3; k++) adam_step(&z, &q, &zero, 0.1f);
    ck_assert_float_eq(q, 0.5f);
    adam_free(&a);
    adam_free(&z);
}
END_TEST

/* ------------------------------------------------- schedule and clipping */

START_TEST(noam_rate_by_hand)
{
    /* d_model 512, warm-up 4000 (the paper's base model):
     *   step 1:     512^-0.5 * 1 * 4000^-1.5 = 1.7469281e-7
     *   step 2000:  512^-0.5 * 2000 * 4000^-1.5 = half the peak
     *   step 4000:  the peak, 512^-0.5 * 4000^-0.5 = 6.9877124e-4
     *   step 16000: 512^-0.5 * 16000^-0.5 = half the peak again */
    const double peak = 6.987712429686843e-4;
    ck_assert_double_eq_tol(noam_rate(1, 512, 4000, 1.0f), 1.746928107421711e-7, 1e-13);
    ck_assert_double_eq_tol(noam_rate(2000, 512, 4000, 1.0f), peak / 2, 1e-10);
    ck_assert_double_eq_tol(noam_rate(4000, 512, 4000, 1.0f), peak, 1e-10);
    ck_assert_double_eq_tol(noam_rate(16000, 512, 4000, 1.0f), peak / 2, 1e-10);
    ck_assert_double_eq_tol(noam_rate(4000, 512, 4000, 2.0f), 2 * peak, 2e-10);
    /* Up during the warm-up, down after it. */
    for (long s = 1; s + 333 <= 4000; s += 333)
        ck_assert(noam_rate(s, 512, 4000, 1.0f) < noam_rate(s + 333, 512, 4000, 1.0f));
    for (long s = 4000; s < 40000; s += 3333)
        ck_assert(noam_rate(s, 512, 4000, 1.0f) > noam_rate(s + 3333, 512, 4000, 1.0f));
}
END_TEST

START_TEST(clip_grad_norm_by_hand)
{
    /* (3, 4, 0, 0, 0) has norm 5. Below the limit nothing changes; above it
     * every entry is scaled by max_norm / (5 + 1e-6), as PyTorch does. */
    float g[5] = {3.0f, 4.0f, 0.0f, 0.0f, 0.0f};
    ck_assert_float_eq_tol(clip_grad_norm(g, 5, 10.0f), 5.0f, 1e-6f);
    ck_assert_float_eq(g[0], 3.0f);
    ck_assert_float_eq(g[1], 4.0f);
    ck_assert_float_eq_tol(clip_grad_norm(g, 5, 1.0f), 5.0f, 1e-6f);
    ck_assert_float_eq_tol(g[0], 0.6f, 1e-6f);
    ck_assert_float_eq_tol(g[1], 0.8f, 1e-6f);
    ck_assert_float_eq(g[2], 0.0f);
    ck_assert_float_eq_tol(clip_grad_norm(g, 5, 1.0f), 1.0f, 1e-6f);
    /* Twelve entries of -2: norm sqrt(48) = 6.9282032, clipped to 2. */
    float h[12];
    for (int k = 0; k < 12; k++) h[k] = -2.0f;
    ck_assert_float_eq_tol(clip_grad_norm(h, 12, 2.0f), 6.9282032f, 1e-5f);
    double norm = 0.0;
    for (int k = 0; k < 12; k++) norm += (double)h[k] * h[k];
    ck_assert_double_eq_tol(sqrt(norm), 2.0, 1e-5);
}
END_TEST

/* ------------------------------------------------- dropout */

START_TEST(dropout_p0_changes_nothing)
{
    Mat x = mat_new(4, 5), keep = mat_new(4, 5), orig = mat_new(4, 5);
    Rng r, before;
    rng_seed(&r, 9);
    mat_rand_uniform(x, &r, -1, 1);
    mat_copy(orig, x);
    before = r;
    dropout_forward(x, keep, 0.0f, &r);
    ck_assert_mem_eq(x.data, orig.data, 20 * sizeof(float));
    ck_assert_mem_eq(&r, &before, sizeof r);   /* no random number drawn */
    mat_free(&x);
    mat_free(&keep);
    mat_free(&orig);
}
END_TEST

/* Fraction of zeros after dropout(p) of a (100, 100) matrix of ones drawn
 * with `seed`; checks the kept entries are 1 / (1 - p) and keep says so. */
static double dropped_fraction(float p, uint64_t seed, Mat x, Mat keep)
{
    Rng r;
    rng_seed(&r, seed);
    mat_fill(x, 1.0f);
    dropout_forward(x, keep, p, &r);
    int zeros = 0;
    for (int k = 0; k < 10000; k++) {
        ck_assert_float_eq(x.data[k], keep.data[k]);
        if (x.data[k] == 0.0f) zeros++;
        else ck_assert_float_eq(x.data[k], 1.0f / (1.0f - p));
    }
    return zeros / 10000.0;
}

START_TEST(dropout_drops_and_scales)
{
    Mat x = mat_new(100, 100), keep = mat_new(100, 100), first = mat_new(100, 100);
    /* 10000 draws: the fraction's standard deviation is 0.005; allow 6 of them. */
    ck_assert_double_eq_tol(dropped_fraction(0.5f, 1, x, keep), 0.5, 0.03);
    mat_copy(first, x);
    ck_assert_double_eq_tol(dropped_fraction(0.5f, 1, x, keep), 0.5, 0.03);
    ck_assert_mem_eq(x.data, first.data, 10000 * sizeof(float));   /* same seed, same mask */
    dropped_fraction(0.5f, 2, x, keep);
    ck_assert(memcmp(x.data, first.data, 10000 * sizeof(float)) != 0);
    ck_assert_double_eq_tol(dropped_fraction(0.1f, 3, x, keep), 0.1, 0.02);
    mat_free(&x);
    mat_free(&keep);
    mat_free(&first);
}
END_TEST

/* ------------------------------------------------- the loss */

START_TEST(loss_count_by_hand)
{
    const int64_t t[6] = {0, 3, 0, 1, 2, 0};
    ck_assert_int_eq(loss_count(t, 6), 3);
    ck_assert_int_eq(loss_count(t, 1), 0);
    ck_assert_int_eq(loss_count(t, 0), 0);
}
END_TEST

START_TEST(cross_entropy_by_hand)
{
    /* Row 0: logits (0, ln 2, ln 3), so p = (1/6, 2/6, 3/6); target 2.
     * Row 1: target 0, ignored.   inv_count 0.5 (say, two counted in the batch).
     *   smoothing 0:   loss = -ln(1/2) = ln 2;  dlogits = (1/6, 1/3, -1/2) / 2
     *   smoothing 0.1: q = (1/30, 1/30, 0.9 + 1/30),
     *                  loss = (0.1 / 3) ln 36 + 0.9 ln 2 = 0.74328309,
     *                  dlogits = (p - q) / 2 = (2/15, 3/10, -13/30) / 2 */
    const float l[6] = {0.0f, logf(2.0f), logf(3.0f), 5.0f, -1.0f, 2.0f};
    const int64_t target[2] = {2, 0};
    Mat logits = mat_from(2, 3, l), d = mat_new(2, 3);
    double loss = cross_entropy_backward(d, logits, target, 0.0f, 0.5f);
    ck_assert_double_eq_tol(loss, log(2.0), 1e-6);
    const float want0[3] = {1.0f / 12, 1.0f / 6, -0.25f};
    for (int j = 0; j < 3; j++) {
        ck_assert_float_eq_tol(MAT_AT(d, 0, j), want0[j], 1e-6f);
        ck_assert_float_eq(MAT_AT(d, 1, j), 0.0f);
    }
    loss = cross_entropy_backward(d, logits, target, 0.1f, 0.5f);
    ck_assert_double_eq_tol(loss, 0.1 / 3 * log(36.0) + 0.9 * log(2.0), 1e-6);
    const float want1[3] = {1.0f / 15, 3.0f / 20, -13.0f / 60};
    for (int j = 0; j < 3; j++) {
        ck_assert_float_eq_tol(MAT_AT(d, 0, j), want1[j], 1e-6f);
        ck_assert_float_eq(MAT_AT(d, 1, j), 0.0f);
    }
    /* Far-apart logits: p underflows to 0 for the target, yet the loss is
     * finite (log p comes from a log-softmax): -log p = 2000. */
    const float far[3] = {1000.0f, 0.0f, -1000.0f};
    Mat big = mat_from(1, 3, far), dbig = mat_new(1, 3);
    loss = cross_entropy_backward(dbig, big, target, 0.0f, 1.0f);
    ck_assert_double_eq_tol(loss, 2000.0, 1e-3);
    ck_assert_float_eq_tol(MAT_AT(dbig, 0, 0), 1.0f, 1e-6f);
    ck_assert_float_eq_tol(MAT_AT(dbig, 0, 2), -1.0f, 1e-6f);
    mat_free(&logits);
    mat_free(&d);
    mat_free(&big);
    mat_free(&dbig);
}
END_TEST

START_TEST(cross_entropy_matches_pytorch)
{
    Tensor logits = load_tensor("tests/fixtures/ch10_ce_logits.npy");
    Tensor target = load_tensor("tests/fixtures/ch10_ce_target.npy");
    Tensor loss = load_tensor("tests/fixtures/ch10_ce_loss.npy");
    Tensor dlogits = load_tensor("tests/fixtures/ch10_ce_dlogits.npy");
    int T = (int)logits.shape[0], V = (int)logits.shape[1];
    int count = loss_count(target.i, T);
    ck_assert_int_eq(count, 4);
    Mat x = mat_wrap(logits.f, T, V), d = mat_new(T, V);
    const float smoothing[2] = {0.0f, 0.1f};
    for (int s = 0; s < 2; s++) {
        double sum = cross_entropy_backward(d, x, target.i, smoothing[s], 1.0f / count);
        ck_assert_msg(fabs(sum - loss.f[s]) <= LOSS_TOL * loss.f[s], "smoothing %g: %.9f, torch %.9f",
                      smoothing[s], sum, loss.f[s]);
        for (int k = 0; k < T * V; k++) {
            double g = d.data[k], w = dlogits.f[s * T * V + k];
            ck_assert_msg(fabs(g - w) <= ABS_TOL * 0.1 + REL_TOL * fabs(w),
                          "smoothing %g: dlogits[%d] = %.9g, torch %.9g", smoothing[s], k, g, w);
        }
    }
    mat_free(&d);
    tensor_free(&logits);
    tensor_free(&target);
    tensor_free(&loss);
    tensor_free(&dlogits);
}
END_TEST

/* ------------------------------------------------- the program, ch10 */

/* The contract's inputs of case `name`, as command-line options. */
static void case_args(char *buf, size_t len, const char *name)
{
    char m[128], s[128], t[128], o[128];
    fixture(m, sizeof m, name, "model.npz");
    fixture(s, sizeof s, name, "src.npy");
    fixture(t, sizeof t, name, "tgt.npy");
    fixture(o, sizeof o, name, "tgt_out.npy");
    snprintf(buf, len, "--params %s --src %s --tgt %s --tgt-out %s", m, s, t, o);
}

/* Runs ch10 with args, stdout into `out` (at most len - 1 bytes); expects exit 0. */
static void capture(const char *args, char *out, size_t len)
{
    capture_stdout("ch10", args, out, len);
}

START_TEST(program_grads_match_pytorch)
{
    const Case *cs = &CASES[_i];
    char dir[] = "/tmp/ch10-test-XXXXXX", grads[256], args[1536], extra[64] = "";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(grads, sizeof grads, "%s/grads.npz", dir);
    /* Smoothing 0 is the default: the case "post" leaves the option out. */
    if (cs->smoothing > 0.0f) snprintf(extra, sizeof extra, " --label-smoothing %g", cs->smoothing);
    char inputs[1024];
    case_args(inputs, sizeof inputs, cs->name);
    snprintf(args, sizeof args, "%s%s --grads %s", inputs, extra, grads);
    static char out[8192];
    capture(args, out, sizeof out);

    /* One line "loss X". */
    const char *line = strstr(out, "loss ");
    ck_assert_msg(line != NULL, "no loss line in: %s", out);
    char path[256];
    fixture(path, sizeof path, cs->name, "loss.npy");
    Tensor want = load_tensor(path);
    assert_loss(strtod(line + 5, NULL), want.f[0], args);

    /* The file: every parameter's gradient under its name, numpy-readable. */
    CaseData c = load_case(cs->name);
    Npz got = load_npz(grads);
    fixture(path, sizeof path, cs->name, "grads.npz");
    Npz ref = load_npz(path);
    for (int k = 0; k < c.m.params.count; k++) {
        const Param *p = &c.m.params.items[k];
        const Tensor *t = npz_get(&got, p->name);
        ck_assert_msg(t != NULL, "%s: no %s", grads, p->name);
        ck_assert_int_eq(t->dtype, DT_F32);
        ck_assert_int_eq(t->ndim, p->ndim);
        /* Put it where the gradients go and compare as the library test does. */
        memcpy(c.m.params.data + p->offset, t->f, (size_t)t->size * sizeof(float));
    }
    assert_all_close(&c.m.params, c.m.params.data, &ref, grads);
    npz_free(&got);
    npz_free(&ref);
    tensor_free(&want);
    free_case(&c);
    remove(grads);
    rmdir(dir);
}
END_TEST

START_TEST(program_adam_matches_pytorch)
{
    char dir[] = "/tmp/ch10-test-XXXXXX", params[256], inputs[1024], args[1536];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(params, sizeof params, "%s/after.npz", dir);
    case_args(inputs, sizeof inputs, "post");
    snprintf(args, sizeof args, "%s --steps %d --lr %g --params-out %s", inputs, ADAM_STEPS,
             (double)ADAM_LR, params);
    static char out[8192];
    capture(args, out, sizeof out);

    /* "step K loss X" before each step, K = 1 ... N, PyTorch's losses. */
    Tensor losses = load_tensor("tests/fixtures/ch10_adam_losses.npy");
    const char *at = out;
    for (int k = 1; k <= ADAM_STEPS; k++) {
        char key[32];
        snprintf(key, sizeof key, "step %d loss ", k);
        const char *line = strstr(at, key);
        ck_assert_msg(line != NULL, "no '%s' line in: %s", key, out);
        assert_loss(strtod(line + strlen(key), NULL), losses.f[k - 1], key);
        at = line + strlen(key);
    }
    char key[32];
    snprintf(key, sizeof key, "step %d loss", ADAM_STEPS + 1);
    ck_assert_msg(strstr(out, key) == NULL, "more than %d steps: %s", ADAM_STEPS, out);

    /* The file: a model file (config.* included) with Adam's parameters. */
    Transformer m = load_model(params);
    Npz want = load_npz("tests/fixtures/ch10_adam_params.npz");
    assert_params_like_adam(&m, &want, params);
    Transformer before = load_model("tests/fixtures/ch10_post_model.npz");
    assert_key_bias_unchanged(&m, &before);
    transformer_free(&before);
    npz_free(&want);
    transformer_free(&m);
    tensor_free(&losses);
    remove(params);
    rmdir(dir);
}
END_TEST

/* Runs ch10 with `args`, expects exit `code` and `needle` in its stderr. */
static void expect_failure(const char *args, int code, const char *needle)
{
    expect_program_failure("ch10", args, code, needle, ANY_LINES);
}

#define POST "--params tests/fixtures/ch10_post_model.npz " \
             "--src tests/fixtures/ch10_post_src.npy --tgt tests/fixtures/ch10_post_tgt.npy "

START_TEST(program_contract_errors)
{
    char dir[] = "/tmp/ch10-test-XXXXXX", path[256], args[1536];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(args, sizeof args, "%s/ch10 --help >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(args), 0);

    /* Usage errors: exit 2, the option named. */
    expect_failure("--no-such-option", 2, "--no-such-option");
    expect_failure(POST "--tgt-out tests/fixtures/ch10_post_tgt_out.npy --label-smoothing 1.5",
                   2, "--label-smoothing");
    expect_failure(POST "--tgt-out tests/fixtures/ch10_post_tgt_out.npy --label-smoothing -0.1",
                   2, "--label-smoothing");
    expect_failure(POST "--tgt-out tests/fixtures/ch10_post_tgt_out.npy --label-smoothing abc",
                   2, "--label-smoothing");
    expect_failure(POST "--tgt-out tests/fixtures/ch10_post_tgt_out.npy --steps -1 --lr 0.01",
                   2, "--steps");
    expect_failure(POST "--tgt-out tests/fixtures/ch10_post_tgt_out.npy --steps 2 --lr abc", 2,
                   "--lr");

    /* Data errors: exit 1, the file named. */
    expect_failure(POST "--tgt-out /nonexistent/y.npy", 1, "/nonexistent/y.npy");
    /* (3, 5) target outputs for a (2, 4) batch. */
    expect_failure(POST "--tgt-out tests/fixtures/ch10_pre_tgt_out.npy", 1, "ch10_pre_tgt_out.npy");
    const int64_t bad[8] = {1, 2, 3, 4, 5, 6, 7, 99};   /* Vt = 9 */
    snprintf(path, sizeof path, "%s/y_bad.npy", dir);
    write_id_rows(path, bad, 2, 4);
    snprintf(args, sizeof args, POST "--tgt-out %s", path);
    expect_failure(args, 1, "y_bad.npy");
    expect_failure(POST "--tgt-out tests/fixtures/ch10_post_tgt_out.npy --grads /nonexistent-dir/g.npz",
                   1, "/nonexistent-dir/g.npz");
    expect_failure(POST "--tgt-out tests/fixtures/ch10_post_tgt_out.npy --steps 1 --lr 0.01 "
                        "--params-out /nonexistent-dir/p.npz",
                   1, "/nonexistent-dir/p.npz");
    remove(path);
    rmdir(dir);
}
END_TEST

Suite *train_suite(void)
{
    Suite *s = suite_create("train (chapter 10)");
    TCase *tc = tcase_create("function");
    tcase_add_loop_test(tc, grads_match_pytorch, 0, NCASES);
    tcase_add_test(tc, cases_cover_the_contract);
    tcase_add_test(tc, backward_starts_from_zero);
    tcase_add_test(tc, nothing_to_predict);
    tcase_add_test(tc, adam_matches_pytorch);
    tcase_add_test(tc, adam_by_hand);
    tcase_add_test(tc, noam_rate_by_hand);
    tcase_add_test(tc, clip_grad_norm_by_hand);
    tcase_add_test(tc, dropout_p0_changes_nothing);
    tcase_add_test(tc, dropout_drops_and_scales);
    tcase_add_test(tc, loss_count_by_hand);
    tcase_add_test(tc, cross_entropy_by_hand);
    tcase_add_test(tc, cross_entropy_matches_pytorch);
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, program_grads_match_pytorch, 0, NCASES);
    tcase_add_test(tc, program_adam_matches_pytorch);
    tcase_add_test(tc, program_contract_errors);
    suite_add_tcase(s, tc);
    return s;
}
