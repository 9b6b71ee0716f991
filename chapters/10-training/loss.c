/*
 * loss.c - chapter 10: cross-entropy with label smoothing (see loss.h).
 */
#include "loss.h"

#include <math.h>
#include "ops.h"

int loss_count(const int64_t *target, int n)
{
    int count = 0;
    for (int i = 0; i < n; i++) count += target[i] != IGNORE_ID;
    return count;
}

//! [cross_entropy_backward]
double cross_entropy_backward(Mat dlogits, Mat logits, const int64_t *target, float smoothing,
                              float inv_count)
{
    int V = logits.cols;
    double total = 0.0;
    mat_copy(dlogits, logits);
    log_softmax_rows(dlogits);                     /* log p, finite everywhere */
    for (int t = 0; t < logits.rows; t++) {
        if (target[t] == IGNORE_ID) {
            mat_fill(mat_rows(dlogits, t, 1), 0.0f);
            continue;
        }
        double loss = 0.0;
        for (int c = 0; c < V; c++) {
            double logp = MAT_AT(dlogits, t, c);
            double q = smoothing / V + (c == target[t] ? 1.0 - smoothing : 0.0);
            loss -= q * logp;
            MAT_AT(dlogits, t, c) = (float)((exp(logp) - q) * inv_count);   /* (p - q) / count */
        }
        total += loss;
    }
    return total;
}
//! [cross_entropy_backward]
