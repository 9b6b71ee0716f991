/*
 * main.c - chapter 10's program, build/bin/ch10.
 *
 * With no arguments: the demo. A gradient check, overfitting one batch, the
 * warm-up schedule and label smoothing in figures, then the copy task
 * trained to exact copies (loss curves, cross-attention before and after,
 * an animated GIF of it while training), a resumed run shown bit-identical
 * to an uninterrupted one, and the reverse task, whose cross-attention
 * becomes an anti-diagonal.
 * With --task copy|reverse: a training run of any length, with checkpoints
 * and --resume.
 * With --params/--src/--tgt/--tgt-out: the loss and gradients of a model
 * saved from PyTorch, or --steps N of Adam on that one batch, for checking
 * against PyTorch (../shared/CONTRACT.md).
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "animation.h"
#include "checkpoint.h"
#include "cli.h"
#include "loss.h"
#include "npy.h"
#include "ops.h"
#include "plot.h"
#include "report.h"
#include "tasks.h"
#include "train.h"
#include "train_cli.h"
#include "trainer.h"

static const char *const USAGE =
    "usage: ch10 [options]\n"
    "Chapter 10: training. Backward passes, cross-entropy with label smoothing, Adam\n"
    "with the paper's warm-up schedule, dropout, and training runs on toy tasks.\n"
    "With no options, runs the demo (about 20 seconds): a gradient check, one batch\n"
    "overfitted, the copy and the reverse task trained, with figures.\n"
    "\n"
    "A training run (the vocabulary has 11 tokens: 0 pad, 1 <s>, 2..10 the symbols\n"
    "A..I; a source is <s> and 9 random symbols, its answer the same 9 or reversed):\n"
    "  --task copy|reverse   train on the copy or the reverse task\n"
    "  --steps N             train until step N (default 800 for copy, 1000 for\n"
    "                        reverse)\n"
    "  --batch B             pairs per step (default 64)\n"
    "  --dropout p           dropout rate (default 0; the paper's is 0.1)\n"
    "  --label-smoothing e   label smoothing (default 0.1, the paper's; with\n"
    "                        --params the default is 0)\n"
    "  --factor F, --warmup W   the schedule lr = F d_model^-0.5 min(k^-0.5,\n"
    "                        k W^-1.5) (defaults 0.25 and 200)\n"
    "  --lr LR               a constant learning rate instead of the schedule\n"
    "  --clip C              clip the gradient norm to C (default: no clipping)\n"
    "  --d-model E, --d-ff F, --heads H, --layers N   model sizes (32, 64, 2, 2)\n"
    "  --norm-first          pre-norm blocks (default: post-norm, the paper's)\n"
    "  --init xavier|torch   initial weights: Xavier-uniform for every matrix\n"
    "                        (default) or PyTorch's (N(0, 1) embeddings)\n"
    "  --eval-every K        held-out loss, animation frame and checkpoint every K\n"
    "                        steps (default 50)\n"
    "  --test N              exact-match test on N fresh sequences (default 1000)\n"
    "  --checkpoint PATH     checkpoint file, or directory for TASK.npz (default\n"
    "                        OUT/TASK.npz); written atomically at every held-out\n"
    "                        point, at the end, and on Ctrl-C or SIGTERM, which\n"
    "                        then stop the run with exit status 130 or 143\n"
    "                        (128 + the signal). A loss of NaN or Inf stops it\n"
    "                        with status 1, the last checkpoint kept.\n"
    "  --resume              continue the run saved in the checkpoint (--checkpoint\n"
    "                        FILE, or --task for OUT/TASK.npz) to --steps or to its\n"
    "                        own length; the settings come from the file. With the\n"
    "                        same seed the result is bit-identical to a run that\n"
    "                        was never stopped.\n"
    "  A run writes OUT/TASK.npz (checkpoint), OUT/TASK_best.npz (the model of the\n"
    "  lowest held-out loss, in the contract's layout) and its figures.\n"
    "\n"
    "With files (../shared/CONTRACT.md):\n"
    "  --params MODEL.npz    the model (chapter 9's file: PyTorch state_dict names)\n"
    "  --src SRC.npy         source ids (B, S); 0 is padding\n"
    "  --tgt TGT.npy         decoder input ids (B, T)\n"
    "  --tgt-out Y.npy       the ids to predict (B, T); 0 is ignored by the loss\n"
    "                        prints \"loss X\", the mean over positions with Y != 0\n"
    "  --grads G.npz         write d loss / d parameter, under the parameters' names\n"
    "                        (with --steps: at the given parameters)\n"
    "  --steps N --lr LR     N Adam steps on this batch (betas 0.9, 0.98, eps 1e-9,\n"
    "                        no dropout, no clipping); prints \"step K loss X\" before\n"
    "                        step K, K = 1 ... N\n"
    "  --params-out P.npz    write the parameters after the last step\n"
    "  (with files, --plot draws the loss of --steps: OUT/steps_loss.png)\n";

static void say_figure(const PlotOpts *o, const char *name, const char *ext)
{
    if (o->format == PLOT_PNG || o->format == PLOT_SVG)
        printf("Figure: %s/%s.%s (with %s.dat and %s.gp beside it)\n", o->outdir, name,
               ext ? ext : o->format == PLOT_PNG ? "png" : "svg", name, name);
}

static void check_plot(int rc, const Error *err)
{
    if (rc != 0) data_error_from(err);
}

/* =========================================================== with files */

