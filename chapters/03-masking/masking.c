/*
 * masking.c - chapter 3: padding and causal masks, and attention that obeys
 * them (see masking.h and the chapter page, README.md).
 */
#include "masking.h"

#include <math.h>
#include "attention.h"
#include "ops.h"
#include "scaled_attention.h"

//! [mask_causal]
void mask_causal(Mat mask)
{
    for (int i = 0; i < mask.rows; i++)
        for (int j = 0; j < mask.cols; j++) MAT_AT(mask, i, j) = j > i ? 1.0f : 0.0f;
}
//! [mask_causal]

//! [mask_padding]
void mask_padding(Mat mask, int length)
{
    for (int i = 0; i < mask.rows; i++)
        for (int j = 0; j < mask.cols; j++) MAT_AT(mask, i, j) = j >= length ? 1.0f : 0.0f;
}
//! [mask_padding]

//! [mask_combine]
void mask_combine(Mat dst, Mat a, Mat b)
{
    mat_check_shape(b, a.rows, a.cols, "mask_combine second mask");
    mat_check_shape(dst, a.rows, a.cols, "mask_combine result");
    for (int i = 0; i < a.rows; i++)
        for (int j = 0; j < a.cols; j++)
            MAT_AT(dst, i, j) = (MAT_AT(a, i, j) != 0.0f || MAT_AT(b, i, j) != 0.0f) ? 1.0f : 0.0f;
}
//! [mask_combine]

//! [mask_apply]
void mask_apply(Mat scores, Mat mask)
{
    mat_check_shape(mask, scores.rows, scores.cols, "mask_apply mask");
    for (int i = 0; i < scores.rows; i++)
        for (int j = 0; j < scores.cols; j++)
            if (MAT_AT(mask, i, j) != 0.0f) MAT_AT(scores, i, j) = -INFINITY;
}
//! [mask_apply]

//! [masked_attention_forward]
void masked_attention_forward(Mat output, Mat weights, Mat q, Mat k, Mat v, const Mat *mask)
{
    attention_scores(weights, q, k);              /* Q K^T, chapter 1 */
    mat_scale(weights, attention_scale(q.cols));  /* / sqrt(D), chapter 2 */
    if (mask) mask_apply(weights, *mask);         /* the one new step */
    softmax_rows(weights);                        /* blocked -> exactly 0 */
    attention_mix(output, weights, v);
}
//! [masked_attention_forward]
