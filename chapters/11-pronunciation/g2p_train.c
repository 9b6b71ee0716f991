/*
 * g2p_train.c - chapter 11: training the pronunciation model (see
 * g2p_train.h and the chapter page, README.md). The step itself is
 * chapter 10's: transformer_backward, then Adam with the warm-up schedule.
 */
#include "g2p_train.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checkpoint.h"
#include "decode.h"
#include "report.h"
#include "score.h"
#include "trainer.h"

/* The purposes of a run's streams: epoch e's order uses STREAM_EPOCHS + e,
 * step k's dropout STREAM_DROPOUT + k. */
static const uint64_t STREAM_INIT = 1, STREAM_EPOCHS = 1u << 20, STREAM_DROPOUT = 1u << 30;

/* ------------------------------------------------------ recipes */

//! [recipes]
int recipe_find(Recipe *r, const char *name)
{
    memset(r, 0, sizeof *r);
    /* pre-norm with the final norms: it trains at the schedule's peak rate
     * without the care post-norm needs (chapter 6) */
    TransformerConfig small = {128, 512, 4, 2, 2, G2P_LETTERS, G2P_PHONES, 1, 1, 1};
    TransformerConfig full = {256, 512, 4, 3, 3, G2P_LETTERS, G2P_PHONES, 1, 1, 1};
    if (strcmp(name, "classroom") == 0) {   /* minutes on a laptop */
        *r = (Recipe){"classroom", small, 128, 0.1f, 0.1f, 1.0f, 1000, 12000, 0, 2000, 1};
    } else if (strcmp(name, "full") == 0) {   /* the model in data/ */
        /* the warm-up schedule for 12,000 steps, then 13,000 more in which
         * the rate falls linearly to 0 (see the page) */
        *r = (Recipe){"full", full, 256, 0.1f, 0.1f, 1.0f, 3000, 25000, 12000, 1000, 1};
    } else {
        return -1;
    }
    return 0;
}
//! [recipes]

/* ------------------------------------------------------ batches */

void batcher_new(Batcher *b, const Lexicon *lx, int B)
{
    memset(b, 0, sizeof *b);
    b->pairs = xmalloc((size_t)lx->n_prons + 1, sizeof(Pair), "the training pairs");
    for (int e = 0; e < lx->count; e++)
        for (int p = 0; p < lx->entries[e].n_prons; p++)
            b->pairs[b->n++] = (Pair){&lx->entries[e].letters, &lx->entries[e].prons[p]};
    b->B = B;
    b->order = xmalloc((size_t)b->n + 1, sizeof(int), "the epoch's order");
    b->batch_order = xmalloc((size_t)batcher_count(b) + 1, sizeof(int), "the batches' order");
    b->epoch = -2;   /* nothing drawn yet */
    size_t cells = (size_t)B * (G2P_MAX_PRON + 1);
    b->src = xmalloc(cells, sizeof(int64_t), "a batch");
    b->tgt = xmalloc(cells, sizeof(int64_t), "a batch");
    b->tgt_out = xmalloc(cells, sizeof(int64_t), "a batch");
}

void batcher_free(Batcher *b)
{
    free(b->pairs);
    free(b->order);
    free(b->batch_order);
    free(b->src);
    free(b->tgt);
    free(b->tgt_out);
    memset(b, 0, sizeof *b);
}

int batcher_count(const Batcher *b) { return (b->n + b->B - 1) / b->B; }

static void shuffle(int *v, int n, Rng *r)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint32_t)i + 1);
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* A pair's bucket: its word length, then its pronunciation's length. */
static int bucket(const Pair *p) { return p->letters->len * (G2P_MAX_PRON + 1) + p->phones->len; }

//! [epoch_order]
/* Epoch e's order: the pairs shuffled, then sorted by length (a stable
 * counting sort keeps the shuffle within a length), cut into batches of B
 * neighbours, and the batches shuffled. Every batch holds words of nearly
 * one length, so little of it is padding; which words meet in a batch, and
 * when, changes every epoch. e = -1: sorted, unshuffled. */