/* The loss before each of the --steps, as a figure. */
static void plot_steps(const PlotOpts *o, const float *loss, long n)
{
    float *x = xcalloc((size_t)n, sizeof *x, "steps");
    for (long k = 0; k < n; k++) x[k] = (float)(k + 1);
    const float *ys[1] = {loss};
    const char *labels[1] = {"loss on the batch"};
    Error err;
    check_plot(plot_lines(o, "steps_loss", "Adam steps on one batch", x, ys, labels, 1, (int)n,
                          "step", "loss", PLOT_LOGY, &err), &err);
    say_figure(o, "steps_loss", NULL);
    free(x);
}

static void run_files(const TrainFiles *f, const CommonOpts *opts)
{
    TrainInputs in;   /* the model and the batch */
    Error err;
    if (train_inputs_load(&in, f, &err) != 0) data_error_from(&err);
    Transformer *m = &in.m;
    Rng r;   /* dropout is off here, so it is never drawn from */
    rng_seed(&r, 1);
    if (f->steps == 0) {
        double loss = transformer_backward(m, &in.b, f->smoothing, 0.0f, &r);
        if (train_check_loss(loss, 0, f->params, &err) != 0) data_error_from(&err);
        printf("loss %.9f\n", loss);
        if (f->grads && train_save_grads(m, f->grads, &err) != 0) data_error_from(&err);
    } else {
        Adam a;
        adam_init(&a, m->params.size, 0.9f, 0.98f, 1e-9f);
        float *losses = xcalloc((size_t)f->steps, sizeof *losses, "the losses");
        for (long k = 1; k <= f->steps; k++) {
            double loss = transformer_backward(m, &in.b, f->smoothing, 0.0f, &r);
            if (train_check_loss(loss, k, f->params, &err) != 0) data_error_from(&err);
            losses[k - 1] = (float)loss;
            printf("step %ld loss %.9f\n", k, loss);
            if (k == 1 && f->grads && train_save_grads(m, f->grads, &err) != 0)
                data_error_from(&err);   /* at the given parameters */
            adam_step(&a, m->params.data, m->params.grad, f->lr);
        }
        if (opts->plot_given) plot_steps(&opts->plot, losses, f->steps);
        free(losses);
        adam_free(&a);
    }
    if (f->params_out && train_save_params(m, f->params_out, &err) != 0) data_error_from(&err);
    train_inputs_free(&in);
}

/* ========================================================== attention */

/* Labels of n token ids, as task tokens. */
static const char **token_labels(const int64_t *ids, int n)
{
    const char **s = xcalloc((size_t)n, sizeof *s, "token labels");
    for (int i = 0; i < n; i++) s[i] = task_token(ids[i]);
    return s;
}

/* "layer n, head h" for the N x H panels; free with free_titles. */
static char **panel_titles(int N, int H)
{
    char **t = xcalloc((size_t)(N * H), sizeof *t, "panel titles");
    for (int p = 0; p < N * H; p++) {
        t[p] = xmalloc(48, 1, "a panel title");
        snprintf(t[p], 48, "layer %d, head %d", p / H + 1, p % H + 1);
    }
    return t;
}

static void free_titles(char **t, int n)
{
    for (int i = 0; i < n; i++) free(t[i]);
    free(t);
}

