/*
 * test_lexicon.c - chapter 11's dictionary reader and vocabularies
 * (chapters/11-pronunciation/lexicon.c).
 *
 * The expected ids are written out by hand from lexicon.h's table (A ... Z
 * = 3 ... 28, ' = 29; AA ... ZH = 3 ... 41 in CMUdict's alphabetical
 * order). Dictionaries are small texts parsed in memory (lexicon_parse) or
 * written to a fresh temporary directory and loaded (lexicon_load). Every
 * malformed input must fail with a message naming the file, the line and
 * the problem. The counts of the real training file (data/cmudict/, a copy
 * of the benchmark split) are those its README states; the test is skipped
 * with a note when the copy is absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "lexicon.h"

/* Letter ids by hand: A = 3, so letter X is 3 + its place in the alphabet. */
#define L(c) (3 + ((c) - 'A'))
enum { APOS = 29 };

/* Phoneme ids by hand, CMUdict's 39 in alphabetical order from 3. */
enum {
    AA = 3, AE, AH, AO, AW, AY, B, CH, D, DH, EH, ER, EY, F, G, HH, IH, IY, JH,
    K, L_, M, N, NG, OW, OY, P, R, S, SH, T, TH, UH, UW, V, W, Y, Z, ZH
};
static const char *const ARPABET =
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S "
    "SH T TH UH UW V W Y Z ZH";

#define TRAIN_FILE "data/cmudict/g014b2b.train"
#define REF_FILE "data/cmudict/g014b2b.ref"
#define WORDS_FILE "data/cmudict/g014b2b.words"

/* ------------------------------------------------------------ helpers */

static char tmp_dir[64];

static void make_tmp_dir(void)
{
    make_temp_dir(tmp_dir, sizeof tmp_dir, "test_lexicon");
}

/* Everything a test leaves behind goes. */
static void remove_tmp_dir(void)
{
    remove_tree(tmp_dir);
}

/* Writes n bytes to tmp_dir/name; the path goes to path. */
static const char *write_file(char *path, size_t cap, const char *name, const char *text, size_t n)
{
    snprintf(path, cap, "%s/%s", tmp_dir, name);
    write_bytes(path, text, n);
    return path;
}

static Lexicon parse_ok(const char *text)
{
    Lexicon lx;
    Error err;
    ck_assert_msg(lexicon_parse(&lx, text, strlen(text), "ok.dict", &err) == 0, "%s", err.msg);
    return lx;
}

static void assert_seq(Seq s, const int64_t *want, int n)
{
    ck_assert_int_eq(s.len, n);
    for (int i = 0; i < n; i++) ck_assert_int_eq(s.ids[i], want[i]);
}

/* The pronunciation p of entry e. */
#define ASSERT_PRON(e, p, ...)                                                  \
    do {                                                                        \
        const int64_t want_[] = {__VA_ARGS__};                                  \
        ck_assert_int_gt((e)->n_prons, (p));                                    \
        assert_seq((e)->prons[p], want_, (int)(sizeof want_ / sizeof want_[0])); \
    } while (0)

/* Parsing text (n bytes) named `name` fails at `line`, and the message
 * holds "name:line" and every one of the problem's words. An empty
 * dictionary is left behind. */
static void expect_parse_error(const char *text, size_t n, long line, const char *problem1,
                               const char *problem2)
{
    Lexicon lx;
    Error err;
    err.msg[0] = '\0';
    ck_assert_msg(lexicon_parse(&lx, text, n, "bad.dict", &err) != 0, "accepted: %.60s", text);
    char place[64];
    snprintf(place, sizeof place, "bad.dict:%ld", line);
    ck_assert_msg(strstr(err.msg, place) != NULL, "'%s' does not say %s", err.msg, place);
    ck_assert_msg(strstr(err.msg, problem1) != NULL, "'%s' does not say '%s'", err.msg, problem1);
    if (problem2)
        ck_assert_msg(strstr(err.msg, problem2) != NULL, "'%s' does not say '%s'", err.msg,
                      problem2);
    ck_assert_int_eq(lx.count, 0);
    ck_assert_int_eq(lx.n_prons, 0);
    ck_assert_ptr_null(lx.entries);
}

