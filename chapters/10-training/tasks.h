/**
 * \file tasks.h
 * \brief Chapter 10: two toy tasks a small Transformer can learn in
 * seconds, the copy task and the reverse task, and how to score them.
 *
 * The data follow the copy task of "The Annotated Transformer" (Harvard
 * NLP): a vocabulary of 11 tokens and sequences of 10, the first being the
 * start symbol. Here
 * \verbatim
   0 = PAD, 1 = BOS (<s>), 2 ... 10 = nine symbols, shown as A ... I;
   x = BOS x1 x2 ... x9 with every x_i drawn uniformly from 2 ... 10;
   copy:    y = x                       reverse: y = BOS x9 x8 ... x1
   src = x (S = 10), tgt = y0 ... y8 (T = 9), tgt_out = y1 ... y9 (T = 9).
   \endverbatim
 * tgt is what the decoder reads, tgt_out what it must predict at each place:
 * the target shifted by one ("teacher forcing"). No sequence is padded and
 * there is no end symbol: the answer always has 9 tokens.
 *
 * Sizes: B pairs, S = TASK_LEN source positions, T = TASK_LEN - 1 targets.
 * \ingroup api_ch10
 */
#ifndef TASKS_H
#define TASKS_H

#include <stdint.h>
#include "rng.h"
#include "train.h"
#include "transformer.h"

/** \addtogroup api_ch10
 *  @{ */

/** \brief Which task. */
typedef enum {
    TASK_COPY,            ///< the answer is the source
    TASK_REVERSE          ///< the answer is the source backwards
} Task;

/** \brief The tasks' token ids and sizes. */
enum {
    TASK_PAD = 0,         ///< padding (never used by the tasks, ignored by the loss)
    TASK_BOS = 1,         ///< the start symbol `<s>`
    TASK_FIRST = 2,       ///< the first of the nine symbols
    TASK_VOCAB = 11,      ///< vocabulary, for source and target
    TASK_LEN = 10,        ///< S; the target side has T = TASK_LEN - 1
};

/**
 * \brief "copy" or "reverse" to a Task.
 * \param name the text of `--task`
 * \param[out] t the task
 * \return 0, or -1 if it is neither
 */
int task_parse(const char *name, Task *t);
/**
 * \brief The task's name, "copy" or "reverse".
 * \param t the task
 * \return a static string
 */
const char *task_name(Task t);
/**
 * \brief The label of a token id for printing and figures: `pad`, `<s>`, `A` ... `I`.
 * \param id a token id
 * \return a static string; "?" outside the vocabulary
 */
const char *task_token(int64_t id);

/** \brief A batch of B pairs and the room for it. */
typedef struct {
    int B,               ///< pairs
        S,               ///< source length, TASK_LEN
        T;               ///< target length, TASK_LEN - 1
    int64_t *src;        ///< (B, S)
    int64_t *tgt;        ///< (B, T) decoder input
    int64_t *tgt_out;    ///< (B, T) what each target position must predict
} TaskData;

/**
 * \brief Room for B pairs.
 * \param[out] d the batch, to release with task_data_free
 * \param B the number of pairs
 */
void task_data_new(TaskData *d, int B);
/**
 * \brief Releases the three arrays.
 * \param d the batch
 */
void task_data_free(TaskData *d);
/**
 * \brief B fresh random pairs of the task, drawn from r.
 * \param[out] d the batch, made by task_data_new
 * \param task copy or reverse
 * \param r the random generator
 */
void task_data_fill(TaskData *d, Task task, Rng *r);
/**
 * \brief The batch view that transformer_backward and transformer_loss take.
 * \param d the pairs
 * \return a view of d's arrays (nothing is copied)
 */
Batch task_data_batch(const TaskData *d);

/**
 * \brief Greedy decoding of each source of d (chapter 9), scored.
 * \param m the model
 * \param d the pairs
 * \return the fraction of pairs whose 9 decoded tokens all equal the answer
 */
double task_exact_match(const Transformer *m, const TaskData *d);

/** @} */

#endif