/* The cross-attention of one pair: (dec_layers * H * T, S), target rows. */
static Mat cross_attention(const Transformer *m, const int64_t *src, int S, const int64_t *tgt,
                           int T)
{
    AttentionMaps maps = attention_maps_new(&m->cfg, S, T);
    Mat logits = mat_new(T, m->cfg.Vt);
    transformer_forward(logits, &maps, m, src, S, tgt, T);
    Mat cross = maps.cross;
    maps.cross = (Mat){0};   /* kept; the rest is freed */
    attention_maps_free(&maps);
    mat_free(&logits);
    return cross;
}

/* Every layer (down) and head (across) of the cross-attention on one pair:
 * target tokens as rows, source tokens as columns. */
static void plot_cross(const PlotOpts *o, const char *name, const char *title,
                       const Transformer *m, const int64_t *src, int S, const int64_t *tgt, int T)
{
    int N = m->cfg.dec_layers, H = m->cfg.H;
    Mat cross = cross_attention(m, src, S, tgt, T);
    Mat *panels = xcalloc((size_t)(N * H), sizeof *panels, "figure panels");
    for (int p = 0; p < N * H; p++) panels[p] = mat_rows(cross, p * T, T);
    char **titles = panel_titles(N, H);
    const char **rows = token_labels(tgt, T), **cols = token_labels(src, S);
    Error err;
    check_plot(plot_heatmap_grid(o, name, title, panels, (const char *const *)titles, N, H, rows,
                                 cols, "source token (key)", "target input (query)", &err),
               &err);
    say_figure(o, name, NULL);
    free(rows);
    free(cols);
    free_titles(titles, N * H);
    free(panels);
    mat_free(&cross);
}

/* The frames of the animation: the cross-attention on one fixed pair at
 * every held-out point of the run. */
typedef struct {
    const int64_t *src, *tgt;   /* the pair: S and T ids */
    int S, T;
    int frames, cap;
    Mat *maps;                  /* (frames) each (dec_layers * H * T, S) */
    long *steps;                /* (frames) */
} Frames;

static void record_frame(const Trainer *t, void *ctx)
{
    Frames *f = ctx;
    if (f->frames == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 32;
        f->maps = xrealloc(f->maps, (size_t)f->cap, sizeof *f->maps, "animation frames");
        f->steps = xrealloc(f->steps, (size_t)f->cap, sizeof *f->steps, "animation steps");
    }
    f->maps[f->frames] = cross_attention(&t->m, f->src, f->S, f->tgt, f->T);
    f->steps[f->frames] = t->step;
    f->frames++;
}

static void frames_free(Frames *f)
{
    for (int i = 0; i < f->frames; i++) mat_free(&f->maps[i]);
    free(f->maps);
    free(f->steps);
}

static void plot_frames(const PlotOpts *o, const char *name, const char *title, const Frames *f,
                        const TransformerConfig *c)
{
    int P = c->dec_layers * c->H;
    if (f->frames < 2) return;   /* a resumed run that measured once: nothing moves */
    Mat *maps = xcalloc((size_t)f->frames * P, sizeof *maps, "animation panels");
    char **frame_titles = xcalloc((size_t)f->frames, sizeof *frame_titles, "frame titles");
    for (int k = 0; k < f->frames; k++) {
        for (int p = 0; p < P; p++) maps[k * P + p] = mat_rows(f->maps[k], p * f->T, f->T);
        frame_titles[k] = xmalloc(48, 1, "a frame title");
        snprintf(frame_titles[k], 48, "after %ld steps", f->steps[k]);
    }
    char **titles = panel_titles(c->dec_layers, c->H);
    const char **rows = token_labels(f->tgt, f->T), **cols = token_labels(f->src, f->S);
    Animation a = {name, title, f->frames, c->dec_layers, c->H, maps,
                   (const char *const *)frame_titles, (const char *const *)titles, rows, cols,
                   "source token (key)", "target input (query)", 30};
    Error err;
    check_plot(plot_animation(o, &a, &err), &err);
    if (o->format == PLOT_PNG || o->format == PLOT_SVG)
        printf("Figure: %s/%s.gif (%d frames, with %s.dat and %s.gp beside it)\n", o->outdir,
               name, f->frames, name, name);
    free(rows);
    free(cols);
    free_titles(titles, P);
    free_titles(frame_titles, f->frames);
    free(maps);
}

/* ============================================================ figures */

/* The smallest loss label smoothing allows: the entropy of the smoothed
 * target, -(1 - e + e/V) log(1 - e + e/V) - (V - 1) (e/V) log(e/V). */
static double smoothing_floor(float e, int V)
{
    double right = 1.0 - e + (double)e / V, other = (double)e / V;
    return e > 0.0f ? -right * log(right) - (V - 1) * other * log(other) : 0.0;   /* no log(0) */
}

