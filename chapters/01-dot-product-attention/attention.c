/*
 * attention.c - chapter 1: dot-product attention (see attention.h and the
 * chapter page, README.md, which walks through this code).
 */
#include "attention.h"

#include "ops.h"

//! [attention_scores]
void attention_scores(Mat scores, Mat q, Mat k)
{
    mat_mul(scores, 1.0f, q, NO_TRANS, k, TRANS, 0.0f);   /* (L, D) x (D, S) */
}
//! [attention_scores]

//! [attention_mix]
void attention_mix(Mat output, Mat weights, Mat v)
{
    mat_mul(output, 1.0f, weights, NO_TRANS, v, NO_TRANS, 0.0f);   /* (L, S) x (S, Dv) */
}
//! [attention_mix]

//! [attention_forward]
void attention_forward(Mat output, Mat weights, Mat q, Mat k, Mat v)
{
    attention_scores(weights, q, k);   /* weights holds the raw scores ... */
    softmax_rows(weights);             /* ... and becomes the weights in place */
    attention_mix(output, weights, v);
}
//! [attention_forward]
