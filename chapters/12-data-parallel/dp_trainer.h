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
 * Chapter 11's pronunciation model trains the same way (dp_g2p_train):
 * every rank builds the epoch's bucketed batches from (seed, epoch), takes
 * its rows of step k's batch, and rank 0 alone measures the development
 * words and writes chapter 11's checkpoints (ch11 train --resume and ch12
 * --task g2p --resume continue each other's runs).
 * Collective: every rank calls each function here, in the same order.
 */
#ifndef DP_TRAINER_H
#define DP_TRAINER_H

#include "data_parallel.h"
#include "g2p_train.h"
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

/* ------------------------------------------- chapter 11's model */

/* Rank 0's G2pRun (new or loaded from a checkpoint) on every rank: the
 * recipe, the parameters, Adam's moments and the step count. The other
 * ranks' r is made here (g2p_run_new) and keeps no history. */
void dp_share_g2p_run(DataParallel *dp, G2pRun *r);

/* Step r->step + 1 of chapter 11's run: its batch (g2p_step_batch, the
 * whole batch on every rank), this rank's rows of it, the dropout stream
 * moved past the rows before them, dp_backward, and the recipe's Adam step.
 * Returns the whole batch's mean loss; *tokens (may be NULL) gets the
 * batch's target tokens, the C of dp_backward. */
double dp_g2p_step(DataParallel *dp, G2pRun *r, Batcher *b, long *tokens);

/* Trains from r->step to r->rc.steps, as chapter 11's g2p_train: every
 * r->rc.eval_every steps (and after the last) a check that the ranks'
 * parameters are still identical, then rank 0's development measurement
 * (g2p_measure: the line, the best model, the checkpoint). SIGINT or
 * SIGTERM stop every rank after the same step, rank 0 writing the
 * checkpoint. Returns 0 when done, 1 when stopped, -1 with err set (on
 * every rank) on a failure. */
int dp_g2p_train(DataParallel *dp, G2pRun *r, const Lexicon *train, const Lexicon *dev,
                 const RunFiles *f, Error *err);

/* The signal that stopped the last dp_run or dp_g2p_train (SIGINT or
 * SIGTERM, the same on every rank), 0 if none did. */
int dp_stop_signal(void);

#endif
