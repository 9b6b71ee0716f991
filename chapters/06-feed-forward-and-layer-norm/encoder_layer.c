/*
 * encoder_layer.c - chapter 6: feed-forward, layer norm, residual
 * connections, and the encoder layer they make with self-attention (see
 * encoder_layer.h and the chapter page, README.md).
 */
#include "encoder_layer.h"

#include <stdio.h>

#include "ops.h"

//! [layernorm_forward]
void layernorm_forward(Mat out, Mat x, const LayerNorm *ln)
{
    layernorm_rows(out, x, ln->weight, ln->bias, LAYERNORM_EPS);
}
//! [layernorm_forward]

//! [feedforward_forward]
void feedforward_forward(Mat out, Mat x, const FeedForward *ff)
{
    Mat hidden = mat_new(x.rows, ff->w1.rows);   /* (N, F) */
    linear_forward(hidden, x, ff->w1, ff->b1);   /* x W1^T + b1 */
    mat_relu(hidden);
    linear_forward(out, hidden, ff->w2, ff->b2); /* ... W2^T + b2 */
    mat_free(&hidden);
}
//! [feedforward_forward]

/* ------------------------------------------------------- parameters */

void layernorm_declare(ParamSet *ps, const char *prefix, int E)
{
    char name[256];
    snprintf(name, sizeof name, "%sweight", prefix);
    params_add(ps, name, 1, 1, E);
    snprintf(name, sizeof name, "%sbias", prefix);
    params_add(ps, name, 1, 1, E);
}

void feedforward_declare(ParamSet *ps, const char *prefix, int E, int F)
{
    char name[256];
    snprintf(name, sizeof name, "%slinear1.weight", prefix);
    params_add(ps, name, 2, F, E);
    snprintf(name, sizeof name, "%slinear1.bias", prefix);
    params_add(ps, name, 1, 1, F);
    snprintf(name, sizeof name, "%slinear2.weight", prefix);
    params_add(ps, name, 2, E, F);
    snprintf(name, sizeof name, "%slinear2.bias", prefix);
    params_add(ps, name, 1, 1, E);
}

//! [encoder_layer_declare]
void encoder_layer_declare(ParamSet *ps, const char *prefix, int E, int F)
{
    char p[256];
    snprintf(p, sizeof p, "%sself_attn.", prefix);
    mha_declare(ps, p, E);
    feedforward_declare(ps, prefix, E, F);
    snprintf(p, sizeof p, "%snorm1.", prefix);
    layernorm_declare(ps, p, E);
    snprintf(p, sizeof p, "%snorm2.", prefix);
    layernorm_declare(ps, p, E);
}
//! [encoder_layer_declare]

LayerNorm layernorm_bind(const ParamSet *ps, const char *prefix)
{
    LayerNorm ln = {params_matf(ps, "%sweight", prefix), params_matf(ps, "%sbias", prefix)};
    return ln;
}

FeedForward feedforward_bind(const ParamSet *ps, const char *prefix)
{
    FeedForward ff = {
        params_matf(ps, "%slinear1.weight", prefix), params_matf(ps, "%slinear1.bias", prefix),
        params_matf(ps, "%slinear2.weight", prefix), params_matf(ps, "%slinear2.bias", prefix)};
    return ff;
}

EncoderLayer encoder_layer_bind(const ParamSet *ps, const char *prefix, int heads, int norm_first)
{
    char p[256];
    EncoderLayer l;
    snprintf(p, sizeof p, "%sself_attn.", prefix);
    l.self_attn = mha_bind(ps, p, heads);
    l.ff = feedforward_bind(ps, prefix);
    snprintf(p, sizeof p, "%snorm1.", prefix);
    l.norm1 = layernorm_bind(ps, p);
    snprintf(p, sizeof p, "%snorm2.", prefix);
    l.norm2 = layernorm_bind(ps, p);
    l.norm_first = norm_first;
    return l;
}

void layernorm_init(LayerNorm *ln)
{
    mat_fill(ln->weight, 1.0f);
    mat_fill(ln->bias, 0.0f);
}

void feedforward_init(FeedForward *ff, Rng *r)
{
    linear_init(ff->w1, ff->b1, r);
    linear_init(ff->w2, ff->b2, r);
}

void encoder_layer_init(EncoderLayer *l, Rng *r)
{
    mha_init(&l->self_attn, r);
    feedforward_init(&l->ff, r);
    layernorm_init(&l->norm1);
    layernorm_init(&l->norm2);
}

/* ---------------------------------------------------------- forward */

//! [encoder_layer_forward]
void encoder_layer_forward(Mat x, Mat attn, const EncoderLayer *l, const Mat *mask)
{
    Mat h = mat_new(x.rows, x.cols);   /* (S, E) the normalised input, pre-norm */
    Mat y = mat_new(x.rows, x.cols);   /* (S, E) a sublayer's output */
    if (l->norm_first) {
        layernorm_forward(h, x, &l->norm1);
        mha_forward(y, attn, h, h, h, &l->self_attn, mask);
        mat_add(x, x, y);                      /* x = x + SelfAttn(norm1(x)) */
        layernorm_forward(h, x, &l->norm2);
        feedforward_forward(y, h, &l->ff);
        mat_add(x, x, y);                      /* x = x + FFN(norm2(x)) */
    } else {
        mha_forward(y, attn, x, x, x, &l->self_attn, mask);
        mat_add(y, x, y);
        layernorm_forward(x, y, &l->norm1);    /* x = norm1(x + SelfAttn(x)) */
        feedforward_forward(y, x, &l->ff);
        mat_add(y, x, y);
        layernorm_forward(x, y, &l->norm2);    /* x = norm2(x + FFN(x)) */
    }
    mat_free(&h);
    mat_free(&y);
}
//! [encoder_layer_forward]
