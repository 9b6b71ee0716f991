/**
 * \file g2p_train.h
 * \brief Chapter 11: training the pronunciation model on the dictionary:
 * recipes, bucketed batches, the development word error rate at intervals,
 * the best model kept, checkpoints that resume bit for bit.
 *
 * Every random number of a run comes from a stream named by the seed and a
 * purpose (rng_seed_stream): the initial weights, the order of epoch e, the
 * dropout of step k. Step k's batch is therefore a function of (seed, k)
 * alone, and a checkpoint needs the step, never a generator's state.
 *
 * Sizes: B pairs in a batch, S its longest word (letters), T its longest
 * pronunciation plus one (the decoder reads BOS p1 ... pn, predicts p1 ... pn EOS).
 * \ingroup api_ch11
 */
#ifndef G2P_TRAIN_H
#define G2P_TRAIN_H

#include <stdint.h>
#include "adam.h"
#include "lexicon.h"
#include "report.h"
#include "rng.h"
#include "train.h"
#include "transformer.h"

/** \addtogroup api_ch11
 *  @{ */

/** \brief Everything that decides the numbers of a run (all saved in a checkpoint). */
typedef struct {
    char name[16];             ///< "classroom", "full" or "custom"
    TransformerConfig model;   ///< sizes; Vs = G2P_LETTERS, Vt = G2P_PHONES
    int batch;                 ///< B pairs per step
    float dropout;             ///< P_drop
    float smoothing;           ///< label smoothing
    float factor;              ///< noam_rate's factor
    int warmup;                ///< noam_rate's warm-up steps
    long steps;                ///< the length of the run
    long cool_from;            ///< after this step the rate falls linearly to 0 at the last (0: never)
    int eval_every;            ///< development WER, best model and checkpoint every this many steps
    uint64_t seed;             ///< names every random stream of the run
} Recipe;

/**
 * \brief A named recipe.
 * \param[out] r the recipe
 * \param name "classroom" (minutes on a laptop) or "full" (the shipped model)
 * \return 0, or -1 if there is no such recipe
 */
int recipe_find(Recipe *r, const char *name);

/** \brief One training example: a word's letters and one of its pronunciations. */
typedef struct {
    const Seq *letters;        ///< the source
    const Seq *phones;         ///< the target, without BOS and EOS
} Pair;

/** \brief Pairs cut into batches of similar lengths. */
typedef struct {
    Pair *pairs;               ///< (n) every pair of the dictionary part
    int n;                     ///< how many
    int B;                     ///< pairs per batch
    int *order;                ///< (n) the pairs of the current epoch, batch after batch
    int *batch_order;          ///< (batches) the order the batches are taken in
    long epoch;                ///< the epoch order holds (-1: none yet)
    int64_t *src;              ///< (B, S) one batch's letters, PAD after each word
    int64_t *tgt;              ///< (B, T) its decoder inputs: BOS p1 ... pn, then PAD
    int64_t *tgt_out;          ///< (B, T) what each position must predict: p1 ... pn EOS, then PAD
} Batcher;

/**
 * \brief The pairs of a dictionary part.
 * \param[out] b the batcher, to release with batcher_free
 * \param lx the words; every pronunciation of a word is a pair
 * \param B pairs per batch
 */
void batcher_new(Batcher *b, const Lexicon *lx, int B);
/**
 * \brief Releases the pairs and the batch arrays.
 * \param b the batcher
 */
void batcher_free(Batcher *b);
/**
 * \brief The number of batches in an epoch.
 * \param b the batcher
 * \return ceil(n / B)
 */
int batcher_count(const Batcher *b);
/**
 * \brief Batch j of epoch e (the epoch's order drawn from the seed when it changes).
 * \param b the batcher; its arrays hold the batch
 * \param seed the run's seed
 * \param e the epoch, from 0; -1 means in order of length, unshuffled (evaluation)
 * \param j the batch, 0 ... batcher_count - 1
 * \return a view of the batch (valid until the next call)
 */
Batch batcher_get(Batcher *b, uint64_t seed, long e, int j);

/** \brief A training run. */
typedef struct {
    Recipe rc;                 ///< the settings
    Transformer m;             ///< the model being trained
    Adam adam;                 ///< betas 0.9, 0.98 and eps 1e-9
    long step;                 ///< steps done
    double seconds;            ///< time spent training, over every session
    int points,                ///< development measurements so far
        points_cap;            ///< room for them
    float *history;            ///< (points, 5): step, train loss, dev loss, dev WER, dev PER
    float best_wer;            ///< the lowest development WER (100 before the first)
    long best_step;            ///< where it was measured
    double loss_sum;           ///< training loss summed since the last measurement
    long loss_steps;           ///< steps in that sum
} G2pRun;

