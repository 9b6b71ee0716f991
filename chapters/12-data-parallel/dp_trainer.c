/*
 * dp_trainer.c - chapter 12: training runs on N ranks, chapter 10's tasks
 * and chapter 11's pronunciation model (see dp_trainer.h and the chapter
 * page).
 */
#include "dp_trainer.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "adam.h"
#include "checkpoint.h"
#include "loss.h"
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

/* Rank 0's step, parameters and Adam state, on every rank (whose model and
 * Adam already have the shapes). */
static void share_state(DataParallel *dp, long *step, ParamSet *ps, Adam *adam)
{
    long steps[2] = {*step, adam->step};
    MPI_Bcast(steps, 2, MPI_LONG, 0, dp->comm);
    *step = steps[0];
    adam->step = steps[1];
    bcast_floats(ps->data, ps->size, dp->comm);
    bcast_floats(adam->m, adam->n, dp->comm);
    bcast_floats(adam->v, adam->n, dp->comm);
}

void dp_share_trainer(DataParallel *dp, Trainer *t)
{
    /* The settings as bytes: the machines of one run share one architecture. */
    TrainConfig c;
    if (dp->rank == 0) c = t->cfg;
    MPI_Bcast(&c, (int)sizeof c, MPI_BYTE, 0, dp->comm);
    if (dp->rank != 0) trainer_new(t, &c);   /* the shapes, the held-out pairs */
    share_state(dp, &t->step, &t->m.params, &t->adam);
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
 * is noted in a flag the loop reads between two steps. */
static volatile sig_atomic_t interrupted;   /* the signal, 0 if none */
static int stopped_by;                      /* the signal every rank stopped for */

static void on_signal(int sig) { interrupted = sig; }

static void catch_signals(struct sigaction old[2])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* the second one is the default one; a write the signal lands in (a
     * checkpoint of megabytes) carries on instead of failing with EINTR */
    sa.sa_flags = (int)(SA_RESETHAND | SA_RESTART);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
    interrupted = stopped_by = 0;
}

/* Not 0 on every rank if any rank was interrupted: all stop after the same
 * step. (It is the signal, the larger if two ranks got different ones.) */
static int any_interrupted(const DataParallel *dp)
{
    int mine = interrupted, any;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, dp->comm);
    if (any) stopped_by = any;
    return any;
}

int dp_stop_signal(void) { return stopped_by; }

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

/* ------------------------------------------------------- chapter 11 */

void dp_share_g2p_run(DataParallel *dp, G2pRun *r)
{
    Recipe rc;   /* as bytes, as dp_share_trainer sends its settings */
    if (dp->rank == 0) rc = r->rc;
    MPI_Bcast(&rc, (int)sizeof rc, MPI_BYTE, 0, dp->comm);
    if (dp->rank != 0) g2p_run_new(r, &rc);   /* the shapes; the numbers come next */
    share_state(dp, &r->step, &r->m.params, &r->adam);
}

//! [dp_g2p_step]
double dp_g2p_step(DataParallel *dp, G2pRun *r, Batcher *b, long *tokens)
{
    long k = r->step + 1;
    Rng drop;
    Batch all = g2p_step_batch(b, r->rc.seed, k, &drop);   /* chapter 11's, on every rank */
    Shard s = shard_rows(all.B, dp->rank, dp->size);
    Batch mine = batch_rows(&all, s);
    if (r->rc.dropout > 0.0f)   /* past the masks of the rows before mine */
        rng_skip(&drop, (uint64_t)s.lo * dropout_draws(&r->rc.model, all.S, all.T));

    double loss = dp_backward(dp, &r->m, &mine, r->rc.smoothing, r->rc.dropout, &drop);
    adam_step(&r->adam, r->m.params.data, r->m.params.grad, g2p_rate(&r->rc, k));
    r->step = k;
    if (tokens) *tokens = loss_count(all.tgt_out, all.B * all.T);
    return loss;
}
//! [dp_g2p_step]

/* Rank 0 writes chapter 11's checkpoint; every rank learns whether it could. */
static int save_g2p_checkpoint(const DataParallel *dp, const G2pRun *r, const char *path,
                               Error *err)
{
    int rc = dp->rank == 0 ? g2p_checkpoint_save(path, r, err) : 0;
    MPI_Bcast(&rc, 1, MPI_INT, 0, dp->comm);
    if (rc != 0 && dp->rank != 0) error_set(err, "%s: rank 0 could not write it", path);
    return rc;
}

/* The ranks agree, then rank 0 measures the development words, writes the
 * best model and the checkpoint (g2p_measure); every rank learns the outcome. */
static int g2p_point(const DataParallel *dp, G2pRun *r, const Lexicon *dev, const RunFiles *f,
                     Progress *p, Error *err)
{
    if (!same_on_all_ranks(r->m.params.data, r->m.params.size, dp->comm))
        return error_set(err, "the ranks' parameters differ after step %ld", r->step);
    int rc = dp->rank == 0 ? g2p_measure(r, dev, f, p, err) : 0;
    MPI_Bcast(&rc, 1, MPI_INT, 0, dp->comm);
    if (rc != 0 && dp->rank != 0)
        error_set(err, "step %ld: rank 0's development measurement failed", r->step);
    return rc;
}

int dp_g2p_train(DataParallel *dp, G2pRun *r, const Lexicon *train, const Lexicon *dev,
                 const RunFiles *f, Error *err)
{
    struct sigaction old[2];
    catch_signals(old);
    Batcher b;   /* every rank holds every pair and draws every epoch's order */
    batcher_new(&b, train, r->rc.batch);
    int talk = dp->rank == 0 && !f->quiet;
    Progress p;
    if (talk) progress_start(&p, stderr, "train", r->rc.steps > r->step ? r->rc.steps - r->step : 1);
    long first = r->step, tokens = 0;
    double base = r->seconds, spent = 0.0;
    char extra[128] = "";
    int rc = 0;
    while (rc == 0 && r->step < r->rc.steps) {
        if (any_interrupted(dp)) {
            rc = f->checkpoint && save_g2p_checkpoint(dp, r, f->checkpoint, err) != 0 ? -1 : 1;
            break;
        }
        double start = MPI_Wtime();
        long n;
        double loss = dp_g2p_step(dp, r, &b, &n);
        spent += MPI_Wtime() - start;
        r->seconds = base + spent;
        tokens += n;
        if (!isfinite(loss)) {   /* the same on every rank: it is all-reduced */
            long kept = r->points ? (long)r->history[(r->points - 1) * 5] : 0L;   /* rank 0's */
            rc = error_set(err, "step %ld: the training loss is not finite: training stopped; "
                           "the checkpoint of step %ld is kept", r->step, kept);
            break;
        }
        if (dp->rank == 0) {   /* the history is rank 0's */
            r->loss_sum += loss;
            r->loss_steps++;
        }
        if (talk) {
            snprintf(extra, sizeof extra, "loss %.4f  epoch %.2f  %.0f tokens/s", loss,
                     (double)r->step / batcher_count(&b), (double)tokens / spent);
            progress_update(&p, r->step - first, extra);
        }
        if (r->step % r->rc.eval_every == 0 || r->step == r->rc.steps)
            rc = g2p_point(dp, r, dev, f, talk ? &p : NULL, err);
    }
    if (talk) progress_end(&p, extra);
    batcher_free(&b);
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
    return rc;
}
