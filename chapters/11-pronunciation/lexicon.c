/*
 * lexicon.c - chapter 11: reading a pronouncing dictionary, the letter and
 * phoneme vocabularies, and the development split (see lexicon.h).
 *
 * The files are trusted for nothing: every line is checked, and a problem
 * is reported with the file name and the line number.
 */
#include "lexicon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------ vocabularies */

/* The 39 phonemes of CMUdict (ARPAbet without stress), ids 3 ... 41. */
static const char *const PHONES[G2P_PHONES - G2P_FIRST] = {
    "AA", "AE", "AH", "AO", "AW", "AY", "B",  "CH", "D",  "DH", "EH", "ER", "EY",
    "F",  "G",  "HH", "IH", "IY", "JH", "K",  "L",  "M",  "N",  "NG", "OW", "OY",
    "P",  "R",  "S",  "SH", "T",  "TH", "UH", "UW", "V",  "W",  "Y",  "Z",  "ZH"};

static const char *const LETTERS[G2P_LETTERS - G2P_FIRST] = {
    "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N",
    "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "'"};

static const char *special_name(int64_t id)
{
    return id == G2P_PAD ? "pad" : id == G2P_BOS ? "<s>" : id == G2P_EOS ? "</s>" : "?";
}

int letter_id(int c)
{
    if (c >= 'A' && c <= 'Z') return G2P_FIRST + (c - 'A');
    if (c >= 'a' && c <= 'z') return G2P_FIRST + (c - 'a');
    if (c == '\'') return G2P_LETTERS - 1;
    return -1;
}

const char *letter_name(int64_t id)
{
    return id >= G2P_FIRST && id < G2P_LETTERS ? LETTERS[id - G2P_FIRST] : special_name(id);
}

int phone_id(const char *s, size_t n)
{
    for (int i = 0; i < G2P_PHONES - G2P_FIRST; i++)
        if (strlen(PHONES[i]) == n && memcmp(PHONES[i], s, n) == 0) return G2P_FIRST + i;
    return -1;
}

const char *phone_name(int64_t id)
{
    return id >= G2P_FIRST && id < G2P_PHONES ? PHONES[id - G2P_FIRST] : special_name(id);
}

void seq_free(Seq *s)
{
    free(s->ids);
    s->ids = NULL;
    s->len = 0;
}

/* A character for a message: itself if printable, else its code. */
static const char *show_char(char *buf, size_t size, unsigned char c)
{
    if (c > 0x20 && c < 0x7f) snprintf(buf, size, "'%c'", c);
    else snprintf(buf, size, "byte 0x%02x", c);
    return buf;
}

int word_to_letters(Seq *out, const char *word, Error *err)
{
    out->ids = NULL;
    out->len = 0;
    size_t n = strlen(word);
    if (n == 0) return error_set(err, "an empty word");
    if (n > G2P_MAX_WORD)
        return error_set(err, "%zu letters, more than the %d a word may have", n, G2P_MAX_WORD);
    char c[16];
    for (size_t i = 0; i < n; i++)
        if (letter_id((unsigned char)word[i]) < 0)
            return error_set(err, "%s at position %zu is not a letter or an apostrophe",
                             show_char(c, sizeof c, (unsigned char)word[i]), i + 1);
    out->ids = xmalloc(n, sizeof(int64_t), "a word's letters");
    for (size_t i = 0; i < n; i++) out->ids[i] = letter_id((unsigned char)word[i]);
    out->len = (int)n;
    return 0;
}

char *phones_to_text(char *buf, size_t size, Seq p)
{
    size_t used = 0;
    if (size == 0) return buf;
    buf[0] = '\0';
    for (int i = 0; i < p.len && p.ids[i] != G2P_EOS; i++) {
        const char *name = phone_name(p.ids[i]);
        size_t w = strlen(name) + (i ? 1 : 0);
        if (used + w >= size) break;   /* only whole phonemes; still terminated */
        snprintf(buf + used, size - used, "%s%s", i ? " " : "", name);
        used += w;
    }
    return buf;
}

/* ------------------------------------------------------ parsing */

/* The words seen so far, by spelling: an open-addressing hash table of
 * indices into the entries, so that a word on a later line finds its entry. */
typedef struct {
    int *slot;     /* (cap) entry index + 1, 0 = empty */
    size_t cap;    /* a power of two */
} WordIndex;

static uint64_t hash_word(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a, 64 bits */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void index_grow(WordIndex *ix, const Lexicon *lx)
{
    size_t cap = ix->cap ? ix->cap * 2 : 1024;
    int *slot = xcalloc(cap, sizeof(int), "the word index");
    for (int e = 0; e < lx->count; e++) {
        const char *w = lx->entries[e].word;
        size_t i = hash_word(w, strlen(w)) & (cap - 1);
        while (slot[i]) i = (i + 1) & (cap - 1);
        slot[i] = e + 1;
    }
    free(ix->slot);
    ix->slot = slot;
    ix->cap = cap;
}

/* The entry of a word, or -1; *at is the slot where it would go. */
static int index_find(const WordIndex *ix, const Lexicon *lx, const char *w, size_t n,
                      size_t *at)
{
    size_t i = hash_word(w, n) & (ix->cap - 1);
    while (ix->slot[i]) {
        const char *x = lx->entries[ix->slot[i] - 1].word;
        if (strlen(x) == n && memcmp(x, w, n) == 0) return ix->slot[i] - 1;
        i = (i + 1) & (ix->cap - 1);
    }
    *at = i;
    return -1;
}

/* Reads the phonemes of one pronunciation, s[0 .. n), separated by single
 * or repeated spaces. */
static int parse_pron(Seq *p, const char *s, size_t n, const char *name, long line, Error *err)
{
    int64_t ids[G2P_MAX_PRON];
    int len = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && s[i] == ' ') i++;
        size_t start = i;
        while (i < n && s[i] != ' ') i++;
        if (i == start) break;
        int id = phone_id(s + start, i - start);
        if (id < 0) {
            char sym[24];
            size_t k = i - start < 16 ? i - start : 16;
            for (size_t j = 0; j < k; j++)
                sym[j] = (s[start + j] > 0x20 && s[start + j] < 0x7f) ? s[start + j] : '?';
            sym[k] = '\0';
            return error_set(err, "%s:%ld: '%s%s' is not one of the 39 phonemes", name, line, sym,
                             i - start > 16 ? "..." : "");
        }
        if (len == G2P_MAX_PRON)
            return error_set(err, "%s:%ld: a pronunciation of more than %d phonemes", name, line,
                             G2P_MAX_PRON);
        ids[len++] = id;
    }
    if (len == 0) return error_set(err, "%s:%ld: an empty pronunciation", name, line);
    p->ids = xmalloc((size_t)len, sizeof(int64_t), "a pronunciation");
    memcpy(p->ids, ids, (size_t)len * sizeof(int64_t));
    p->len = len;
    return 0;
}

