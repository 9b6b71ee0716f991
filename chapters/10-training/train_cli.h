/**
 * \file train_cli.h
 * \brief Chapter 10: the command line of a training program, written once
 * for ch10 and for ch12, which runs the same training on N processes.
 *
 * Three ways to run, chosen by the options:
 * - the file mode of the contract (`--params --src --tgt --tgt-out`): the loss
 *   and gradients of a model saved from PyTorch, or `--steps N` of Adam on
 *   that one batch;
 * - a training run on a toy task (`--task copy|reverse`, or `--resume` from a
 *   checkpoint), whose numbers the run options set;
 * - the demo, with none of them.
 *
 * The options are read into a TrainOptions (train_options_handle), then
 * checked in that order: train_options_file_mode, train_options_demo,
 * train_options_run. Each refuses, as a usage error of the contract
 * (cli.h), an option that does not belong to the way chosen.
 * \ingroup api_ch10
 */
#ifndef TRAIN_CLI_H
#define TRAIN_CLI_H

#include "cli.h"
#include "train.h"
#include "trainer.h"

/** \addtogroup api_ch10
 *  @{ */

/** \brief The file mode's files and numbers (../shared/CONTRACT.md). */
typedef struct {
    const char *params;       ///< `--params`: the model
    const char *src;          ///< `--src`: source ids (B, S)
    const char *tgt;          ///< `--tgt`: decoder input ids (B, T)
    const char *tgt_out;      ///< `--tgt-out`: the ids to predict (B, T)
    const char *grads;        ///< `--grads`: write the gradients there, or NULL
    const char *params_out;   ///< `--params-out`: write the parameters after the steps, or NULL
    float smoothing;          ///< `--label-smoothing` (0 by default with files)
    long steps;               ///< `--steps`, 0 if not given
    float lr;                 ///< `--lr`
} TrainFiles;

/** \brief What a run does besides training: its files, how often it measures, its test. */
typedef struct {
    const char *checkpoint;   ///< the checkpoint file
    int eval_every;           ///< held-out loss (and checkpoint) every this many steps
    int print_every;          ///< a line of numbers every this many steps
    int test;                 ///< exact-match pairs decoded at the end
    int resume;               ///< 1: continue the checkpoint's run
    long steps;               ///< 0: the run's own length
    int task_given;           ///< --task with --resume: the checkpoint's task must be it
} RunSettings;

/** \brief Everything the training options set. */
typedef struct {
    TrainFiles files;          ///< the file mode's
    TrainConfig cfg;           ///< a run's settings, from train_config_default and the options
    RunSettings rs;            ///< a run's measures
    const char *task;          ///< `--task` as given, or NULL
    const char *checkpoint;    ///< `--checkpoint` as given, or NULL
    const char *run_opt;       ///< the last run option (`--batch` ... `--init`), or NULL
    const char *file_opt;      ///< `--grads` or `--params-out`, the last given, or NULL
    int smoothing_given;       ///< 1 if `--label-smoothing` was given
    int lr_given;              ///< 1 if `--lr` was given
    int batch_given;           ///< 1 if `--batch` was given
    int eval_given;            ///< 1 if `--eval-every` was given
    int test_given;            ///< 1 if `--test` was given
} TrainOptions;

/**
 * \brief Option codes of the training options, for getopt_long; a program's
 * own options count on from TRAIN_OPT_END.
 */