/* Train and held-out loss at the held-out points; the training loss of a
 * point is the mean over the steps since the one before. */
static void plot_loss(const PlotOpts *o, const char *name, const char *title, const Trainer *t)
{
    int n = t->points;
    float *train = trainer_point_losses(t);
    float *floor_ = xcalloc((size_t)n, sizeof *floor_, "the loss floor");
    for (int i = 0; i < n; i++) floor_[i] = (float)smoothing_floor(t->cfg.smoothing, TASK_VOCAB);
    const float *ys[3] = {train, t->eval_loss, floor_};
    const char *labels[3] = {"training batches", "held-out pairs", "floor: entropy of q"};
    Error err;
    check_plot(plot_lines(o, name, title, t->eval_step, ys, labels, 3, n, "step",
                          "cross-entropy with label smoothing", PLOT_LOGY, &err), &err);
    say_figure(o, name, NULL);
    free(train);
    free(floor_);
}

/* Figure 3 of the annotated paper: the learning rate of the three settings. */
static void plot_schedule(const PlotOpts *o)
{
    enum { POINTS = 200, LAST = 20000 };
    static const int dims[3] = {512, 512, 256}, warmups[3] = {4000, 8000, 4000};
    static const char *const labels[3] = {"d_model 512, warmup 4000", "d_model 512, warmup 8000",
                                          "d_model 256, warmup 4000"};
    float x[POINTS], rate[3][POINTS];
    for (int i = 0; i < POINTS; i++) {
        long step = 1 + (long)i * LAST / POINTS;
        x[i] = (float)step;
        for (int k = 0; k < 3; k++) rate[k][i] = noam_rate(step, dims[k], warmups[k], 1.0f);
    }
    const float *ys[3] = {rate[0], rate[1], rate[2]};
    Error err;
    check_plot(plot_lines(o, "schedule", "The paper's learning rate: warm-up, then 1/sqrt(step)",
                          x, ys, labels, 3, POINTS, "step", "learning rate", 0, &err), &err);
    say_figure(o, "schedule", NULL);
}

/* The loss of one prediction whose right class has probability p and whose
 * V - 1 others share the rest evenly, through cross_entropy_backward: its
 * logits are log p and log((1 - p) / (V - 1)), finite for p in (0, 1). */
static double loss_at(double p, int right, float smoothing)
{
    float logits[TASK_VOCAB], grad[TASK_VOCAB];
    for (int c = 0; c < TASK_VOCAB; c++)
        logits[c] = (float)(c == right ? log(p) : log((1.0 - p) / (TASK_VOCAB - 1)));
    int64_t target = right;
    return cross_entropy_backward(mat_wrap(grad, 1, TASK_VOCAB), mat_wrap(logits, 1, TASK_VOCAB),
                                  &target, smoothing, 1.0f);
}

static void plot_smoothing(const PlotOpts *o, float e)
{
    /* The smoothed targets q of five positions, as torch builds them. */
    enum { ROWS = 5 };
    static const int64_t targets[ROWS] = {2, 5, 7, 10, 3};
    Mat q = mat_new(ROWS, TASK_VOCAB);
    const char *rows[ROWS], *cols[TASK_VOCAB];
    for (int c = 0; c < TASK_VOCAB; c++) cols[c] = task_token(c);
    for (int i = 0; i < ROWS; i++) {
        rows[i] = task_token(targets[i]);
        for (int c = 0; c < TASK_VOCAB; c++)
            MAT_AT(q, i, c) = e / TASK_VOCAB + (c == targets[i] ? 1.0f - e : 0.0f);
    }
    mat_show("Smoothed targets q = (1 - e) onehot + e / V, e = 0.1, V = 11 (rows: right token)",
             q, rows, cols, 3);
    char title[96];
    snprintf(title, sizeof title, "Label-smoothed targets, e = %.1f (rows: the right token)",
             (double)e);
    Error err;
    check_plot(plot_heatmap(o, "smoothing_target", title, q, rows, cols, "token of the vocabulary",
                            "right token", &err), &err);
    say_figure(o, "smoothing_target", NULL);

    /* The loss against p, the predicted probability of the right class. */
    enum { POINTS = 99 };
    float x[POINTS], plain[POINTS], smooth[POINTS];
    double best_p = 0.0, best = INFINITY;
    for (int i = 0; i < POINTS; i++) {
        double p = (i + 1) / 100.0;   /* 0.01 ... 0.99: never 0 or 1 */
        x[i] = (float)p;
        plain[i] = (float)loss_at(p, 2, 0.0f);
        smooth[i] = (float)loss_at(p, 2, e);
        if (smooth[i] < best) best = smooth[i], best_p = p;
    }
    const float *ys[2] = {plain, smooth};
    const char *labels[2] = {"e = 0: -log p", "e = 0.1"};
    check_plot(plot_lines(o, "smoothing_loss",
                          "Loss of one position against p(right token), the rest spread evenly",
                          x, ys, labels, 2, POINTS,
                          "p, the predicted probability of the right token", "loss", 0, &err),
               &err);
    say_figure(o, "smoothing_loss", NULL);
    printf("Without smoothing the loss falls all the way to 0 as p -> 1 (%.4f at p = 0.99);\n"
           "with e = %.1f it is smallest at p = %.2f (loss %.4f) and rises again: the model is\n"
           "asked for 1 - e + e/V = %.3f, not for certainty.\n\n", plain[POINTS - 1], (double)e,
           best_p, best, 1.0 - e + e / TASK_VOCAB);
    mat_free(&q);
}