static void draw_epoch(Batcher *b, uint64_t seed, long e)
{
    Rng r;
    rng_seed_stream(&r, seed, STREAM_EPOCHS + (uint64_t)(e < 0 ? 0 : e));
    int *shuffled = xmalloc((size_t)b->n + 1, sizeof(int), "an epoch");
    for (int i = 0; i < b->n; i++) shuffled[i] = i;
    if (e >= 0) shuffle(shuffled, b->n, &r);
    int buckets = (G2P_MAX_WORD + 1) * (G2P_MAX_PRON + 1);
    int *start = xcalloc((size_t)buckets + 1, sizeof(int), "length buckets");
    for (int i = 0; i < b->n; i++) start[bucket(&b->pairs[i]) + 1]++;
    for (int k = 0; k < buckets; k++) start[k + 1] += start[k];
    for (int i = 0; i < b->n; i++) b->order[start[bucket(&b->pairs[shuffled[i]])]++] = shuffled[i];
    int nb = batcher_count(b);
    for (int j = 0; j < nb; j++) b->batch_order[j] = j;
    if (e >= 0) shuffle(b->batch_order, nb, &r);
    b->epoch = e;
    free(start);
    free(shuffled);
}
//! [epoch_order]

Batch batcher_get(Batcher *b, uint64_t seed, long e, int j)
{
    if (b->epoch != e) draw_epoch(b, seed, e);
    int first = b->batch_order[j] * b->B;
    int count = b->n - first < b->B ? b->n - first : b->B;
    int S = 1, T = 1;
    for (int i = 0; i < count; i++) {
        const Pair *p = &b->pairs[b->order[first + i]];
        if (p->letters->len > S) S = p->letters->len;
        if (p->phones->len + 1 > T) T = p->phones->len + 1;
    }
    memset(b->src, 0, (size_t)count * S * sizeof(int64_t));        /* PAD = 0 */
    memset(b->tgt, 0, (size_t)count * T * sizeof(int64_t));
    memset(b->tgt_out, 0, (size_t)count * T * sizeof(int64_t));
    for (int i = 0; i < count; i++) {
        const Pair *p = &b->pairs[b->order[first + i]];
        int64_t *src = b->src + (size_t)i * S, *tgt = b->tgt + (size_t)i * T,
                *out = b->tgt_out + (size_t)i * T;
        memcpy(src, p->letters->ids, (size_t)p->letters->len * sizeof(int64_t));
        tgt[0] = G2P_BOS;                                       /* BOS p1 ... pn */
        memcpy(tgt + 1, p->phones->ids, (size_t)p->phones->len * sizeof(int64_t));
        memcpy(out, p->phones->ids, (size_t)p->phones->len * sizeof(int64_t));
        out[p->phones->len] = G2P_EOS;                          /* p1 ... pn EOS */
    }
    return (Batch){count, S, T, b->src, b->tgt, b->tgt_out};
}

/* ------------------------------------------------------ a run */

void g2p_run_new(G2pRun *r, const Recipe *rc)
{
    memset(r, 0, sizeof *r);
    r->rc = *rc;
    r->rc.model.Vs = G2P_LETTERS;
    r->rc.model.Vt = G2P_PHONES;
    Rng rng;
    rng_seed_stream(&rng, rc->seed, STREAM_INIT);
    transformer_new(&r->m, &r->rc.model, &rng);
    transformer_init_xavier(&r->m, &rng);
    params_alloc_grad(&r->m.params);
    adam_init(&r->adam, r->m.params.size, 0.9f, 0.98f, 1e-9f);
    r->best_wer = 100.0f;
}

void g2p_run_free(G2pRun *r)
{
    transformer_free(&r->m);
    adam_free(&r->adam);
    free(r->history);
    memset(r, 0, sizeof *r);
}

static void record(G2pRun *r, const float point[5])
{
    if (r->points == r->points_cap) {
        r->points_cap = r->points_cap ? 2 * r->points_cap : 64;
        r->history = xrealloc(r->history, (size_t)r->points_cap * 5, sizeof(float), "history");
    }
    memcpy(r->history + (size_t)r->points * 5, point, 5 * sizeof(float));
    r->points++;
}

