/*
 * attention.h - chapter 1: dot-product attention, the operation the whole
 * Transformer is built around.
 *
 *   scores  = Q K^T              (L, S)  how well each query matches each key
 *   weights = softmax(scores)    (L, S)  each row sums to 1
 *   output  = weights V          (L, Dv) a weighted average of the values
 *
 * Size letters, used in every chapter:
 *   L  queries (target length)     S  keys and values (source length)
 *   D  width of a query and a key  Dv width of a value
 *
 * Later chapters call these pieces and add one step each: scaling
 * (chapter 2), masking (chapter 3), heads (chapter 4).
 */
#ifndef ATTENTION_H
#define ATTENTION_H

#include "mat.h"

/* scores = Q K^T        scores: (L, S)   q: (L, D)   k: (S, D) */
void attention_scores(Mat scores, Mat q, Mat k);

/* output = weights V    output: (L, Dv)  weights: (L, S)   v: (S, Dv) */
void attention_mix(Mat output, Mat weights, Mat v);

/* The whole chapter: weights = softmax(Q K^T), output = weights V.
 *   output: (L, Dv)  weights: (L, S)  q: (L, D)  k: (S, D)  v: (S, Dv) */
void attention_forward(Mat output, Mat weights, Mat q, Mat k, Mat v);

#endif
