/*
 * checkpoint.c - chapter 10: saving and resuming a training run (see
 * checkpoint.h).
 */
#include "checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The order of train.model's entries. */
enum { CK_E, CK_F, CK_H, CK_ENC, CK_DEC, CK_NORM_FIRST, CK_ENC_NORM, CK_DEC_NORM, CK_XAVIER,
       CK_MODEL_N };

/* ------------------------------------------------------------ saving */

static void add_i64(NpzWriter *w, const char *name, int64_t v)
{
    npz_add_i64(w, name, &v, 0, NULL);
}

static void add_f32(NpzWriter *w, const char *name, float v)
{
    npz_add_f32(w, name, &v, 0, NULL);
}

static void add_f32_array(NpzWriter *w, const char *name, const float *v, int64_t n)
{
    npz_add_f32(w, name, v, 1, &n);
}

void checkpoint_add_per_param(NpzWriter *w, const ParamSet *ps, const char *prefix,
                              const float *v)
{
    char name[256];
    for (int i = 0; i < ps->count; i++) {
        const Param *p = &ps->items[i];
        int64_t shape[2] = {p->rows, p->cols};
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        npz_add_f32(w, name, v + p->offset, p->ndim, p->ndim == 1 ? shape + 1 : shape);
    }
}

//! [checkpoint_save]
int checkpoint_save(const char *path, const Trainer *t, Error *err)
{
    const TrainConfig *c = &t->cfg;
    NpzWriter w;
    npz_writer_init(&w);
    params_save(&t->m.params, &w, 0);              /* the model, as transformer_save */
    add_i64(&w, "config.nhead", c->model.H);
    add_i64(&w, "config.norm_first", c->model.norm_first);

    checkpoint_add_per_param(&w, &t->m.params, "optim.exp_avg.", t->adam.m);
    checkpoint_add_per_param(&w, &t->m.params, "optim.exp_avg_sq.", t->adam.v);
    add_i64(&w, "optim.step", t->adam.step);
    const float betas[2] = {t->adam.beta1, t->adam.beta2};
    add_f32_array(&w, "optim.betas", betas, 2);
    add_f32(&w, "optim.eps", t->adam.eps);

    const TransformerConfig *m = &c->model;
    const int64_t model[CK_MODEL_N] = {m->E, m->F, m->H, m->enc_layers, m->dec_layers,
                                       m->norm_first, m->enc_norm, m->dec_norm, c->xavier};
    int64_t n = CK_MODEL_N;
    npz_add_i64(&w, "train.model", model, 1, &n);
    add_i64(&w, "train.task", c->task);
    add_i64(&w, "train.batch", c->batch);
    add_i64(&w, "train.seed", (int64_t)c->seed);   /* the bits of the uint64 */
    add_f32(&w, "train.dropout", c->dropout);
    add_f32(&w, "train.label_smoothing", c->smoothing);
    add_f32(&w, "train.factor", c->factor);
    add_i64(&w, "train.warmup", c->warmup);
    add_f32(&w, "train.lr", c->lr);
    add_f32(&w, "train.clip", c->clip);
    add_i64(&w, "train.steps", c->steps);
    add_i64(&w, "train.step", t->step);
    add_f32(&w, "train.seconds", (float)t->seconds);
    add_f32_array(&w, "train.loss", t->loss, t->step);
    add_f32_array(&w, "train.eval_step", t->eval_step, t->points);
    add_f32_array(&w, "train.eval_loss", t->eval_loss, t->points);
    add_i64(&w, "train.best_step", t->best_step);
    add_f32(&w, "train.best_loss", t->best_loss);
    checkpoint_add_per_param(&w, &t->m.params, "train.best.", t->best);

    int rc = npz_write(&w, path, err);           /* atomic: temporary file, fsync, rename */
    npz_writer_free(&w);
    return rc;
}
//! [checkpoint_save]

/* ------------------------------------------------------------ loading */

/* An integer scalar name of z, in [lo, hi]. */
static int get_i64(const Npz *z, const char *path, const char *name, int64_t lo, int64_t hi,
                   int64_t *out, Error *err)
{
    const Tensor *t = npz_get(z, name);
    if (!t) return error_set(err, "%s: missing %s: not a checkpoint of ch10 --task", path, name);
    if (t->dtype != DT_I64 || t->ndim != 0)
        return error_set(err, "%s: %s must be an integer scalar, found dtype %s with %d dimensions",
                         path, name, t->file_dtype, t->ndim);
    if (t->i[0] < lo || t->i[0] > hi)
        return error_set(err, "%s: %s is %lld, must be in [%lld, %lld]", path, name,
                         (long long)t->i[0], (long long)lo, (long long)hi);
    *out = t->i[0];
    return 0;
}