/* ------------------------------------------------------ checkpoints */

enum { CK_E, CK_F, CK_H, CK_ENC, CK_DEC, CK_NORM_FIRST, CK_ENC_NORM, CK_DEC_NORM, CK_BATCH,
       CK_WARMUP, CK_STEPS, CK_EVAL_EVERY, CK_SEED, CK_STEP, CK_BEST_STEP, CK_RECIPE, CK_LOSS_SUM,
       CK_LOSS_STEPS, CK_COOL_FROM, CK_INTS };

/* A recipe's name as a number for the checkpoint: 0 custom, 1, 2 ... these. */
static const char *const RECIPES[] = {"custom", "classroom", "full"};
enum { CF_DROPOUT, CF_SMOOTHING, CF_FACTOR, CF_SECONDS, CF_BEST_WER, CF_FLOATS };

int g2p_checkpoint_save(const char *path, const G2pRun *r, Error *err)
{
    const Recipe *c = &r->rc;
    const TransformerConfig *m = &c->model;
    NpzWriter w;
    npz_writer_init(&w);
    params_save(&r->m.params, &w, 0);   /* the model, as transformer_save writes it */
    int64_t nhead = m->H, norm_first = m->norm_first, adam_step = r->adam.step;
    npz_add_i64(&w, "config.nhead", &nhead, 0, NULL);
    npz_add_i64(&w, "config.norm_first", &norm_first, 0, NULL);
    checkpoint_add_per_param(&w, &r->m.params, "optim.exp_avg.", r->adam.m);
    checkpoint_add_per_param(&w, &r->m.params, "optim.exp_avg_sq.", r->adam.v);
    npz_add_i64(&w, "optim.step", &adam_step, 0, NULL);
    int64_t ints[CK_INTS] = {m->E, m->F, m->H, m->enc_layers, m->dec_layers,
                                   m->norm_first, m->enc_norm, m->dec_norm, c->batch, c->warmup,
                                   c->steps, c->eval_every, (int64_t)c->seed, r->step,
                                   r->best_step, 0, 0, r->loss_steps, c->cool_from};
    /* the training loss summed since the last measurement, as the bits of
     * its double: a resumed run's next mean is the uninterrupted one's */
    memcpy(&ints[CK_LOSS_SUM], &r->loss_sum, sizeof r->loss_sum);
    for (int k = 1; k < 3; k++)
        if (strcmp(c->name, RECIPES[k]) == 0) ints[CK_RECIPE] = k;
    const float floats[CF_FLOATS] = {c->dropout, c->smoothing, c->factor, (float)r->seconds,
                                     r->best_wer};
    int64_t n_ints = CK_INTS, n_floats = CF_FLOATS, hist[2] = {r->points, 5};
    npz_add_i64(&w, "g2p.ints", ints, 1, &n_ints);
    npz_add_f32(&w, "g2p.floats", floats, 1, &n_floats);
    npz_add_f32(&w, "g2p.history", r->history, 2, hist);
    int rc = npz_write(&w, path, err);   /* atomic: a temporary file, then renamed */
    npz_writer_free(&w);
    return rc;
}

