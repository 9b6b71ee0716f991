/*
 * main.c - chapter 12's program, build/bin/ch12: chapter 10's training on N
 * processes at once. `mpirun -np N build/bin/ch12 ...` starts N copies (the
 * ranks); started alone it is one rank.
 *
 * With no arguments: the demo. One batch's gradient from N ranks against one
 * process's, the all-reduce and its cost, chapter 10's copy task trained on
 * N ranks, and a run resumed on every rank.
 * With --params/--src/--tgt/--tgt-out: chapter 10's contract (the loss,
 * --grads, --steps, --params-out), the batch's rows shared out among the
 * ranks (../shared/CONTRACT.md).
 * With --task copy|reverse: chapter 10's training runs, with checkpoints and
 * --resume. With --task g2p: chapter 11's pronunciation model, trained as
 * ch11 train trains it, with its checkpoints (each program resumes the
 * other's runs). With --bench: the speed of one training step of the
 * reference model (make bench-mpi runs it on 1 and 2 ranks), or with
 * --task g2p of chapter 11's model on its own batches.
 * Only rank 0 prints and writes files.
 */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <mpi.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "adam.h"
#include "allreduce.h"
#include "checkpoint.h"
#include "cli.h"
#include "data_parallel.h"
#include "dp_trainer.h"
#include "g2p_train.h"
#include "lexicon.h"
#include "loss.h"
#include "npy.h"
#include "plot.h"
#include "report.h"
#include "tasks.h"
#include "train.h"
#include "train_cli.h"
#include "trainer.h"

static const char *const USAGE =
    "usage: mpirun -np N ch12 [options]     (or ch12 [options]: one rank)\n"
    "Chapter 12: data-parallel training with MPI. Every rank holds the same model and\n"
    "takes a contiguous share of each batch's rows; an all-reduce sums the gradients,\n"
    "so every rank takes the same Adam step as one process on the whole batch.\n"
    "With no options, runs the demo (a few seconds on 2 ranks). Only rank 0\n"
    "prints and writes files.\n"
    "\n"
    "A training run, as chapter 10's (ch10 --help tells more):\n"
    "  --task copy|reverse   train on the copy or the reverse task\n"
    "  --steps N             train until step N (default 800 for copy, 1000 for\n"
    "                        reverse)\n"
    "  --batch B             pairs per step, shared out among the ranks (default 64)\n"
    "  --dropout p, --label-smoothing e, --factor F, --warmup W, --lr LR, --clip C,\n"
    "  --d-model E, --d-ff F, --heads H, --layers N, --norm-first, --init xavier|torch\n"
    "                        as in chapter 10 (defaults 0, 0.1, 0.25, 200, the\n"
    "                        schedule, none, 32, 64, 2, 2, post-norm, xavier)\n"
    "  --eval-every K        held-out loss, check that the ranks agree, and\n"
    "                        checkpoint every K steps (default 50)\n"
    "  --test N              exact-match test on N fresh sequences (default 1000)\n"
    "  --checkpoint PATH     checkpoint file (chapter 10's format), or directory for\n"
    "                        TASK.npz (default OUT/TASK.npz), written by rank 0\n"
    "  --resume              continue the run saved in the checkpoint: rank 0 reads\n"
    "                        it and sends it to every rank (no shared disk needed)\n"
    "\n"
    "Chapter 11's pronunciation model, as ch11 train trains it (ch11 --help tells more):\n"
    "  --task g2p            train it; every rank reads the dictionary\n"
    "  --recipe NAME         classroom (default) or full\n"
    "  --steps N, --eval-every N\n"
    "                        stop after step N; development WER, best model and\n"
    "                        checkpoint every N steps (defaults: the recipe's)\n"
    "  --dev-words N         decode only the first N development words at each\n"
    "                        measurement (default all)\n"
    "  --dict FILE           training dictionary (default data/cmudict/g014b2b.train)\n"
    "  --checkpoint FILE     chapter 11's checkpoint (default OUT/g2p.npz); the best\n"
    "                        model goes beside it as ..._best.npz (ch11 eval --model)\n"
    "  --resume, --seed N    as ch11 train; ch11 train --resume continues a run of\n"
    "                        ch12 --task g2p, and the other way round\n"
    "\n"
    "With files (../shared/CONTRACT.md; rank r takes a contiguous share of the rows):\n"
    "  --params MODEL.npz --src SRC.npy (B, S) --tgt TGT.npy (B, T) --tgt-out Y.npy (B, T)\n"
    "                        prints \"loss X\", the mean over positions with Y != 0\n"
    "  --label-smoothing e   label smoothing (default 0 with files)\n"
    "  --grads G.npz         write d loss / d parameter (rank 0 writes it)\n"
    "  --steps N --lr LR     N Adam steps on this batch (betas 0.9, 0.98, eps 1e-9);\n"
    "                        prints \"step K loss X\" before step K, K = 1 ... N\n"
    "  --params-out P.npz    write the parameters after the last step\n"
    "\n"
    "Speed:\n"
    "  --bench               time training steps of the reference model (d_model 128,\n"
    "                        4 heads, d_ff 512, 3 + 3 layers, vocabularies of 40,\n"
    "                        length 10); prints one line from rank 0\n"
    "  --repeats R           timed steps of --bench (default 10; the median is kept)\n"
    "  --bench --task g2p [--recipe NAME] [--dict FILE] [--batch B]\n"
    "                        chapter 11's model on the first batches of its run\n"
    "                        (the mean of the timed steps)\n"
    "\n"
    "Everywhere:\n"
    "  --allreduce mpi|ring  how gradients are summed: MPI_Allreduce (default) or the\n"
    "                        ring written in allreduce.c\n"
    "  Threads per rank: OMP_NUM_THREADS, else the cores a rank may use divided by\n"
    "  the ranks on its machine.\n";

/* ============================================================ the ranks */

/* The other ranks read the same command line and would print the same
 * usage error N times: their standard error is closed while it is read,
 * and open again afterwards (a file may be missing on one machine only). */
static int saved_stderr = -1;