static void expect_error(const char *text, long line, const char *problem1, const char *problem2)
{
    expect_parse_error(text, strlen(text), line, problem1, problem2);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The words of lx, sorted (pointers into lx). */
static const char **sorted_words(const Lexicon *lx)
{
    const char **w = malloc(((size_t)lx->count + 1) * sizeof *w);
    ck_assert_ptr_nonnull(w);
    for (int e = 0; e < lx->count; e++) w[e] = lx->entries[e].word;
    qsort(w, (size_t)lx->count, sizeof *w, cmp_str);
    return w;
}

/* ------------------------------------------------------------ vocabularies */

START_TEST(letter_ids)
{
    ck_assert_int_eq(G2P_LETTERS, 30);
    ck_assert_int_eq(letter_id('A'), 3);
    ck_assert_int_eq(letter_id('Z'), 28);
    ck_assert_int_eq(letter_id('\''), 29);
    ck_assert_int_eq(letter_id('a'), 3);
    ck_assert_int_eq(letter_id('z'), 28);
    ck_assert_int_eq(letter_id('K'), 13);
    const char *bad = "-. 0_@[`{\t\n";
    for (const char *c = bad; *c; c++) ck_assert_int_eq(letter_id(*c), -1);
    ck_assert_int_eq(letter_id(0), -1);
    ck_assert_int_eq(letter_id(0xC9), -1);   /* Latin-1 E acute */
    ck_assert_int_eq(letter_id(-1), -1);     /* EOF */
    for (int c = 'A'; c <= 'Z'; c++) {
        char name[2] = {(char)c, '\0'};
        ck_assert_str_eq(letter_name(letter_id(c)), name);
    }
    ck_assert_str_eq(letter_name(29), "'");
    ck_assert_str_eq(letter_name(G2P_PAD), "pad");
    ck_assert_str_eq(letter_name(G2P_BOS), "<s>");
    ck_assert_str_eq(letter_name(G2P_EOS), "</s>");
    ck_assert_str_eq(letter_name(30), "?");
    ck_assert_str_eq(letter_name(-7), "?");
}
END_TEST

START_TEST(phone_ids)
{
    ck_assert_int_eq(G2P_PHONES, 42);
    ck_assert_int_eq(phone_id("AA", 2), 3);
    ck_assert_int_eq(phone_id("ZH", 2), 41);
    ck_assert_int_eq(phone_id("K", 1), 22);
    ck_assert_int_eq(phone_id("AE", 2), 4);
    ck_assert_int_eq(phone_id("T", 1), 33);
    ck_assert_int_eq(phone_id("ZHX", 2), 41);   /* only n characters are read */
    ck_assert_int_eq(phone_id("AH0", 3), -1);   /* stress marks are not in the set */
    ck_assert_int_eq(phone_id("aa", 2), -1);
    ck_assert_int_eq(phone_id("A", 1), -1);
    ck_assert_int_eq(phone_id("AX", 2), -1);
    ck_assert_int_eq(phone_id("", 0), -1);
    ck_assert_str_eq(phone_name(3), "AA");
    ck_assert_str_eq(phone_name(41), "ZH");
    ck_assert_str_eq(phone_name(G2P_PAD), "pad");
    ck_assert_str_eq(phone_name(G2P_BOS), "<s>");
    ck_assert_str_eq(phone_name(G2P_EOS), "</s>");
    ck_assert_str_eq(phone_name(42), "?");
    /* The whole table, against the ARPAbet list written out above. */
    int id = 3;
    for (const char *p = ARPABET; *p; id++) {
        size_t n = strcspn(p, " ");
        ck_assert_msg(phone_id(p, n) == id, "%.*s should be %d", (int)n, p, id);
        ck_assert_int_eq(strlen(phone_name(id)), n);
        ck_assert_int_eq(memcmp(phone_name(id), p, n), 0);
        p += n;
        while (*p == ' ') p++;
    }
    ck_assert_int_eq(id, 42);
}
END_TEST

START_TEST(word_to_letters_cases)
{
    Seq s;
    Error err;
    ck_assert_int_eq(word_to_letters(&s, "CAT", &err), 0);
    assert_seq(s, (const int64_t[]){L('C'), L('A'), L('T')}, 3);
    seq_free(&s);
    ck_assert_ptr_null(s.ids);
    ck_assert_int_eq(s.len, 0);
    /* lower and mixed case read as upper case; the apostrophe is 29 */
    ck_assert_int_eq(word_to_letters(&s, "o'Neil", &err), 0);
    assert_seq(s, (const int64_t[]){L('O'), APOS, L('N'), L('E'), L('I'), L('L')}, 6);
    seq_free(&s);

    char word[G2P_MAX_WORD + 2];
    memset(word, 'Q', G2P_MAX_WORD);
    word[G2P_MAX_WORD] = '\0';
    ck_assert_int_eq(word_to_letters(&s, word, &err), 0);   /* 64 letters: the most */
    ck_assert_int_eq(s.len, G2P_MAX_WORD);
    ck_assert_int_eq(s.ids[63], L('Q'));
    seq_free(&s);

    word[G2P_MAX_WORD] = 'Q';
    word[G2P_MAX_WORD + 1] = '\0';
    ck_assert_int_eq(word_to_letters(&s, word, &err), -1);   /* 65 */
    ck_assert_msg(strstr(err.msg, "65") && strstr(err.msg, "64"), "%s", err.msg);
    ck_assert_ptr_null(s.ids);

    ck_assert_int_eq(word_to_letters(&s, "", &err), -1);
    ck_assert_msg(strstr(err.msg, "empty") != NULL, "%s", err.msg);
    ck_assert_ptr_null(s.ids);

    /* the bad character, named, and its place (1-based: the third) */
    ck_assert_int_eq(word_to_letters(&s, "CO-OP", &err), -1);
    ck_assert_msg(strstr(err.msg, "'-'") && strstr(err.msg, "3"), "%s", err.msg);
    ck_assert_int_eq(s.len, 0);
    ck_assert_int_eq(word_to_letters(&s, "AB C", &err), -1);
    ck_assert_msg(strstr(err.msg, "3"), "%s", err.msg);
    ck_assert_int_eq(word_to_letters(&s, "CAF\xc3\xa9", &err), -1);   /* UTF-8 e acute */
    ck_assert_msg(strstr(err.msg, "0xc3") && strstr(err.msg, "4"), "%s", err.msg);
}
END_TEST

START_TEST(phones_to_text_cases)
{
    char buf[64];
    int64_t cat[] = {K, AE, T};
    ck_assert_str_eq(phones_to_text(buf, sizeof buf, (Seq){cat, 3}), "K AE T");
    int64_t stop[] = {K, AE, G2P_EOS, T, T};   /* EOS ends them */
    ck_assert_str_eq(phones_to_text(buf, sizeof buf, (Seq){stop, 5}), "K AE");
    ck_assert_str_eq(phones_to_text(buf, sizeof buf, (Seq){NULL, 0}), "");
    int64_t first[] = {AA, ZH};
    ck_assert_str_eq(phones_to_text(buf, sizeof buf, (Seq){first, 2}), "AA ZH");
    /* Too little room: a terminated prefix of the text, never past size. */
    memset(buf, 'x', sizeof buf);
    char *got = phones_to_text(buf, 5, (Seq){cat, 3});
    ck_assert_ptr_eq(got, buf);
    ck_assert_int_lt(strlen(buf), 5);
    ck_assert_int_eq(strncmp(buf, "K AE T", strlen(buf)), 0);
    ck_assert_int_eq(buf[5], 'x');
    memset(buf, 'x', sizeof buf);
    phones_to_text(buf, 0, (Seq){cat, 3});
    ck_assert_int_eq(buf[0], 'x');   /* no room at all: nothing written */
    /* the longest pronunciation fits in 64 * 3 bytes */
    int64_t longest[G2P_MAX_PRON];
    for (int i = 0; i < G2P_MAX_PRON; i++) longest[i] = ZH;
    char big[G2P_MAX_PRON * 3];
    phones_to_text(big, sizeof big, (Seq){longest, G2P_MAX_PRON});
    ck_assert_int_eq(strlen(big), G2P_MAX_PRON * 3 - 1);
}
END_TEST

/* ------------------------------------------------------------ the three shapes */

START_TEST(parse_word_list)
{
    Lexicon lx = parse_ok("CAT\nO'NEIL\nDOG\n");
    ck_assert_int_eq(lx.count, 3);
    ck_assert_int_eq(lx.n_prons, 0);
    ck_assert_str_eq(lx.entries[0].word, "CAT");
    ck_assert_str_eq(lx.entries[1].word, "O'NEIL");
    ck_assert_str_eq(lx.entries[2].word, "DOG");
    assert_seq(lx.entries[1].letters,
               (const int64_t[]){L('O'), APOS, L('N'), L('E'), L('I'), L('L')}, 6);
    for (int e = 0; e < 3; e++) {
        ck_assert_int_eq(lx.entries[e].n_prons, 0);
        ck_assert_int_eq(lx.entries[e].line, e + 1);
    }
    lexicon_free(&lx);
    ck_assert_int_eq(lx.count, 0);
    ck_assert_ptr_null(lx.entries);
}
END_TEST

START_TEST(parse_training_lines)
{
    Lexicon lx = parse_ok("CAT\tK AE T\nZOO\tZ UW\nCAUGHT\tK AA T\n");
    ck_assert_int_eq(lx.count, 3);
    ck_assert_int_eq(lx.n_prons, 3);
    const Entry *cat = &lx.entries[0], *zoo = &lx.entries[1], *caught = &lx.entries[2];
    ck_assert_str_eq(cat->word, "CAT");
    assert_seq(cat->letters, (const int64_t[]){5, 3, 22}, 3);   /* C A T */
    ck_assert_int_eq(cat->n_prons, 1);
    ASSERT_PRON(cat, 0, 22, 4, 33);                              /* K AE T */
    ASSERT_PRON(zoo, 0, Z, UW);
    assert_seq(zoo->letters, (const int64_t[]){28, 17, 17}, 3);  /* Z O O */
    ASSERT_PRON(caught, 0, K, AA, T);
    ck_assert_int_eq(caught->line, 3);
    lexicon_free(&lx);
}
END_TEST

START_TEST(parse_reference_lines)
{
    /* the test file's shape: every pronunciation of a word on its line */
    Lexicon lx = parse_ok("EITHER\tIY DH ER\tAY DH ER\nCAT\tK AE T\nTOMATO\tT AH M EY T OW\tT AH M AA T OW\tT AH M AE T OW\n");
    ck_assert_int_eq(lx.count, 3);
    ck_assert_int_eq(lx.n_prons, 6);
    const Entry *either = &lx.entries[0], *tomato = &lx.entries[2];
    ck_assert_int_eq(either->n_prons, 2);
    ASSERT_PRON(either, 0, IY, DH, ER);
    ASSERT_PRON(either, 1, AY, DH, ER);
    ck_assert_int_eq(tomato->n_prons, 3);
    ASSERT_PRON(tomato, 0, T, AH, M, EY, T, OW);
    ASSERT_PRON(tomato, 1, T, AH, M, AA, T, OW);
    ASSERT_PRON(tomato, 2, T, AH, M, AE, T, OW);
    ck_assert_int_eq(tomato->line, 3);
    lexicon_free(&lx);
}
END_TEST

START_TEST(parse_gathers_repeated_words)
{
    /* READ on lines 1 and 4, LIVE on 2 and 5: one entry each, at its first
     * line, pronunciations in the order of the lines. */
    Lexicon lx = parse_ok("READ\tR IY D\nLIVE\tL IH V\nCAT\tK AE T\nREAD\tR EH D\nLIVE\tL AY V\tL IH V Z\n");
    ck_assert_int_eq(lx.count, 3);
    ck_assert_int_eq(lx.n_prons, 6);
    ck_assert_str_eq(lx.entries[0].word, "READ");
    ck_assert_str_eq(lx.entries[1].word, "LIVE");
    ck_assert_str_eq(lx.entries[2].word, "CAT");
    ck_assert_int_eq(lx.entries[0].line, 1);
    ck_assert_int_eq(lx.entries[1].line, 2);
    ck_assert_int_eq(lx.entries[0].n_prons, 2);
    ASSERT_PRON(&lx.entries[0], 0, R, IY, D);
    ASSERT_PRON(&lx.entries[0], 1, R, EH, D);
    ck_assert_int_eq(lx.entries[1].n_prons, 3);
    ASSERT_PRON(&lx.entries[1], 0, L_, IH, V);
    ASSERT_PRON(&lx.entries[1], 1, L_, AY, V);
    ASSERT_PRON(&lx.entries[1], 2, L_, IH, V, Z);
    lexicon_free(&lx);
}
END_TEST

START_TEST(parse_many_words_gathered)
{
    /* 3000 distinct words, each on two lines far apart (the index grows
     * several times in between): 3000 entries of 2 pronunciations. */
    enum { NW = 3000 };
    size_t cap = (size_t)NW * 2 * 24, n = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (int pass = 0; pass < 2; pass++)
        for (int w = 0; w < NW; w++)
            n += (size_t)snprintf(text + n, cap - n, "W%c%c%c\t%s\n", 'A' + w % 26,
                                  'A' + w / 26 % 26, 'A' + w / 676, pass ? "D UW" : "T UW");
    Lexicon lx;
    Error err;
    ck_assert_msg(lexicon_parse(&lx, text, n, "many.dict", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(lx.count, NW);
    ck_assert_int_eq(lx.n_prons, 2 * NW);
    for (int w = 0; w < NW; w++) {
        ck_assert_int_eq(lx.entries[w].line, w + 1);
        ASSERT_PRON(&lx.entries[w], 0, T, UW);
        ASSERT_PRON(&lx.entries[w], 1, D, UW);
    }
    lexicon_free(&lx);
    free(text);
}
END_TEST

START_TEST(parse_line_ends)
{
    /* CRLF everywhere, then a last line without any end */
    Lexicon lx = parse_ok("CAT\tK AE T\r\nEITHER\tIY DH ER\tAY DH ER\r\nDOG\r\n");
    ck_assert_int_eq(lx.count, 3);
    ck_assert_str_eq(lx.entries[0].word, "CAT");
    ASSERT_PRON(&lx.entries[0], 0, K, AE, T);
    ASSERT_PRON(&lx.entries[1], 1, AY, DH, ER);
    ck_assert_str_eq(lx.entries[2].word, "DOG");   /* no '\r' kept */
    ck_assert_int_eq(lx.entries[2].letters.len, 3);
    lexicon_free(&lx);

    lx = parse_ok("CAT\tK AE T\nDOG\tD AO G");
    ck_assert_int_eq(lx.count, 2);
    ASSERT_PRON(&lx.entries[1], 0, D, AO, G);
    lexicon_free(&lx);

    lx = parse_ok("CAT\tK AE T\r\nDOG\tD AO G\r");   /* CR then the end of the file */
    ck_assert_int_eq(lx.count, 2);
    ASSERT_PRON(&lx.entries[1], 0, D, AO, G);
    lexicon_free(&lx);

    lx = parse_ok("DOG");
    ck_assert_int_eq(lx.count, 1);
    ck_assert_str_eq(lx.entries[0].word, "DOG");
    lexicon_free(&lx);
}
END_TEST

START_TEST(parse_limits)
{
    /* 64 letters and 64 phonemes are allowed */
    char line[G2P_MAX_WORD + 1 + 3 * G2P_MAX_PRON + 8];
    memset(line, 'A', G2P_MAX_WORD);
    size_t n = G2P_MAX_WORD;
    line[n++] = '\t';
    for (int i = 0; i < G2P_MAX_PRON; i++) {
        memcpy(line + n, i ? " AA" : "AA", i ? 3 : 2);
        n += i ? 3 : 2;
    }
    line[n] = '\0';
    Lexicon lx = parse_ok(line);
    ck_assert_int_eq(lx.entries[0].letters.len, G2P_MAX_WORD);
    ck_assert_int_eq(lx.entries[0].prons[0].len, G2P_MAX_PRON);
    lexicon_free(&lx);
}
END_TEST

/* ------------------------------------------------------------ errors */

START_TEST(error_unknown_phoneme)
{
    expect_error("CAT\tK AE T\nDOG\tD AO0 G\n", 2, "AO0", "phoneme");
    expect_error("CAT\tK AE T\tK XX T\n", 1, "XX", NULL);   /* in the second pronunciation */
    expect_error("CAT\tk ae t\n", 1, "k", "phoneme");            /* lower case is no phoneme */
    /* 33 bytes of junk: the message stays short and still names the place */
    expect_error("CAT\tK AE T\nDOG\tD QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ G\n", 2, "QQQQ", NULL);
}
END_TEST

START_TEST(error_bad_character)
{
    expect_error("CAT\tK AE T\nDOG\tD AO G\nCO-OP\tK OW AA P\n", 3, "'-'", NULL);
    expect_error("CAT\tK AE T\nAB1\tEY B\n", 2, "'1'", NULL);
    expect_error("CAT\tK AE T\nA\x01" "B\tEY B\n", 2, "0x01", NULL);
    expect_error("CAF\xc3\xa9\tK AE F EY\n", 1, "0xc3", NULL);
    expect_error("CAT K AE T\n", 1, "0x20", NULL);   /* a space, not a tab, after the word */
}
END_TEST

START_TEST(error_empty_word)
{
    expect_error("CAT\tK AE T\n\tK AE T\n", 2, "empty word", NULL);
    expect_error("\t\n", 1, "empty word", NULL);
}
END_TEST

START_TEST(error_empty_pronunciation)
{
    expect_error("CAT\tK AE T\nDOG\t\n", 2, "empty pronunciation", NULL);
    expect_error("CAT\tK AE T\t\n", 1, "empty pronunciation", NULL);     /* a tab at the end */
    expect_error("CAT\tK AE T\t\tK AA T\n", 1, "empty pronunciation", NULL);
    expect_error("CAT\tK AE T\nDOG\t   \r\n", 2, "empty pronunciation", NULL);
}
END_TEST

START_TEST(error_too_long)
{
    char text[512];   /* 65 letters on line 2 */
    int n = snprintf(text, sizeof text, "CAT\tK AE T\n");
    memset(text + n, 'A', G2P_MAX_WORD + 1);
    snprintf(text + n + G2P_MAX_WORD + 1, sizeof text - (size_t)n - G2P_MAX_WORD - 1, "\tEY\n");
    expect_error(text, 2, "65", NULL);

    /* 65 phonemes on line 1 */
    n = snprintf(text, sizeof text, "LONG\t");
    for (int i = 0; i < G2P_MAX_PRON + 1; i++) n += snprintf(text + n, sizeof text - (size_t)n, " AA");
    expect_error(text, 1, "64", "phonemes");

    /* a line of 5000 bytes */
    size_t big = 5000;
    char *line = malloc(big + 20);
    ck_assert_ptr_nonnull(line);
    memcpy(line, "CAT\tK AE T\nX\t", 13);
    memset(line + 13, ' ', big);
    memcpy(line + 13 + big, "AA\n", 4);
    expect_error(line, 2, "4096", NULL);
    free(line);
}
END_TEST

START_TEST(error_nul_byte)
{
    const char text[] = "CAT\tK AE T\nDOG\tD\0AO G\nEEL\tIY L\n";
    expect_parse_error(text, sizeof text - 1, 2, "NUL", NULL);
    const char in_word[] = "CAT\tK AE T\r\nD\0G\r\n";
    expect_parse_error(in_word, sizeof in_word - 1, 2, "NUL", NULL);
}
END_TEST

START_TEST(error_first_bad_line_counts)
{
    /* Lines are counted from 1 across CRLF ends; the first problem is the
     * one reported. */
    expect_error("A\tAH\r\nB\tB IY\r\nC\tS IY\r\nD\tD IY9\r\nE\t\r\n", 4, "IY9", NULL);
}
END_TEST

START_TEST(error_no_words)
{
    Lexicon lx;
    Error err;
    ck_assert_int_eq(lexicon_parse(&lx, "", 0, "empty.dict", &err), -1);
    ck_assert_msg(strstr(err.msg, "empty.dict") != NULL, "%s", err.msg);
    ck_assert_int_eq(lx.count, 0);
}
END_TEST

/* ------------------------------------------------------------ files */

START_TEST(load_file)
{
    make_tmp_dir();
    char path[256];
    const char text[] = "READ\tR IY D\r\nCAT\tK AE T\r\nREAD\tR EH D";
    write_file(path, sizeof path, "small.dict", text, sizeof text - 1);
    Lexicon lx;
    Error err;
    ck_assert_msg(lexicon_load(&lx, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(lx.count, 2);
    ck_assert_int_eq(lx.n_prons, 3);
    ASSERT_PRON(&lx.entries[0], 1, R, EH, D);
    ASSERT_PRON(&lx.entries[1], 0, K, AE, T);
    lexicon_free(&lx);
    remove_tmp_dir();
}
END_TEST

START_TEST(load_file_larger_than_a_read)
{
    /* 20000 lines, 300 KB: more than one read buffer; the last line is the
     * one that counts. */
    make_tmp_dir();
    enum { NW = 20000 };
    size_t cap = (size_t)NW * 40, n = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (int w = 0; w < NW; w++)
        n += (size_t)snprintf(text + n, cap - n, "W%c%c%c%c\tD AH B AH L Y UW\n", 'A' + w % 26,
                              'A' + w / 26 % 26, 'A' + w / 676 % 26, 'A' + w / 17576);
    char path[256];
    write_file(path, sizeof path, "big.dict", text, n);
    Lexicon lx;
    Error err;
    ck_assert_msg(lexicon_load(&lx, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(lx.count, NW);
    ck_assert_int_eq(lx.entries[NW - 1].line, NW);
    lexicon_free(&lx);
    n += (size_t)snprintf(text + n, cap - n, "LAST\tL AE S T0\n");
    write_file(path, sizeof path, "big.dict", text, n);
    ck_assert_int_eq(lexicon_load(&lx, path, &err), -1);
    ck_assert_msg(strstr(err.msg, "big.dict:20001") && strstr(err.msg, "T0"), "%s", err.msg);
    free(text);
    remove_tmp_dir();
}
END_TEST

START_TEST(load_errors_name_the_file)
{
    make_tmp_dir();
    char path[256], want[300];
    const char text[] = "CAT\tK AE T\nDOG\tD AO G\n\tAH\n";
    write_file(path, sizeof path, "no_word.dict", text, sizeof text - 1);
    Lexicon lx;
    Error err;
    ck_assert_int_eq(lexicon_load(&lx, path, &err), -1);
    snprintf(want, sizeof want, "%s:3", path);
    ck_assert_msg(strstr(err.msg, want) && strstr(err.msg, "empty word"), "%s", err.msg);
    ck_assert_int_eq(lx.count, 0);

    const char nul[] = "CAT\tK AE T\n\0\n";
    write_file(path, sizeof path, "nul.dict", nul, sizeof nul - 1);
    ck_assert_int_eq(lexicon_load(&lx, path, &err), -1);
    snprintf(want, sizeof want, "%s:2", path);
    ck_assert_msg(strstr(err.msg, want) && strstr(err.msg, "NUL"), "%s", err.msg);

    snprintf(path, sizeof path, "%s/missing.dict", tmp_dir);
    ck_assert_int_eq(lexicon_load(&lx, path, &err), -1);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "No such file"), "%s", err.msg);
    ck_assert_int_eq(lx.count, 0);

    ck_assert_int_eq(lexicon_load(&lx, tmp_dir, &err), -1);   /* a directory */
    ck_assert_msg(strstr(err.msg, tmp_dir) && strstr(err.msg, "directory"), "%s", err.msg);
    ck_assert_int_eq(lx.count, 0);
    remove_tmp_dir();
}
END_TEST

/* ------------------------------------------------------------ the split */

START_TEST(split_ignores_line_order)
{
    /* 1000 words, each with two pronunciations on lines far apart, in two
     * orders of the lines: the same development words, every one of them
     * with both its pronunciations, and nothing on both sides. */
    enum { NW = 1000, NL = 2 * NW };
    char (*lines)[32] = malloc(NL * sizeof *lines);
    ck_assert_ptr_nonnull(lines);
    for (int w = 0; w < NW; w++) {
        char word[8];
        snprintf(word, sizeof word, "%c%c%c", 'A' + w % 26, 'A' + w / 26 % 26, 'A' + w / 676);
        snprintf(lines[w], sizeof lines[w], "%s\tT UW\n", word);
        snprintf(lines[NW + w], sizeof lines[NW + w], "%s\tD UW Z\n", word);
    }
    size_t cap = NL * 32;
    char *a = malloc(cap), *b = malloc(cap);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    size_t na = 0, nb = 0;
    for (int k = 0; k < NL; k++) {
        na += (size_t)snprintf(a + na, cap - na, "%s", lines[k]);
        nb += (size_t)snprintf(b + nb, cap - nb, "%s", lines[(k * 777 + 5) % NL]);   /* 777 is prime to 2000 */
    }
    Lexicon la, lb, ta, da, tb, db;
    Error err;
    ck_assert_msg(lexicon_parse(&la, a, na, "a.dict", &err) == 0, "%s", err.msg);
    ck_assert_msg(lexicon_parse(&lb, b, nb, "b.dict", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(la.count, NW);
    ck_assert_int_eq(lb.count, NW);
    lexicon_split(&ta, &da, &la);
    lexicon_split(&tb, &db, &lb);
    ck_assert_int_eq(ta.count + da.count, NW);
    ck_assert_int_eq(ta.n_prons + da.n_prons, NL);
    ck_assert_int_gt(da.count, 0);
    ck_assert_int_lt(da.count, NW / 8);
    ck_assert_int_eq(da.count, db.count);
    ck_assert_int_eq(da.n_prons, 2 * da.count);   /* both pronunciations of each went along */
    const char **wa = sorted_words(&da), **wb = sorted_words(&db);
    for (int k = 0; k < da.count; k++) {
        ck_assert_str_eq(wa[k], wb[k]);
        ck_assert_int_eq(is_dev_word(wa[k]), 1);
    }
    for (int k = 0; k < ta.count; k++) ck_assert_int_eq(is_dev_word(ta.entries[k].word), 0);
    for (int k = 0; k < db.count; k++) ck_assert_int_eq(db.entries[k].n_prons, 2);
    free(wa);
    free(wb);
    lexicon_free_part(&ta);
    lexicon_free_part(&da);
    lexicon_free_part(&tb);
    lexicon_free_part(&db);
    ck_assert_ptr_null(da.entries);
    lexicon_free(&la);
    lexicon_free(&lb);
    free(lines);
    free(a);
    free(b);
}
END_TEST

START_TEST(split_keeps_file_order)
{
    Lexicon all = parse_ok("ONE\tW AH N\nTWO\tT UW\nTHREE\tTH R IY\nFOUR\tF AO R\nFIVE\tF AY V\n"
                           "SIX\tS IH K S\nSEVEN\tS EH V AH N\nEIGHT\tEY T\nNINE\tN AY N\n"
                           "TEN\tT EH N\n");
    Lexicon tr, dv;
    lexicon_split(&tr, &dv, &all);
    ck_assert_int_eq(tr.count + dv.count, 10);
    for (int k = 1; k < tr.count; k++) ck_assert_int_lt(tr.entries[k - 1].line, tr.entries[k].line);
    for (int k = 1; k < dv.count; k++) ck_assert_int_lt(dv.entries[k - 1].line, dv.entries[k].line);
    /* shared, not copied: the words are the dictionary's own */
    for (int k = 0; k < tr.count; k++) {
        int e = tr.entries[k].line - 1;
        ck_assert_ptr_eq(tr.entries[k].word, all.entries[e].word);
    }
    lexicon_free_part(&tr);
    lexicon_free_part(&dv);
    lexicon_free(&all);
}
END_TEST

static int have(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) return 1;
    fprintf(stderr, "test_lexicon: %s is absent; its test is skipped\n", path);
    return 0;
}

START_TEST(real_training_file)
{
    if (!have(TRAIN_FILE)) return;
    Lexicon all, tr, dv;
    Error err;
    ck_assert_msg(lexicon_load(&all, TRAIN_FILE, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(all.count, 106837);    /* the README's counts */
    ck_assert_int_eq(all.n_prons, 113438);
    const char **w = sorted_words(&all);
    for (int k = 1; k < all.count; k++)
        ck_assert_msg(strcmp(w[k - 1], w[k]) < 0, "%s twice", w[k]);   /* gathered: each word once */
    free(w);
    lexicon_split(&tr, &dv, &all);
    ck_assert_int_eq(tr.count + dv.count, all.count);
    ck_assert_int_eq(tr.n_prons + dv.n_prons, all.n_prons);
    /* about 1 in 32: 3339 expected, binomial sd 57; 10% either way is 5 sd */
    double share = (double)dv.count / all.count;
    ck_assert_msg(share > 0.9 / G2P_DEV_SHARE && share < 1.1 / G2P_DEV_SHARE,
                  "development share %.5f (%d words)", share, dv.count);
    for (int k = 0; k < dv.count; k++) ck_assert(is_dev_word(dv.entries[k].word));
    for (int k = 0; k < tr.count; k++) ck_assert(!is_dev_word(tr.entries[k].word));
    lexicon_free_part(&tr);
    lexicon_free_part(&dv);
    lexicon_free(&all);
}
END_TEST

START_TEST(real_test_files)
{
    if (!have(REF_FILE) || !have(WORDS_FILE) || !have(TRAIN_FILE)) return;
    Lexicon ref, words, train;
    Error err;
    ck_assert_msg(lexicon_load(&ref, REF_FILE, &err) == 0, "%s", err.msg);
    ck_assert_msg(lexicon_load(&words, WORDS_FILE, &err) == 0, "%s", err.msg);
    ck_assert_msg(lexicon_load(&train, TRAIN_FILE, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ref.count, 12000);
    ck_assert_int_eq(ref.n_prons, 12753);
    ck_assert_int_eq(words.count, 12000);
    ck_assert_int_eq(words.n_prons, 0);
    for (int e = 0; e < ref.count; e++) {
        ck_assert_str_eq(ref.entries[e].word, words.entries[e].word);
        ck_assert_int_ge(ref.entries[e].n_prons, 1);
    }
    /* no test word is a training word */
    const char **tw = sorted_words(&train);
    for (int e = 0; e < ref.count; e++) {
        const char *key = ref.entries[e].word;
        ck_assert_msg(bsearch(&key, tw, (size_t)train.count, sizeof *tw, cmp_str) == NULL,
                      "%s is in both", key);
    }
    free(tw);
    lexicon_free(&ref);
    lexicon_free(&words);
    lexicon_free(&train);
}
END_TEST

Suite *lexicon_suite(void)
{
    Suite *s = suite_create("lexicon (chapter 11)");
    TCase *tc = tcase_create("vocabularies");
    tcase_add_test(tc, letter_ids);
    tcase_add_test(tc, phone_ids);
    tcase_add_test(tc, word_to_letters_cases);
    tcase_add_test(tc, phones_to_text_cases);
    suite_add_tcase(s, tc);
    tc = tcase_create("parsing");
    tcase_add_test(tc, parse_word_list);
    tcase_add_test(tc, parse_training_lines);
    tcase_add_test(tc, parse_reference_lines);
    tcase_add_test(tc, parse_gathers_repeated_words);
    tcase_add_test(tc, parse_many_words_gathered);
    tcase_add_test(tc, parse_line_ends);
    tcase_add_test(tc, parse_limits);
    tcase_add_test(tc, error_unknown_phoneme);
    tcase_add_test(tc, error_bad_character);
    tcase_add_test(tc, error_empty_word);
    tcase_add_test(tc, error_empty_pronunciation);
    tcase_add_test(tc, error_too_long);
    tcase_add_test(tc, error_nul_byte);
    tcase_add_test(tc, error_first_bad_line_counts);
    tcase_add_test(tc, error_no_words);
    suite_add_tcase(s, tc);
    tc = tcase_create("files and split");
    tcase_set_timeout(tc, 30);   /* the real files under the sanitizers */
    tcase_add_test(tc, load_file);
    tcase_add_test(tc, load_file_larger_than_a_read);
    tcase_add_test(tc, load_errors_name_the_file);
    tcase_add_test(tc, split_ignores_line_order);
    tcase_add_test(tc, split_keeps_file_order);
    tcase_add_test(tc, real_training_file);
    tcase_add_test(tc, real_test_files);
    suite_add_tcase(s, tc);
    return s;
}
