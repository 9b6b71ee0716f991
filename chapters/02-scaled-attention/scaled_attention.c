/*
 * scaled_attention.c - chapter 2: scaled dot-product attention (see
 * scaled_attention.h and the chapter page, README.md).
 */
#include "scaled_attention.h"

#include <math.h>
#include "attention.h"
#include "ops.h"

//! [attention_scale]
float attention_scale(int d)
{
    return 1.0f / sqrtf((float)d);
}
//! [attention_scale]

//! [scaled_attention_forward]
void scaled_attention_forward(Mat output, Mat weights, Mat q, Mat k, Mat v)
{
    attention_scores(weights, q, k);              /* Q K^T, chapter 1 */
    mat_scale(weights, attention_scale(q.cols));  /* the one new step */
    softmax_rows(weights);
    attention_mix(output, weights, v);            /* weights V, chapter 1 */
}
//! [scaled_attention_forward]

/* The softmax's Jacobian is J_ij = w_i (delta_ij - w_j). Summing its squares
 * in closed form, |J|_F^2 = sum w^2 - 2 sum w^3 + (sum w^2)^2, saves building
 * the (S, S) matrix. */
//! [softmax_sharpness]
void softmax_sharpness(Sharpness *sharp, Mat weights)
{
    Sharpness sum = {0.0, 0.0, 0.0};
    for (int i = 0; i < weights.rows; i++) {
        double mx = 0.0, h = 0.0, sq = 0.0, cube = 0.0;
        for (int j = 0; j < weights.cols; j++) {
            double w = MAT_AT(weights, i, j);
            if (w > mx) mx = w;
            if (w > 0.0) h -= w * log(w);   /* 0 ln 0 = 0 */
            sq += w * w;
            cube += w * w * w;
        }
        sum.max_weight += mx;
        sum.entropy += h;
        sum.grad_norm += sqrt(fmax(sq - 2.0 * cube + sq * sq, 0.0));
    }
    double n = weights.rows > 0 ? weights.rows : 1;
    sharp->max_weight = sum.max_weight / n;
    sharp->entropy = sum.entropy / n;
    sharp->grad_norm = sum.grad_norm / n;
}
//! [softmax_sharpness]
