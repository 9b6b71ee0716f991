/*
 * train_cli.c - chapter 10: the command line of a training program, for
 * ch10 and ch12 (see train_cli.h).
 */
#include "train_cli.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loss.h"
#include "tasks.h"

/* ================================================================ options */

TrainConfig train_config_default(Task task)
{
    TrainConfig c;
    memset(&c, 0, sizeof c);
    c.model = (TransformerConfig){32, 64, 2, 2, 2, TASK_VOCAB, TASK_VOCAB, 0, 1, 1};
    c.xavier = 1;
    c.task = task;
    c.batch = 64;
    c.seed = 1;
    c.smoothing = 0.1f;
    c.dropout = 0.0f;
    c.factor = 0.25f;
    c.warmup = 200;
    c.steps = task == TASK_COPY ? 800 : 1000;
    return c;
}

void train_options_init(TrainOptions *o)
{
    memset(o, 0, sizeof *o);
    o->cfg = train_config_default(TASK_COPY);
    o->rs = (RunSettings){NULL, 50, 0, 1000, 0, 0, 0};
}

/* The options that set a run's numbers, from TRAIN_OPT_BATCH to TRAIN_OPT_INIT. */
static const char *const RUN_OPTS[] = {"--batch", "--dropout", "--factor", "--warmup",
                                       "--clip", "--d-model", "--d-ff", "--heads",
                                       "--layers", "--norm-first", "--init"};

int train_options_handle(TrainOptions *o, int opt, const char *arg)
{
    TrainFiles *f = &o->files;
    TrainConfig *cfg = &o->cfg;
    if (opt >= TRAIN_OPT_BATCH && opt <= TRAIN_OPT_INIT)
        o->run_opt = RUN_OPTS[opt - TRAIN_OPT_BATCH];
    switch (opt) {
    case TRAIN_OPT_PARAMS: f->params = arg; break;
    case TRAIN_OPT_SRC: f->src = arg; break;
    case TRAIN_OPT_TGT: f->tgt = arg; break;
    case TRAIN_OPT_TGT_OUT: f->tgt_out = arg; break;
    case TRAIN_OPT_GRADS: f->grads = arg; o->file_opt = "--grads"; break;
    case TRAIN_OPT_PARAMS_OUT: f->params_out = arg; o->file_opt = "--params-out"; break;
    case TRAIN_OPT_SMOOTHING:
        f->smoothing = cfg->smoothing = parse_float("--label-smoothing", arg, 0.0f, 1.0f);
        o->smoothing_given = 1;
        break;
    case TRAIN_OPT_STEPS: f->steps = o->rs.steps = parse_long("--steps", arg, 1, 100000000L); break;
    case TRAIN_OPT_LR:
        f->lr = cfg->lr = parse_float("--lr", arg, 1e-12f, 1e3f);
        o->lr_given = 1;
        break;
    case TRAIN_OPT_TASK:
        if (task_parse(arg, &cfg->task) != 0)
            usage_error("--task: '%s' is not copy or reverse", arg);
        o->task = arg;
        o->rs.task_given = 1;
        break;
    case TRAIN_OPT_BATCH:
        cfg->batch = (int)parse_long("--batch", arg, 1, 1 << 16);
        o->batch_given = 1;
        break;
    case TRAIN_OPT_DROPOUT: cfg->dropout = parse_float("--dropout", arg, 0.0f, 0.9f); break;
    case TRAIN_OPT_FACTOR: cfg->factor = parse_float("--factor", arg, 1e-6f, 1e3f); break;
    case TRAIN_OPT_WARMUP: cfg->warmup = (int)parse_long("--warmup", arg, 1, 1 << 30); break;
    case TRAIN_OPT_CLIP: cfg->clip = parse_float("--clip", arg, 1e-6f, 1e30f); break;
    case TRAIN_OPT_D_MODEL: cfg->model.E = (int)parse_long("--d-model", arg, 1, 4096); break;
    case TRAIN_OPT_D_FF: cfg->model.F = (int)parse_long("--d-ff", arg, 1, 16384); break;
    case TRAIN_OPT_HEADS: cfg->model.H = (int)parse_long("--heads", arg, 1, 4096); break;
    case TRAIN_OPT_LAYERS:
        cfg->model.enc_layers = (int)parse_long("--layers", arg, 1, 64);
        cfg->model.dec_layers = cfg->model.enc_layers;
        break;
    case TRAIN_OPT_NORM_FIRST: cfg->model.norm_first = 1; break;
    case TRAIN_OPT_INIT:
        if (strcmp(arg, "xavier") != 0 && strcmp(arg, "torch") != 0)
            usage_error("--init: '%s' is not xavier or torch", arg);
        cfg->xavier = strcmp(arg, "xavier") == 0;
        break;
    case TRAIN_OPT_EVAL_EVERY:
        o->rs.eval_every = (int)parse_long("--eval-every", arg, 1, INT_MAX);
        o->eval_given = 1;
        break;
    case TRAIN_OPT_TEST:
        o->rs.test = (int)parse_long("--test", arg, 1, 1000000);
        o->test_given = 1;
        break;
    case TRAIN_OPT_CHECKPOINT:
        if (!arg[0]) usage_error("--checkpoint: the path is empty");
        o->checkpoint = arg;
        break;
    case TRAIN_OPT_RESUME: o->rs.resume = 1; break;
    default: return 0;
    }
    return 1;
}

