/**
 * \file trainer.h
 * \brief Chapter 10: a training run on the copy or reverse task
 * (tasks.h): the model, Adam and its schedule, the loop with a held-out loss
 * at intervals, a progress line, checkpoints, and Ctrl-C that stops cleanly.
 *
 * Every random number of a run comes from a PCG stream named by the seed and
 * a purpose (rng_seed_stream): the initial weights, the held-out pairs, the
 * test pairs, and for step k one stream for its batch and one for its
 * dropout. The data of step k are therefore a function of (seed, k) alone,
 * which is what makes a resumed run bit-identical to an uninterrupted one:
 * a checkpoint needs the seed and the step, never a generator's state.
 * \ingroup api_ch10
 */
#ifndef TRAINER_H
#define TRAINER_H

#include <stdint.h>
#include "adam.h"
#include "tasks.h"
#include "transformer.h"
#include "util.h"

/** \addtogroup api_ch10
 *  @{ */

/** \brief Everything that decides the numbers of a run (all saved in a checkpoint). */
typedef struct {
    TransformerConfig model;   ///< sizes; the vocabularies are the task's
    int xavier;                ///< 1: every matrix re-initialised Xavier-uniform
    Task task;                 ///< copy or reverse
    int batch;                 ///< B pairs per step
    uint64_t seed;             ///< names every random stream of the run
    float dropout;             ///< the paper's P_drop (0.1)
    float smoothing;           ///< the paper's label smoothing (0.1)
    float factor;              ///< noam_rate's factor
    int warmup;                ///< noam_rate's warm-up steps
    float lr;                  ///< > 0: this constant rate instead of the schedule
    float clip;                ///< > 0: clip the gradient norm to this
    long steps;                ///< the length of the run, where --resume continues to
} TrainConfig;

/** \brief A training run: its settings, model, optimiser, history and best parameters. */
typedef struct {
    TrainConfig cfg;           ///< the settings
    Transformer m;             ///< the model being trained
    Adam adam;                 ///< betas 0.9, 0.98 and eps 1e-9, as the paper
    long step;                 ///< steps done
    float *loss;               ///< (step) the training loss of every step done
    long loss_cap;             ///< room in loss
    int points,                ///< held-out measurements so far
        points_cap;            ///< room for them
    float *eval_step;          ///< (points) the step of each
    float *eval_loss;          ///< (points) the held-out loss there
    double seconds;            ///< time spent training, over every session
    TaskData heldout;          ///< the fixed held-out pairs
    float *best;               ///< (params.size) the parameters of the lowest held-out loss
    long best_step;            ///< where they were measured
    float best_loss;           ///< that loss (INFINITY before the first measurement)
} Trainer;

/** \brief The size of the held-out set. */
enum { HELDOUT_PAIRS = 128 };

/**
 * \brief A fresh run: a new model (from the seed) and Adam at step 0.
 * \param[out] t the run, to release with trainer_free
 * \param c the settings
 */
void trainer_new(Trainer *t, const TrainConfig *c);
/**
 * \brief Releases the model, Adam's moments, the history and the held-out pairs.
 * \param t the run
 */
void trainer_free(Trainer *t);
/**
 * \brief Xavier-uniform initialisation of every matrix of a model (the
 * vectors keep theirs), as The Annotated Transformer does.
 * \param m the model
 * \param r the random generator
 */
void transformer_init_xavier(Transformer *m, Rng *r);
/**
 * \brief The learning rate of step k (counting from 1).
 * \param c the settings: the schedule, or a constant lr
 * \param k the step, from 1
 * \return the rate
 */
float trainer_rate(const TrainConfig *c, long k);
/**
 * \brief One step on the batch of step t->step + 1.
 * \param t the run; its model, Adam, step and history advance
 * \param[out] batch room for B pairs (task_data_new), filled with the step's pairs
 * \return the step's mean loss
 */
double trainer_step(Trainer *t, TaskData *batch);
/**
 * \brief The mean loss on the held-out pairs (no dropout), recorded at t->step;
 * the parameters are kept in t->best when it is the lowest so far.
 * \param t the run
 * \return the held-out loss
 */
double trainer_evaluate(Trainer *t);
/**
 * \brief A model holding the best parameters.
 * \param[out] best the model, to release with transformer_free
 * \param t the run
 */
void trainer_best_model(Transformer *best, const Trainer *t);
/**
 * \brief n test pairs, drawn from their own stream: never seen in training.
 * \param[out] d the pairs, to release with task_data_free
 * \param c the settings (the task and the seed)
 * \param n the number of pairs
 */
void trainer_test_data(TaskData *d, const TrainConfig *c, int n);

/**
 * \brief How a run is driven. on_eval (may be NULL) is called after each
 * held-out measurement, e.g. to record the attention for an animation.
 */
typedef struct {
    long steps;                ///< the step to reach (a total, not a count)
    int eval_every;            ///< held-out loss, and checkpoint, every this many steps
    int print_every;           ///< \brief a line on stdout every this many steps (a multiple
                               ///< of eval_every; 0: at every held-out point)
    const char *checkpoint;    ///< .npz file written then and at the end; NULL: none
    void (*on_eval)(const Trainer *t, void *ctx);   ///< called with ctx, or NULL
    void *ctx;                 ///< passed to on_eval
} RunOpts;

/**
 * \brief Trains from t->step to o->steps.
 *
 * A checkpoint on disk is always one that --resume can continue: it is
 * written atomically, and never from a state that holds NaN or Inf.
 * \param t the run
 * \param o the length, the intervals, the checkpoint and on_eval
 * \param[out] err the message when a checkpoint cannot be written, or when a
 *             loss is NaN or Inf (it names the step and the checkpoint kept)
 * \return 0 when done, 1 when stopped by SIGINT (Ctrl-C) or SIGTERM (a
 *         checkpoint is written first, if there is a path; see
 *         trainer_stop_signal), -1 with err set when a checkpoint cannot be
 *         written or the loss is not finite (training stops at that step)
 */
int trainer_run(Trainer *t, const RunOpts *o, Error *err);
/**
 * \brief The signal that stopped the last trainer_run.
 * \return SIGINT or SIGTERM, or 0 if it was not stopped by one
 */
int trainer_stop_signal(void);

/**
 * \brief The training loss at every held-out point, for a figure beside the
 * held-out loss: the mean loss of the steps since the point before.
 * \param t the run
 * \return (t->points) floats, NaN at a point no step came before (a run
 *         resumed and measured at once); to release with free
 */
float *trainer_point_losses(const Trainer *t);

/**
 * \brief Appends one held-out point (used by trainer_evaluate and by checkpoint_load).
 * \param t the run
 * \param step the step it was measured at
 * \param loss the held-out loss
 */
void trainer_record_eval(Trainer *t, float step, float loss);
/**
 * \brief Appends the loss of one step.
 * \param t the run
 * \param loss the step's mean loss
 */
void trainer_record_loss(Trainer *t, float loss);

/** @} */

#endif
