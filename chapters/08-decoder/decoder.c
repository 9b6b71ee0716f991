/*
 * decoder.c - chapter 8: the decoder layer and the decoder stack (see
 * decoder.h and the chapter page, README.md).
 */
#include "decoder.h"

#include <stdio.h>
#include <stdlib.h>
#include "encoder.h"
#include "masking.h"
#include "ops.h"

//! [decoder_masks]
void decoder_masks(Mat self_mask, Mat cross_mask, const int64_t *tgt, const int64_t *src)
{
    Mat pad = mat_new(self_mask.rows, self_mask.cols);   /* (T, T) */
    mask_causal(self_mask);                    /* no looking at later targets ... */
    mask_from_pad_ids(pad, tgt);
    mask_combine(self_mask, self_mask, pad);   /* ... nor at target padding */
    mask_from_pad_ids(cross_mask, src);        /* nor, in the source, at padding */
    mat_free(&pad);
}
//! [decoder_masks]

void decoder_layer_declare(ParamSet *ps, const char *prefix, int E, int F)
{
    char p[256];
    snprintf(p, sizeof p, "%sself_attn.", prefix);
    mha_declare(ps, p, E);
    snprintf(p, sizeof p, "%smultihead_attn.", prefix);
    mha_declare(ps, p, E);
    feedforward_declare(ps, prefix, E, F);
    for (int k = 1; k <= 3; k++) {
        snprintf(p, sizeof p, "%snorm%d.", prefix, k);
        layernorm_declare(ps, p, E);
    }
}

DecoderLayer decoder_layer_bind(const ParamSet *ps, const char *prefix, int heads, int norm_first)
{
    char p[256];
    DecoderLayer l;
    snprintf(p, sizeof p, "%sself_attn.", prefix);
    l.self_attn = mha_bind(ps, p, heads);
    snprintf(p, sizeof p, "%smultihead_attn.", prefix);
    l.cross_attn = mha_bind(ps, p, heads);
    l.ff = feedforward_bind(ps, prefix);
    snprintf(p, sizeof p, "%snorm1.", prefix);
    l.norm1 = layernorm_bind(ps, p);
    snprintf(p, sizeof p, "%snorm2.", prefix);
    l.norm2 = layernorm_bind(ps, p);
    snprintf(p, sizeof p, "%snorm3.", prefix);
    l.norm3 = layernorm_bind(ps, p);
    l.norm_first = norm_first;
    return l;
}

void decoder_layer_init(DecoderLayer *l, Rng *r)
{
    mha_init(&l->self_attn, r);
    mha_init(&l->cross_attn, r);
    feedforward_init(&l->ff, r);
    layernorm_init(&l->norm1);
    layernorm_init(&l->norm2);
    layernorm_init(&l->norm3);
}

//! [decoder_layer_forward]
void decoder_layer_forward(Mat y, Mat self_w, Mat cross_w, Mat memory, const DecoderLayer *l,
                           const Mat *self_mask, const Mat *cross_mask)
{
    Mat h = mat_new(y.rows, y.cols);   /* (T, E) the normalised input, pre-norm */
    Mat z = mat_new(y.rows, y.cols);   /* (T, E) a sublayer's output */
    if (l->norm_first) {
        layernorm_forward(h, y, &l->norm1);
        mha_forward(z, self_w, h, h, h, &l->self_attn, self_mask);
        mat_add(y, y, z);                       /* y = y + SelfAttn(norm1(y)) */
        layernorm_forward(h, y, &l->norm2);
        mha_forward(z, cross_w, h, memory, memory, &l->cross_attn, cross_mask);
        mat_add(y, y, z);                       /* y = y + CrossAttn(norm2(y), memory) */
        layernorm_forward(h, y, &l->norm3);
        feedforward_forward(z, h, &l->ff);
        mat_add(y, y, z);                       /* y = y + FFN(norm3(y)) */
    } else {
        mha_forward(z, self_w, y, y, y, &l->self_attn, self_mask);
        mat_add(z, y, z);
        layernorm_forward(y, z, &l->norm1);     /* y = norm1(y + SelfAttn(y)) */
        mha_forward(z, cross_w, y, memory, memory, &l->cross_attn, cross_mask);
        mat_add(z, y, z);
        layernorm_forward(y, z, &l->norm2);     /* y = norm2(y + CrossAttn(y, memory)) */
        feedforward_forward(z, y, &l->ff);
        mat_add(z, y, z);
        layernorm_forward(y, z, &l->norm3);     /* y = norm3(y + FFN(y)) */
    }
    mat_free(&h);
    mat_free(&z);
}
//! [decoder_layer_forward]

void decoder_declare(ParamSet *ps, const char *prefix, int layers, int E, int F, int has_norm)
{
    char p[256];
    for (int n = 0; n < layers; n++) {
        snprintf(p, sizeof p, "%slayers.%d.", prefix, n);
        decoder_layer_declare(ps, p, E, F);
    }
    if (has_norm) {
        snprintf(p, sizeof p, "%snorm.", prefix);
        layernorm_declare(ps, p, E);
    }
}

Decoder decoder_bind(const ParamSet *ps, const char *prefix, int layers, int heads, int norm_first,
                     int has_norm)
{
    Decoder dec = {layers, xcalloc((size_t)layers, sizeof(DecoderLayer), "decoder layers"),
                   has_norm, {{0}, {0}}};
    char p[256];
    for (int n = 0; n < layers; n++) {
        snprintf(p, sizeof p, "%slayers.%d.", prefix, n);
        dec.layer[n] = decoder_layer_bind(ps, p, heads, norm_first);
    }
    if (has_norm) {
        snprintf(p, sizeof p, "%snorm.", prefix);
        dec.norm = layernorm_bind(ps, p);
    }
    return dec;
}

void decoder_init(Decoder *dec, Rng *r)
{
    for (int n = 0; n < dec->layers; n++) decoder_layer_init(&dec->layer[n], r);
    if (dec->has_norm) layernorm_init(&dec->norm);
}

void decoder_free(Decoder *dec)
{
    free(dec->layer);
    dec->layer = NULL;
    dec->layers = 0;
}

//! [decoder_forward]
void decoder_forward(Mat y, Mat self_w, Mat cross_w, Mat memory, const Decoder *dec,
                     const Mat *self_mask, const Mat *cross_mask)
{
    int T = y.rows;
    for (int n = 0; n < dec->layers; n++) {
        int H = dec->layer[n].self_attn.H;
        Mat self_n = mat_rows(self_w, n * H * T, H * T);     /* (H T, T) */
        Mat cross_n = mat_rows(cross_w, n * H * T, H * T);   /* (H T, S) */
        decoder_layer_forward(y, self_n, cross_n, memory, &dec->layer[n], self_mask, cross_mask);
    }
    if (dec->has_norm) layernorm_forward(y, y, &dec->norm);
}
//! [decoder_forward]