static void quiet_stderr(int quiet)
{
    fflush(stderr);
    if (quiet) {
        int null = open("/dev/null", O_WRONLY);
        saved_stderr = dup(STDERR_FILENO);
        if (null >= 0) {
            dup2(null, STDERR_FILENO);
            close(null);
        }
    } else if (saved_stderr >= 0) {
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        saved_stderr = -1;
    }
}

/* While wait_at_exit is set (the options are being read, or the ranks leave
 * on an error), a rank that leaves waits for the others first: the rank
 * that says why has said it before mpirun, seeing a rank gone with an error,
 * stops the rest. */
static int wait_at_exit = 1;

static void leave_together(void)
{
    int finalized;
    MPI_Finalized(&finalized);
    if (!wait_at_exit || finalized) return;
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
}

/* The options are read: stderr is open again on every rank. */
static void options_read(int root)
{
    wait_at_exit = 0;
    if (!root) quiet_stderr(0);
}

/* Ranks on one machine share its cores: unless OMP_NUM_THREADS says how
 * many threads, each takes its part of the cores it may run on (mpirun ties
 * each of up to two ranks to one core). Returns the threads of this rank. */
static int share_cores(MPI_Comm comm)
{
#ifdef _OPENMP
    MPI_Comm node;
    int here;
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &here);
    MPI_Comm_free(&node);
    if (!getenv("OMP_NUM_THREADS")) {
        int t = omp_get_num_procs() / here;
        omp_set_num_threads(t > 0 ? t : 1);
    }
    return omp_get_max_threads();
#else
    (void)comm;
    return 1;
#endif
}

/* Every rank's outcome, agreed: when rc is not 0 on some rank, the first
 * such rank says its err and every rank leaves with the contract's
 * data-error status. So an error is said once, whether every rank found it
 * (a bad input file) or one alone (a file missing on its machine, an output
 * that rank 0 cannot write). */
static void all_or_none(const DataParallel *dp, int rc, const Error *err)
{
    int mine = rc != 0 ? dp->rank : dp->size, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, dp->comm);
    if (first == dp->size) return;
    wait_at_exit = 1;
    if (dp->rank == first) data_error_from(err);
    exit(EXIT_DATA);
}

/* Rank 0 writes the outputs, so rank 0 checks, before any work, that it
 * can (as cli_check_output of common/cli.h does); every rank learns the outcome. */
static void check_output(const DataParallel *dp, const char *path, const char *option)
{
    Error err, why;
    int rc = 0;
    if (dp->rank == 0 && path) {
        AtomicFile af;
        if (atomic_open(&af, path, &why) != 0) rc = error_set(&err, "%s (%s)", why.msg, option);
        else atomic_abort(&af);
    }
    all_or_none(dp, rc, &err);
}

/* The folder of the figures and the files a run writes (checkpoints, the
 * best model), made by rank 0 before any work. */
static void check_outdir(const DataParallel *dp, const PlotOpts *o)
{
    Error err, why;
    int rc = 0;
    if (dp->rank == 0 && make_dirs(o->outdir, &why) != 0)
        rc = error_set(&err, "%s (--out)", why.msg);
    all_or_none(dp, rc, &err);
}

static void say_figure(const DataParallel *dp, const PlotOpts *o, const char *name)
{
    if (dp->rank == 0 && (o->format == PLOT_PNG || o->format == PLOT_SVG))
        printf("Figure: %s/%s.%s (with %s.dat and %s.gp beside it)\n", o->outdir, name,
               o->format == PLOT_PNG ? "png" : "svg", name, name);
}

/* ========================================================== with files */

static void run_files(DataParallel *dp, const TrainFiles *f)
{
    TrainInputs in;   /* every rank reads the files and holds the whole batch */
    Error err;
    all_or_none(dp, train_inputs_load(&in, f, &err), &err);
    Transformer *m = &in.m;
    Batch mine = batch_rows(&in.b, shard_rows(in.b.B, dp->rank, dp->size));
    int root = dp->rank == 0;
    Rng r;   /* dropout is off here, so it is never drawn from */
    rng_seed(&r, 1);
    if (f->steps == 0) {
        double loss = dp_backward(dp, m, &mine, f->smoothing, 0.0f, &r);
        all_or_none(dp, train_check_loss(loss, 0, f->params, &err), &err);
        if (root) printf("loss %.9f\n", loss);
        if (f->grads) all_or_none(dp, root ? train_save_grads(m, f->grads, &err) : 0, &err);
    } else {
        Adam a;
        adam_init(&a, m->params.size, 0.9f, 0.98f, 1e-9f);
        for (long k = 1; k <= f->steps; k++) {
            double loss = dp_backward(dp, m, &mine, f->smoothing, 0.0f, &r);
            all_or_none(dp, train_check_loss(loss, k, f->params, &err), &err);
            if (root) printf("step %ld loss %.9f\n", k, loss);
            if (k == 1 && f->grads)   /* at the given parameters */
                all_or_none(dp, root ? train_save_grads(m, f->grads, &err) : 0, &err);
            adam_step(&a, m->params.data, m->params.grad, f->lr);
        }
        adam_free(&a);
    }
    if (f->params_out)
        all_or_none(dp, root ? train_save_params(m, f->params_out, &err) : 0, &err);
    train_inputs_free(&in);
}

/* ========================================================= training runs */

static void describe_run(const DataParallel *dp, const Trainer *t)
{
    const TrainConfig *c = &t->cfg;
    const TransformerConfig *m = &c->model;
    int most = shard_rows(c->batch, 0, dp->size).n;
    int least = shard_rows(c->batch, dp->size - 1, dp->size).n;
    char share[64];
    if (dp->size == 1) snprintf(share, sizeof share, "all on one rank");
    else if (most == least) snprintf(share, sizeof share, "%d on each of %d ranks", most, dp->size);
    else snprintf(share, sizeof share, "%d or %d on each of %d ranks", most, least, dp->size);
    printf("The %s task, seed %llu: d_model %d, d_ff %d, %d heads, %d + %d layers, %s,\n"
           "%zu parameters. Batch %d pairs, %s; dropout %.2g, label\n"
           "smoothing %.2g; ", task_name(c->task), (unsigned long long)c->seed, m->E, m->F, m->H,
           m->enc_layers, m->dec_layers, m->norm_first ? "pre-norm" : "post-norm",
           t->m.params.size, c->batch, share, (double)c->dropout, (double)c->smoothing);
    if (c->lr > 0.0f) printf("Adam at a constant rate %.3g", (double)c->lr);
    else printf("Adam, rate %.3g d_model^-0.5 min(k^-0.5, k %d^-1.5)", (double)c->factor,
                c->warmup);
    printf("%s;\ngradients summed by %s.\n", c->clip > 0.0f ? ", gradients clipped" : "",
           allreduce_name(dp->kind));
}

