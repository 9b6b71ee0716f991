/*
 * backward.c - chapter 10: backward passes, one per forward piece (see
 * backward.h and the chapter page, README.md, which derives each formula).
 */
#include "backward.h"

#include <math.h>
#include "ops.h"
#include "scaled_attention.h"

/* db += the sum of dout's rows.   db: (1, O)  dout: (N, O) */
static void add_row_sums(Mat db, Mat dout)
{
    for (int i = 0; i < dout.rows; i++)
        for (int j = 0; j < dout.cols; j++) MAT_AT(db, 0, j) += MAT_AT(dout, i, j);
}

//! [linear_backward]
void linear_backward(Mat dx, Mat dw, Mat db, Mat dout, Mat x, Mat w)
{
    mat_mul(dx, 1.0f, dout, NO_TRANS, w, NO_TRANS, 1.0f);   /* dx += dout W     (N, I) */
    mat_mul(dw, 1.0f, dout, TRANS, x, NO_TRANS, 1.0f);      /* dW += dout^T x   (O, I) */
    add_row_sums(db, dout);                                  /* db += 1^T dout   (1, O) */
}
//! [linear_backward]

//! [relu_backward]
void relu_backward(Mat d, Mat h)
{
    for (int i = 0; i < d.rows; i++)
        for (int j = 0; j < d.cols; j++)
            if (!(MAT_AT(h, i, j) > 0.0f)) MAT_AT(d, i, j) = 0.0f;
}
//! [relu_backward]

//! [softmax_backward]
void softmax_backward(Mat dscores, Mat dweights, Mat weights)
{
    for (int i = 0; i < weights.rows; i++) {
        float dot = 0.0f;   /* sum_j dweights[i, j] weights[i, j] */
        for (int j = 0; j < weights.cols; j++) dot += MAT_AT(dweights, i, j) * MAT_AT(weights, i, j);
        for (int j = 0; j < weights.cols; j++)
            MAT_AT(dscores, i, j) = MAT_AT(weights, i, j) * (MAT_AT(dweights, i, j) - dot);
    }
}
//! [softmax_backward]

//! [attention_backward]
void attention_backward(Mat dq, Mat dk, Mat dv, Mat dout, Mat weights, Mat q, Mat k, Mat v)
{
    Mat dw = mat_new(weights.rows, weights.cols);   /* (L, S) d loss / d weights */
    mat_mul(dv, 1.0f, weights, TRANS, dout, NO_TRANS, 0.0f);   /* dV = P^T dO   (S, Dv) */
    mat_mul(dw, 1.0f, dout, NO_TRANS, v, TRANS, 0.0f);         /* dP = dO V^T   (L, S) */
    softmax_backward(dw, dw, weights);                         /* dScores, in place */
    float scale = attention_scale(q.cols);                     /* the 1/sqrt(D) of chapter 2 */
    mat_mul(dq, scale, dw, NO_TRANS, k, NO_TRANS, 0.0f);       /* dQ = dS K / sqrt(D)    (L, D) */
    mat_mul(dk, scale, dw, TRANS, q, NO_TRANS, 0.0f);          /* dK = dS^T Q / sqrt(D)  (S, D) */
    mat_free(&dw);
}
//! [attention_backward]

