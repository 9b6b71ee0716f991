/*
 * fuzz_lexicon.c - libFuzzer target: chapter 11's dictionary reader,
 * lexicon_parse (chapters/11-pronunciation/lexicon.c), on arbitrary bytes.
 * Built and run by `make fuzz` (clang, with AddressSanitizer and
 * UndefinedBehaviorSanitizer); seeds in corpus/lexicon/.
 *
 * Beyond "no crash", it checks what lexicon.h promises: either a message
 * naming the input and an empty dictionary, or entries whose words,
 * letters and pronunciations are within the vocabularies and limits, in the
 * order of their first lines; and over those entries word_to_letters,
 * phones_to_text and the development split agree with them.
 */
#include <stdlib.h>
#include <string.h>
#include "lexicon.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One entry: its word, its letters and each pronunciation, in range, and
 * the text of each pronunciation read back into the same ids. */
static void check_entry(const Entry *e)
{
    size_t n = strlen(e->word);
    if (n < 1 || n > G2P_MAX_WORD || e->letters.len != (int)n) abort();
    Seq s;
    Error err;
    if (word_to_letters(&s, e->word, &err) != 0 || s.len != e->letters.len) abort();
    for (int i = 0; i < s.len; i++)
        if (s.ids[i] != e->letters.ids[i] || s.ids[i] < G2P_FIRST || s.ids[i] >= G2P_LETTERS) abort();
    seq_free(&s);
    for (int p = 0; p < e->n_prons; p++) {
        Seq pr = e->prons[p];
        if (pr.len < 1 || pr.len > G2P_MAX_PRON) abort();
        for (int i = 0; i < pr.len; i++)
            if (pr.ids[i] < G2P_FIRST || pr.ids[i] >= G2P_PHONES) abort();
        char text[3 * G2P_MAX_PRON];
        phones_to_text(text, sizeof text, pr);
        int k = 0;
        for (const char *t = text; *t; k++) {
            size_t len = strcspn(t, " ");
            if (k >= pr.len || phone_id(t, len) != pr.ids[k]) abort();
            t += len;
            if (*t == ' ') t++;
        }
        if (k != pr.len) abort();
    }
}

/* The split: every entry on exactly the side is_dev_word says. */
static void check_split(const Lexicon *lx)
{
    Lexicon train, dev;
    lexicon_split(&train, &dev, lx);
    if (train.count + dev.count != lx->count || train.n_prons + dev.n_prons != lx->n_prons) abort();
    for (int e = 0; e < train.count; e++)
        if (is_dev_word(train.entries[e].word)) abort();
    for (int e = 0; e < dev.count; e++)
        if (!is_dev_word(dev.entries[e].word)) abort();
    lexicon_free_part(&train);
    lexicon_free_part(&dev);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    /* The first bytes as a word typed by a user: accepted or refused, no crash. */
    char word[G2P_MAX_WORD + 8];
    size_t wn = size < sizeof word - 1 ? size : sizeof word - 1;
    memcpy(word, data, wn);
    word[wn] = '\0';
    Seq s;
    Error err;
    if (word_to_letters(&s, word, &err) == 0) seq_free(&s);

    Lexicon lx;
    if (lexicon_parse(&lx, (const char *)data, size, "fuzz.dict", &err) != 0) {
        if (strncmp(err.msg, "fuzz.dict", 9) != 0) abort();   /* every message names the file */
        if (lx.count != 0 || lx.entries != NULL || lx.n_prons != 0) abort();
        return 0;
    }
    long prons = 0;
    for (int e = 0; e < lx.count; e++) {
        const Entry *x = &lx.entries[e];
        check_entry(x);
        if (e > 0 && x->line <= lx.entries[e - 1].line) abort();   /* order of first lines */
        prons += x->n_prons;
    }
    if (prons != lx.n_prons) abort();
    /* each word once: a repeated word gathers into its first entry */
    const char **words = malloc((size_t)lx.count * sizeof *words);
    if (!words) abort();
    for (int e = 0; e < lx.count; e++) words[e] = lx.entries[e].word;
    qsort(words, (size_t)lx.count, sizeof *words, cmp_str);
    for (int e = 1; e < lx.count; e++)
        if (strcmp(words[e - 1], words[e]) == 0) abort();
    free(words);
    check_split(&lx);
    lexicon_free(&lx);
    return 0;
}
