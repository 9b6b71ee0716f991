/*
 * dp_trainer.h - chapter 12: chapter 10's training runs (the copy and
 * reverse tasks) on N ranks.
 *
 * Every rank holds the same Trainer's model and Adam; they stay identical
 * because every rank starts from the same numbers (dp_share_trainer) and
 * applies the same update, computed from the same all-reduced gradient.
 * Rank 0 alone keeps the run's history (losses, held-out points, the best
 * parameters), prints, and writes the checkpoints, which are chapter 10's
 * files: ch10 --resume continues a run of ch12, and the other way round.
 * The data of step k come from the stream of (seed, k), as in chapter 10:
 * every rank draws the whole batch (576 numbers for 64 pairs) and keeps its
 * rows, so a run gives chapter 10's numbers, to float rounding, on any
 * number of ranks.
 * Collective: every rank calls each function here, in the same order.
 */
#ifndef DP_TRAINER_H
#define DP_TRAINER_H

#include "data_parallel.h"
#include "tasks.h"
#include "trainer.h"
#include "util.h"

/* Rank 0's Trainer (new or loaded from a checkpoint) on every rank: the
 * settings, the parameters, Adam's moments and the step count. The other
 * ranks' t is made here (trainer_new) and keeps no history. */
void dp_share_trainer(DataParallel *dp, Trainer *t);

/* One step on the batch of step t->step + 1, this rank's rows of it;
 * returns the whole batch's mean loss. */
double dp_trainer_step(DataParallel *dp, Trainer *t, TaskData *batch);

/* The held-out loss, each rank on its share of the held-out pairs; rank 0
 * records it and keeps the parameters when it is the lowest so far. */
double dp_evaluate(DataParallel *dp, Trainer *t);

/* task_exact_match with the pairs of d shared out among the ranks. */
double dp_exact_match(DataParallel *dp, const Transformer *m, const TaskData *d);

/* Trains from t->step to o->steps, as trainer_run: a held-out loss, a check
 * that the ranks' parameters are still identical, and a checkpoint (by
 * rank 0) every o->eval_every steps. Ctrl-C (SIGINT, or the SIGTERM mpirun
 * sends its ranks) stops every rank after the same step; so does a loss
 * of NaN or Inf (never checkpointed). Returns 0 when done, 1 when stopped,
 * -1 with err set (on every rank) on a failure. */
int dp_run(DataParallel *dp, Trainer *t, const RunOpts *o, Error *err);

#endif