/* A new entry for the word s[0 .. n) first seen on line. */
static Entry *add_entry(Lexicon *lx, const char *s, size_t n, long line)
{
    if (lx->count == lx->cap) {
        lx->cap = lx->cap ? 2 * lx->cap : 1024;
        lx->entries = xrealloc(lx->entries, (size_t)lx->cap, sizeof(Entry), "the dictionary");
    }
    Entry *e = &lx->entries[lx->count++];
    memset(e, 0, sizeof *e);
    e->word = xmalloc(n + 1, 1, "a word");
    memcpy(e->word, s, n);
    e->word[n] = '\0';
    e->letters.ids = xmalloc(n, sizeof(int64_t), "a word's letters");
    for (size_t i = 0; i < n; i++) e->letters.ids[i] = letter_id((unsigned char)s[i]);
    e->letters.len = (int)n;
    e->line = (int)line;
    return e;
}

static void add_pron(Lexicon *lx, Entry *e, Seq p)
{
    e->prons = xrealloc(e->prons, (size_t)e->n_prons + 1, sizeof(Seq), "pronunciations");
    e->prons[e->n_prons++] = p;
    lx->n_prons++;
}

/* One line, s[0 .. n) without its end: WORD, then pronunciations after tabs. */
static int parse_line(Lexicon *lx, WordIndex *ix, const char *s, size_t n, const char *name,
                      long line, Error *err)
{
    size_t w = 0;
    while (w < n && s[w] != '\t') w++;
    if (w == 0) return error_set(err, "%s:%ld: an empty word", name, line);
    if (w > G2P_MAX_WORD)
        return error_set(err, "%s:%ld: a word of %zu letters, more than %d", name, line, w,
                         G2P_MAX_WORD);
    char c[16];
    for (size_t i = 0; i < w; i++)
        if (s[i] < 'A' || s[i] > 'Z') {
            if (s[i] != '\'')
                return error_set(err, "%s:%ld: %s in the word is not A-Z or an apostrophe",
                                 name, line, show_char(c, sizeof c, (unsigned char)s[i]));
        }
    if ((size_t)lx->count * 2 >= ix->cap) index_grow(ix, lx);
    size_t at = 0;
    int found = index_find(ix, lx, s, w, &at);
    Entry *e;
    if (found >= 0) {
        e = &lx->entries[found];
    } else {
        e = add_entry(lx, s, w, line);
        ix->slot[at] = lx->count;
    }
    size_t i = w;
    while (i < n) {   /* s[i] is a tab */
        size_t start = ++i;
        while (i < n && s[i] != '\t') i++;
        Seq p;
        if (parse_pron(&p, s + start, i - start, name, line, err) != 0) return -1;
        add_pron(lx, e, p);
    }
    return 0;
}

