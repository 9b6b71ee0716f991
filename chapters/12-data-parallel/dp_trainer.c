/*
 * dp_trainer.c - chapter 12: training runs on N ranks (see dp_trainer.h and
 * the chapter page).
 */
#include "dp_trainer.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "adam.h"
#include "checkpoint.h"
#include "report.h"

/* The random streams of chapter 10's trainer.c: the batch of step k is
 * drawn from stream STEP_STREAMS + 2k of the run's seed, its dropout from
 * stream STEP_STREAMS + 2k + 1. The same numbers here give the same data. */
enum { STEP_STREAMS = 4 };

/* ------------------------------------------------------- sharing a run */

/* MPI counts are ints; a model has fewer than 2^31 parameters. */
static void bcast_floats(float *x, size_t n, MPI_Comm comm)
{
    MPI_Bcast(x, (int)n, MPI_FLOAT, 0, comm);
}

void dp_share_trainer(DataParallel *dp, Trainer *t)
{
    /* The settings as bytes: the machines of one run share one architecture. */
    TrainConfig c;
    if (dp->rank == 0) c = t->cfg;
    MPI_Bcast(&c, (int)sizeof c, MPI_BYTE, 0, dp->comm);
    if (dp->rank != 0) trainer_new(t, &c);   /* the shapes, the held-out pairs */
    long steps[2] = {t->step, t->adam.step};
    MPI_Bcast(steps, 2, MPI_LONG, 0, dp->comm);
    t->step = steps[0];
    t->adam.step = steps[1];
    bcast_floats(t->m.params.data, t->m.params.size, dp->comm);
    bcast_floats(t->adam.m, t->adam.n, dp->comm);
    bcast_floats(t->adam.v, t->adam.n, dp->comm);
}

/* ------------------------------------------------------- one step */

//! [dp_trainer_step]
double dp_trainer_step(DataParallel *dp, Trainer *t, TaskData *batch)
{
    long k = t->step + 1;                        /* this step, counting from 1 */
    Rng data, drop;
    rng_seed_stream(&data, t->cfg.seed, STEP_STREAMS + 2 * (uint64_t)k);
    rng_seed_stream(&drop, t->cfg.seed, STEP_STREAMS + 2 * (uint64_t)k + 1);
    task_data_fill(batch, t->cfg.task, &data);   /* the whole batch, on every rank */
    Batch all = task_data_batch(batch);
    Shard s = shard_rows(all.B, dp->rank, dp->size);
    Batch mine = batch_rows(&all, s);
    if (t->cfg.dropout > 0.0f)                   /* past the masks of the rows before mine */
        rng_skip(&drop, (uint64_t)s.lo * dropout_draws(&t->cfg.model, all.S, all.T));

    double loss = dp_backward(dp, &t->m, &mine, t->cfg.smoothing, t->cfg.dropout, &drop);
    if (t->cfg.clip > 0.0f) clip_grad_norm(t->m.params.grad, t->m.params.size, t->cfg.clip);
    adam_step(&t->adam, t->m.params.data, t->m.params.grad, trainer_rate(&t->cfg, k));

    if (dp->rank == 0) trainer_record_loss(t, (float)loss);   /* the history is rank 0's */
    t->step = k;
    return loss;
}
//! [dp_trainer_step]

double dp_evaluate(DataParallel *dp, Trainer *t)
{
    Batch all = task_data_batch(&t->heldout);
    Batch mine = batch_rows(&all, shard_rows(all.B, dp->rank, dp->size));
    double loss = dp_loss(dp, &t->m, &mine, t->cfg.smoothing);
    if (dp->rank == 0) {   /* as trainer_evaluate does */
        trainer_record_eval(t, (float)t->step, (float)loss);
        if ((float)loss < t->best_loss) {
            t->best_loss = (float)loss;
            t->best_step = t->step;
            memcpy(t->best, t->m.params.data, t->m.params.size * sizeof(float));
        }
    }
    return loss;
}

double dp_exact_match(DataParallel *dp, const Transformer *m, const TaskData *d)
{
    Shard s = shard_rows(d->B, dp->rank, dp->size);
    TaskData mine = *d;   /* a view of my pairs */
    mine.B = s.n;
    mine.src += (size_t)s.lo * (size_t)d->S;
    mine.tgt += (size_t)s.lo * (size_t)d->T;
    mine.tgt_out += (size_t)s.lo * (size_t)d->T;
    double right = s.n > 0 ? task_exact_match(m, &mine) * s.n : 0.0;
    MPI_Allreduce(MPI_IN_PLACE, &right, 1, MPI_DOUBLE, MPI_SUM, dp->comm);
    return d->B > 0 ? right / d->B : 0.0;
}

/* ------------------------------------------------------- the loop */

/* Ctrl-C at the terminal reaches mpirun, which sends its ranks SIGTERM (and
 * SIGKILL a few seconds later); a rank started alone gets SIGINT. Either
 * sets a flag the loop reads between two steps. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void catch_signals(struct sigaction old[2])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = (int)SA_RESETHAND;   /* the second one is the default one */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
    interrupted = 0;
}