/* Training and held-out loss at the held-out points (rank 0's history). */
static int plot_run_loss(const DataParallel *dp, const PlotOpts *o, const char *name,
                         const char *title, const Trainer *t, Error *err)
{
    int n = t->points;
    float *train = trainer_point_losses(t);
    const float *ys[2] = {train, t->eval_loss};
    const char *labels[2] = {"training batches", "held-out pairs"};
    int rc = plot_lines(o, name, title, t->eval_step, ys, labels, 2, n, "step",
                        "cross-entropy with label smoothing", PLOT_LOGY, err);
    if (rc == 0) say_figure(dp, o, name);
    free(train);
    return rc;
}

/* Rank 0 starts or loads the run; then every rank holds it. */
static void start_run(DataParallel *dp, Trainer *t, const TrainConfig *cfg, const RunSettings *rs)
{
    Error err;
    int rc = 0;
    if (dp->rank == 0) {
        if (!rs->resume) trainer_new(t, cfg);
        else if ((rc = checkpoint_load(rs->checkpoint, t, &err)) == 0) {
            if (rs->task_given && t->cfg.task != cfg->task) {
                rc = error_set(&err, "%s: a run of the %s task, not of the %s task",
                               rs->checkpoint, task_name(t->cfg.task), task_name(cfg->task));
                trainer_free(t);
            } else if (rs->steps > 0) {
                t->cfg.steps = rs->steps;
            }
        }
    }
    all_or_none(dp, rc, &err);
    dp_share_trainer(dp, t);
}

static void run_task(DataParallel *dp, const TrainConfig *cfg, const RunSettings *rs,
                     const PlotOpts *o)
{
    Trainer t;
    Error err;
    int root = dp->rank == 0;
    start_run(dp, &t, cfg, rs);
    if (root && rs->resume)
        printf("Resuming %s at step %ld of %ld.\n", rs->checkpoint, t.step, t.cfg.steps);
    if (root) describe_run(dp, &t);

    RunOpts ro = {t.cfg.steps, rs->eval_every, rs->print_every, rs->checkpoint, NULL, NULL};
    dp->compute = dp->exchange = 0.0;
    long first = t.step;
    double start = MPI_Wtime();
    int rc = dp_run(dp, &t, &ro, &err);
    if (rc < 0) all_or_none(dp, rc, &err);
    double seconds = MPI_Wtime() - start;
    long steps = t.step - first;
    if (root) {
        printf("Trained %ld steps in %.1f s (%.0f target tokens/s); checkpoint %s\n", steps,
               seconds, seconds > 0 ? (double)steps * t.cfg.batch * (TASK_LEN - 1) / seconds : 0.0,
               rs->checkpoint);
        printf("Rank 0's time: %.1f s computing, %.2f s in all-reduces (waiting included).\n",
               dp->compute, dp->exchange);
    }
    if (rc == 1) {
        if (root)
            printf("Stopped at step %ld. Continue with:\n  mpirun -np %d ch12 --resume "
                   "--checkpoint %s\n", t.step, dp->size, rs->checkpoint);
        trainer_free(&t);
        return;
    }

    /* The best parameters are rank 0's; every rank tests a share of the pairs. */
    MPI_Bcast(t.best, (int)t.m.params.size, MPI_FLOAT, 0, dp->comm);
    Transformer best;
    trainer_best_model(&best, &t);
    TaskData test;
    trainer_test_data(&test, &t.cfg, rs->test);
    double last = dp_exact_match(dp, &t.m, &test), exact = dp_exact_match(dp, &best, &test);
    if (root) {
        char last_label[64], best_label[64];
        snprintf(last_label, sizeof last_label, "the model after step %ld:", t.step);
        snprintf(best_label, sizeof best_label, "the best held-out model (step %ld, loss %.4f):",
                 t.best_step, (double)t.best_loss);
        printf("Exact match on %d fresh sequences, greedy decoding:\n  %-48s %5.1f%%\n"
               "  %-48s %5.1f%%\n", rs->test, last_label, 100.0 * last, best_label,
               100.0 * exact);
        char name[64], title[128];
        snprintf(name, sizeof name, "%s_best.npz", task_name(t.cfg.task));
        char *model_path = path_join(o->outdir, name);
        rc = transformer_save(&best, model_path, &err);
        if (rc == 0) printf("The best model alone, in the contract's layout: %s\n", model_path);
        free(model_path);
        snprintf(name, sizeof name, "%s_loss", task_name(t.cfg.task));
        snprintf(title, sizeof title, "The %s task on %d rank%s: loss while training",
                 task_name(t.cfg.task), dp->size, dp->size > 1 ? "s" : "");
        if (rc == 0) rc = plot_run_loss(dp, o, name, title, &t, &err);
    }
    all_or_none(dp, rc, &err);   /* rank 0's files */
    task_data_free(&test);
    transformer_free(&best);
    trainer_free(&t);
}

/* ================================================================ bench */

enum { BENCH_LEN = 10, BENCH_VOCAB = 40, MAX_REPEATS = 999 };

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, compare_doubles);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* The reference model of make bench, one warm-up step, then `repeats` timed
 * steps (forward, backward, all-reduce, Adam) on a batch of B pairs. */
