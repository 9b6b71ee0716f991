/*
 * test_batched.c - chapter 10's batched training step (batched.c) against
 * the per-pair step of train.c, which test_train.c holds against PyTorch:
 * the same loss and the same gradient of every parameter, in both norm
 * orders, with and without the final norms, with padding on both sides,
 * ignored targets, label smoothing, and dropout (the two draw the same
 * masks from the same generator). Then what the batched step promises of
 * its own: the same bits on 1 and 2 threads, slices of a batch that add up
 * to the whole, and a workspace that carries nothing from one batch to the
 * next.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "suites.h"
#include "testutil.h"
#include "batched.h"
#include "rng.h"
#include "train.h"

/* Both steps compute the same sums in float32, in different orders (one
 * product of B S rows against B products of S rows; float sums in the norms
 * where train.c uses double). The largest difference measured was 3.1e-7 of
 * the largest gradient, 7% of this tolerance. */
#define GRAD_ABS 1e-6    /* times the largest gradient of the model */
#define GRAD_REL 1e-4
#define LOSS_REL 1e-6

typedef struct {
    const char *name;
    int norm_first, enc_norm, dec_norm;
    float smoothing, dropout;
} Case;

static const Case CASES[] = {
    {"post", 0, 1, 1, 0.1f, 0.0f},           {"pre", 1, 1, 1, 0.1f, 0.0f},
    {"post-nonorm", 0, 0, 0, 0.0f, 0.0f},    {"pre-dec-norm", 1, 0, 1, 0.1f, 0.0f},
    {"post-dropout", 0, 1, 1, 0.1f, 0.2f},   {"pre-dropout", 1, 1, 1, 0.0f, 0.2f},
};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

enum { B = 5, S = 7, T = 6 };

/* A small model with every parameter away from its initial special value
 * (biases 0, norm weights 1), so each one's gradient path is exercised. */
static Transformer small_model(const Case *cs, uint64_t seed)
{
    TransformerConfig cfg = {.E = 16, .F = 24, .H = 4, .enc_layers = 2, .dec_layers = 2,
                             .Vs = 13, .Vt = 11, .norm_first = cs->norm_first,
                             .enc_norm = cs->enc_norm, .dec_norm = cs->dec_norm};
    return random_model(&cfg, seed);
}

/* Random ids with padding at the ends of some sequences; target position
 * 0 is never padding, and some real positions have nothing to predict. */
typedef struct {
    int64_t src[64 * S], tgt[64 * T], out[64 * T];
    Batch b;
} Data;

static void make_data(Data *d, int pairs, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < pairs; i++) {
        int ls = S - (int)rng_below(&r, 3), lt = T - (int)rng_below(&r, 3);
        for (int j = 0; j < S; j++) d->src[i * S + j] = j < ls ? 1 + rng_below(&r, 12) : 0;
        for (int j = 0; j < T; j++) {
            d->tgt[i * T + j] = j < lt ? 1 + rng_below(&r, 10) : 0;
            d->out[i * T + j] = j < lt && rng_below(&r, 5) ? 1 + rng_below(&r, 10) : 0;
        }
    }
    Batch b = {pairs, S, T, d->src, d->tgt, d->out};
    d->b = b;
}

static float *copy_grads(const Transformer *m)
{
    float *g = malloc(m->params.size * sizeof(float));
    ck_assert_ptr_nonnull(g);
    memcpy(g, m->params.grad, m->params.size * sizeof(float));
    return g;
}

/* Every gradient of got against want: |got - want| <= GRAD_ABS max|want| + GRAD_REL |want|. */
static void assert_grads_close(const Transformer *m, const float *got, const float *want,
                               const char *what)
{
    double largest = 0.0;
    for (size_t i = 0; i < m->params.size; i++)
        if (fabs(want[i]) > largest) largest = fabs(want[i]);
    ck_assert_msg(largest > 0.0, "%s: every gradient is 0", what);
    for (int k = 0; k < m->params.count; k++) {
        const Param *p = &m->params.items[k];
        for (size_t i = p->offset; i < p->offset + (size_t)p->rows * p->cols; i++)
            ck_assert_msg(isfinite(got[i]) &&
                              fabs(got[i] - want[i]) <= GRAD_ABS * largest + GRAD_REL * fabs(want[i]),
                          "%s: %s[%zu] = %.9g, per pair %.9g (largest gradient %.3g)", what,
                          p->name, i - p->offset, got[i], want[i], largest);
    }
}

/* ------------------------------------------------------------ tests */

START_TEST(batched_matches_per_pair)
{
    const Case *cs = &CASES[_i];
    Transformer m = small_model(cs, 200 + (uint64_t)_i);
    Data d;
    make_data(&d, B, 300 + (uint64_t)_i);
    Rng r1, r2;
    rng_seed(&r1, 7);
    rng_seed(&r2, 7);
    double want = transformer_backward_pairs(&m, &d.b, cs->smoothing, cs->dropout, &r1);
    float *ref = copy_grads(&m);
    BatchWork *w = batch_work_new();
    double got = batched_backward(&m, w, &d.b, cs->smoothing, cs->dropout, &r2);
    ck_assert_msg(fabs(got - want) <= LOSS_REL * want, "%s: loss %.9f, per pair %.9f", cs->name,
                  got, want);
    assert_grads_close(&m, m.params.grad, ref, cs->name);
    /* Dropout drew as many numbers in both: the generators are in step. */
    ck_assert_uint_eq(rng_u32(&r1), rng_u32(&r2));
    if (cs->dropout == 0.0f) {   /* the loss is then the evaluation loss */
        ck_assert(batched_loss(&m, w, &d.b, cs->smoothing) == got);
        double pairs = transformer_loss_pairs(&m, &d.b, cs->smoothing);
        ck_assert_msg(fabs(got - pairs) <= LOSS_REL * pairs, "%s: %.9f, chapter 9's forward %.9f",
                      cs->name, got, pairs);
    }
    batch_work_free(w);
    free(ref);
    transformer_free(&m);
}
END_TEST