/* 1 on every rank if any rank was interrupted: all stop after the same step. */
static int any_interrupted(const DataParallel *dp)
{
    int mine = interrupted, any;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, dp->comm);
    return any;
}

/* Rank 0 writes; every rank learns whether it could. */
static int save_checkpoint(const DataParallel *dp, const Trainer *t, const char *path, Error *err)
{
    int rc = dp->rank == 0 ? checkpoint_save(path, t, err) : 0;
    MPI_Bcast(&rc, 1, MPI_INT, 0, dp->comm);
    if (rc != 0 && dp->rank != 0) error_set(err, "%s: rank 0 could not write it", path);
    return rc;
}

/* Training went bad (a loss of NaN or Inf, the same on every rank since it
 * is all-reduced): stop, and keep the last checkpoint, written before. */
static int diverged(const Trainer *t, const RunOpts *o, long kept, const char *what,
                    double value, Error *err)
{
    char left[400];
    if (!o->checkpoint) snprintf(left, sizeof left, "there is no checkpoint");
    else if (kept < 0) snprintf(left, sizeof left, "no checkpoint was written yet");
    else snprintf(left, sizeof left, "the checkpoint %s (step %ld) is kept", o->checkpoint, kept);
    return error_set(err, "step %ld: %s %s: training stopped; %s (a smaller learning rate, "
                     "or --clip, may help)", t->step, what, isnan(value) ? "NaN" : "Inf", left);
}

/* The mean training loss of steps (from, to] (rank 0's history). */
static double mean_loss(const Trainer *t, long from, long to)
{
    double sum = 0.0;
    for (long k = from; k < to; k++) sum += t->loss[k];
    return to > from ? sum / (double)(to - from) : 0.0;
}

/* The line of a held-out point, as chapter 10 prints it (rank 0). */
static void report(const Trainer *t, long *last, const Progress *p, double heldout)
{
    if (p && p->tty) fputs("\r\033[K", p->fp);
    printf("step %5ld  train loss %.4f  held-out loss %.4f  lr %.2e\n", t->step,
           t->step > *last ? mean_loss(t, *last, t->step) : heldout, heldout,
           (double)trainer_rate(&t->cfg, t->step > 0 ? t->step : 1));
    fflush(stdout);
    *last = t->step;
}

//! [dp_run]
int dp_run(DataParallel *dp, Trainer *t, const RunOpts *o, Error *err)
{
    struct sigaction old[2];
    catch_signals(old);
    TaskData batch;
    task_data_new(&batch, t->cfg.batch);
    int root = dp->rank == 0;
    Progress p;
    if (root) progress_start(&p, stderr, "train", o->steps - t->step);
    long first = t->step, printed = t->step;
    double base = t->seconds, spent = 0.0;
    char extra[96] = "";
    int fresh = root && t->points == 0;          /* only rank 0 knows the history */
    MPI_Bcast(&fresh, 1, MPI_INT, 0, dp->comm);
    if (fresh) {                                 /* the untrained model */
        double heldout = dp_evaluate(dp, t);
        if (root) report(t, &printed, NULL, heldout);
        if (o->on_eval) o->on_eval(t, o->ctx);
    }
    int rc = 0;
    long kept = -1;                              /* the step of the last checkpoint */
    while (rc == 0 && t->step < o->steps) {
        if (any_interrupted(dp)) {
            rc = 1;
            if (o->checkpoint && save_checkpoint(dp, t, o->checkpoint, err) != 0) rc = -1;
            break;
        }
        double start = MPI_Wtime();
        double loss = dp_trainer_step(dp, t, &batch);
        spent += MPI_Wtime() - start;
        t->seconds = base + spent;
        if (!isfinite(loss)) {
            rc = diverged(t, o, kept, "the training loss is", loss, err);
            break;
        }
        if (root) {
            snprintf(extra, sizeof extra, "loss %.4f  %.0f tokens/s", loss,
                     (double)(t->step - first) * batch.B * batch.T / spent);
            progress_update(&p, t->step - first, extra);
        }
        int last = t->step == o->steps;
        if (t->step % o->eval_every == 0 || last) {
            double heldout = dp_evaluate(dp, t);
            if (!isfinite(heldout)) {
                rc = diverged(t, o, kept, "the held-out loss is", heldout, err);
                break;
            }
            if (root && (o->print_every <= 0 || t->step % o->print_every == 0 || last))
                report(t, &printed, &p, heldout);
            if (o->on_eval) o->on_eval(t, o->ctx);
            if (!same_on_all_ranks(t->m.params.data, t->m.params.size, dp->comm))
                rc = error_set(err, "the ranks' parameters differ after step %ld", t->step);
            else if (o->checkpoint && save_checkpoint(dp, t, o->checkpoint, err) != 0) rc = -1;
            else kept = t->step;
        }
    }
    if (root) progress_end(&p, extra);
    task_data_free(&batch);
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
    return rc;
}
//! [dp_run]