static void run_bench(DataParallel *dp, int B, int repeats, int threads)
{
    TransformerConfig cfg = {.E = 128, .F = 512, .H = 4, .enc_layers = 3, .dec_layers = 3,
                             .Vs = BENCH_VOCAB, .Vt = BENCH_VOCAB, .norm_first = 0,
                             .enc_norm = 1, .dec_norm = 1};
    Rng r;
    rng_seed(&r, 1);   /* the same seed on every rank: the same model */
    Transformer m;
    transformer_new(&m, &cfg, &r);
    size_t n = (size_t)B * BENCH_LEN;
    int64_t *ids = xcalloc(3 * n, sizeof *ids, "the benchmark's batch");
    for (size_t i = 0; i < 3 * n; i++) ids[i] = 1 + (int64_t)rng_below(&r, BENCH_VOCAB - 1);
    Batch all = {B, BENCH_LEN, BENCH_LEN, ids, ids + n, ids + 2 * n};
    Batch mine = batch_rows(&all, shard_rows(B, dp->rank, dp->size));
    Adam adam;
    adam_init(&adam, m.params.size, 0.9f, 0.98f, 1e-9f);
    double step[MAX_REPEATS], compute[MAX_REPEATS], exchange[MAX_REPEATS];
    for (int k = -1; k < repeats; k++) {   /* step -1 is the warm-up */
        MPI_Barrier(dp->comm);
        double start = MPI_Wtime(), c = dp->compute, e = dp->exchange;
        dp_backward(dp, &m, &mine, 0.1f, 0.0f, &r);
        adam_step(&adam, m.params.data, m.params.grad, 1e-4f);
        if (k < 0) continue;
        step[k] = MPI_Wtime() - start;
        compute[k] = dp->compute - c;
        exchange[k] = dp->exchange - e;
    }
    double ms = 1e3 * median(step, repeats);
    if (dp->rank == 0)
        printf("ranks %d threads %d batch %d params %zu step_ms %.2f compute_ms %.2f "
               "allreduce_ms %.2f tokens_per_s %.0f\n", dp->size, threads, B, m.params.size, ms,
               1e3 * median(compute, repeats), 1e3 * median(exchange, repeats),
               (double)B * BENCH_LEN / (ms / 1e3));
    adam_free(&adam);
    free(ids);
    transformer_free(&m);
}

/* ==================================================== chapter 11's model */

static const char *const DEFAULT_DICT = "data/cmudict/g014b2b.train";

/* What --task g2p takes from the command line. */
typedef struct {
    const char *recipe;       /* a new run's recipe */
    const char *dict;         /* the training dictionary */
    const char *checkpoint;   /* the checkpoint file */
    long steps;               /* 0: the recipe's */
    int eval_every;           /* 0: the recipe's */
    int dev_words;            /* 0: every development word */
    int resume;               /* continue the checkpoint's run */
    uint64_t seed;            /* a new run's seed */
} G2pSettings;

/* The dictionary, split as ch11 train splits it (1 word in 32 kept apart
 * for development). Every rank reads the file: it must be at the same
 * path on every machine. */
static void load_g2p_words(const DataParallel *dp, const char *path, Lexicon *all,
                           Lexicon *train, Lexicon *dev)
{
    Error err, why;
    int rc = 0;
    if (lexicon_load(all, path, &why) != 0) rc = error_set(&err, "--dict: %s", why.msg);
    for (int i = 0; rc == 0 && i < all->count; i++)
        if (all->entries[i].n_prons == 0)
            rc = error_set(&err, "--dict: %s:%d: %s has no pronunciation", path,
                           all->entries[i].line, all->entries[i].word);
    if (rc == 0) {
        lexicon_split(train, dev, all);
        if (train->count == 0 || dev->count == 0)
            rc = error_set(&err, "--dict: %s has %d words: too few to keep 1 in %d apart for "
                           "development and train on the rest", path, all->count,
                           (int)G2P_DEV_SHARE);
    }
    all_or_none(dp, rc, &err);
}

static void free_g2p_words(Lexicon *all, Lexicon *train, Lexicon *dev)
{
    lexicon_free_part(train);
    lexicon_free_part(dev);
    lexicon_free(all);
}

static void describe_g2p(const DataParallel *dp, const G2pRun *r, const G2pSettings *g,
                         const Lexicon *all, const Lexicon *train, const Lexicon *dev,
                         const char *best)
{
    const TransformerConfig *c = &r->rc.model;
    int most = shard_rows(r->rc.batch, 0, dp->size).n;
    int least = shard_rows(r->rc.batch, dp->size - 1, dp->size).n;
    char share[64];
    if (dp->size == 1) snprintf(share, sizeof share, "all on one rank");
    else if (most == least) snprintf(share, sizeof share, "%d on each of %d ranks", most, dp->size);
    else snprintf(share, sizeof share, "%d or %d on each of %d ranks", most, least, dp->size);
    if (g->resume)
        printf("Resuming %s at step %ld of %ld (recipe %s)\n", g->checkpoint, r->step,
               r->rc.steps, r->rc.name);
    printf("Chapter 11's pronunciation model on %d rank%s (recipe %s, seed %llu)\n", dp->size,
           dp->size > 1 ? "s" : "", r->rc.name, (unsigned long long)r->rc.seed);
    printf("  %s: %d words, %ld pronunciations; %d words (%ld pronunciations) kept apart "
           "for development\n", g->dict, all->count, all->n_prons, dev->count, dev->n_prons);
    printf("  model: d_model %d, %d heads, d_ff %d, %d + %d layers, %s, %zu parameters\n", c->E,
           c->H, c->F, c->enc_layers, c->dec_layers, c->norm_first ? "pre-norm" : "post-norm",
           r->m.params.size);
    printf("  %ld steps of %d pairs (an epoch is %ld steps), %s; Adam, warm-up %d, factor %g; "
           "dropout %g, label smoothing %g; gradients summed by %s\n", r->rc.steps, r->rc.batch,
           (train->n_prons + r->rc.batch - 1) / r->rc.batch, share, r->rc.warmup,
           (double)r->rc.factor, (double)r->rc.dropout, (double)r->rc.smoothing,
           allreduce_name(dp->kind));
    printf("  checkpoint %s, best model %s\n\n", g->checkpoint, best);
    fflush(stdout);
}

/* ch11 train on the N ranks. Returns the exit status: 0, or when stopped
 * by a signal (after the checkpoint) 128 + the signal, as ch11 and as a
 * shell reports a signal. */