/* A float array name of z with n entries (ndim 0 when n is -1: a scalar),
 * every one finite. */
static const float *get_f32(const Npz *z, const char *path, const char *name, int64_t n,
                            Error *err)
{
    const Tensor *t = npz_get_f32(z, path, name, n < 0 ? 0 : 1, &n, err);
    if (!t) return NULL;
    if (tensor_find_nonfinite(t) >= 0) {
        error_set(err, "%s: %s holds a NaN or infinite value", path, name);
        return NULL;
    }
    return t->f;
}

static int get_scalar(const Npz *z, const char *path, const char *name, float lo, float hi,
                      float *out, Error *err)
{
    const float *v = get_f32(z, path, name, -1, err);
    if (!v) return -1;
    if (!(*v >= lo && *v <= hi))
        return error_set(err, "%s: %s is %g, must be in [%g, %g]", path, name, (double)*v,
                         (double)lo, (double)hi);
    *out = *v;
    return 0;
}

/* The settings of the run: train.* and the model's sizes. */
static int load_config(TrainConfig *c, const Npz *z, const char *path, Error *err)
{
    const Tensor *t = npz_get(z, "train.model");
    if (!t || t->dtype != DT_I64 || t->ndim != 1 || t->size != CK_MODEL_N)
        return error_set(err, "%s: train.model must hold %d integers: not a checkpoint of "
                         "ch10 --task", path, CK_MODEL_N);
    const int64_t *v = t->i;
    /* The largest sizes ch10's options allow (--d-model, --d-ff, --heads, --layers). */
    static const int64_t most[CK_MODEL_N] = {4096, 16384, 4096, 64, 64, 1, 1, 1, 1};
    for (int k = 0; k < CK_MODEL_N; k++)
        if (v[k] < 0 || v[k] > most[k])
            return error_set(err, "%s: train.model[%d] = %lld is out of range [0, %lld]", path, k,
                             (long long)v[k], (long long)most[k]);
    memset(c, 0, sizeof *c);
    c->model = (TransformerConfig){(int)v[CK_E], (int)v[CK_F], (int)v[CK_H], (int)v[CK_ENC],
                                   (int)v[CK_DEC], TASK_VOCAB, TASK_VOCAB, (int)v[CK_NORM_FIRST],
                                   (int)v[CK_ENC_NORM], (int)v[CK_DEC_NORM]};
    c->xavier = (int)v[CK_XAVIER];
    const TransformerConfig *m = &c->model;
    if (m->E < 1 || m->F < 1 || m->H < 1 || m->E % m->H != 0 || m->enc_layers < 1 ||
        m->dec_layers < 1 || m->norm_first > 1 || m->enc_norm > 1 || m->dec_norm > 1)
        return error_set(err, "%s: train.model does not describe a model (E %d, F %d, H %d, "
                         "layers %d and %d)", path, m->E, m->F, m->H, m->enc_layers, m->dec_layers);
    int64_t task, batch, seed, warmup, steps;
    if (get_i64(z, path, "train.task", 0, 1, &task, err) != 0 ||
        get_i64(z, path, "train.batch", 1, 1 << 16, &batch, err) != 0 ||
        get_i64(z, path, "train.seed", INT64_MIN, INT64_MAX, &seed, err) != 0 ||
        get_i64(z, path, "train.warmup", 1, 1 << 30, &warmup, err) != 0 ||
        get_i64(z, path, "train.steps", 1, (int64_t)1 << 40, &steps, err) != 0 ||
        get_scalar(z, path, "train.dropout", 0.0f, 0.99f, &c->dropout, err) != 0 ||
        get_scalar(z, path, "train.label_smoothing", 0.0f, 1.0f, &c->smoothing, err) != 0 ||
        get_scalar(z, path, "train.factor", 0.0f, 1e6f, &c->factor, err) != 0 ||
        get_scalar(z, path, "train.lr", 0.0f, 1e6f, &c->lr, err) != 0 ||
        get_scalar(z, path, "train.clip", 0.0f, 1e30f, &c->clip, err) != 0)
        return -1;
    c->task = (Task)task;
    c->batch = (int)batch;
    c->seed = (uint64_t)seed;
    c->warmup = (int)warmup;
    c->steps = (long)steps;
    return 0;
}

