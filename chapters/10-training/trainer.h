/*
 * trainer.h - chapter 10: a training run on the copy or reverse task
 * (tasks.h): the model, Adam and its schedule, the loop with a held-out loss
 * at intervals, a progress line, checkpoints, and Ctrl-C that stops cleanly.
 *
 * Every random number of a run comes from a PCG stream named by the seed and
 * a purpose (rng_seed_stream): the initial weights, the held-out pairs, the
 * test pairs, and for step k one stream for its batch and one for its
 * dropout. The data of step k are therefore a function of (seed, k) alone,
 * which is what makes a resumed run bit-identical to an uninterrupted one:
 * a checkpoint needs the seed and the step, never a generator's state.
 */
#ifndef TRAINER_H
#define TRAINER_H

#include <stdint.h>
#include "adam.h"
#include "tasks.h"
#include "transformer.h"
#include "util.h"

/* Everything that decides the numbers of a run (all saved in a checkpoint). */
typedef struct {
    TransformerConfig model;   /* sizes; the vocabularies are the task's */
    int xavier;                /* 1: every matrix re-initialised Xavier-uniform */
    Task task;
    int batch;                 /* B pairs per step */
    uint64_t seed;
    float dropout;             /* the paper's P_drop (0.1) */
    float smoothing;           /* the paper's label smoothing (0.1) */
    float factor;              /* noam_rate's factor */
    int warmup;                /* noam_rate's warm-up steps */
    float lr;                  /* > 0: this constant rate instead of the schedule */
    float clip;                /* > 0: clip the gradient norm to this */
    long steps;                /* the length of the run, where --resume continues to */
} TrainConfig;

typedef struct {
    TrainConfig cfg;
    Transformer m;
    Adam adam;                 /* betas 0.9, 0.98 and eps 1e-9, as the paper */
    long step;                 /* steps done */
    float *loss;               /* (step) the training loss of every step done */
    long loss_cap;
    int points, points_cap;    /* held-out measurements so far */
    float *eval_step;          /* (points) the step of each */
    float *eval_loss;          /* (points) the held-out loss there */
    double seconds;            /* time spent training, over every session */
    TaskData heldout;          /* the fixed held-out pairs */
    float *best;               /* (params.size) the parameters of the lowest held-out loss */
    long best_step;            /* where they were measured */
    float best_loss;           /* that loss (INFINITY before the first measurement) */
} Trainer;

enum { HELDOUT_PAIRS = 128 };

/* A fresh run: a new model (from the seed) and Adam at step 0. */
void trainer_new(Trainer *t, const TrainConfig *c);
void trainer_free(Trainer *t);
/* The learning rate of step k (counting from 1). */
float trainer_rate(const TrainConfig *c, long k);
/* One step on the batch of step t->step + 1; returns its mean loss. */
double trainer_step(Trainer *t, TaskData *batch);
/* The mean loss on the held-out pairs (no dropout), recorded at t->step;
 * the parameters are kept in t->best when it is the lowest so far. */
double trainer_evaluate(Trainer *t);
/* A model holding the best parameters (free with transformer_free). */
void trainer_best_model(Transformer *best, const Trainer *t);
/* n test pairs, drawn from their own stream: never seen in training. */
void trainer_test_data(TaskData *d, const TrainConfig *c, int n);

/* How a run is driven. on_eval (may be NULL) is called after each held-out
 * measurement, e.g. to record the attention for an animation. */
typedef struct {
    long steps;                /* the step to reach (a total, not a count) */
    int eval_every;            /* held-out loss, and checkpoint, every this many steps */
    int print_every;           /* a line on stdout every this many steps (a multiple of
                                  eval_every; 0: at every held-out point) */
    const char *checkpoint;    /* .npz file written then and at the end; NULL: none */
    void (*on_eval)(const Trainer *t, void *ctx);
    void *ctx;
} RunOpts;

/* Trains from t->step to o->steps. Returns 0 when done, 1 when stopped by
 * Ctrl-C (a checkpoint is written first, if there is a path), -1 with err set
 * when a checkpoint cannot be written. */
int trainer_run(Trainer *t, const RunOpts *o, Error *err);

/* Appends one held-out point (used by trainer_evaluate and by checkpoint_load). */
void trainer_record_eval(Trainer *t, float step, float loss);
/* Appends the loss of one step. */
void trainer_record_loss(Trainer *t, float loss);

#endif
