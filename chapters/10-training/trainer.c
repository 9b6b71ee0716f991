/*
 * trainer.c - chapter 10: a training run (see trainer.h and the chapter
 * page, README.md).
 */
#include "trainer.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checkpoint.h"
#include "loss.h"
#include "report.h"

/* ------------------------------------------------------ random streams */

/* The purposes of a run's streams; step k uses STREAM_STEPS + 2k (its
 * batch) and STREAM_STEPS + 2k + 1 (its dropout). */
enum { STREAM_INIT = 1, STREAM_HELDOUT, STREAM_TEST, STREAM_STEPS };

static void stream(Rng *r, uint64_t seed, uint64_t purpose)
{
    rng_seed_stream(r, seed, purpose);
}

/* ------------------------------------------------------ a new run */

/* Xavier-uniform for every matrix, as The Annotated Transformer does. With
 * PyTorch's N(0, 1) embeddings times sqrt(E), a token's vector is about 5.7
 * per entry at E = 32 and drowns the positional encoding (entries in
 * [-1, 1]); Xavier's are about 1, so the positions are heard from the start. */
void transformer_init_xavier(Transformer *m, Rng *r)
{
    for (int i = 0; i < m->params.count; i++) {
        const Param *p = &m->params.items[i];
        if (p->ndim == 2)
            mat_rand_xavier(mat_wrap(m->params.data + p->offset, p->rows, p->cols), r, 1.0f);
    }
}

void trainer_new(Trainer *t, const TrainConfig *c)
{
    memset(t, 0, sizeof *t);
    t->cfg = *c;
    t->cfg.model.Vs = t->cfg.model.Vt = TASK_VOCAB;
    Rng r;
    stream(&r, c->seed, STREAM_INIT);
    transformer_new(&t->m, &t->cfg.model, &r);
    if (c->xavier) transformer_init_xavier(&t->m, &r);
    params_alloc_grad(&t->m.params);
    adam_init(&t->adam, t->m.params.size, 0.9f, 0.98f, 1e-9f);
    t->best = xcalloc(t->m.params.size, sizeof(float), "the best parameters");
    t->best_loss = INFINITY;
    task_data_new(&t->heldout, HELDOUT_PAIRS);
    stream(&r, c->seed, STREAM_HELDOUT);
    task_data_fill(&t->heldout, c->task, &r);
}

void trainer_free(Trainer *t)
{
    transformer_free(&t->m);
    adam_free(&t->adam);
    task_data_free(&t->heldout);
    free(t->loss);
    free(t->eval_step);
    free(t->eval_loss);
    free(t->best);
    memset(t, 0, sizeof *t);
}

void trainer_test_data(TaskData *d, const TrainConfig *c, int n)
{
    Rng r;
    stream(&r, c->seed, STREAM_TEST);
    task_data_new(d, n);
    task_data_fill(d, c->task, &r);
}

float *trainer_point_losses(const Trainer *t)
{
    float *train = xcalloc((size_t)t->points, sizeof *train, "train losses");
    for (int i = 0; i < t->points; i++) {
        long from = i > 0 ? (long)t->eval_step[i - 1] : 0, to = (long)t->eval_step[i];
        double sum = 0.0;
        for (long k = from; k < to; k++) sum += t->loss[k];
        train[i] = to > from ? (float)(sum / (double)(to - from)) : NAN;   /* NaN: no point */
    }
    return train;
}

void trainer_record_loss(Trainer *t, float loss)
{
    if (t->step >= t->loss_cap) {
        t->loss_cap = t->loss_cap ? 2 * t->loss_cap : 1024;
        t->loss = xrealloc(t->loss, (size_t)t->loss_cap, sizeof *t->loss, "the loss history");
    }
    t->loss[t->step] = loss;
}

void trainer_record_eval(Trainer *t, float step, float loss)
{
    if (t->points == t->points_cap) {
        t->points_cap = t->points_cap ? 2 * t->points_cap : 64;
        t->eval_step = xrealloc(t->eval_step, (size_t)t->points_cap, sizeof(float), "eval steps");
        t->eval_loss = xrealloc(t->eval_loss, (size_t)t->points_cap, sizeof(float), "eval losses");
    }
    t->eval_step[t->points] = step;
    t->eval_loss[t->points] = loss;
    t->points++;
}