/* The recipe and counters from g2p.ints, g2p.floats and g2p.recipe, checked. */
static int load_recipe(G2pRun *r, const Npz *z, const char *path, Error *err)
{
    const Tensor *ti = npz_get(z, "g2p.ints");
    if (!ti || ti->dtype != DT_I64 || ti->ndim != 1 || ti->size != CK_INTS)
        return error_set(err, "%s: g2p.ints must hold %d integers: not a checkpoint of ch11 train",
                         path, CK_INTS);
    int64_t nf = CF_FLOATS;
    const Tensor *tf = npz_get_f32(z, path, "g2p.floats", 1, &nf, err);
    if (!tf) return -1;
    if (tensor_find_nonfinite(tf) >= 0)
        return error_set(err, "%s: g2p.floats holds a NaN or infinite value", path);
    const int64_t *v = ti->i;
    static const int64_t most[CK_INTS] = {4096, 16384, 256, 32, 32, 1, 1, 1, 1 << 16, 1 << 30,
                                          1L << 40, 1 << 30, INT64_MAX, 1L << 40, 1L << 40, 2,
                                          INT64_MAX, 1L << 40, 1L << 40};
    for (int k = 0; k < CK_INTS; k++)
        if (k != CK_SEED && k != CK_LOSS_SUM && (v[k] < 0 || v[k] > most[k]))
            return error_set(err, "%s: g2p.ints[%d] = %lld is out of range [0, %lld]", path, k,
                             (long long)v[k], (long long)most[k]);
    Recipe *c = &r->rc;
    memset(c, 0, sizeof *c);
    c->model = (TransformerConfig){(int)v[CK_E], (int)v[CK_F], (int)v[CK_H], (int)v[CK_ENC],
                                   (int)v[CK_DEC], G2P_LETTERS, G2P_PHONES,
                                   (int)v[CK_NORM_FIRST], (int)v[CK_ENC_NORM],
                                   (int)v[CK_DEC_NORM]};
    if (c->model.E < 1 || c->model.F < 1 || c->model.H < 1 || c->model.E % c->model.H != 0 ||
        c->model.enc_layers < 1 || c->model.dec_layers < 1 || v[CK_BATCH] < 1 ||
        v[CK_WARMUP] < 1 || v[CK_STEPS] < 1 || v[CK_EVAL_EVERY] < 1 || v[CK_STEP] > v[CK_STEPS])
        return error_set(err, "%s: g2p.ints does not describe a run", path);
    c->batch = (int)v[CK_BATCH];
    c->warmup = (int)v[CK_WARMUP];
    c->steps = (long)v[CK_STEPS];
    c->cool_from = (long)v[CK_COOL_FROM];
    c->eval_every = (int)v[CK_EVAL_EVERY];
    c->seed = (uint64_t)v[CK_SEED];
    c->dropout = tf->f[CF_DROPOUT];
    c->smoothing = tf->f[CF_SMOOTHING];
    c->factor = tf->f[CF_FACTOR];
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f && c->smoothing >= 0.0f &&
          c->smoothing <= 1.0f && c->factor > 0.0f))
        return error_set(err, "%s: g2p.floats does not describe a run", path);
    snprintf(c->name, sizeof c->name, "%s", RECIPES[v[CK_RECIPE]]);
    r->step = (long)v[CK_STEP];
    r->best_step = (long)v[CK_BEST_STEP];
    r->seconds = tf->f[CF_SECONDS];
    r->best_wer = tf->f[CF_BEST_WER];
    memcpy(&r->loss_sum, &v[CK_LOSS_SUM], sizeof r->loss_sum);
    r->loss_steps = (long)v[CK_LOSS_STEPS];
    if (!isfinite(r->loss_sum) || r->loss_steps > r->step)
        return error_set(err, "%s: g2p.ints does not describe a run", path);
    return 0;
}

int g2p_checkpoint_load(const char *path, G2pRun *r, Error *err)
{
    static const char *const ignore[] = {"config.", "optim.", "g2p.", NULL};
    memset(r, 0, sizeof *r);
    Npz z;
    if (npz_load(path, &z, err) != 0) return -1;
    G2pRun head;
    memset(&head, 0, sizeof head);
    int rc = load_recipe(&head, &z, path, err);
    if (rc == 0) {   /* the shapes, before a model of that size is allocated */
        ParamSet ps;
        params_init(&ps);
        transformer_declare(&ps, &head.rc.model);
        rc = params_check(&ps, &z, path, ignore, err);
        params_free(&ps);
    }
    if (rc == 0) {
        g2p_run_new(r, &head.rc);
        r->step = head.step;
        r->best_step = head.best_step;
        r->seconds = head.seconds;
        r->best_wer = head.best_wer;
        r->loss_sum = head.loss_sum;
        r->loss_steps = head.loss_steps;
        int64_t hist_shape[2] = {-1, 5};
        const Tensor *h = npz_get(&z, "g2p.history");
        if (h && h->ndim == 2) hist_shape[0] = h->shape[0];
        const Tensor *hist = npz_get_f32(&z, path, "g2p.history", 2, hist_shape, err);
        const Tensor *as = npz_get(&z, "optim.step");
        if (params_load(&r->m.params, &z, path, ignore, err) != 0 ||
            checkpoint_load_per_param(r->adam.m, &r->m.params, &z, path, "optim.exp_avg.", err) != 0 ||
            checkpoint_load_per_param(r->adam.v, &r->m.params, &z, path, "optim.exp_avg_sq.", err) != 0 ||
            !hist) {
            rc = -1;
        } else if (!as || as->dtype != DT_I64 || as->ndim != 0 || as->i[0] != r->step) {
            rc = error_set(err, "%s: optim.step must be the integer %ld", path, r->step);
        } else {
            r->adam.step = as->i[0];
            for (int64_t p = 0; p < hist->shape[0]; p++) record(r, hist->f + p * 5);
        }
        if (rc != 0) g2p_run_free(r);
    }
    npz_free(&z);
    return rc;
}

