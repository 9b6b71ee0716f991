/*
 * adam.c - chapter 10: Adam, the warm-up schedule and gradient clipping
 * (see adam.h).
 */
#include "adam.h"

#include <math.h>
#include <stdlib.h>
#include "parallel.h"
#include "util.h"

void adam_init(Adam *a, size_t n, float beta1, float beta2, float eps)
{
    a->beta1 = beta1;
    a->beta2 = beta2;
    a->eps = eps;
    a->step = 0;
    a->n = n;
    a->m = xcalloc(n, sizeof(float), "Adam's first moments");
    a->v = xcalloc(n, sizeof(float), "Adam's second moments");
}

void adam_free(Adam *a)
{
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

//! [adam_step]
void adam_step(Adam *a, float *params, const float *grads, float lr)
{
    a->step++;
    double bias1 = 1.0 - pow(a->beta1, (double)a->step);   /* corrects the moments' */
    double bias2 = 1.0 - pow(a->beta2, (double)a->step);   /* start at zero */
    float step_size = (float)(lr / bias1), root2 = (float)sqrt(bias2);
    /* Each entry is updated on its own: threads share them out. */
    OMP(omp parallel for schedule(static) if (a->n >= 65536))
    for (size_t i = 0; i < a->n; i++) {
        float g = grads[i];
        a->m[i] = a->beta1 * a->m[i] + (1.0f - a->beta1) * g;
        a->v[i] = a->beta2 * a->v[i] + (1.0f - a->beta2) * g * g;
        float denom = sqrtf(a->v[i]) / root2 + a->eps;
        params[i] -= step_size * a->m[i] / denom;
    }
}
//! [adam_step]

//! [noam_rate]
float noam_rate(long step, int d_model, int warmup, float factor)
{
    double s = step < 1 ? 1.0 : (double)step;
    double warm = s * pow((double)warmup, -1.5), decay = 1.0 / sqrt(s);
    return (float)(factor / sqrt((double)d_model) * (warm < decay ? warm : decay));
}
//! [noam_rate]

float clip_grad_norm(float *grads, size_t n, float max_norm)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)grads[i] * grads[i];
    float norm = (float)sqrt(sum);
    float scale = max_norm / (norm + 1e-6f);   /* as PyTorch: max_norm / (norm + 1e-6) */
    if (scale < 1.0f)
        for (size_t i = 0; i < n; i++) grads[i] *= scale;
    return norm;
}