/* ------------------------------------------------------ one step */

float trainer_rate(const TrainConfig *c, long k)
{
    return c->lr > 0.0f ? c->lr : noam_rate(k, c->model.E, c->warmup, c->factor);
}

//! [trainer_step]
double trainer_step(Trainer *t, TaskData *batch)
{
    long k = t->step + 1;                        /* this step, counting from 1 */
    Rng data, drop;
    stream(&data, t->cfg.seed, STREAM_STEPS + 2 * (uint64_t)k);
    stream(&drop, t->cfg.seed, STREAM_STEPS + 2 * (uint64_t)k + 1);
    task_data_fill(batch, t->cfg.task, &data);
    Batch b = task_data_batch(batch);

    double loss = transformer_backward(&t->m, &b, t->cfg.smoothing, t->cfg.dropout, &drop);
    if (t->cfg.clip > 0.0f) clip_grad_norm(t->m.params.grad, t->m.params.size, t->cfg.clip);
    adam_step(&t->adam, t->m.params.data, t->m.params.grad, trainer_rate(&t->cfg, k));

    trainer_record_loss(t, (float)loss);
    t->step = k;
    return loss;
}
//! [trainer_step]

double trainer_evaluate(Trainer *t)
{
    Batch b = task_data_batch(&t->heldout);
    double loss = transformer_loss(&t->m, &b, t->cfg.smoothing);
    trainer_record_eval(t, (float)t->step, (float)loss);
    if ((float)loss < t->best_loss) {
        t->best_loss = (float)loss;
        t->best_step = t->step;
        memcpy(t->best, t->m.params.data, t->m.params.size * sizeof(float));
    }
    return loss;
}

void trainer_best_model(Transformer *best, const Trainer *t)
{
    Rng r;
    rng_seed(&r, 0);   /* the random weights are overwritten at once */
    transformer_new(best, &t->m.cfg, &r);
    memcpy(best->params.data, t->best, t->m.params.size * sizeof(float));
}

/* ------------------------------------------------------ the loop */

/* Ctrl-C (SIGINT) or SIGTERM (what `kill` and a shutting-down system send)
 * sets a flag that the loop reads between two steps, so a run never stops
 * half-way through a step or a file. A second one stops at once. */
static volatile sig_atomic_t interrupted;   /* the signal, 0 if none */

static void on_interrupt(int sig)
{
    interrupted = sig;
}

int trainer_stop_signal(void) { return (int)interrupted; }

/* The mean training loss of steps (from, to]. */
static double mean_loss(const Trainer *t, long from, long to)
{
    double sum = 0.0;
    for (long k = from; k < to; k++) sum += t->loss[k];
    return to > from ? sum / (double)(to - from) : 0.0;
}

/* The line of a held-out measurement, "step 100  train loss 0.61 ...", with
 * the mean training loss since the line before (*last). */
static void report(const Trainer *t, long *last, const Progress *p, double heldout)
{
    if (p && p->tty) fputs("\r\033[K", p->fp);   /* clear the progress line first */
    printf("step %5ld  train loss %.4f  held-out loss %.4f  lr %.2e\n", t->step,
           t->step > *last ? mean_loss(t, *last, t->step) : heldout, heldout,
           (double)trainer_rate(&t->cfg, t->step > 0 ? t->step : 1));
    fflush(stdout);
    *last = t->step;
}

/* The handlers in place before a run, put back after it. */
typedef struct {
    struct sigaction sigint, sigterm;
} Handlers;

/* SIGINT and SIGTERM set the flag from now on. */
static Handlers catch_interrupt(void)
{
    struct sigaction sa;
    Handlers old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sa.sa_flags = (int)(SA_RESETHAND | SA_RESTART);   /* the second one is the default one */
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old.sigint);
    sigaction(SIGTERM, &sa, &old.sigterm);
    return old;
}