/* ------------------------------------------------------ measuring */

/* The mean loss over every development pair (no dropout, no smoothing:
 * the plain cross-entropy, in nats per phoneme). */
static double dev_loss(const Transformer *m, const Lexicon *dev)
{
    Batcher b;
    batcher_new(&b, dev, 256);
    double sum = 0.0;
    long tokens = 0;
    for (int j = 0; j < batcher_count(&b); j++) {
        Batch x = batcher_get(&b, 0, -1, j);
        long n = 0;
        for (long i = 0; i < (long)x.B * x.T; i++) n += x.tgt_out[i] != G2P_PAD;
        sum += transformer_loss(m, &x, 0.0f) * (double)n;
        tokens += n;
    }
    batcher_free(&b);
    return tokens ? sum / (double)tokens : 0.0;
}

/* Greedy WER and PER on the first n development words (all when n is 0). */
static Score dev_score(const Transformer *m, const Lexicon *dev, int n)
{
    if (n <= 0 || n > dev->count) n = dev->count;
    Seq *words = xmalloc((size_t)n, sizeof(Seq), "development words");
    Seq *out = xmalloc((size_t)n, sizeof(Seq), "answers");
    for (int i = 0; i < n; i++) words[i] = dev->entries[i].letters;
    DecodeOpts o = decode_defaults();
    g2p_decode(out, NULL, m, words, n, &o);
    Score s = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        score_word(&s, out[i], &dev->entries[i]);
        seq_free(&out[i]);
    }
    free(words);
    free(out);
    return s;
}

/* ------------------------------------------------------ the loop */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig) { interrupted = sig; }

int g2p_stop_signal(void) { return (int)interrupted; }

float g2p_rate(const Recipe *c, long k)
{
    float rate = noam_rate(k, c->model.E, c->warmup, c->factor);
    if (c->cool_from > 0 && k > c->cool_from)   /* 1 at step cool_from + 1, 1/n at the last */
        rate *= (float)(c->steps - k + 1) / (float)(c->steps - c->cool_from);
    return rate;
}

Batch g2p_step_batch(Batcher *b, uint64_t seed, long k, Rng *drop)
{
    long n = batcher_count(b);
    rng_seed_stream(drop, seed, STREAM_DROPOUT + (uint64_t)k);
    return batcher_get(b, seed, (k - 1) / n, (int)((k - 1) % n));
}

//! [g2p_step]
/* Step k = r->step + 1: chapter 10's backward pass and Adam step on batch
 * (k - 1) mod N of epoch (k - 1) / N (N batches an epoch). */
static double g2p_step(G2pRun *r, Batcher *b)
{
    long k = r->step + 1;
    Rng drop;
    Batch x = g2p_step_batch(b, r->rc.seed, k, &drop);
    double loss = transformer_backward(&r->m, &x, r->rc.smoothing, r->rc.dropout, &drop);
    adam_step(&r->adam, r->m.params.data, r->m.params.grad, g2p_rate(&r->rc, k));
    r->step = k;
    return loss;
}
//! [g2p_step]