/* ========================================================= training runs */

/* The fixed example of the figures, <s> B D A G I C E H F: nine different
 * symbols, so that every target row has exactly one source column to look at. */
static void figure_pair(int64_t *src, int64_t *tgt, Task task)
{
    static const int64_t symbols[TASK_LEN - 1] = {3, 5, 2, 8, 10, 4, 6, 9, 7};
    src[0] = tgt[0] = TASK_BOS;
    for (int i = 1; i < TASK_LEN; i++) src[i] = symbols[i - 1];
    for (int t = 1; t < TASK_LEN - 1; t++) tgt[t] = task == TASK_COPY ? src[t] : src[TASK_LEN - t];
}

static void print_ids(const char *label, const int64_t *ids, int n)
{
    printf("%s", label);
    for (int i = 0; i < n; i++) printf(" %s", task_token(ids[i]));
    putchar('\n');
}

static void describe_run(const Trainer *t)
{
    const TrainConfig *c = &t->cfg;
    const TransformerConfig *m = &c->model;
    printf("The %s task, seed %llu: d_model %d, d_ff %d, %d heads, %d + %d layers, %s,\n"
           "%zu parameters (%s init). Batch %d pairs, dropout %.2g, label smoothing %.2g,\n",
           task_name(c->task), (unsigned long long)c->seed, m->E, m->F, m->H, m->enc_layers,
           m->dec_layers, m->norm_first ? "pre-norm" : "post-norm", t->m.params.size,
           c->xavier ? "Xavier" : "PyTorch", c->batch, (double)c->dropout, (double)c->smoothing);
    if (c->lr > 0.0f) printf("Adam (0.9, 0.98, 1e-9) at a constant rate %.3g", (double)c->lr);
    else
        printf("Adam (0.9, 0.98, 1e-9), rate %.3g d_model^-0.5 min(k^-0.5, k %d^-1.5) (peak %.2e "
               "at step %d)", (double)c->factor, c->warmup,
               (double)noam_rate(c->warmup, m->E, c->warmup, c->factor), c->warmup);
    printf("%s.\n", c->clip > 0.0f ? ", gradients clipped" : "");
}