static int run_g2p(DataParallel *dp, const G2pSettings *g)
{
    int root = dp->rank == 0, rc = 0;
    Error err, why;
    G2pRun r;   /* rank 0 makes or loads it, then every rank holds it */
    if (root && g->resume) {
        if (g2p_checkpoint_load(g->checkpoint, &r, &why) != 0) {
            rc = error_set(&err, "--resume: %s", why.msg);
        } else {
            if (g->steps) r.rc.steps = g->steps;
            if (g->eval_every) r.rc.eval_every = g->eval_every;
        }
    }
    char *slash = strrchr(g->checkpoint, '/');
    if (root && !g->resume && slash && slash != g->checkpoint) {   /* the checkpoint's folder */
        char *dir = xstrdup(g->checkpoint);
        dir[slash - g->checkpoint] = '\0';
        if (make_dirs(dir, &why) != 0) rc = error_set(&err, "%s (--checkpoint)", why.msg);
        free(dir);
    }
    all_or_none(dp, rc, &err);
    /* Every file the run writes can be written, before any work. */
    char *best = g2p_best_path(g->checkpoint);
    check_output(dp, g->checkpoint, "--checkpoint");
    check_output(dp, best, "--checkpoint (its _best.npz)");
    Lexicon all, train, dev;
    load_g2p_words(dp, g->dict, &all, &train, &dev);
    if (root && !g->resume) {
        Recipe rc0;
        recipe_find(&rc0, g->recipe);   /* a known name: checked with the options */
        if (g->steps) rc0.steps = g->steps;
        if (g->eval_every) rc0.eval_every = g->eval_every;
        rc0.seed = g->seed;
        g2p_run_new(&r, &rc0);
    }
    dp_share_g2p_run(dp, &r);
    if (root) describe_g2p(dp, &r, g, &all, &train, &dev, best);

    RunFiles f = {g->checkpoint, best, g->dev_words, 0};
    dp->compute = dp->exchange = 0.0;
    long first = r.step;
    double start = MPI_Wtime();
    rc = dp_g2p_train(dp, &r, &train, &dev, &f, &err);
    if (rc < 0) all_or_none(dp, rc, &err);
    if (root) {
        printf("\n%s after step %ld (%.0f s of training in all); best development WER %.2f%% "
               "at step %ld, in %s\n", rc == 1 ? "Stopped" : "Done", r.step, r.seconds,
               (double)r.best_wer, r.best_step, best);
        printf("This session: %ld steps in %.1f s; rank 0's time: %.1f s computing, %.2f s in "
               "all-reduces (waiting included).\n", r.step - first, MPI_Wtime() - start,
               dp->compute, dp->exchange);
        if (rc == 1)
            printf("To continue: mpirun -np %d ch12 --task g2p --resume --checkpoint %s\n"
                   "        (or: ch11 train --resume --checkpoint %s)\n", dp->size,
                   g->checkpoint, g->checkpoint);
        fflush(stdout);
    }
    g2p_run_free(&r);
    free_g2p_words(&all, &train, &dev);
    free(best);
    return rc == 1 ? 128 + dp_stop_signal() : 0;
}

/* The speed of chapter 11's training step: the recipe's model (batch B
 * if B > 0) on the first batches of its run, dropout included. Prints
 * run_bench's line from rank 0, with the means of the timed steps, whose
 * batches differ in length, and tokens/s over their target tokens. */
static void run_bench_g2p(DataParallel *dp, const char *recipe, const char *dict, int B,
                          int repeats, int threads)
{
    Lexicon all, train, dev;
    load_g2p_words(dp, dict, &all, &train, &dev);
    Recipe rc;
    recipe_find(&rc, recipe);
    if (B > 0) rc.batch = B;
    G2pRun r;
    g2p_run_new(&r, &rc);   /* from the seed on every rank: the same model */
    Batcher b;
    batcher_new(&b, &train, rc.batch);
    double step = 0.0, compute = 0.0, exchange = 0.0;
    long tokens = 0;
    for (int k = -1; k < repeats; k++) {   /* step 1 is the warm-up */
        MPI_Barrier(dp->comm);
        double start = MPI_Wtime(), c = dp->compute, e = dp->exchange;
        long n;
        dp_g2p_step(dp, &r, &b, &n);
        if (k < 0) continue;
        step += MPI_Wtime() - start;
        compute += dp->compute - c;
        exchange += dp->exchange - e;
        tokens += n;
    }
    if (dp->rank == 0)
        printf("ranks %d threads %d batch %d params %zu step_ms %.2f compute_ms %.2f "
               "allreduce_ms %.2f tokens_per_s %.0f\n", dp->size, threads, rc.batch,
               r.m.params.size, 1e3 * step / repeats, 1e3 * compute / repeats,
               1e3 * exchange / repeats, (double)tokens / step);
    batcher_free(&b);
    g2p_run_free(&r);
    free_g2p_words(&all, &train, &dev);
}

/* ================================================================= demo */

/* Who is here: every rank's machine and rows (gathered to rank 0). */
static void demo_ranks(const DataParallel *dp, int threads, int B)
{
    enum { NAME = 80 };
    char host[MPI_MAX_PROCESSOR_NAME], mine[NAME];
    int len;
    MPI_Get_processor_name(host, &len);
    snprintf(mine, sizeof mine, "%.48s (pid %ld)", host, (long)getpid());
    char *all = dp->rank == 0 ? xmalloc((size_t)dp->size, NAME, "host names") : NULL;
    MPI_Gather(mine, NAME, MPI_CHAR, all, NAME, MPI_CHAR, 0, dp->comm);
    if (dp->rank == 0) {
        printf("%d rank%s (process%s), %d thread%s each. A batch of %d pairs is shared out:\n",
               dp->size, dp->size > 1 ? "s" : "", dp->size > 1 ? "es" : "", threads,
               threads > 1 ? "s" : "", B);
        for (int r = 0; r < dp->size; r++) {
            Shard s = shard_rows(B, r, dp->size);
            printf("  rank %d on %s: rows %d to %d\n", r, all + (size_t)r * NAME, s.lo,
                   s.lo + s.n - 1);
        }
        if (dp->size == 1)
            printf("One rank alone is chapter 10. To see two, run:\n"
                   "  mpirun -np 2 build/bin/ch12     (as root add --allow-run-as-root)\n");
        putchar('\n');
    }
    free(all);
}

/* A batch of the copy task whose answers get shorter down the batch (9 to
 * 3 tokens, the rest padding), so the ranks' rows hold different numbers of
 * target tokens: what makes the division by the global count matter. */