int lexicon_parse(Lexicon *lx, const char *text, size_t n, const char *name, Error *err)
{
    memset(lx, 0, sizeof *lx);
    WordIndex ix = {NULL, 0};
    long line = 0;
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        size_t start = i;
        line++;
        while (i < n && text[i] != '\n' && text[i] != '\0') i++;
        if (i < n && text[i] == '\0') {
            rc = error_set(err, "%s:%ld: a NUL byte: not a text file", name, line);
            break;
        }
        size_t end = i;
        if (end > start && text[end - 1] == '\r') end--;   /* CRLF */
        if (end - start > 4096) {
            rc = error_set(err, "%s:%ld: a line of more than 4096 bytes", name, line);
            break;
        }
        if (end > start) rc = parse_line(lx, &ix, text + start, end - start, name, line, err);
        i++;   /* past the newline */
    }
    free(ix.slot);
    if (rc == 0 && lx->count == 0) rc = error_set(err, "%s: no words", name);
    if (rc != 0) lexicon_free(lx);
    return rc;
}

int lexicon_load(Lexicon *lx, const char *path, Error *err)
{
    memset(lx, 0, sizeof *lx);
    struct stat st;
    if (stat(path, &st) != 0) return error_set(err, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return error_set(err, "%s: is a directory, not a dictionary", path);
    if (!S_ISREG(st.st_mode)) return error_set(err, "%s: not a regular file", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return error_set(err, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *text = xmalloc(cap, 1, "a dictionary file");
    size_t got;
    while ((got = fread(text + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) text = xrealloc(text, cap *= 2, 1, "a dictionary file");
    }
    int bad = ferror(fp);
    fclose(fp);
    int rc = bad ? error_set(err, "%s: read error", path)
                 : lexicon_parse(lx, text, n, path, err);
    free(text);
    return rc;
}

void lexicon_free(Lexicon *lx)
{
    for (int e = 0; e < lx->count; e++) {
        Entry *x = &lx->entries[e];
        free(x->word);
        seq_free(&x->letters);
        for (int p = 0; p < x->n_prons; p++) seq_free(&x->prons[p]);
        free(x->prons);
    }
    free(lx->entries);
    memset(lx, 0, sizeof *lx);
}

/* ------------------------------------------------------ the development split */

//! [is_dev_word]
int is_dev_word(const char *word)
{
    /* a hash of the spelling: no generator, no order of lines involved */
    return hash_word(word, strlen(word)) % G2P_DEV_SHARE == 0;
}
//! [is_dev_word]

void lexicon_split(Lexicon *train, Lexicon *dev, const Lexicon *all)
{
    memset(train, 0, sizeof *train);
    memset(dev, 0, sizeof *dev);
    train->entries = xmalloc((size_t)all->count, sizeof(Entry), "the training words");
    dev->entries = xmalloc((size_t)all->count, sizeof(Entry), "the development words");
    for (int e = 0; e < all->count; e++) {
        Lexicon *side = is_dev_word(all->entries[e].word) ? dev : train;
        side->entries[side->count++] = all->entries[e];
        side->n_prons += all->entries[e].n_prons;
    }
    train->cap = train->count;
    dev->cap = dev->count;
}

void lexicon_free_part(Lexicon *lx)
{
    free(lx->entries);
    memset(lx, 0, sizeof *lx);
}