static void restore_handlers(const Handlers *old)
{
    sigaction(SIGINT, &old->sigint, NULL);
    sigaction(SIGTERM, &old->sigterm, NULL);
}

/* Every number a checkpoint holds is finite: the parameters and Adam's moments. */
static int state_finite(const Trainer *t)
{
    for (size_t i = 0; i < t->m.params.size; i++)
        if (!isfinite(t->m.params.data[i]) || !isfinite(t->adam.m[i]) || !isfinite(t->adam.v[i]))
            return 0;
    return 1;
}

/* Training has gone bad at step t->step (a loss of NaN or Inf, from too large a
 * rate or an overflow): the message names the step and what is left on disk. */
static int diverged(const Trainer *t, const RunOpts *o, long kept, const char *what,
                    double value, Error *err)
{
    char left[400], shown[32];
    if (!o->checkpoint) snprintf(left, sizeof left, "there is no checkpoint");
    else if (kept < 0) snprintf(left, sizeof left, "no checkpoint was written yet");
    else snprintf(left, sizeof left, "the checkpoint %s (step %ld) is kept", o->checkpoint, kept);
    if (isnan(value)) snprintf(shown, sizeof shown, "NaN");   /* never "-nan" */
    else snprintf(shown, sizeof shown, "%g", value);
    return error_set(err, "step %ld: %s %s: training stopped; %s (a smaller learning rate, "
                     "or --clip, may help)", t->step, what, shown, left);
}

/* Writes the checkpoint, unless the state went bad: a checkpoint on disk is
 * always one that --resume can continue. *kept becomes its step. */
static int save(const Trainer *t, const RunOpts *o, double heldout, long *kept, Error *err)
{
    if (!isfinite((float)heldout))
        return diverged(t, o, *kept, "the held-out loss is", heldout, err);
    if (!state_finite(t))
        return diverged(t, o, *kept, "a parameter or Adam moment is not finite, held-out loss",
                        heldout, err);
    if (!o->checkpoint) return 0;
    if (checkpoint_save(o->checkpoint, t, err) != 0) return -1;
    *kept = t->step;
    return 0;
}

//! [trainer_run]
int trainer_run(Trainer *t, const RunOpts *o, Error *err)
{
    Handlers old = catch_interrupt();
    TaskData batch;
    task_data_new(&batch, t->cfg.batch);
    Progress p;
    progress_start(&p, stderr, "train", o->steps - t->step);
    long first = t->step, printed = t->step;
    double base = t->seconds, spent = 0.0;    /* seconds in steps: before, and since `first` */
    char extra[96] = "";
    if (t->points == 0) {                     /* the untrained model */
        report(t, &printed, NULL, trainer_evaluate(t));
        if (o->on_eval) o->on_eval(t, o->ctx);
    }
    long kept = t->step > 0 ? t->step : -1;   /* the step of the checkpoint on disk */
    int rc = 0;
    while (rc == 0 && t->step < o->steps && !interrupted) {
        double start = now_seconds();
        double loss = trainer_step(t, &batch);
        spent += now_seconds() - start;
        t->seconds = base + spent;
        if (!isfinite((float)loss)) {          /* as recorded: a checkpoint holds floats */
            rc = diverged(t, o, kept, "the training loss is", loss, err);
            break;
        }
        snprintf(extra, sizeof extra, "loss %.4f  %.0f tokens/s", loss,
                 (double)(t->step - first) * batch.B * batch.T / spent);
        progress_update(&p, t->step - first, extra);
        int last = t->step == o->steps;
        if (t->step % o->eval_every == 0 || last) {
            double heldout = trainer_evaluate(t);
            if (o->print_every <= 0 || t->step % o->print_every == 0 || last)
                report(t, &printed, &p, heldout);
            if (o->on_eval) o->on_eval(t, o->ctx);
            rc = save(t, o, heldout, &kept, err);
        }
    }
    progress_end(&p, extra);
    if (rc == 0 && interrupted) rc = save(t, o, 0.0, &kept, err) == 0 ? 1 : -1;
    task_data_free(&batch);
    restore_handlers(&old);
    return rc;
}
//! [trainer_run]