int train_options_file_mode(const TrainOptions *o)
{
    const TrainFiles *f = &o->files;
    if (!f->params && !f->src && !f->tgt && !f->tgt_out) {
        if (o->file_opt)
            usage_error("%s: only with --params, --src, --tgt and --tgt-out", o->file_opt);
        return 0;
    }
    if (o->task || o->rs.resume || o->run_opt || o->checkpoint)
        usage_error("%s: not with --params (a file run has no task)",
                    o->task        ? "--task"
                    : o->rs.resume ? "--resume"
                    : o->checkpoint ? "--checkpoint"
                                    : o->run_opt);
    if (!f->params || !f->src || !f->tgt || !f->tgt_out)
        usage_error("%s: missing; --params, --src, --tgt and --tgt-out go together",
                    !f->params ? "--params" : !f->src ? "--src" : !f->tgt ? "--tgt" : "--tgt-out");
    if (f->steps && !o->lr_given) usage_error("--steps: needs --lr");
    if (o->lr_given && !f->steps) usage_error("--lr: needs --steps");
    if (f->params_out && !f->steps) usage_error("--params-out: needs --steps and --lr");
    return 1;
}

const char *train_options_setting(const TrainOptions *o)
{
    return o->run_opt           ? o->run_opt
           : o->smoothing_given ? "--label-smoothing"
           : o->lr_given        ? "--lr"
                                : NULL;
}

int train_options_demo(const TrainOptions *o)
{
    if (o->task || o->rs.resume) return 0;
    const char *setting = train_options_setting(o);
    if (setting || o->rs.steps || o->checkpoint)
        usage_error("%s: needs --task copy|reverse (or --resume)",
                    setting ? setting : o->rs.steps ? "--steps" : "--checkpoint");
    return 1;
}

char *train_options_run(TrainOptions *o, const CommonOpts *c)
{
    o->cfg.seed = c->seed;
    if (o->rs.resume) {
        const char *setting = train_options_setting(o);
        const char *fixed = setting ? setting : c->seed_given ? "--seed" : NULL;
        if (fixed) usage_error("%s: a resumed run keeps the settings of its checkpoint", fixed);
        if (!o->task && (!o->checkpoint || o->checkpoint[strlen(o->checkpoint) - 1] == '/'))
            usage_error("--resume: needs --checkpoint FILE, or --task to find OUT/TASK.npz");
    }
    if (o->cfg.model.E % o->cfg.model.H != 0)
        usage_error("--heads: %d heads do not divide d_model %d", o->cfg.model.H, o->cfg.model.E);
    o->rs.print_every = o->rs.eval_every;
    o->cfg.steps = o->rs.steps ? o->rs.steps : train_config_default(o->cfg.task).steps;
    char *path = train_checkpoint_path(o->checkpoint, c->plot.outdir, o->task ? o->task : "run");
    struct stat st;
    if (o->rs.resume && !o->task && stat(o->checkpoint, &st) == 0 && S_ISDIR(st.st_mode))
        usage_error("--resume: %s is a directory; name the checkpoint file, or give --task",
                    o->checkpoint);
    return path;
}

