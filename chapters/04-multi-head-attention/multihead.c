/*
 * multihead.c - chapter 4: multi-head attention (see multihead.h and the
 * chapter page, README.md, which walks through this code).
 *
 * Assumes chapter 3's masked_attention_forward for the attention of one head;
 * everything new here is bookkeeping: three projections, H column views,
 * one output projection, and the packed parameter layout of PyTorch.
 */
#include "multihead.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "masking.h"
#include "ops.h"

/* ============================================================ parameters */

//! [mha_new]
MHA mha_new(int E, int H)
{
    if (E < 1 || H < 1 || E % H != 0) {
        fprintf(stderr, "mha_new: %d heads do not divide the model width E = %d\n", H, E);
        exit(3);
    }
    MHA m = {E, H, NULL, {0}, {0}, {0}, {0}};
    size_t n = 4 * (size_t)E * (size_t)E + 4 * (size_t)E;
    m.storage = xcalloc(n, sizeof(float), "multi-head attention parameters");
    float *p = m.storage;   /* the four arrays, one after the other */
    m.in_proj_weight = mat_wrap(p, 3 * E, E);
    p += 3 * (size_t)E * (size_t)E;
    m.in_proj_bias = mat_wrap(p, 1, 3 * E);
    p += 3 * (size_t)E;
    m.out_proj_weight = mat_wrap(p, E, E);
    p += (size_t)E * (size_t)E;
    m.out_proj_bias = mat_wrap(p, 1, E);
    return m;
}
//! [mha_new]

void mha_free(MHA *m)
{
    free(m->storage);
    memset(m, 0, sizeof *m);
}

long mha_param_count(const MHA *m)
{
    long E = m->E;
    return 4 * E * E + 4 * E;   /* W_Q, W_K, W_V, W_O and their four biases */
}

void mha_init(MHA *m, Rng *r)
{
    /* PyTorch draws the stacked (3E, E) matrix as one Xavier weight, so the
     * bound uses fan_out = 3E: sqrt(6 / (E + 3E)). */
    mat_rand_xavier(m->in_proj_weight, r, 1.0f);
    mat_fill(m->in_proj_bias, 0.0f);
    /* nn.Linear's default, kaiming_uniform with a = sqrt(5): U(+-1/sqrt(E)). */
    float bound = 1.0f / sqrtf((float)m->E);
    mat_rand_uniform(m->out_proj_weight, r, -bound, bound);
    mat_fill(m->out_proj_bias, 0.0f);
}

//! [mha_w]
Mat mha_w(const MHA *m, int which) { return mat_rows(m->in_proj_weight, which * m->E, m->E); }
Mat mha_b(const MHA *m, int which) { return mat_cols(m->in_proj_bias, which * m->E, m->E); }
//! [mha_w]

/* prefix + name, as a new string. */
static char *prefixed(const char *prefix, const char *name)
{
    size_t a = strlen(prefix), b = strlen(name);
    char *s = xmalloc(a + b + 1, 1, "a parameter name");
    memcpy(s, prefix, a);
    memcpy(s + a, name, b + 1);
    return s;
}

/* The float array prefix + name, of shape (n0) or (n0, n1) (-1: any size)
 * and finite; NULL with err set otherwise. */
static const Tensor *get_param(const Npz *z, const char *prefix, const char *name, int ndim,
                               int64_t n0, int64_t n1, const char *path, Error *err)
{
    char *full = prefixed(prefix, name);
    int64_t shape[2] = {n0, n1};
    const Tensor *t = npz_get_f32(z, path, full, ndim, shape, err);
    int64_t bad = t ? tensor_find_nonfinite(t) : -1;
    if (bad >= 0) {
        error_set(err, "%s: %s holds %g at flat index %lld; parameters must be finite", path,
                  full, (double)t->f[bad], (long long)bad);
        t = NULL;
    }
    free(full);
    return t;
}

int mha_load(MHA *m, const Npz *z, const char *prefix, int heads, const char *path, Error *err)
{
    memset(m, 0, sizeof *m);
    /* The width E is read off in_proj_weight, (3E, E); everything else must fit it. */
    const Tensor *w_in = get_param(z, prefix, "in_proj_weight", 2, -1, -1, path, err);
    if (!w_in) return -1;
    int64_t E = w_in->shape[1];
    if (E < 1 || w_in->shape[0] != 3 * E)
        return error_set(err, "%s: %sin_proj_weight must have shape (3E, E) with E >= 1, "
                         "found (%lld, %lld)", path, prefix, (long long)w_in->shape[0],
                         (long long)E);
    if (heads < 1 || E % heads != 0)
        return error_set(err, "%s: %d heads do not divide the model width E = %lld (from "
                         "%sin_proj_weight, (%lld, %lld)); try a divisor of %lld", path, heads,
                         (long long)E, prefix, (long long)(3 * E), (long long)E, (long long)E);
    const Tensor *b_in = get_param(z, prefix, "in_proj_bias", 1, 3 * E, 0, path, err);
    if (!b_in) return -1;
    const Tensor *w_out = get_param(z, prefix, "out_proj.weight", 2, E, E, path, err);
    if (!w_out) return -1;
    const Tensor *b_out = get_param(z, prefix, "out_proj.bias", 1, E, 0, path, err);
    if (!b_out) return -1;

    *m = mha_new((int)E, heads);
    size_t e = (size_t)E;   /* the views are contiguous, so each array is one copy */
    memcpy(m->in_proj_weight.data, w_in->f, 3 * e * e * sizeof(float));
    memcpy(m->in_proj_bias.data, b_in->f, 3 * e * sizeof(float));
    memcpy(m->out_proj_weight.data, w_out->f, e * e * sizeof(float));
    memcpy(m->out_proj_bias.data, b_out->f, e * sizeof(float));
    return 0;
}