int checkpoint_load_per_param(float *v, const ParamSet *ps, const Npz *z, const char *path,
                              const char *prefix, Error *err)
{
    char name[256];
    for (int i = 0; i < ps->count; i++) {
        const Param *p = &ps->items[i];
        int64_t shape[2] = {p->rows, p->cols};
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        const int64_t *want = p->ndim == 1 ? shape + 1 : shape;
        const Tensor *t = npz_get_f32(z, path, name, p->ndim, want, err);
        if (!t) return -1;
        if (tensor_find_nonfinite(t) >= 0)
            return error_set(err, "%s: %s holds a NaN or infinite value", path, name);
        memcpy(v + p->offset, t->f, (size_t)t->size * sizeof(float));
    }
    return 0;
}

/* The model, Adam and the history, once the settings are known. */
static int load_state(Trainer *t, const Npz *z, const char *path, Error *err)
{
    static const char *const ignore[] = {"config.", "optim.", "train.", NULL};
    int64_t nhead, step, adam_step;
    if (params_load(&t->m.params, z, path, ignore, err) != 0 ||
        get_i64(z, path, "config.nhead", t->cfg.model.H, t->cfg.model.H, &nhead, err) != 0 ||
        checkpoint_load_per_param(t->adam.m, &t->m.params, z, path, "optim.exp_avg.", err) != 0 ||
        checkpoint_load_per_param(t->adam.v, &t->m.params, z, path, "optim.exp_avg_sq.", err) != 0 ||
        get_i64(z, path, "train.step", 0, INT64_MAX / 4, &step, err) != 0 ||
        get_i64(z, path, "optim.step", step, step, &adam_step, err) != 0)
        return -1;
    const float *betas = get_f32(z, path, "optim.betas", 2, err), *eps;
    if (!betas || !(eps = get_f32(z, path, "optim.eps", -1, err))) return -1;
    t->adam.beta1 = betas[0];
    t->adam.beta2 = betas[1];
    t->adam.eps = *eps;
    t->adam.step = adam_step;

    const float *loss = get_f32(z, path, "train.loss", step, err), *seconds;
    if (!loss || !(seconds = get_f32(z, path, "train.seconds", -1, err))) return -1;
    for (long k = 0; k < step; k++) {
        t->step = k;
        trainer_record_loss(t, loss[k]);
    }
    t->step = (long)step;
    t->seconds = *seconds;
    const Tensor *es = npz_get(z, "train.eval_step");
    int64_t points = es ? es->size : -1;
    const float *at = get_f32(z, path, "train.eval_step", points, err), *val;
    if (!at || !(val = get_f32(z, path, "train.eval_loss", points, err))) return -1;
    for (int64_t p = 0; p < points; p++) trainer_record_eval(t, at[p], val[p]);
    int64_t best_step;
    const float *best_loss;
    if (get_i64(z, path, "train.best_step", 0, step, &best_step, err) != 0 ||
        checkpoint_load_per_param(t->best, &t->m.params, z, path, "train.best.", err) != 0)
        return -1;
    const Tensor *bl = npz_get_f32(z, path, "train.best_loss", 0, NULL, err);
    if (!bl) return -1;
    best_loss = bl->f;   /* infinite before the first measurement */
    t->best_step = (long)best_step;
    t->best_loss = *best_loss;
    return 0;
}

/* The model's arrays, with the shapes train.model gives, all there before a
 * Trainer of that size is allocated: a few bytes of train.model could ask
 * for gigabytes (params.h, params_check). */
static int check_model(const TrainConfig *c, const Npz *z, const char *path, Error *err)
{
    static const char *const ignore[] = {"config.", "optim.", "train.", NULL};
    ParamSet ps;
    params_init(&ps);
    transformer_declare(&ps, &c->model);
    int rc = params_check(&ps, z, path, ignore, err);
    params_free(&ps);
    return rc;
}

int checkpoint_load(const char *path, Trainer *t, Error *err)
{
    Npz z;
    if (npz_load(path, &z, err) != 0) return -1;
    TrainConfig c;
    int rc = load_config(&c, &z, path, err);
    if (rc == 0) rc = check_model(&c, &z, path, err);
    if (rc == 0) {
        trainer_new(t, &c);   /* the model's shapes and the held-out pairs */
        rc = load_state(t, &z, path, err);
        if (rc != 0) trainer_free(t);
    }
    npz_free(&z);
    return rc;
}