static void padded_copy_batch(TaskData *d, Rng *r)
{
    task_data_fill(d, TASK_COPY, r);
    for (int b = 0; b < d->B; b++) {
        int len = TASK_LEN - 1 - (b * 7) / d->B;   /* target tokens of pair b */
        for (int t = len; t < d->T; t++) {
            d->tgt_out[(size_t)b * d->T + t] = TASK_PAD;
            if (t + 1 < d->T) d->tgt[(size_t)b * d->T + t + 1] = TASK_PAD;
        }
    }
}

/* One batch, two ways: N ranks with dp_backward, and rank 0 alone with
 * chapter 10's transformer_backward on the whole batch. */
static void demo_one_batch(DataParallel *dp, uint64_t seed)
{
    TrainConfig c = train_config_default(TASK_COPY);
    c.seed = seed;
    Trainer t;
    trainer_new(&t, &c);   /* the same seed on every rank: the same model */
    TaskData d;
    task_data_new(&d, c.batch);
    Rng r;
    rng_seed(&r, seed + 11);
    padded_copy_batch(&d, &r);
    Batch all = task_data_batch(&d);
    Shard s = shard_rows(all.B, dp->rank, dp->size);
    Batch mine = batch_rows(&all, s);

    size_t n = t.m.params.size;
    float *alone = dp->rank == 0 ? xmalloc(n, sizeof *alone, "one process's gradient") : NULL;
    double loss_alone = 0.0;
    if (dp->rank == 0) {
        loss_alone = transformer_backward(&t.m, &all, c.smoothing, 0.0f, &r);
        memcpy(alone, t.m.params.grad, n * sizeof *alone);
    }
    /* Each rank's own numbers, for the table: its tokens and its rows' mean. */
    double own[2] = {(double)loss_count(mine.tgt_out, mine.B * mine.T),
                     transformer_loss(&t.m, &mine, c.smoothing)};
    double *table = dp->rank == 0 ? xcalloc((size_t)dp->size * 2, sizeof *table, "a table") : NULL;
    MPI_Gather(own, 2, MPI_DOUBLE, table, 2, MPI_DOUBLE, 0, dp->comm);
    double loss = dp_backward(dp, &t.m, &mine, c.smoothing, 0.0f, &r);

    if (dp->rank == 0) {
        printf("One batch, two ways. 64 copy pairs whose answers get shorter down the batch\n"
               "(9 target tokens down to 3), chapter 10's copy model (%zu parameters), label\n"
               "smoothing 0.1.\n\n  rank  rows      target tokens c_r  mean loss of its rows\n",
               n);
        double naive = 0.0, tokens = 0.0;
        for (int q = 0; q < dp->size; q++) {
            Shard sq = shard_rows(all.B, q, dp->size);
            printf("  %4d  %2d to %2d  %17.0f  %.6f\n", q, sq.lo, sq.lo + sq.n - 1, table[2 * q],
                   table[2 * q + 1]);
            naive += table[2 * q + 1] / dp->size;
            tokens += table[2 * q];
        }
        float worst = 0.0f, largest = 0.0f;
        for (size_t i = 0; i < n; i++) {
            worst = fmaxf(worst, fabsf(t.m.params.grad[i] - alone[i]));
            largest = fmaxf(largest, fabsf(alone[i]));
        }
        printf("\nThe whole batch has C = %.0f target tokens.\n"
               "  mean of the ranks' means (wrong):        %.9f\n"
               "  sum of (c_r / C) x mean_r, all-reduced:  %.9f\n"
               "  one process on the whole batch:          %.9f\n"
               "Gradients: largest |N ranks - one process| = %.2e, largest |gradient| = %.2e%s\n\n",
               tokens, naive, loss, loss_alone, (double)worst, (double)largest,
               worst == 0.0f ? " (bit for bit)" : " (float rounding)");
    }
    free(alone);
    free(table);
    task_data_free(&d);
    trainer_free(&t);
}

/* Median seconds of `reps` all-reduces of x (n floats) by kind. */
static double time_allreduce(const DataParallel *dp, float *x, size_t n, AllreduceKind kind,
                             int reps)
{
    double t[16];
    for (int k = 0; k < reps; k++) {
        for (size_t i = 0; i < n; i++) x[i] = 1.0f;
        MPI_Barrier(dp->comm);
        double start = MPI_Wtime();
        allreduce_sum(x, n, kind, dp->comm);
        t[k] = MPI_Wtime() - start;
    }
    double m = median(t, reps);
    MPI_Bcast(&m, 1, MPI_DOUBLE, 0, dp->comm);   /* rank 0's, the one printed */
    return m;
}

