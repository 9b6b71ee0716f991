/*
 * encoder.c - chapter 7: embeddings, positions and a stack of encoder layers
 * (see encoder.h and the chapter page, README.md).
 */
#include "encoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "positional.h"

//! [embedding_forward]
void embedding_forward(Mat x, Mat table, const int64_t *ids)
{
    float scale = sqrtf((float)x.cols);   /* sqrt(E), as in the paper */
    for (int s = 0; s < x.rows; s++)
        for (int e = 0; e < x.cols; e++) MAT_AT(x, s, e) = MAT_AT(table, ids[s], e) * scale;
    positional_add(x);                    /* + PE, chapter 5 */
}
//! [embedding_forward]

//! [mask_from_pad_ids]
void mask_from_pad_ids(Mat mask, const int64_t *ids)
{
    for (int i = 0; i < mask.rows; i++)
        for (int j = 0; j < mask.cols; j++) MAT_AT(mask, i, j) = ids[j] == PAD_ID ? 1.0f : 0.0f;
}
//! [mask_from_pad_ids]

int count_layers(const Npz *z, const char *prefix)
{
    char name[128];
    int n = 0;
    for (; n <= MAX_LAYERS; n++) {
        snprintf(name, sizeof name, "%slayers.%d.linear1.weight", prefix, n);
        if (!npz_get(z, name)) return n;
    }
    return n;
}

//! [encoder_declare]
void encoder_declare(ParamSet *ps, const char *prefix, int layers, int E, int F, int has_norm)
{
    char p[256];
    for (int n = 0; n < layers; n++) {
        snprintf(p, sizeof p, "%slayers.%d.", prefix, n);
        encoder_layer_declare(ps, p, E, F);
    }
    if (has_norm) {
        snprintf(p, sizeof p, "%snorm.", prefix);
        layernorm_declare(ps, p, E);
    }
}
//! [encoder_declare]

Encoder encoder_bind(const ParamSet *ps, const char *prefix, int layers, int heads, int norm_first,
                     int has_norm)
{
    Encoder enc = {layers, xcalloc((size_t)layers, sizeof(EncoderLayer), "encoder layers"),
                   has_norm, {{0}, {0}}};
    char p[256];
    for (int n = 0; n < layers; n++) {
        snprintf(p, sizeof p, "%slayers.%d.", prefix, n);
        enc.layer[n] = encoder_layer_bind(ps, p, heads, norm_first);
    }
    if (has_norm) {
        snprintf(p, sizeof p, "%snorm.", prefix);
        enc.norm = layernorm_bind(ps, p);
    }
    return enc;
}

void encoder_init(Encoder *enc, Rng *r)
{
    for (int n = 0; n < enc->layers; n++) encoder_layer_init(&enc->layer[n], r);
    if (enc->has_norm) layernorm_init(&enc->norm);
}

void encoder_free(Encoder *enc)
{
    free(enc->layer);
    enc->layer = NULL;
    enc->layers = 0;
}

//! [encoder_forward]
void encoder_forward(Mat x, Mat attn, const Encoder *enc, const Mat *mask)
{
    int S = x.rows;
    for (int n = 0; n < enc->layers; n++) {
        int H = enc->layer[n].self_attn.H;
        Mat attn_n = mat_rows(attn, n * H * S, H * S);   /* (H S, S) this layer's heads */
        encoder_layer_forward(x, attn_n, &enc->layer[n], mask);
    }
    if (enc->has_norm) layernorm_forward(x, x, &enc->norm);
}
//! [encoder_forward]
