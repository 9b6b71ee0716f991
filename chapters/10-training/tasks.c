/*
 * tasks.c - chapter 10: the copy and reverse tasks (see tasks.h).
 */
#include "tasks.h"

#include <stdlib.h>
#include <string.h>
#include "util.h"

int task_parse(const char *name, Task *t)
{
    if (strcmp(name, "copy") == 0) *t = TASK_COPY;
    else if (strcmp(name, "reverse") == 0) *t = TASK_REVERSE;
    else return -1;
    return 0;
}

const char *task_name(Task t)
{
    return t == TASK_COPY ? "copy" : "reverse";
}

const char *task_token(int64_t id)
{
    static const char *const names[TASK_VOCAB] = {"pad", "<s>", "A", "B", "C", "D",
                                                  "E",   "F",   "G", "H", "I"};
    return id >= 0 && id < TASK_VOCAB ? names[id] : "?";
}

void task_data_new(TaskData *d, int B)
{
    d->B = B;
    d->S = TASK_LEN;
    d->T = TASK_LEN - 1;
    d->src = xcalloc((size_t)B * d->S, sizeof(int64_t), "task sources");
    d->tgt = xcalloc((size_t)B * d->T, sizeof(int64_t), "task targets");
    d->tgt_out = xcalloc((size_t)B * d->T, sizeof(int64_t), "task target outputs");
}

void task_data_free(TaskData *d)
{
    free(d->src);
    free(d->tgt);
    free(d->tgt_out);
    d->src = d->tgt = d->tgt_out = NULL;
}

//! [task_pair]
/* One pair: x = BOS x1 ... x9 and its answer y = BOS y1 ... y9; the decoder
 * reads y0 ... y8 and must predict y1 ... y9.
 *   src: S ids   tgt, tgt_out: S - 1 ids */
static void task_pair(int64_t *src, int64_t *tgt, int64_t *tgt_out, Task task, Rng *r)
{
    int64_t y[TASK_LEN];
    src[0] = y[0] = TASK_BOS;
    for (int i = 1; i < TASK_LEN; i++) src[i] = TASK_FIRST + rng_below(r, TASK_VOCAB - TASK_FIRST);
    for (int i = 1; i < TASK_LEN; i++) y[i] = task == TASK_COPY ? src[i] : src[TASK_LEN - i];
    for (int t = 0; t < TASK_LEN - 1; t++) {
        tgt[t] = y[t];           /* teacher forcing: the right answer so far ... */
        tgt_out[t] = y[t + 1];   /* ... and the next token to predict */
    }
}
//! [task_pair]

void task_data_fill(TaskData *d, Task task, Rng *r)
{
    for (int b = 0; b < d->B; b++)
        task_pair(d->src + (size_t)b * d->S, d->tgt + (size_t)b * d->T,
                  d->tgt_out + (size_t)b * d->T, task, r);
}

Batch task_data_batch(const TaskData *d)
{
    Batch b = {d->B, d->S, d->T, d->src, d->tgt, d->tgt_out};
    return b;
}

//! [task_exact_match]
double task_exact_match(const Transformer *m, const TaskData *d)
{
    int64_t out[TASK_LEN];
    int right = 0;
    for (int b = 0; b < d->B; b++) {
        /* No end symbol: decode until BOS + 9 tokens (eos -1 never matches). */
        greedy_decode(out, TASK_LEN, m, d->src + (size_t)b * d->S, d->S, TASK_BOS, -1);
        right += memcmp(out + 1, d->tgt_out + (size_t)b * d->T, (size_t)d->T * sizeof out[0]) == 0;
    }
    return d->B > 0 ? (double)right / d->B : 0.0;
}
//! [task_exact_match]
