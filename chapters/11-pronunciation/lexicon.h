/**
 * \file lexicon.h
 * \brief Chapter 11: a pronouncing dictionary read from text, its two
 * vocabularies (letters and phonemes) and the development words carved out
 * of the training words.
 *
 * A line of a dictionary file is a word, optionally followed by its
 * pronunciations, each after a tab: `WORD` (a word list),
 * `WORD<TAB>PH ON EMES` (the training file, one pronunciation a line) or
 * `WORD<TAB>PRON1<TAB>PRON2...` (the test references). A word that comes
 * back on a later line gathers its pronunciations in one entry.
 *
 * Token ids, for both sides:
 * \verbatim
   0 = PAD, 1 = BOS, 2 = EOS, then
   letters:  A ... Z = 3 ... 28, ' = 29                  (G2P_LETTERS = 30 ids)
   phonemes: AA AE AH ... ZH (the 39 of CMUdict) = 3 ... 41 (G2P_PHONES = 42 ids)
   \endverbatim
 * The source of a pair is the word's letters (no BOS, no EOS); the decoder
 * reads BOS p1 ... pn and must predict p1 ... pn EOS.
 * \ingroup api_ch11
 */
#ifndef LEXICON_H
#define LEXICON_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

/**
 * \defgroup api_ch11 Chapter 11: the capstone, pronunciation
 * \brief The CMU pronouncing dictionary, a Transformer that learns to
 * pronounce English words from it (grapheme to phoneme), greedy and beam
 * decoding, scoring as the published results do. The chapter: \ref ch11.
 * @{
 */

/** \brief The ids both vocabularies share, and their sizes. */
enum {
    G2P_PAD = 0,          ///< padding, ignored by the loss
    G2P_BOS = 1,          ///< start of the phonemes (the decoder's first input)
    G2P_EOS = 2,          ///< end of the phonemes
    G2P_FIRST = 3,        ///< the first letter or phoneme
    G2P_LETTERS = 30,     ///< source vocabulary: 3 special + 26 letters + apostrophe
    G2P_PHONES = 42,      ///< target vocabulary: 3 special + 39 phonemes
    G2P_MAX_WORD = 64,    ///< the longest word a dictionary may hold (letters)
    G2P_MAX_PRON = 64,    ///< the longest pronunciation (phonemes)
};

/** \brief A sequence of token ids. */
typedef struct {
    int64_t *ids;         ///< (len)
    int len;              ///< how many
} Seq;

/** \brief One word and every pronunciation the dictionary gives it. */
typedef struct {
    char *word;           ///< the word, as in the file (upper case)
    Seq letters;          ///< its letter ids
    Seq *prons;           ///< (n_prons) phoneme ids, no BOS or EOS
    int n_prons;          ///< 0 in a word list
    int line;             ///< the line it first appears on
} Entry;

/** \brief A dictionary: entries in the order of their first line. */
typedef struct {
    Entry *entries;       ///< (count)
    int count;            ///< words
    int cap;              ///< room
    long n_prons;         ///< pronunciations, over every entry
} Lexicon;

/**
 * \brief The id of a letter (upper or lower case) or the apostrophe.
 * \param c the character
 * \return 3 ... 29, or -1 if it is not in the alphabet
 */
int letter_id(int c);
/**
 * \brief The letter of an id, for printing.
 * \param id a source id
 * \return a static string: "A" ... "Z", "'", or "pad", "<s>", "</s>", "?"
 */
const char *letter_name(int64_t id);
/**
 * \brief The id of a phoneme symbol.
 * \param s the symbol (not NUL-terminated)
 * \param n its length
 * \return 3 ... 41, or -1 if it is not one of the 39
 */
int phone_id(const char *s, size_t n);
/**
 * \brief The symbol of a phoneme id, for printing.
 * \param id a target id
 * \return a static string: "AA" ... "ZH", or "pad", "<s>", "</s>", "?"
 */
const char *phone_name(int64_t id);

/**
 * \brief A word's letter ids: upper and lower case letters and the apostrophe.
 * \param[out] out the letters, to release with seq_free
 * \param word the word, NUL-terminated
 * \param[out] err why it is not a word: empty, a character outside the
 *             alphabet (named, with its place), or longer than G2P_MAX_WORD
 * \return 0, or -1 with err set
 */
int word_to_letters(Seq *out, const char *word, Error *err);
/**
 * \brief Phonemes as text, separated by spaces ("K AE T").
 * \param[out] buf the text
 * \param size room in buf
 * \param p phoneme ids (EOS, if any, ends them)
 * \return buf
 */
char *phones_to_text(char *buf, size_t size, Seq p);
/**
 * \brief Releases a sequence's ids.
 * \param s the sequence
 */
void seq_free(Seq *s);

/**
 * \brief Reads a dictionary or word-list file.
 * \param[out] lx the entries, to release with lexicon_free
 * \param path the file
 * \param[out] err the file, the line and the problem: a character outside
 *             the alphabet, an unknown phoneme, an empty word or
 *             pronunciation, a line too long, a NUL byte
 * \return 0, or -1 with err set (lx is then empty)
 */
int lexicon_load(Lexicon *lx, const char *path, Error *err);
/**
 * \brief lexicon_load on text in memory.
 * \param[out] lx the entries, to release with lexicon_free
 * \param text the bytes of the file
 * \param n how many
 * \param name the name for messages
 * \param[out] err the problem, as lexicon_load
 * \return 0, or -1 with err set (lx is then empty)
 */
int lexicon_parse(Lexicon *lx, const char *text, size_t n, const char *name, Error *err);
/**
 * \brief Releases every entry.
 * \param lx the dictionary
 */
void lexicon_free(Lexicon *lx);
/**
 * \brief Whether a word goes to the development set: a hash of its
 * spelling, so the split is the same on every machine, in every order of
 * the file, and a word's pronunciations stay on one side.
 * \param word the word
 * \return 1 for about 1 word in G2P_DEV_SHARE
 */
int is_dev_word(const char *word);
/** \brief One word in this many goes to the development set. */
enum { G2P_DEV_SHARE = 32 };
/**
 * \brief Splits the training dictionary: the development words and the rest.
 * \param[out] train the entries that are not development words (shared, not copied)
 * \param[out] dev the development entries (shared, not copied)
 * \param all the dictionary; it keeps ownership of the entries
 */
void lexicon_split(Lexicon *train, Lexicon *dev, const Lexicon *all);
/**
 * \brief Releases a Lexicon made by lexicon_split (the array, not the entries).
 * \param lx the part
 */
void lexicon_free_part(Lexicon *lx);

/** @} */

#endif