enum {
    TRAIN_OPT_PARAMS = 1,    ///< `--params MODEL.npz`
    TRAIN_OPT_SRC,           ///< `--src SRC.npy`
    TRAIN_OPT_TGT,           ///< `--tgt TGT.npy`
    TRAIN_OPT_TGT_OUT,       ///< `--tgt-out Y.npy`
    TRAIN_OPT_GRADS,         ///< `--grads G.npz`
    TRAIN_OPT_PARAMS_OUT,    ///< `--params-out P.npz`
    TRAIN_OPT_SMOOTHING,     ///< `--label-smoothing e`
    TRAIN_OPT_STEPS,         ///< `--steps N`
    TRAIN_OPT_LR,            ///< `--lr LR`
    TRAIN_OPT_TASK,          ///< `--task copy|reverse`
    TRAIN_OPT_BATCH,         ///< `--batch B`, the first option that sets a run's numbers
    TRAIN_OPT_DROPOUT,       ///< `--dropout p`
    TRAIN_OPT_FACTOR,        ///< `--factor F`
    TRAIN_OPT_WARMUP,        ///< `--warmup W`
    TRAIN_OPT_CLIP,          ///< `--clip C`
    TRAIN_OPT_D_MODEL,       ///< `--d-model E`
    TRAIN_OPT_D_FF,          ///< `--d-ff F`
    TRAIN_OPT_HEADS,         ///< `--heads H`
    TRAIN_OPT_LAYERS,        ///< `--layers N`
    TRAIN_OPT_NORM_FIRST,    ///< `--norm-first`
    TRAIN_OPT_INIT,          ///< `--init xavier|torch`, the last option that sets a run's numbers
    TRAIN_OPT_EVAL_EVERY,    ///< `--eval-every K`
    TRAIN_OPT_TEST,          ///< `--test N`
    TRAIN_OPT_CHECKPOINT,    ///< `--checkpoint PATH`
    TRAIN_OPT_RESUME,        ///< `--resume`
    TRAIN_OPT_END            ///< the first code after them
};
/** \brief getopt_long entries for the training options, to splice into a program's table. */
#define TRAIN_LONG_OPTIONS                                                  \
    {"params", required_argument, NULL, TRAIN_OPT_PARAMS},                  \
    {"src", required_argument, NULL, TRAIN_OPT_SRC},                        \
    {"tgt", required_argument, NULL, TRAIN_OPT_TGT},                        \
    {"tgt-out", required_argument, NULL, TRAIN_OPT_TGT_OUT},                \
    {"grads", required_argument, NULL, TRAIN_OPT_GRADS},                    \
    {"params-out", required_argument, NULL, TRAIN_OPT_PARAMS_OUT},          \
    {"label-smoothing", required_argument, NULL, TRAIN_OPT_SMOOTHING},      \
    {"steps", required_argument, NULL, TRAIN_OPT_STEPS},                    \
    {"lr", required_argument, NULL, TRAIN_OPT_LR},                          \
    {"task", required_argument, NULL, TRAIN_OPT_TASK},                      \
    {"batch", required_argument, NULL, TRAIN_OPT_BATCH},                    \
    {"dropout", required_argument, NULL, TRAIN_OPT_DROPOUT},                \
    {"factor", required_argument, NULL, TRAIN_OPT_FACTOR},                  \
    {"warmup", required_argument, NULL, TRAIN_OPT_WARMUP},                  \
    {"clip", required_argument, NULL, TRAIN_OPT_CLIP},                      \
    {"d-model", required_argument, NULL, TRAIN_OPT_D_MODEL},                \
    {"d-ff", required_argument, NULL, TRAIN_OPT_D_FF},                      \
    {"heads", required_argument, NULL, TRAIN_OPT_HEADS},                    \
    {"layers", required_argument, NULL, TRAIN_OPT_LAYERS},                  \
    {"norm-first", no_argument, NULL, TRAIN_OPT_NORM_FIRST},                \
    {"init", required_argument, NULL, TRAIN_OPT_INIT},                      \
    {"eval-every", required_argument, NULL, TRAIN_OPT_EVAL_EVERY},          \
    {"test", required_argument, NULL, TRAIN_OPT_TEST},                      \
    {"checkpoint", required_argument, NULL, TRAIN_OPT_CHECKPOINT},          \
    {"resume", no_argument, NULL, TRAIN_OPT_RESUME}

/**
 * \brief Chapter 10's settings of the demo and of a `--task` run, before
 * options: the reference model (d_model 32, d_ff 64, 2 heads, 2 + 2
 * layers, Xavier), batch 64, seed 1, label smoothing 0.1, no dropout, the
 * schedule with factor 0.25 and warm-up 200, 800 steps for copy and 1000
 * for reverse.
 * \param task the task
 * \return the settings
 */
TrainConfig train_config_default(Task task);

/**
 * \brief Sets the defaults: no file, train_config_default(TASK_COPY), a
 * held-out point every 50 steps, 1000 test pairs.
 * \param[out] o the options
 */
void train_options_init(TrainOptions *o);