START_TEST(key_bias_gradient_is_exactly_zero)
{
    Transformer m = small_model(&CASES[0], 210);
    Data d;
    make_data(&d, B, 310);
    Rng r;
    rng_seed(&r, 1);
    transformer_backward(&m, &d.b, 0.1f, 0.0f, &r);
    int E = m.cfg.E, checked = 0;
    for (int k = 0; k < m.params.count; k++) {
        const Param *p = &m.params.items[k];
        if (!strstr(p->name, "in_proj_bias")) continue;
        for (int i = E; i < 2 * E; i++) ck_assert(m.params.grad[p->offset + i] == 0.0f);
        ck_assert(m.params.grad[p->offset] != 0.0f);   /* the query bias does get one */
        checked++;
    }
    ck_assert_int_eq(checked, m.cfg.enc_layers + 2 * m.cfg.dec_layers);
    transformer_free(&m);
}
END_TEST

/* (On a busy machine the step may decide to run on one thread anyway, see
 * threads_for_step in batched.c; the check then holds trivially.) */
START_TEST(same_bits_on_one_and_two_threads)
{
#ifdef _OPENMP
    const Case *cs = &CASES[4 + _i];   /* with dropout, post- and pre-norm */
    Transformer m = small_model(cs, 220 + (uint64_t)_i);
    Data d;
    make_data(&d, 64, 320);   /* wide enough for every loop to be shared out */
    int threads = omp_get_max_threads();
    BatchWork *w = batch_work_new();
    double loss[2];
    float *grads[2];
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        Rng r;
        rng_seed(&r, 5);
        loss[k] = batched_backward(&m, w, &d.b, cs->smoothing, cs->dropout, &r);
        grads[k] = copy_grads(&m);
    }
    omp_set_num_threads(threads);
    ck_assert(loss[0] == loss[1]);
    ck_assert_mem_eq(grads[0], grads[1], m.params.size * sizeof(float));
    free(grads[0]);
    free(grads[1]);
    batch_work_free(w);
    transformer_free(&m);
#endif
}
END_TEST

START_TEST(slices_add_up_to_the_batch)
{
    const Case *cs = &CASES[4];
    Transformer m = small_model(cs, 230);
    Data d;
    make_data(&d, 13, 330);
    BatchWork *whole = batch_work_new(), *sliced = batch_work_new();
    batch_work_limit(sliced, 1);   /* one pair a slice */
    Rng r1, r2;
    rng_seed(&r1, 9);
    rng_seed(&r2, 9);
    double a = batched_backward(&m, whole, &d.b, cs->smoothing, cs->dropout, &r1);
    float *ref = copy_grads(&m);
    double b = batched_backward(&m, sliced, &d.b, cs->smoothing, cs->dropout, &r2);
    ck_assert_msg(fabs(a - b) <= LOSS_REL * a, "loss %.9f, in slices %.9f", a, b);
    assert_grads_close(&m, m.params.grad, ref, "one pair a slice");
    ck_assert(fabs(batched_loss(&m, sliced, &d.b, 0.1f) - batched_loss(&m, whole, &d.b, 0.1f)) <=
              LOSS_REL * a);
    free(ref);
    batch_work_free(whole);
    batch_work_free(sliced);
    transformer_free(&m);
}
END_TEST

START_TEST(workspace_carries_nothing_over)
{
    /* A workspace used by a bigger batch and by other models gives the
     * same bits as a fresh one. */
    Transformer m = small_model(&CASES[1], 240), other = small_model(&CASES[4], 241);
    Data big, small;
    make_data(&big, 40, 340);
    make_data(&small, 3, 341);
    BatchWork *used = batch_work_new(), *fresh = batch_work_new();
    Rng r;
    rng_seed(&r, 3);
    batched_backward(&m, used, &big.b, 0.1f, 0.2f, &r);
    batched_backward(&other, used, &big.b, 0.1f, 0.0f, &r);
    batched_loss(&other, used, &small.b, 0.1f);
    rng_seed(&r, 4);
    double a = batched_backward(&m, used, &small.b, 0.1f, 0.0f, &r);
    float *first = copy_grads(&m);
    double b = batched_backward(&m, fresh, &small.b, 0.1f, 0.0f, &r);
    ck_assert(a == b);
    ck_assert_mem_eq(first, m.params.grad, m.params.size * sizeof(float));
    free(first);
    batch_work_free(used);
    batch_work_free(fresh);
    transformer_free(&m);
    transformer_free(&other);
}
END_TEST

Suite *batched_suite(void)
{
    Suite *s = suite_create("batched training step (chapter 10)");
    TCase *tc = tcase_create("against the per-pair step");
    tcase_add_loop_test(tc, batched_matches_per_pair, 0, NCASES);
    tcase_add_test(tc, key_bias_gradient_is_exactly_zero);
    tcase_add_loop_test(tc, same_bits_on_one_and_two_threads, 0, 2);
    tcase_add_test(tc, slices_add_up_to_the_batch);
    tcase_add_test(tc, workspace_carries_nothing_over);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
