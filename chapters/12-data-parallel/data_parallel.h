/*
 * data_parallel.h - chapter 12: the gradient of a batch computed by N
 * processes (MPI ranks) at once, each on a share of its rows.
 *
 * Every rank holds the same model. Rank r takes a contiguous share of the
 * batch's rows (shard_rows), computes with chapter 10's transformer_backward
 * the mean loss and gradient of its rows, weights them by its share of the
 * batch's target tokens, c_r / C, and an all-reduce (allreduce.h) adds the
 * weighted shares up. Since the batch's loss is a sum over target tokens
 * divided by their count C,
 *     loss = (1 / C) sum_r sum_{tokens of rank r} loss_t = sum_r (c_r / C) mean_r,
 * every rank ends with the loss and gradient of the whole batch, as one
 * process computes them, up to float rounding (the sums are added in
 * another order). With one rank c_r / C is exactly 1 and nothing changes.
 *
 * Dropout draws random numbers row after row; to give every row the mask it
 * gets in one process, a rank first moves its stream past the numbers of
 * the rows before its own (rng_skip, dropout_draws).
 * Sizes: B pairs in the batch, S source length, T target length.
 * Assumes MPI is initialised. Introduced with chapter 12; the capstone's
 * training loop calls dp_backward in place of transformer_backward.
 */
#ifndef DATA_PARALLEL_H
#define DATA_PARALLEL_H

#include <stdint.h>
#include <mpi.h>
#include "allreduce.h"
#include "rng.h"
#include "train.h"
#include "transformer.h"

/* Rows [lo, lo + n) of a batch. */
typedef struct {
    int lo, n;
} Shard;

/* The rows rank `rank` of `size` takes from a batch of B: contiguous, the
 * first B % size ranks one row more than the others (n is 0 when B < size). */
Shard shard_rows(int B, int rank, int size);
/* The rows of s as a batch of its own (a view into b: nothing is copied). */
Batch batch_rows(const Batch *b, Shard s);

/* Moves r on by n draws in O(log n) steps: the same state as n calls of
 * rng_u32 (PCG's jump-ahead, Brown 1994). */
void rng_skip(Rng *r, uint64_t n);
/* How many random numbers dropout draws for one pair of S and T tokens in
 * chapter 10's forward pass (one per entry it may zero). */
uint64_t dropout_draws(const TransformerConfig *c, int S, int T);

/* The ranks working together, and where their time goes. */
typedef struct {
    MPI_Comm comm;
    int rank, size;          /* this process, and how many there are */
    AllreduceKind kind;      /* how gradients are summed */
    double compute;          /* seconds in forward and backward passes so far */
    double exchange;         /* seconds in all-reduces so far, waiting for slower ranks included */
} DataParallel;

void dp_init(DataParallel *dp, MPI_Comm comm, AllreduceKind kind);

/* Collective. `mine` is this rank's share of a batch (a Shard of it), `drop`
 * the batch's dropout stream already moved to the first row of `mine`.
 * Writes d loss / d parameter of the WHOLE batch into m->params.grad and
 * returns the whole batch's mean loss, the same on every rank. */
double dp_backward(DataParallel *dp, Transformer *m, const Batch *mine, float smoothing,
                   float dropout, Rng *drop);

/* Collective. The whole batch's mean loss, from each rank's share (no gradients). */
double dp_loss(DataParallel *dp, const Transformer *m, const Batch *mine, float smoothing);

#endif