/**
 * \brief A fresh run: the model from the seed (Xavier-uniform), Adam at step 0.
 * \param[out] r the run, to release with g2p_run_free
 * \param rc the recipe
 */
void g2p_run_new(G2pRun *r, const Recipe *rc);
/**
 * \brief Releases the model, Adam and the history.
 * \param r the run
 */
void g2p_run_free(G2pRun *r);
/**
 * \brief Writes the whole run to one .npz file, atomically: the model under
 * the contract's names (so NumPy and PyTorch read the weights by name),
 * Adam's moments, the recipe, the step and the history. The best model is a
 * file of its own (RunFiles.best), which transformer_load reads.
 * \param path the file
 * \param r the run
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int g2p_checkpoint_save(const char *path, const G2pRun *r, Error *err);
/**
 * \brief A run exactly as it was saved.
 * \param path the file
 * \param[out] r the run, to release with g2p_run_free
 * \param[out] err the file and the problem
 * \return 0, or -1 with err set
 */
int g2p_checkpoint_load(const char *path, G2pRun *r, Error *err);

/** \brief Where a run writes, and what it prints. */
typedef struct {
    const char *checkpoint;    ///< the run's checkpoint (.npz)
    const char *best;          ///< the best model so far (.npz, the contract's model file)
    int dev_words;             ///< development words decoded at each measurement (0: all)
    int quiet;                 ///< 1: no progress line (tests)
} RunFiles;

/**
 * \brief Trains from r->step to r->rc.steps: bucketed batches, the
 * recipe's schedule, the development loss and greedy WER every eval_every
 * steps, the best model written whenever the WER is the lowest so far, the
 * checkpoint written at every measurement. SIGINT and SIGTERM stop it
 * between two steps, after a checkpoint.
 * \param r the run
 * \param train the training words
 * \param dev the development words
 * \param f the files
 * \param[out] err why it stopped early: a file that cannot be written, a loss that is not finite
 * \return 0 when done, 1 when stopped by a signal, -1 with err set
 */
int g2p_train(G2pRun *r, const Lexicon *train, const Lexicon *dev, const RunFiles *f,
              Error *err);

/* The pieces of g2p_train, for a trainer that runs the step its own way
 * (chapter 12 shares each batch's rows out among processes): with them it
 * takes the same batches, dropout streams, rates and measurements. */

/**
 * \brief The batch of training step k and its dropout stream, exactly as
 * g2p_train takes them: batch (k - 1) mod N of epoch (k - 1) / N, where N is
 * batcher_count(b), and the dropout generator of (seed, k).
 * \param b the batcher of the training words, with the recipe's batch size;
 *          its arrays hold the batch
 * \param seed the run's seed (Recipe::seed)
 * \param k the step, from 1
 * \param[out] drop the generator step k's dropout draws from, at its start
 * \return a view of the batch: src (B, S), tgt and tgt_out (B, T) (valid
 *         until the next call)
 */
Batch g2p_step_batch(Batcher *b, uint64_t seed, long k, Rng *drop);
/**
 * \brief The learning rate of step k: the recipe's warm-up schedule.
 * \param c the recipe (model.E, warmup, factor, steps, cool_from)
 * \param k the step, from 1
 * \return noam_rate(k, c->model.E, c->warmup, c->factor), times
 * (steps - k + 1) / (steps - cool_from) after step cool_from
 */
float g2p_rate(const Recipe *c, long k);
/**
 * \brief One development measurement, as g2p_train makes it every
 * eval_every steps: the greedy WER and PER on the first f->dev_words
 * development words, the loss on all of them, a point of r->history (its
 * training loss the mean of r->loss_sum over r->loss_steps, both then
 * reset), the best model written to f->best when the WER is the lowest so
 * far, the line printed (unless f->quiet), and the checkpoint written to
 * f->checkpoint (when not NULL).
 * \param r the run; its history, best WER and best step are updated
 * \param dev the development words
 * \param f the files
 * \param p the progress line to clear before printing (NULL: none)
 * \param[out] err a file that cannot be written, or a development loss
 *             that is not finite
 * \return 0, or -1 with err set
 */
int g2p_measure(G2pRun *r, const Lexicon *dev, const RunFiles *f, Progress *p, Error *err);

/**
 * \brief The best model's file beside a checkpoint: out/g2p.npz gives out/g2p_best.npz.
 * \param checkpoint the checkpoint's path
 * \return a new string, to free
 */
char *g2p_best_path(const char *checkpoint);
/**
 * \brief The signal that stopped the last g2p_train.
 * \return SIGINT or SIGTERM, or 0 if it was not stopped by one
 */
int g2p_stop_signal(void);

/** @} */

#endif
