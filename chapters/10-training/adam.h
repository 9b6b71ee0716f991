/*
 * adam.h - chapter 10: the optimiser and the learning-rate schedule of
 * "Attention Is All You Need" (section 5.3).
 *
 * Adam (Kingma and Ba, 2015), written as torch.optim.Adam computes it:
 *   m = beta1 m + (1 - beta1) g          v = beta2 v + (1 - beta2) g^2
 *   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * The paper's betas are (0.9, 0.98) and eps 1e-9.
 *
 * The schedule: lr(step) = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5),
 * a linear warm-up for `warmup` steps, then decay as 1/sqrt(step).
 */
#ifndef ADAM_H
#define ADAM_H

#include <stddef.h>

typedef struct {
    float beta1, beta2, eps;   /* 0.9, 0.98, 1e-9 in the paper */
    long step;                 /* steps taken so far (t) */
    size_t n;                  /* number of parameters */
    float *m, *v;              /* first and second moments, n each */
} Adam;

/* Moments zero, step 0. */
void adam_init(Adam *a, size_t n, float beta1, float beta2, float eps);
void adam_free(Adam *a);
/* One step: params (n) move against grads (n) with learning rate lr. */
void adam_step(Adam *a, float *params, const float *grads, float lr);

/* The paper's learning rate at step (counting from 1). */
float noam_rate(long step, int d_model, int warmup, float factor);

/* Scales grads (n) so their L2 norm is at most max_norm; returns the norm
 * before scaling (torch.nn.utils.clip_grad_norm_). */
float clip_grad_norm(float *grads, size_t n, float max_norm);

#endif