/* The all-reduce: the ring against MPI_Allreduce, and the time it takes by size. */
static void demo_allreduce(const DataParallel *dp, const PlotOpts *o)
{
    int N = dp->size, root = dp->rank == 0;
    if (N == 1) {
        if (root) printf("The all-reduce: with one rank there is nothing to add up.\n\n");
        return;
    }
    /* The same sums both ways: each rank holds rank + i / n. */
    enum { CHECK = 100003 };
    float *a = xmalloc(CHECK, sizeof *a, "a vector"), *b = xmalloc(CHECK, sizeof *b, "a vector");
    for (int i = 0; i < CHECK; i++) a[i] = b[i] = (float)dp->rank + (float)i / CHECK;
    allreduce_sum(a, CHECK, ALLREDUCE_MPI, dp->comm);
    ring_allreduce(b, CHECK, dp->comm);
    float worst = 0.0f;
    for (int i = 0; i < CHECK; i++) worst = fmaxf(worst, fabsf(a[i] - b[i]));
    int same = same_on_all_ranks(b, CHECK, dp->comm);
    free(a);
    free(b);

    enum { SIZES = 8 };   /* 4 KB, 16 KB, ..., 64 MB */
    float mb[SIZES], t_mpi[SIZES], t_ring[SIZES];
    float *x = xmalloc((size_t)1 << 24, sizeof *x, "the vector to all-reduce");
    if (root)
        printf("The all-reduce on %d ranks. The ring of allreduce.c and MPI_Allreduce agree on\n"
               "a vector of %d floats to %.1e, and the ring's result is the same on every rank:\n"
               "%s. Time by size (median of 5; each rank sends 2(N-1)/N of the vector):\n\n"
               "  %10s  %14s  %10s  %10s\n", N, CHECK, (double)worst, same ? "yes" : "NO",
               "size", "MPI_Allreduce", "ring", "ring GB/s");
    for (int k = 0; k < SIZES; k++) {
        size_t n = (size_t)1 << (10 + 2 * k);
        mb[k] = (float)(n * sizeof(float)) / 1e6f;
        t_mpi[k] = (float)(1e3 * time_allreduce(dp, x, n, ALLREDUCE_MPI, 5));
        t_ring[k] = (float)(1e3 * time_allreduce(dp, x, n, ALLREDUCE_RING, 5));
        double sent = 2.0 * (N - 1) / N * (double)n * sizeof(float);
        if (root)
            printf("  %7.3f MB  %11.3f ms  %7.3f ms  %10.2f\n", (double)mb[k], (double)t_mpi[k],
                   (double)t_ring[k], sent / (t_ring[k] / 1e3) / 1e9);
    }
    free(x);
    Error err;
    int rc = 0;
    if (root) {
        const float *ys[2] = {t_mpi, t_ring};
        const char *labels[2] = {"MPI_Allreduce", "ring (allreduce.c)"};
        char title[96];
        snprintf(title, sizeof title, "All-reduce of a float vector on %d ranks", N);
        rc = plot_lines(o, "allreduce_time", title, mb, ys, labels, 2, SIZES, "vector size (MB)",
                        "time (ms)", PLOT_LOGX | PLOT_LOGY, &err);
        if (rc == 0) say_figure(dp, o, "allreduce_time");
        putchar('\n');
    }
    all_or_none(dp, rc, &err);
}

/* Chapter 10's copy task, trained on the N ranks. */
static void demo_train(DataParallel *dp, const PlotOpts *o, uint64_t seed)
{
    TrainConfig c = train_config_default(TASK_COPY);
    c.seed = seed;
    char *path = path_join(o->outdir, "copy.npz");   /* OUT is made: see check_outdir */
    RunSettings rs = {path, 25, 100, 1000, 0, 0, 0};
    if (dp->rank == 0)
        printf("=================================================== the copy task on %d rank%s\n",
               dp->size, dp->size > 1 ? "s" : "");
    run_task(dp, &c, &rs, o);
    if (dp->rank == 0) putchar('\n');
    free(path);
}

/* 2H steps in one go, and H steps, a checkpoint written by rank 0, read by
 * rank 0 and sent to every rank, H more: the parameters must agree bit for bit. */
static void demo_resume(DataParallel *dp, const PlotOpts *o, uint64_t seed)
{
    enum { HALF = 10 };
    TrainConfig c = train_config_default(TASK_COPY);
    c.seed = seed;
    c.batch = 8;
    c.dropout = 0.1f;   /* dropout too: every rank must skip to its rows' masks */
    c.steps = 2 * HALF;
    Trainer whole, part, resumed;
    TaskData d;
    task_data_new(&d, c.batch);
    RunSettings rs = {NULL, 0, 0, 0, 0, 0, 0};
    start_run(dp, &whole, &c, &rs);
    start_run(dp, &part, &c, &rs);
    for (int k = 0; k < 2 * HALF; k++) dp_trainer_step(dp, &whole, &d);
    for (int k = 0; k < HALF; k++) dp_trainer_step(dp, &part, &d);
    char *path = path_join(o->outdir, "resume_check.npz");
    Error err;
    int rc = dp->rank == 0 ? checkpoint_save(path, &part, &err) : 0;
    all_or_none(dp, rc, &err);
    rs.checkpoint = path;
    rs.resume = 1;
    start_run(dp, &resumed, &c, &rs);
    for (int k = 0; k < HALF; k++) dp_trainer_step(dp, &resumed, &d);
    unsigned long differ = 0;
    for (size_t i = 0; i < whole.m.params.size; i++)
        differ += memcmp(&whole.m.params.data[i], &resumed.m.params.data[i], sizeof(float)) != 0;
    MPI_Allreduce(MPI_IN_PLACE, &differ, 1, MPI_UNSIGNED_LONG, MPI_SUM, dp->comm);
    if (dp->rank == 0)
        printf("Resuming on %d rank%s (batch 8, dropout 0.1): %d steps in one go, against %d\n"
               "steps, a checkpoint, rank 0 reading it and sending it to every rank, and %d\n"
               "steps more: %lu of %zu parameters differ in any bit, on all ranks together.\n"
               "(The checkpoint: %s.)\n\n", dp->size, dp->size > 1 ? "s" : "", 2 * HALF, HALF,
               HALF, differ, whole.m.params.size, path);
    free(path);
    task_data_free(&d);
    trainer_free(&whole);
    trainer_free(&part);
    trainer_free(&resumed);
}

static void run_demo(DataParallel *dp, const CommonOpts *opts, int threads)
{
    double start = MPI_Wtime();
    if (dp->rank == 0) printf("Chapter 12: data-parallel training with MPI\n\n");
    demo_ranks(dp, threads, 64);
    demo_one_batch(dp, opts->seed);
    demo_allreduce(dp, &opts->plot);
    demo_train(dp, &opts->plot, opts->seed);
    demo_resume(dp, &opts->plot, opts->seed);
    if (dp->rank == 0)
        printf("The demo took %.1f s. Other runs: mpirun -np N build/bin/ch12 --task copy|reverse\n"
               "[--steps N] [--batch B] ...; the speed of the reference model: make bench-mpi.\n",
               MPI_Wtime() - start);
}