/* A whole run: train (or resume), then decode fresh sequences and draw. */
static void run_task(const TrainConfig *cfg, const RunSettings *rs, const PlotOpts *o)
{
    Trainer t;
    Error err;
    if (rs->resume) {
        if (checkpoint_load(rs->checkpoint, &t, &err) != 0) data_error_from(&err);
        if (rs->task_given && t.cfg.task != cfg->task)
            data_error("%s: a run of the %s task, not of the %s task", rs->checkpoint,
                       task_name(t.cfg.task), task_name(cfg->task));
        if (rs->steps > 0) t.cfg.steps = rs->steps;
        printf("Resuming %s at step %ld of %ld.\n", rs->checkpoint, t.step, t.cfg.steps);
    } else {
        trainer_new(&t, cfg);
    }
    describe_run(&t);
    const char *task = task_name(t.cfg.task);
    int64_t src[TASK_LEN], tgt[TASK_LEN - 1];
    figure_pair(src, tgt, t.cfg.task);
    char name[64], title[128];
    if (t.step == 0) {
        snprintf(name, sizeof name, "%s_cross_before", task);
        snprintf(title, sizeof title, "The %s task: cross-attention before training", task);
        plot_cross(o, name, title, &t.m, src, TASK_LEN, tgt, TASK_LEN - 1);
    }

    Frames frames = {src, tgt, TASK_LEN, TASK_LEN - 1, 0, 0, NULL, NULL};
    RunOpts ro = {t.cfg.steps, rs->eval_every, rs->print_every, rs->checkpoint, record_frame,
                  &frames};
    int rc = trainer_run(&t, &ro, &err);
    if (rc < 0) data_error_from(&err);
    printf("Trained %ld steps in %.1f s of training (%ld pairs); checkpoint %s\n", t.step,
           t.seconds, t.step * t.cfg.batch, rs->checkpoint);
    if (rc == 1) {   /* stopped by a signal: the exit status says so, as a shell would */
        int sig = trainer_stop_signal();
        printf("Stopped by %s at step %ld. Continue with:\n  ch10 --resume --checkpoint %s\n",
               sig == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM", t.step, rs->checkpoint);
        frames_free(&frames);
        trainer_free(&t);
        exit(128 + sig);
    }

    /* The last model, and the one of the lowest held-out loss (the loss of a
     * converged run spikes now and then: see the page). */
    Transformer best;
    trainer_best_model(&best, &t);
    TaskData test;
    trainer_test_data(&test, &t.cfg, rs->test);
    double start = now_seconds();
    double last = task_exact_match(&t.m, &test), exact = task_exact_match(&best, &test);
    char last_label[64], best_label[64];
    snprintf(last_label, sizeof last_label, "the model after step %ld:", t.step);
    snprintf(best_label, sizeof best_label, "the best held-out model (step %ld, loss %.4f):",
             t.best_step, (double)t.best_loss);
    printf("Exact match on %d fresh sequences, greedy decoding (%.1f s for both):\n"
           "  %-48s %5.1f%%\n  %-48s %5.1f%%\n", rs->test, now_seconds() - start, last_label,
           100.0 * last, best_label, 100.0 * exact);
    int64_t out[TASK_LEN];
    greedy_decode(out, TASK_LEN, &best, src, TASK_LEN, TASK_BOS, -1);
    print_ids("  source: ", src, TASK_LEN);
    print_ids("  output: ", out, TASK_LEN);
    snprintf(name, sizeof name, "%s_best.npz", task);
    char *model_path = path_join(o->outdir, name);
    if (make_dirs(o->outdir, &err) != 0 || transformer_save(&best, model_path, &err) != 0)
        data_error_from(&err);
    printf("The best model alone, in the contract's layout: %s\n", model_path);
    free(model_path);

    snprintf(name, sizeof name, "%s_loss", task);
    snprintf(title, sizeof title, "The %s task: loss while training", task);
    plot_loss(o, name, title, &t);
    snprintf(name, sizeof name, "%s_cross_after", task);
    snprintf(title, sizeof title, "The %s task: cross-attention of the best model (step %ld)",
             task, t.best_step);
    plot_cross(o, name, title, &best, src, TASK_LEN, tgt, TASK_LEN - 1);
    snprintf(name, sizeof name, "%s_cross_training", task);
    if (rs->resume) snprintf(title, sizeof title, "The %s task: cross-attention while training "
                             "(resumed)", task);
    else snprintf(title, sizeof title, "The %s task: cross-attention while training", task);
    plot_frames(o, name, title, &frames, &t.cfg.model);
    task_data_free(&test);
    frames_free(&frames);
    transformer_free(&best);
    trainer_free(&t);
}

/* ============================================================== the demo */

/* Backward against central differences, (L(p + h) - L(p - h)) / 2h, on a
 * few entries of a small random model: the first test of any backward pass. */
static void demo_gradient_check(void)
{
    TrainConfig c = train_config_default(TASK_COPY);
    c.batch = 4;
    Trainer t;
    trainer_new(&t, &c);
    TaskData d;
    task_data_new(&d, 4);
    Rng r;
    rng_seed(&r, 7);
    task_data_fill(&d, TASK_COPY, &r);
    Batch b = task_data_batch(&d);
    transformer_backward(&t.m, &b, 0.1f, 0.0f, &r);
    static const char *const names[] = {
        "src_embed.weight", "encoder.layers.0.self_attn.in_proj_weight",
        "encoder.layers.1.linear1.bias", "decoder.layers.0.norm2.weight",
        "decoder.layers.1.multihead_attn.out_proj.weight", "generator.bias",
    };
    printf("A gradient check: d loss / d parameter from the backward pass, and from central\n"
           "differences (L(p + h) - L(p - h)) / 2h with h = 1e-3, on a random model and 4 copy\n"
           "pairs, label smoothing 0.1, no dropout:\n\n");
    printf("  %-52s %10s %10s %9s\n", "parameter[entry]", "backward", "numeric", "rel. diff");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const Param *p = params_find(&t.m.params, names[i]);
        size_t at = p->offset + (size_t)(p->rows * p->cols) / 3;   /* an entry inside it */
        float keep = t.m.params.data[at], h = 1e-3f;
        t.m.params.data[at] = keep + h;
        double up = transformer_loss(&t.m, &b, 0.1f);
        t.m.params.data[at] = keep - h;
        double down = transformer_loss(&t.m, &b, 0.1f);
        t.m.params.data[at] = keep;
        char label[96];
        snprintf(label, sizeof label, "%s[%zu]", names[i], at - p->offset);
        double g = t.m.params.grad[at], numeric = (up - down) / (2.0 * h);
        printf("  %-52s %10.6f %10.6f %9.1e\n", label, g, numeric,
               fabs(g - numeric) / fmax(fabs(g), fabs(numeric)));
    }
    printf("\n");
    task_data_free(&d);
    trainer_free(&t);
}