/**
 * \brief Takes one of the training options; a bad value is a usage error.
 * \param o the options
 * \param opt the code cli_next_option returned
 * \param arg its value (optarg)
 * \return 1 if `opt` was one of them, 0 otherwise
 */
int train_options_handle(TrainOptions *o, int opt, const char *arg);

/**
 * \brief Whether the program runs on files: 1 when one of `--params`,
 * `--src`, `--tgt`, `--tgt-out` was given, once all four are there and
 * nothing of a run is; 0 otherwise, when `--grads` or `--params-out` is a
 * usage error.
 * \param o the options
 * \return 1 or 0
 */
int train_options_file_mode(const TrainOptions *o);

/**
 * \brief The option that set a run's numbers, if one was given: a run option
 * (`--batch` ... `--init`), `--label-smoothing` or `--lr`.
 * \param o the options
 * \return its name, or NULL
 */
const char *train_options_setting(const TrainOptions *o);

/**
 * \brief Whether the program runs the demo: 1 when neither `--task` nor
 * `--resume` was given, once no run option was either; 0 otherwise.
 * \param o the options
 * \return 1 or 0
 */
int train_options_demo(const TrainOptions *o);

/**
 * \brief Checks the options of a `--task` or `--resume` run and completes
 * them: the seed, the run's length, the print interval (the held-out one),
 * and the checkpoint file.
 *
 * A resumed run takes its settings from its checkpoint, so a setting or
 * `--seed` is a usage error then, and so is a checkpoint that cannot be
 * named: neither `--checkpoint FILE` nor `--task` (for OUT/TASK.npz).
 * \param o the options; o->cfg and o->rs are completed, but for
 *        o->rs.checkpoint, which is the caller's to set
 * \param c the shared options: the seed and OUT
 * \return the checkpoint file, to release with free
 */
char *train_options_run(TrainOptions *o, const CommonOpts *c);

/**
 * \brief The checkpoint file of a run: `--checkpoint PATH` as given, or in a
 * directory (one that exists, or PATH ending in '/'), or with no PATH in
 * outdir, NAME.npz.
 * \param given `--checkpoint`, or NULL
 * \param outdir OUT, the folder of the figures
 * \param name the task's name
 * \return the file, to release with free
 */
char *train_checkpoint_path(const char *given, const char *outdir, const char *name);

/** \brief What the file mode reads: the model and the whole batch. */
typedef struct {
    Transformer m;             ///< the model of `--params`
    Tensor src;                ///< (B, S) `--src`
    Tensor tgt;                ///< (B, T) `--tgt`
    Tensor out;                ///< (B, T) `--tgt-out`
    Batch b;                   ///< the three as a batch
} TrainInputs;

/**
 * \brief Reads the model and the batch of the file mode, and checks that
 * they fit: the batch sizes and shapes agree, every id is in the model's
 * vocabularies, and some position of `--tgt-out` is not padding.
 * \param[out] in the inputs, to release with train_inputs_free
 * \param f the files
 * \param[out] err the message, naming the files
 * \return 0, or -1 with err set
 */
int train_inputs_load(TrainInputs *in, const TrainFiles *f, Error *err);
/**
 * \brief Releases the model and the batch.
 * \param in the inputs
 */
void train_inputs_free(TrainInputs *in);

/**
 * \brief Checks a loss of the file mode: NaN or Inf means finite inputs
 * whose numbers overflow float32 (a model with entries near 1e38, or Adam
 * steps too large), and then nothing is written.
 * \param loss the loss
 * \param step the Adam step it was measured before, 0 for none
 * \param params the model's file, for the message
 * \param[out] err the message
 * \return 0, or -1 with err set
 */
int train_check_loss(double loss, long step, const char *params, Error *err);

/**
 * \brief Writes d loss / d parameter under the parameters' names (`--grads`),
 * once they are known to be finite.
 * \param m the model, its gradient filled in
 * \param path the file
 * \param[out] err the message
 * \return 0, or -1 with err set
 */
int train_save_grads(const Transformer *m, const char *path, Error *err);
/**
 * \brief Writes the model (`--params-out`), once its parameters are known
 * to be finite.
 * \param m the model
 * \param path the file
 * \param[out] err the message
 * \return 0, or -1 with err set
 */
int train_save_params(const Transformer *m, const char *path, Error *err);

/** @} */

#endif