/* ================================================================= main */

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    DataParallel dp;
    dp_init(&dp, MPI_COMM_WORLD, ALLREDUCE_MPI);
    int root = dp.rank == 0;
    if (!root && !freopen("/dev/null", "w", stdout)) return EXIT_DATA;   /* only rank 0 prints */
    if (!root) quiet_stderr(1);
    atexit(leave_together);
    int threads = share_cores(dp.comm);

    cli_init("ch12");
    CommonOpts opts;
    common_opts_init(&opts, "out/ch12");
    TrainOptions t;   /* chapter 10's options */
    train_options_init(&t);
    const char *g2p_opt = NULL;    /* an option only for --task g2p */
    G2pSettings g2p = {"classroom", DEFAULT_DICT, NULL, 0, 0, 0, 0, 1};
    int g2p_task = 0, recipe_given = 0, bench = 0, repeats = 10, repeats_given = 0;
    const char *model_opt = NULL;   /* a run option other than --batch: not with --bench */

    enum { OPT_BENCH = TRAIN_OPT_END, OPT_REPEATS, OPT_ALLREDUCE, OPT_RECIPE, OPT_DICT,
           OPT_DEV_WORDS };
    static const struct option longopts[] = {
        TRAIN_LONG_OPTIONS,
        {"bench", no_argument, NULL, OPT_BENCH},
        {"repeats", required_argument, NULL, OPT_REPEATS},
        {"allreduce", required_argument, NULL, OPT_ALLREDUCE},
        {"recipe", required_argument, NULL, OPT_RECIPE},
        {"dict", required_argument, NULL, OPT_DICT},
        {"dev-words", required_argument, NULL, OPT_DEV_WORDS},
        COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_next_option(argc, argv, longopts, NULL, &opts, USAGE)) != -1) {
        switch (c) {
        case TRAIN_OPT_TASK:   /* chapter 10's tasks, and chapter 11's model */
            g2p_task = strcmp(optarg, "g2p") == 0;
            if (!g2p_task && task_parse(optarg, &t.cfg.task) != 0)
                usage_error("--task: '%s' is not copy, reverse or g2p", optarg);
            t.task = optarg;
            t.rs.task_given = 1;
            break;
        case OPT_BENCH: bench = 1; break;
        case OPT_REPEATS:
            repeats = (int)parse_long("--repeats", optarg, 1, MAX_REPEATS);
            repeats_given = 1;
            break;
        case OPT_ALLREDUCE:
            if (allreduce_parse(optarg, &dp.kind) != 0)
                usage_error("--allreduce: '%s' is not mpi or ring", optarg);
            break;
        case OPT_RECIPE: {
            Recipe known;
            if (recipe_find(&known, optarg) != 0)
                usage_error("--recipe: '%s' is not classroom or full", optarg);
            g2p.recipe = optarg;
            recipe_given = 1;
            g2p_opt = "--recipe";
            break;
        }
        case OPT_DICT:
            g2p.dict = optarg;
            g2p_opt = "--dict";
            break;
        case OPT_DEV_WORDS:
            g2p.dev_words = (int)parse_long("--dev-words", optarg, 1, 1000000L);
            g2p_opt = "--dev-words";
            break;
        default:
            train_options_handle(&t, c, optarg);
            if (c > TRAIN_OPT_BATCH && c <= TRAIN_OPT_INIT) model_opt = t.run_opt;
        }
    }
    if (g2p_opt && !g2p_task) usage_error("%s: only with --task g2p", g2p_opt);

    if (bench) {
        const TrainFiles *f = &t.files;
        const char *other = f->params ? "--params" : f->src ? "--src" : f->tgt ? "--tgt"
                            : f->tgt_out ? "--tgt-out" : t.task && !g2p_task ? "--task"
                            : t.rs.resume ? "--resume" : t.checkpoint ? "--checkpoint"
                            : t.file_opt ? t.file_opt : t.rs.steps ? "--steps"
                            : model_opt ? model_opt : t.smoothing_given ? "--label-smoothing"
                            : t.lr_given ? "--lr" : g2p.dev_words ? "--dev-words" : NULL;
        if (other)
            usage_error("%s: not with --bench (only --batch, --repeats, --allreduce, and "
                        "--task g2p with --recipe and --dict)", other);
        options_read(root);
        if (g2p_task)
            run_bench_g2p(&dp, g2p.recipe, g2p.dict, t.batch_given ? t.cfg.batch : 0, repeats,
                          threads);
        else
            run_bench(&dp, t.cfg.batch, repeats, threads);
        MPI_Finalize();
        return 0;
    }
    if (repeats_given) usage_error("--repeats: only with --bench");
    if (train_options_file_mode(&t)) {
        options_read(root);
        check_output(&dp, t.files.grads, "--grads");   /* before any work */
        check_output(&dp, t.files.params_out, "--params-out");
        run_files(&dp, &t.files);
        MPI_Finalize();
        return 0;
    }
    if (g2p_task) {
        const char *setting = train_options_setting(&t);
        const char *other = setting ? setting : t.test_given ? "--test" : NULL;
        if (other) usage_error("%s: not with --task g2p (its recipe sets it: --recipe)", other);
        if (t.rs.resume && (recipe_given || opts.seed_given))
            usage_error("%s: a resumed run keeps its checkpoint's %s",
                        recipe_given ? "--recipe" : "--seed", recipe_given ? "recipe" : "seed");
        g2p.checkpoint = train_checkpoint_path(t.checkpoint, opts.plot.outdir, "g2p");
        g2p.steps = t.rs.steps;
        g2p.eval_every = t.eval_given ? t.rs.eval_every : 0;
        g2p.resume = t.rs.resume;
        g2p.seed = opts.seed;
        options_read(root);
        check_outdir(&dp, &opts.plot);
        int code = run_g2p(&dp, &g2p);
        free((char *)g2p.checkpoint);
        MPI_Finalize();
        return code;
    }
    if (train_options_demo(&t)) {
        options_read(root);
        check_outdir(&dp, &opts.plot);
        run_demo(&dp, &opts, threads);
        MPI_Finalize();
        return 0;
    }
    char *path = train_options_run(&t, &opts);
    options_read(root);
    t.rs.checkpoint = path;
    Error err;
    int rc = 0;
    char *slash = strrchr(path, '/');
    if (root && !t.rs.resume && slash) {   /* the checkpoint's directory, made by rank 0 */
        *slash = '\0';
        rc = make_dirs(path, &err);
        *slash = '/';
    }
    all_or_none(&dp, rc, &err);
    /* Every file of the run can be written, before it starts: the
     * checkpoint, and TASK_best.npz and the figures in OUT. */
    check_outdir(&dp, &opts.plot);
    check_output(&dp, path, "--checkpoint");
    run_task(&dp, &t.cfg, &t.rs, &opts.plot);
    free(path);
    MPI_Finalize();
    return 0;
}