/* Many Adam steps on one small batch drive its loss towards 0: if they do
 * not, the backward pass or the optimiser is wrong. Writes the batch and
 * the model so that `ch10 --params ... --steps N` repeats it. */
static void demo_overfit(const PlotOpts *o)
{
    TrainConfig c = train_config_default(TASK_COPY);
    Trainer t;
    trainer_new(&t, &c);
    TaskData d;
    task_data_new(&d, 8);
    Rng r;
    rng_seed(&r, 3);
    task_data_fill(&d, TASK_COPY, &r);
    Error err;
    char *paths[4];
    const char *files[4] = {"overfit_model.npz", "overfit_src.npy", "overfit_tgt.npy",
                            "overfit_tgt_out.npy"};
    if (make_dirs(o->outdir, &err) != 0) data_error_from(&err);
    for (int i = 0; i < 4; i++) paths[i] = path_join(o->outdir, files[i]);
    const int64_t ss[2] = {d.B, d.S}, st[2] = {d.B, d.T};
    if (transformer_save(&t.m, paths[0], &err) != 0 ||
        npy_save_i64(paths[1], d.src, 2, ss, &err) != 0 ||
        npy_save_i64(paths[2], d.tgt, 2, st, &err) != 0 ||
        npy_save_i64(paths[3], d.tgt_out, 2, st, &err) != 0)
        data_error_from(&err);

    Batch b = task_data_batch(&d);
    Adam a;
    adam_init(&a, t.m.params.size, 0.9f, 0.98f, 1e-9f);
    printf("Overfitting one batch (8 copy pairs, Adam at a constant 0.01, no dropout, no\n"
           "smoothing): the loss of a correct model on one fixed batch falls towards 0.\n");
    for (int k = 1; k <= 100; k++) {
        double loss = transformer_backward(&t.m, &b, 0.0f, 0.0f, &r);
        if (k == 1 || k % 20 == 0) printf("  step %3d: loss %.4f\n", k, loss);
        adam_step(&a, t.m.params.data, t.m.params.grad, 0.01f);
    }
    printf("The same with the contract's command (it prints every step):\n"
           "  build/bin/ch10 --params %s --src %s \\\n"
           "      --tgt %s --tgt-out %s --steps 100 --lr 0.01\n\n",
           paths[0], paths[1], paths[2], paths[3]);
    for (int i = 0; i < 4; i++) free(paths[i]);
    adam_free(&a);
    task_data_free(&d);
    trainer_free(&t);
}

/* 2N steps in one go, and N steps, a checkpoint, a new process's worth of
 * loading, N more: the parameters must agree bit for bit. */