char *train_checkpoint_path(const char *given, const char *outdir, const char *name)
{
    char file[32];
    snprintf(file, sizeof file, "%s.npz", name);
    struct stat st;
    if (!given) return path_join(outdir, file);
    size_t n = strlen(given);
    if ((n > 0 && given[n - 1] == '/') || (stat(given, &st) == 0 && S_ISDIR(st.st_mode)))
        return path_join(given, file);
    return xstrdup(given);
}

/* ============================================================= file mode */

/* The three id files, after the model, checked against each other and it. */
static int load_batch(TrainInputs *in, const TrainFiles *f, Error *err)
{
    if (load_token_ids(&in->src, f->src, "--src", err) != 0 ||
        load_token_ids(&in->tgt, f->tgt, "--tgt", err) != 0 ||
        load_token_ids(&in->out, f->tgt_out, "--tgt-out", err) != 0)
        return -1;
    char ss[128], st[128], so[128];
    tensor_shape_str(&in->src, ss, sizeof ss);
    tensor_shape_str(&in->tgt, st, sizeof st);
    tensor_shape_str(&in->out, so, sizeof so);
    if (in->src.shape[0] != in->tgt.shape[0])
        return error_set(err, "%s and %s: batch sizes differ: --src %s, --tgt %s", f->src,
                         f->tgt, ss, st);
    if (in->tgt.shape[0] != in->out.shape[0] || in->tgt.shape[1] != in->out.shape[1])
        return error_set(err, "%s and %s: --tgt is %s but --tgt-out is %s; they must have the "
                         "same shape (B, T)", f->tgt, f->tgt_out, st, so);
    const TransformerConfig *c = &in->m.cfg;
    if (check_token_vocab(&in->src, c->Vs, f->src, "--src", "source", f->params, err) != 0 ||
        check_token_vocab(&in->tgt, c->Vt, f->tgt, "--tgt", "target", f->params, err) != 0 ||
        check_token_vocab(&in->out, c->Vt, f->tgt_out, "--tgt-out", "target", f->params,
                          err) != 0)
        return -1;
    if ((double)in->tgt.shape[0] * (double)in->tgt.shape[1] > INT_MAX)
        return error_set(err, "%s: --tgt %s has more than %d positions", f->tgt, st, INT_MAX);
    in->b = (Batch){(int)in->src.shape[0], (int)in->src.shape[1], (int)in->tgt.shape[1],
                    in->src.i, in->tgt.i, in->out.i};
    if (loss_count(in->out.i, in->b.B * in->b.T) == 0)
        return error_set(err, "%s: every --tgt-out id is %d (padding): the loss has no position "
                         "to average over", f->tgt_out, IGNORE_ID);
    return 0;
}

int train_inputs_load(TrainInputs *in, const TrainFiles *f, Error *err)
{
    memset(in, 0, sizeof *in);
    if (transformer_load(&in->m, f->params, err) != 0) return -1;
    int rc = load_batch(in, f, err);
    if (rc != 0) train_inputs_free(in);
    return rc;
}

void train_inputs_free(TrainInputs *in)
{
    tensor_free(&in->src);
    tensor_free(&in->tgt);
    tensor_free(&in->out);
    transformer_free(&in->m);
}

int train_check_loss(double loss, long step, const char *params, Error *err)
{
    if (isfinite(loss)) return 0;
    char at[48] = "";
    if (step > 0) snprintf(at, sizeof at, " at step %ld", step);
    return error_set(err, "%s: the loss is %s%s: the numbers overflow float32 (parameters too "
                     "large, or --lr); nothing written", params, isnan(loss) ? "NaN" : "infinite",
                     at);
}

/* An output holds no NaN or Inf (the contract, as cli_check_finite), else
 * nothing is written. */
static int check_finite(const float *x, size_t n, const char *path, Error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return error_set(err, "%s: the result overflows float32 (%s at flat index %zu): "
                             "inputs or parameters too large; nothing written", path,
                             isnan(x[i]) ? "NaN" : "infinity", i);
    return 0;
}

int train_save_grads(const Transformer *m, const char *path, Error *err)
{
    if (check_finite(m->params.grad, m->params.size, path, err) != 0) return -1;
    NpzWriter w;
    npz_writer_init(&w);
    params_save(&m->params, &w, 1);
    int rc = npz_write(&w, path, err);
    npz_writer_free(&w);
    return rc;
}

int train_save_params(const Transformer *m, const char *path, Error *err)
{
    if (check_finite(m->params.data, m->params.size, path, err) != 0) return -1;
    return transformer_save(m, path, err);
}
