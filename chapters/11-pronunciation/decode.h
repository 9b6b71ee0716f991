/**
 * \file decode.h
 * \brief Chapter 11: turning a trained model's next-phoneme probabilities
 * into pronunciations, greedily or by beam search, for many words at once.
 *
 * Both run the decoder one position at a time and keep, for every layer,
 * the keys and values of the positions already decoded (a cache), so each
 * step computes one new row per hypothesis instead of the whole prefix
 * again; the hypotheses of many words are stacked so that every product has
 * many rows. The numbers are chapter 9's transformer_decode on the prefix,
 * to float rounding (tests/test_decode.c holds them equal).
 *
 * Beam search keeps the k best hypotheses of each word. A finished one
 * (it chose EOS) is ranked by its length-normalised score
 * \f$ \log p(y) / |y|^\alpha \f$, where \f$|y|\f$ counts the phonemes and
 * the EOS; alpha = 0 is the plain sum of log-probabilities, which favours
 * short answers.
 * \ingroup api_ch11
 */
#ifndef DECODE_H
#define DECODE_H

#include "lexicon.h"
#include "transformer.h"

/** \addtogroup api_ch11
 *  @{ */

/** \brief How to decode. */
typedef struct {
    int beam;             ///< hypotheses kept per word; 1 is greedy decoding
    float alpha;          ///< length normalisation's exponent (see the file's text)
    int max_len;          ///< the most phonemes of an answer, EOS not counted
    int phonemes_only;    ///< \brief 1: PAD and BOS are never chosen; 0: every id can be,
                          ///< as in chapter 9's greedy_decode (the tests compare with it)
} DecodeOpts;

/**
 * \brief The defaults: greedy, alpha 1, answers up to G2P_MAX_PRON
 * phonemes, phonemes only.
 * \return beam 1, alpha 1.0, max_len G2P_MAX_PRON, phonemes_only 1
 */
DecodeOpts decode_defaults(void);

/**
 * \brief The most likely pronunciation of each of n words.
 * \param[out] out (n) the phoneme ids of each answer, no BOS or EOS; each to
 *             release with seq_free
 * \param[out] score (n) the answer's length-normalised log-probability, or NULL
 * \param m the model (source vocabulary letters, target vocabulary phonemes)
 * \param words (n) letter ids, each 1 ... G2P_MAX_WORD long
 * \param n how many words
 * \param o greedy or beam, alpha, the longest answer
 */
void g2p_decode(Seq *out, float *score, const Transformer *m, const Seq *words, int n,
                const DecodeOpts *o);

/**
 * \brief The same answer for one word, the plain way: every step runs
 * chapter 9's transformer_decode on each hypothesis' whole prefix, no cache,
 * no stacking. Slow (a word of n phonemes costs n^2 / 2 decoder rows per
 * hypothesis); the reference the tests hold g2p_decode to.
 * \param[out] out the phoneme ids, no BOS or EOS; to release with seq_free
 * \param[out] score the answer's length-normalised log-probability, or NULL
 * \param m the model
 * \param word letter ids, at least one
 * \param o greedy or beam, alpha, the longest answer
 */
void g2p_decode_plain(Seq *out, float *score, const Transformer *m, Seq word,
                      const DecodeOpts *o);

/**
 * \brief The cached, stacked decoder of g2p_decode run along known targets
 * (teacher forcing): what it predicts after each prefix. Row t of word i is
 * what transformer_decode followed by transformer_log_probs gives on the
 * whole target, row t, to float rounding.
 * \param[out] logp (n T, Vt) row i T + t: log p(next token | word i, tgt[i T] ... tgt[i T + t])
 * \param m the model
 * \param words (n) letter ids, each at least one
 * \param n how many words
 * \param tgt (n, T) target ids, each row BOS first
 * \param T the target length
 */
void g2p_log_probs(Mat logp, const Transformer *m, const Seq *words, int n, const int64_t *tgt,
                   int T);

/** @} */

#endif
