/**
 * \file score.h
 * \brief Chapter 11: scoring pronunciations as the published results on
 * the CMUdict benchmark do.
 *
 * A word is right when its answer equals any of its reference
 * pronunciations: WER is the share of wrong words. PER sums, over the
 * words, the edit distance (Levenshtein: insertions, deletions and
 * substitutions of phonemes, each costing 1) from the answer to the closest
 * reference, and divides by the summed lengths of those closest references
 * (on a tie in distance, the first of them in the file).
 * \ingroup api_ch11
 */
#ifndef SCORE_H
#define SCORE_H

#include <stdint.h>
#include "lexicon.h"

/** \addtogroup api_ch11
 *  @{ */

/** \brief Counts over the words scored so far. */
typedef struct {
    long words;           ///< words scored
    long wrong;           ///< words whose answer equals none of their references
    long edits;           ///< summed distances to the closest references
    long ref_phones;      ///< summed lengths of those references
} Score;

/**
 * \brief The Levenshtein distance between two id sequences.
 * \param a (na) ids
 * \param na length of a
 * \param b (nb) ids
 * \param nb length of b
 * \return the fewest insertions, deletions and substitutions that turn a into b
 */
int edit_distance(const int64_t *a, int na, const int64_t *b, int nb);

/**
 * \brief Scores one answer against a word's references and adds it to s.
 * \param[in,out] s the counts
 * \param hyp the answer's phonemes
 * \param e the word and its references (at least one)
 * \return the index in e->prons of the closest reference
 */
int score_word(Score *s, Seq hyp, const Entry *e);

/**
 * \brief Word error rate in percent.
 * \param s the counts
 * \return 100 wrong / words (0 when no word was scored)
 */
double score_wer(const Score *s);

/**
 * \brief Phoneme error rate in percent.
 * \param s the counts
 * \return 100 edits / ref_phones (0 when nothing was scored)
 */
double score_per(const Score *s);

/** @} */

#endif