static void demo_resume(const PlotOpts *o)
{
    enum { HALF = 10 };
    TrainConfig c = train_config_default(TASK_COPY);
    c.batch = 8;
    c.steps = 2 * HALF;
    Trainer whole, part, resumed;
    trainer_new(&whole, &c);
    trainer_new(&part, &c);
    TaskData d;
    task_data_new(&d, c.batch);
    for (int k = 0; k < 2 * HALF; k++) trainer_step(&whole, &d);
    for (int k = 0; k < HALF; k++) trainer_step(&part, &d);
    Error err;
    char *path = path_join(o->outdir, "resume_check.npz");
    if (make_dirs(o->outdir, &err) != 0 || checkpoint_save(path, &part, &err) != 0 ||
        checkpoint_load(path, &resumed, &err) != 0)
        data_error_from(&err);
    for (int k = 0; k < HALF; k++) trainer_step(&resumed, &d);
    size_t differ = 0;
    for (size_t i = 0; i < whole.m.params.size; i++)
        differ += memcmp(&whole.m.params.data[i], &resumed.m.params.data[i], sizeof(float)) != 0;
    printf("Resuming: %d steps in one go, and %d steps + checkpoint (%s) + load + %d\n"
           "steps: %zu of %zu parameters differ in any bit.\n\n", 2 * HALF, HALF, path, HALF,
           differ, whole.m.params.size);
    free(path);
    task_data_free(&d);
    trainer_free(&whole);
    trainer_free(&part);
    trainer_free(&resumed);
}

static void run_demo(const CommonOpts *opts)
{
    const PlotOpts *o = &opts->plot;
    double start = now_seconds();
    printf("Chapter 10: training the Transformer\n\n");
    demo_gradient_check();
    demo_overfit(o);

    printf("The paper's learning rate, lr = d_model^-0.5 min(step^-0.5, step warmup^-1.5):\n"
           "peak %.2e at step 4000 for d_model 512, %.2e at step 8000, %.2e for d_model 256.\n",
           (double)noam_rate(4000, 512, 4000, 1.0f), (double)noam_rate(8000, 512, 8000, 1.0f),
           (double)noam_rate(4000, 256, 4000, 1.0f));
    plot_schedule(o);
    putchar('\n');
    plot_smoothing(o, 0.1f);

    RunSettings rs = {NULL, 25, 100, 1000, 0, 0, 0};
    for (int k = 0; k < 2; k++) {
        Task task = k == 0 ? TASK_COPY : TASK_REVERSE;
        TrainConfig c = train_config_default(task);
        c.seed = opts->seed;
        char file[32];
        snprintf(file, sizeof file, "%s.npz", task_name(task));
        char *path = path_join(o->outdir, file);
        rs.checkpoint = path;
        printf("=================================================== the %s task\n",
               task_name(task));
        run_task(&c, &rs, o);
        putchar('\n');
        free(path);
        if (k == 0) demo_resume(o);
    }
    printf("The demo took %.1f s. Longer or other runs: build/bin/ch10 --task copy|reverse\n"
           "[--steps N] [--seed S] ...; Ctrl-C stops one with a checkpoint, --resume continues\n"
           "it (see --help).\n", now_seconds() - start);
}

/* ================================================================= main */

int main(int argc, char **argv)
{
    cli_init("ch10");
    CommonOpts opts;
    common_opts_init(&opts, "out/ch10");
    TrainOptions t;
    train_options_init(&t);
    static const struct option longopts[] = {
        TRAIN_LONG_OPTIONS,
        COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_next_option(argc, argv, longopts, NULL, &opts, USAGE)) != -1)
        train_options_handle(&t, c, optarg);

    if (train_options_file_mode(&t)) {
        cli_check_output(t.files.grads, "--grads");   /* before any work: see cli.h */
        cli_check_output(t.files.params_out, "--params-out");
        if (opts.plot_given) cli_check_outdir(&opts.plot);
        run_files(&t.files, &opts);
        return 0;
    }
    if (train_options_demo(&t)) {
        cli_check_outdir(&opts.plot);
        run_demo(&opts);
        return 0;
    }
    char *path = train_options_run(&t, &opts);
    t.rs.checkpoint = path;
    Error err;
    char *slash = strrchr(path, '/');
    if (!t.rs.resume && slash) {   /* the checkpoint's directory */
        *slash = '\0';
        if (make_dirs(path, &err) != 0) data_error_from(&err);
        *slash = '/';
    }
    /* Every file of the run can be written, before it starts: the checkpoint,
     * and TASK_best.npz and the figures in OUT (see cli.h). */
    if (make_dirs(opts.plot.outdir, &err) != 0) data_error("%s (--out)", err.msg);
    cli_check_output(path, "--checkpoint");
    /* A run killed while writing its checkpoint (kill -9, a power cut) left
     * PATH.tmp-PID beside it, and the previous checkpoint intact. */
    atomic_remove_stale(path);
    run_task(&t.cfg, &t.rs, &opts.plot);
    free(path);
    return 0;
}