//! [mha_backward]
void mha_backward(Mat dquery, Mat dkey, Mat dvalue, const MHA *grad, Mat dout, Mat attn,
                  Mat query, Mat key, Mat value, const MHA *m)
{
    int L = query.rows, S = key.rows, E = m->E, H = m->H, Dh = E / H;
    /* Recompute the projections and the concatenated heads of the forward pass. */
    Mat q = mat_new(L, E), k = mat_new(S, E), v = mat_new(S, E), concat = mat_new(L, E);
    linear_forward(q, query, mha_w(m, 0), mha_b(m, 0));
    linear_forward(k, key, mha_w(m, 1), mha_b(m, 1));
    linear_forward(v, value, mha_w(m, 2), mha_b(m, 2));
    for (int h = 0; h < H; h++)
        mat_mul(mat_cols(concat, h * Dh, Dh), 1.0f, mat_rows(attn, h * L, L), NO_TRANS,
                mat_cols(v, h * Dh, Dh), NO_TRANS, 0.0f);

    /* Output projection, then each head on its column views, then the input projections. */
    Mat dconcat = mat_new(L, E), dq = mat_new(L, E), dk = mat_new(S, E), dv = mat_new(S, E);
    linear_backward(dconcat, grad->out_proj_weight, grad->out_proj_bias, dout, concat,
                    m->out_proj_weight);
    for (int h = 0; h < H; h++)
        attention_backward(mat_cols(dq, h * Dh, Dh), mat_cols(dk, h * Dh, Dh),
                           mat_cols(dv, h * Dh, Dh), mat_cols(dconcat, h * Dh, Dh),
                           mat_rows(attn, h * L, L), mat_cols(q, h * Dh, Dh),
                           mat_cols(k, h * Dh, Dh), mat_cols(v, h * Dh, Dh));
    /* The key bias b_K adds q_i . b_K to every score of query row i, and a
     * softmax ignores a shift shared by its whole row: d loss / d b_K is
     * exactly 0. Summing dk would give rounding noise instead, which Adam
     * (dividing by the gradient's own size) turns into steps of the full
     * learning rate; so b_K's gradient is left at its exact 0. */
    Mat no_grad = mat_new(1, E);
    linear_backward(dquery, mha_w(grad, 0), mha_b(grad, 0), dq, query, mha_w(m, 0));
    linear_backward(dkey, mha_w(grad, 1), no_grad, dk, key, mha_w(m, 1));
    linear_backward(dvalue, mha_w(grad, 2), mha_b(grad, 2), dv, value, mha_w(m, 2));

    Mat *tmp[] = {&q, &k, &v, &concat, &dconcat, &dq, &dk, &dv, &no_grad};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) mat_free(tmp[i]);
}
//! [mha_backward]

//! [layernorm_backward]
void layernorm_backward(Mat dx, const LayerNorm *grad, Mat dout, Mat x, const LayerNorm *ln)
{
    int C = x.cols;
    for (int i = 0; i < x.rows; i++) {
        double mean = 0.0, var = 0.0;   /* the forward's statistics, recomputed */
        for (int j = 0; j < C; j++) mean += MAT_AT(x, i, j);
        mean /= C;
        for (int j = 0; j < C; j++) var += (MAT_AT(x, i, j) - mean) * (MAT_AT(x, i, j) - mean);
        double rstd = 1.0 / sqrt(var / C + LAYERNORM_EPS);
        /* dxhat = dout * gamma; dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) */
        double mean_d = 0.0, mean_dx = 0.0;
        for (int j = 0; j < C; j++) {
            double xhat = (MAT_AT(x, i, j) - mean) * rstd;
            double dxhat = (double)MAT_AT(dout, i, j) * MAT_AT(ln->weight, 0, j);
            mean_d += dxhat;
            mean_dx += dxhat * xhat;
            MAT_AT(grad->weight, 0, j) += (float)(MAT_AT(dout, i, j) * xhat);
            MAT_AT(grad->bias, 0, j) += MAT_AT(dout, i, j);
        }
        mean_d /= C;
        mean_dx /= C;
        for (int j = 0; j < C; j++) {
            double xhat = (MAT_AT(x, i, j) - mean) * rstd;
            double dxhat = (double)MAT_AT(dout, i, j) * MAT_AT(ln->weight, 0, j);
            MAT_AT(dx, i, j) += (float)(rstd * (dxhat - mean_d - xhat * mean_dx));
        }
    }
}
//! [layernorm_backward]

//! [feedforward_backward]
void feedforward_backward(Mat dx, const FeedForward *grad, Mat dout, Mat x, const FeedForward *ff)
{
    int N = x.rows, F = ff->w1.rows;
    Mat h = mat_new(N, F), a = mat_new(N, F), da = mat_new(N, F);
    linear_forward(h, x, ff->w1, ff->b1);   /* the hidden layer, recomputed */
    mat_copy(a, h);
    mat_relu(a);
    linear_backward(da, grad->w2, grad->b2, dout, a, ff->w2);
    relu_backward(da, h);
    linear_backward(dx, grad->w1, grad->b1, da, x, ff->w1);
    mat_free(&h);
    mat_free(&a);
    mat_free(&da);
}
//! [feedforward_backward]

//! [embedding_backward]
void embedding_backward(Mat dtable, Mat dx, const int64_t *ids)
{
    float scale = sqrtf((float)dx.cols);   /* the forward multiplied by sqrt(E) */
    for (int s = 0; s < dx.rows; s++)
        for (int e = 0; e < dx.cols; e++) MAT_AT(dtable, ids[s], e) += scale * MAT_AT(dx, s, e);
}
//! [embedding_backward]