/* A development measurement: the losses, WER and PER; the best model
 * written when the WER is the lowest so far; then the checkpoint. */
int g2p_measure(G2pRun *r, const Lexicon *dev, const RunFiles *f, Progress *p, Error *err)
{
    double t0 = now_seconds();
    Score s = dev_score(&r->m, dev, f->dev_words);
    double dl = dev_loss(&r->m, dev);
    float point[5] = {(float)r->step, r->loss_steps ? (float)(r->loss_sum / r->loss_steps) : NAN,
                      (float)dl, (float)score_wer(&s), (float)score_per(&s)};
    if (!isfinite(point[2]))
        return error_set(err, "step %ld: the development loss is not finite: training stopped; "
                         "the checkpoint %s of the last good step is kept", r->step,
                         f->checkpoint);
    record(r, point);
    r->loss_sum = 0.0;
    r->loss_steps = 0;
    int better = point[3] < r->best_wer;
    if (better) {
        r->best_wer = point[3];
        r->best_step = r->step;
        if (f->best && transformer_save(&r->m, f->best, err) != 0) return -1;
    }
    if (!f->quiet) {
        if (p && p->tty) fputs("\r\033[K", p->fp);
        char train_loss[16] = "     -";   /* none before the first step */
        if (isfinite(point[1])) snprintf(train_loss, sizeof train_loss, "%.4f", (double)point[1]);
        printf("step %6ld  train loss %s  dev loss %.4f  dev WER %5.2f%%  PER %5.2f%%  "
               "lr %.2e%s  (%.1f s to measure)\n", r->step, train_loss, dl, (double)point[3],
               (double)point[4], (double)g2p_rate(&r->rc, r->step > 0 ? r->step : 1),
               better ? "  best" : "", now_seconds() - t0);
        fflush(stdout);
    }
    return f->checkpoint ? g2p_checkpoint_save(f->checkpoint, r, err) : 0;
}

int g2p_train(G2pRun *r, const Lexicon *train, const Lexicon *dev, const RunFiles *f,
              Error *err)
{
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sa.sa_flags = (int)(SA_RESETHAND | SA_RESTART);   /* a second one stops at once */
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    Batcher b;
    batcher_new(&b, train, r->rc.batch);
    int rc = 0;
    Progress p;
    progress_start(&p, stderr, "train", r->rc.steps - r->step > 0 ? r->rc.steps - r->step : 1);
    long first = r->step;
    double base = r->seconds, spent = 0.0;
    char extra[96] = "";
    while (rc == 0 && r->step < r->rc.steps && !interrupted) {
        double start = now_seconds();
        double loss = g2p_step(r, &b);
        spent += now_seconds() - start;
        r->seconds = base + spent;
        if (!isfinite(loss)) {
            rc = error_set(err, "step %ld: the training loss is not finite: training stopped; "
                           "the checkpoint of step %ld is kept", r->step,
                           r->points ? (long)r->history[(r->points - 1) * 5] : 0L);
            break;
        }
        r->loss_sum += loss;
        r->loss_steps++;
        snprintf(extra, sizeof extra, "loss %.4f  epoch %.2f", loss,
                 (double)r->step / batcher_count(&b));
        if (!f->quiet) progress_update(&p, r->step - first, extra);
        if (r->step % r->rc.eval_every == 0 || r->step == r->rc.steps)
            rc = g2p_measure(r, dev, f, &p, err);
    }
    if (!f->quiet) progress_end(&p, extra);
    if (rc == 0 && interrupted) {
        rc = f->checkpoint && g2p_checkpoint_save(f->checkpoint, r, err) != 0 ? -1 : 1;
    }
    batcher_free(&b);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}

char *g2p_best_path(const char *checkpoint)
{
    size_t n = strlen(checkpoint);
    char *p = xmalloc(n + 16, 1, "a file name");
    if (n > 4 && strcmp(checkpoint + n - 4, ".npz") == 0) n -= 4;
    snprintf(p, n + 16, "%.*s_best.npz", (int)n, checkpoint);
    return p;
}