void mha_save(const MHA *m, NpzWriter *w, const char *prefix)
{
    int64_t E = m->E, bias3[1] = {3 * E}, bias[1] = {E};
    char *name = prefixed(prefix, "in_proj_weight");
    npz_add_mat(w, name, m->in_proj_weight);
    free(name);
    name = prefixed(prefix, "in_proj_bias");   /* biases are 1-D in PyTorch */
    npz_add_f32(w, name, m->in_proj_bias.data, 1, bias3);
    free(name);
    name = prefixed(prefix, "out_proj.weight");
    npz_add_mat(w, name, m->out_proj_weight);
    free(name);
    name = prefixed(prefix, "out_proj.bias");
    npz_add_f32(w, name, m->out_proj_bias.data, 1, bias);
    free(name);
}

void mha_declare(ParamSet *ps, const char *prefix, int E)
{
    /* Declared back to back, so they sit in one block of the set as well. */
    const char *names[4] = {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"};
    const int ndim[4] = {2, 1, 2, 1}, rows[4] = {3 * E, 1, E, 1}, cols[4] = {E, 3 * E, E, E};
    for (int k = 0; k < 4; k++) {
        char *name = prefixed(prefix, names[k]);
        params_add(ps, name, ndim[k], rows[k], cols[k]);
        free(name);
    }
}

MHA mha_bind(const ParamSet *ps, const char *prefix, int heads)
{
    Mat w_in = params_matf(ps, "%sin_proj_weight", prefix);   /* (3E, E) */
    int E = w_in.cols;
    if (heads < 1 || E % heads != 0) {
        fprintf(stderr, "mha_bind: %d heads do not divide the model width E = %d of %s\n", heads,
                E, prefix);
        exit(3);
    }
    MHA m = {E, heads, NULL, w_in, params_matf(ps, "%sin_proj_bias", prefix),
             params_matf(ps, "%sout_proj.weight", prefix),
             params_matf(ps, "%sout_proj.bias", prefix)};
    return m;
}

/* ============================================================ masks */

//! [mha_build_mask]
void mha_build_mask(Mat mask, const Mat *attn_mask, const Mat *key_padding, int causal)
{
    if (causal) mask_causal(mask);
    else mat_fill(mask, 0.0f);
    if (attn_mask) mask_combine(mask, mask, *attn_mask);
    if (key_padding) {
        mat_check_shape(*key_padding, 1, mask.cols, "mha_build_mask key_padding");
        for (int i = 0; i < mask.rows; i++)
            for (int j = 0; j < mask.cols; j++)
                if (MAT_AT(*key_padding, 0, j) != 0.0f) MAT_AT(mask, i, j) = 1.0f;
    }
}
//! [mha_build_mask]

/* ============================================================ forward */

//! [linear_forward]
void linear_forward(Mat out, Mat x, Mat w, Mat b)
{
    mat_mul(out, 1.0f, x, NO_TRANS, w, TRANS, 0.0f);   /* (N, I) x (I, O) */
    mat_add_bias(out, b);
}
//! [linear_forward]

void linear_init(Mat w, Mat b, Rng *r)
{
    /* kaiming_uniform with a = sqrt(5) comes down to +-1/sqrt(fan_in). */
    float bound = 1.0f / sqrtf((float)w.cols);
    mat_rand_uniform(w, r, -bound, bound);
    mat_rand_uniform(b, r, -bound, bound);
}

//! [mha_forward]
void mha_forward(Mat out, Mat attn, Mat query, Mat key, Mat value, const MHA *m,
                 const Mat *mask)
{
    int L = query.rows, S = key.rows, E = m->E, H = m->H, Dh = E / H;
    mat_check_shape(query, L, E, "mha_forward query");
    mat_check_shape(key, S, E, "mha_forward key");
    mat_check_shape(value, S, E, "mha_forward value");
    mat_check_shape(out, L, E, "mha_forward out");
    mat_check_shape(attn, H * L, S, "mha_forward attn");

    Mat q = mat_new(L, E), k = mat_new(S, E), v = mat_new(S, E);   /* Q', K', V' */
    Mat concat = mat_new(L, E);                 /* the H head outputs, side by side */
    linear_forward(q, query, mha_w(m, 0), mha_b(m, 0));
    linear_forward(k, key, mha_w(m, 1), mha_b(m, 1));
    linear_forward(v, value, mha_w(m, 2), mha_b(m, 2));

    for (int h = 0; h < H; h++) {
        /* Head h owns columns [h Dh, (h + 1) Dh): views, nothing is copied. */
        Mat q_h = mat_cols(q, h * Dh, Dh);        /* (L, Dh) */
        Mat k_h = mat_cols(k, h * Dh, Dh);        /* (S, Dh) */
        Mat v_h = mat_cols(v, h * Dh, Dh);        /* (S, Dh) */
        Mat out_h = mat_cols(concat, h * Dh, Dh); /* (L, Dh), written in place */
        Mat weights_h = mat_rows(attn, h * L, L); /* (L, S) */
        masked_attention_forward(out_h, weights_h, q_h, k_h, v_h, mask);
    }
    linear_forward(out, concat, m->out_proj_weight, m->out_proj_bias);

    mat_free(&q);
    mat_free(&k);
    mat_free(&v);
    mat_free(&concat);
}
//! [mha_forward]
