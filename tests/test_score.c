/*
 * test_score.c - chapter 11's scoring (chapters/11-pronunciation/score.c):
 * the edit distance, the closest reference of a word, WER and PER.
 *
 * Small cases are worked out by hand in the comments; 300 random ones come
 * from tests/fixtures/make_score_ref.py (score_ref.npz), whose distances are
 * computed by a memoised recursion in Python, not by the two-row table the
 * C code keeps. Every comparison is exact: these are counts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "suites.h"
#include "npy.h"
#include "score.h"

/* The phoneme ids of lexicon.h, written out by hand: AA = 3 ... ZH = 41 in
 * CMUdict's alphabetical order. */
enum {
    AA = 3, AE, AH, AO, AW, AY, B, CH, D, DH, EH, ER, EY, F, G, HH, IH, IY, JH,
    K, L, M, N, NG, OW, OY, P, R, S, SH, T, TH, UH, UW, V, W, Y, Z, ZH
};

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define SEQ(a) ((Seq){(int64_t *)(a), LEN(a)})

/* ------------------------------------------------------------ edit distance */

START_TEST(edit_distance_kitten_sitting)
{
    /* The textbook pair, spelled in phonemes: kitten -> sitting is K->S,
     * EH->IH and one G inserted at the end: 3. */
    const int64_t kitten[] = {K, IH, T, T, EH, N};
    const int64_t sitting[] = {S, IH, T, T, IH, N, G};
    ck_assert_int_eq(ZH, 41);
    ck_assert_int_eq(edit_distance(kitten, LEN(kitten), sitting, LEN(sitting)), 3);
    ck_assert_int_eq(edit_distance(sitting, LEN(sitting), kitten, LEN(kitten)), 3);
}
END_TEST

START_TEST(edit_distance_empty)
{
    const int64_t cat[] = {K, AE, T};
    ck_assert_int_eq(edit_distance(NULL, 0, NULL, 0), 0);
    ck_assert_int_eq(edit_distance(NULL, 0, cat, 3), 3);   /* 3 insertions */
    ck_assert_int_eq(edit_distance(cat, 3, NULL, 0), 3);   /* 3 deletions */
    ck_assert_int_eq(edit_distance(cat, 0, cat, 3), 3);    /* the length counts, not the pointer */
}
END_TEST

START_TEST(edit_distance_one_edit)
{
    const int64_t cat[] = {K, AE, T};
    const int64_t cot[] = {K, AA, T};          /* AE -> AA */
    const int64_t cats[] = {K, AE, T, S};      /* S added at the end */
    const int64_t scat[] = {S, K, AE, T};      /* S added at the start */
    const int64_t at[] = {AE, T};              /* K dropped */
    const int64_t ct[] = {K, T};               /* AE dropped in the middle */
    ck_assert_int_eq(edit_distance(cat, 3, cat, 3), 0);
    ck_assert_int_eq(edit_distance(cat, 3, cot, 3), 1);
    ck_assert_int_eq(edit_distance(cat, 3, cats, 4), 1);
    ck_assert_int_eq(edit_distance(cat, 3, scat, 4), 1);
    ck_assert_int_eq(edit_distance(cats, 4, cat, 3), 1);
    ck_assert_int_eq(edit_distance(cat, 3, at, 2), 1);
    ck_assert_int_eq(edit_distance(cat, 3, ct, 2), 1);
}
END_TEST

START_TEST(edit_distance_by_hand)
{
    /* Two neighbours swapped cost 2 (no transposition in Levenshtein). */
    const int64_t ta[] = {T, AE}, at[] = {AE, T};
    ck_assert_int_eq(edit_distance(ta, 2, at, 2), 2);
    /* Nothing in common: substitute the 2 of the shorter, insert 1: 3. */
    const int64_t aa[] = {AA, AA}, bbb[] = {B, B, B};
    ck_assert_int_eq(edit_distance(aa, 2, bbb, 3), 3);
    /* either IY DH ER -> AY DH ER: 1; and -> IY TH ER: 1; AY DH ER -> IY TH ER: 2. */
    const int64_t e1[] = {IY, DH, ER}, e2[] = {AY, DH, ER}, e3[] = {IY, TH, ER};
    ck_assert_int_eq(edit_distance(e1, 3, e2, 3), 1);
    ck_assert_int_eq(edit_distance(e1, 3, e3, 3), 1);
    ck_assert_int_eq(edit_distance(e2, 3, e3, 3), 2);
    /* Deleting first is cheaper than substituting all: A B C D -> B C D E is 2. */
    const int64_t abcd[] = {AA, B, CH, D}, bcde[] = {B, CH, D, EH};
    ck_assert_int_eq(edit_distance(abcd, 4, bcde, 4), 2);
}
END_TEST

START_TEST(edit_distance_longer_than_a_pronunciation)
{
    /* 500 ids against the same without its first 120 and with 7 changed:
     * 120 deletions + 7 substitutions. Far past G2P_MAX_PRON, so under
     * AddressSanitizer this would catch rows of a fixed size. */
    enum { NA = 500, CUT = 120 };
    int64_t *a = malloc(NA * sizeof *a), *b = malloc((NA - CUT) * sizeof *b);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < NA; i++) a[i] = AA + (i * 7) % 39;
    memcpy(b, a + CUT, (NA - CUT) * sizeof *b);
    for (int k = 0; k < 7; k++) b[k * 50] = 0;   /* 0 (PAD) is no phoneme of a */
    ck_assert_int_eq(edit_distance(a, NA, b, NA - CUT), CUT + 7);
    ck_assert_int_eq(edit_distance(b, NA - CUT, a, NA), CUT + 7);
    free(a);
    free(b);
}
END_TEST

/* ------------------------------------------------------------ score_word */

static Entry entry(Seq *prons, int n)
{
    Entry e;
    memset(&e, 0, sizeof e);
    e.prons = prons;
    e.n_prons = n;
    return e;
}

START_TEST(score_word_second_reference_is_right)
{
    const int64_t cat[] = {K, AE, T}, kat[] = {K, AA, T};
    Seq refs[] = {SEQ(cat), SEQ(kat)};
    Entry e = entry(refs, 2);
    Score s = {0, 0, 0, 0};
    ck_assert_int_eq(score_word(&s, SEQ(kat), &e), 1);
    ck_assert_int_eq(s.words, 1);
    ck_assert_int_eq(s.wrong, 0);
    ck_assert_int_eq(s.edits, 0);
    ck_assert_int_eq(s.ref_phones, 3);
}
END_TEST

START_TEST(score_word_sums_the_closest_length)
{
    /* refs: K AE T S (4) and K AA (2). The answer K AA T is 2 from the
     * first (AA->AE, insert S) and 1 from the second (delete T): the second
     * is the closest, so 1 edit over 2 phonemes, and the word is wrong. */
    const int64_t cats[] = {K, AE, T, S}, ka[] = {K, AA}, hyp[] = {K, AA, T};
    Seq refs[] = {SEQ(cats), SEQ(ka)};
    Entry e = entry(refs, 2);
    Score s = {0, 0, 0, 0};
    ck_assert_int_eq(score_word(&s, SEQ(hyp), &e), 1);
    ck_assert_int_eq(s.words, 1);
    ck_assert_int_eq(s.wrong, 1);
    ck_assert_int_eq(s.edits, 1);
    ck_assert_int_eq(s.ref_phones, 2);
}
END_TEST

START_TEST(score_word_tie_takes_the_first)
{
    /* refs: T AH M EY T OW (6) and T AH M AA T (5). The answer
     * T AH M AA T OW is 1 from each (EY->AA; delete OW): the tie goes to
     * the first, whose length is 6. With the references the other way
     * round, the first is the 5-long one. */
    const int64_t r6[] = {T, AH, M, EY, T, OW}, r5[] = {T, AH, M, AA, T};
    const int64_t hyp[] = {T, AH, M, AA, T, OW};
    Seq refs[] = {SEQ(r6), SEQ(r5)};
    Entry e = entry(refs, 2);
    Score s = {0, 0, 0, 0};
    ck_assert_int_eq(score_word(&s, SEQ(hyp), &e), 0);
    ck_assert_int_eq(s.edits, 1);
    ck_assert_int_eq(s.ref_phones, 6);

    Seq swapped[] = {SEQ(r5), SEQ(r6)};
    Entry e2 = entry(swapped, 2);
    Score s2 = {0, 0, 0, 0};
    ck_assert_int_eq(score_word(&s2, SEQ(hyp), &e2), 0);
    ck_assert_int_eq(s2.edits, 1);
    ck_assert_int_eq(s2.ref_phones, 5);

    /* A third, closer reference after the tie wins: the exact answer. */
    Seq three[] = {SEQ(r6), SEQ(r5), SEQ(hyp)};
    Entry e3 = entry(three, 3);
    Score s3 = {0, 0, 0, 0};
    ck_assert_int_eq(score_word(&s3, SEQ(hyp), &e3), 2);
    ck_assert_int_eq(s3.wrong, 0);
    ck_assert_int_eq(s3.edits, 0);
    ck_assert_int_eq(s3.ref_phones, 6);
}
END_TEST

START_TEST(score_word_empty_answer)
{
    /* No phonemes at all: the distance to each reference is its length;
     * AY (1) is closer than AA B (2). */
    const int64_t ay[] = {AY}, aab[] = {AA, B};
    Seq refs[] = {SEQ(aab), SEQ(ay)};
    Entry e = entry(refs, 2);
    Score s = {0, 0, 0, 0};
    Seq none = {NULL, 0};
    ck_assert_int_eq(score_word(&s, none, &e), 1);
    ck_assert_int_eq(s.wrong, 1);
    ck_assert_int_eq(s.edits, 1);
    ck_assert_int_eq(s.ref_phones, 1);
}
END_TEST

START_TEST(score_word_without_references)
{
    /* score.h asks for at least one reference; with none, nothing is counted. */
    const int64_t cat[] = {K, AE, T};
    Entry e = entry(NULL, 0);
    Score s = {0, 0, 0, 0};
    ck_assert_int_eq(score_word(&s, SEQ(cat), &e), -1);
    ck_assert_int_eq(s.words + s.wrong + s.edits + s.ref_phones, 0);
}
END_TEST

/* ------------------------------------------------------------ WER and PER */

START_TEST(rates_by_hand)
{
    /* Five words:
     *   cat     refs K AE T                          answer K AE T        right, 0 edits, 3
     *   tomato  refs T AH M EY T OW | T AH M AA T OW answer = the second  right, 0 edits, 6
     *   either  refs IY DH ER | AY DH ER             answer IY TH ER      wrong, 1 edit (DH->TH), 3
     *   through refs TH R UW                         answer TH R OW AH    wrong, 2 (UW->OW, +AH), 3
     *   a       refs AH | EY                         answer (nothing)     wrong, 1 (tie: first), 1
     * words 5, wrong 3, edits 0+0+1+2+1 = 4, reference phonemes 3+6+3+3+1 = 16:
     * WER = 100 * 3 / 5 = 60, PER = 100 * 4 / 16 = 25. */
    const int64_t cat[] = {K, AE, T};
    const int64_t tom1[] = {T, AH, M, EY, T, OW}, tom2[] = {T, AH, M, AA, T, OW};
    const int64_t ei1[] = {IY, DH, ER}, ei2[] = {AY, DH, ER}, ei_hyp[] = {IY, TH, ER};
    const int64_t thr[] = {TH, R, UW}, thr_hyp[] = {TH, R, OW, AH};
    const int64_t a1[] = {AH}, a2[] = {EY};
    Seq r_cat[] = {SEQ(cat)}, r_tom[] = {SEQ(tom1), SEQ(tom2)}, r_ei[] = {SEQ(ei1), SEQ(ei2)};
    Seq r_thr[] = {SEQ(thr)}, r_a[] = {SEQ(a1), SEQ(a2)};
    Entry e_cat = entry(r_cat, 1), e_tom = entry(r_tom, 2), e_ei = entry(r_ei, 2);
    Entry e_thr = entry(r_thr, 1), e_a = entry(r_a, 2);

    Score s = {0, 0, 0, 0};
    ck_assert_double_eq(score_wer(&s), 0.0);   /* nothing scored yet */
    ck_assert_double_eq(score_per(&s), 0.0);
    ck_assert_int_eq(score_word(&s, SEQ(cat), &e_cat), 0);
    ck_assert_int_eq(score_word(&s, SEQ(tom2), &e_tom), 1);
    ck_assert_int_eq(score_word(&s, SEQ(ei_hyp), &e_ei), 0);
    ck_assert_int_eq(score_word(&s, SEQ(thr_hyp), &e_thr), 0);
    ck_assert_int_eq(score_word(&s, (Seq){NULL, 0}, &e_a), 0);
    ck_assert_int_eq(s.words, 5);
    ck_assert_int_eq(s.wrong, 3);
    ck_assert_int_eq(s.edits, 4);
    ck_assert_int_eq(s.ref_phones, 16);
    ck_assert_double_eq(score_wer(&s), 60.0);
    ck_assert_double_eq(score_per(&s), 25.0);
}
END_TEST

START_TEST(rates_of_counts)
{
    /* 1 wrong in 3: 100 / 3 = 33.33...; 7 edits over 240: 2.91666... */
    Score s = {3, 1, 7, 240};
    ck_assert_double_eq_tol(score_wer(&s), 100.0 / 3.0, 1e-12);
    ck_assert_double_eq_tol(score_per(&s), 2.9166666666666665, 1e-12);
    Score none = {0, 0, 0, 0};
    ck_assert_double_eq(score_wer(&none), 0.0);
    ck_assert_double_eq(score_per(&none), 0.0);
}
END_TEST

/* ------------------------------------------------------------ against Python */

typedef struct {
    Npz z;
    const Tensor *n_refs, *lens, *ids, *dist, *best, *right;
    const Tensor *words, *wrong, *edits, *ref_phones, *wer, *per;
} Ref;

static const Tensor *get(const Npz *z, const char *name)
{
    const Tensor *t = npz_get(z, name);
    ck_assert_msg(t != NULL, "score_ref.npz: no array %s", name);
    ck_assert_int_eq(t->ndim, 1);
    return t;
}

static Ref load_ref(void)
{
    Ref r;
    Error err;
    ck_assert_msg(npz_load(FIXTURE("score_ref.npz"), &r.z, &err) == 0, "%s", err.msg);
    r.n_refs = get(&r.z, "n_refs");
    r.lens = get(&r.z, "lens");
    r.ids = get(&r.z, "ids");
    r.dist = get(&r.z, "dist");
    r.best = get(&r.z, "best");
    r.right = get(&r.z, "right");
    r.words = get(&r.z, "cum_words");
    r.wrong = get(&r.z, "cum_wrong");
    r.edits = get(&r.z, "cum_edits");
    r.ref_phones = get(&r.z, "cum_ref_phones");
    r.wer = get(&r.z, "cum_wer");
    r.per = get(&r.z, "cum_per");
    ck_assert_int_eq(r.wer->dtype, DT_F32);
    return r;
}

START_TEST(matches_python)
{
    Ref r = load_ref();
    int64_t n = r.n_refs->size;
    ck_assert_int_ge(n, 300);
    Score s = {0, 0, 0, 0};
    int64_t seq = 0, at = 0, d_at = 0;   /* next sequence, next id, next distance */
    for (int64_t c = 0; c < n; c++) {
        int nr = (int)r.n_refs->i[c];
        Seq hyp = {r.ids->i + at, (int)r.lens->i[seq]};
        at += hyp.len;
        seq++;
        Seq refs[8];
        ck_assert_int_le(nr, 8);
        for (int k = 0; k < nr; k++) {
            refs[k] = (Seq){r.ids->i + at, (int)r.lens->i[seq]};
            at += refs[k].len;
            seq++;
            ck_assert_int_le(at, r.ids->size);
            int want = (int)r.dist->i[d_at++];
            ck_assert_msg(edit_distance(hyp.ids, hyp.len, refs[k].ids, refs[k].len) == want,
                          "case %ld, reference %d: distance %d expected", (long)c, k, want);
            ck_assert_int_eq(edit_distance(refs[k].ids, refs[k].len, hyp.ids, hyp.len), want);
        }
        Entry e = entry(refs, nr);
        ck_assert_msg(score_word(&s, hyp, &e) == r.best->i[c], "case %ld: closest reference %ld",
                      (long)c, (long)r.best->i[c]);
        ck_assert_int_eq(s.words, r.words->i[c]);
        ck_assert_int_eq(s.wrong, r.wrong->i[c]);
        ck_assert_int_eq(s.edits, r.edits->i[c]);
        ck_assert_int_eq(s.ref_phones, r.ref_phones->i[c]);
        /* 100 a / b is one correctly rounded division on both sides, and
         * the file holds float32: the same after rounding. */
        ck_assert_float_eq((float)score_wer(&s), r.wer->f[c]);
        ck_assert_float_eq((float)score_per(&s), r.per->f[c]);
    }
    ck_assert_int_eq(at, r.ids->size);   /* every id was read */
    ck_assert_int_eq(d_at, r.dist->size);
    npz_free(&r.z);
}
END_TEST

START_TEST(python_cases_cover_the_rules)
{
    /* What the random cases are there for: right answers that match a
     * reference other than the first, ties in distance between references
     * of different lengths, empty answers and references, long ones. */
    Ref r = load_ref();
    int second_right = 0, ties = 0, empty = 0, longest = 0;
    int64_t seq = 0, d_at = 0;
    for (int64_t c = 0; c < r.n_refs->size; c++) {
        int nr = (int)r.n_refs->i[c];
        const int64_t *d = r.dist->i + d_at, *len = r.lens->i + seq + 1;
        int b = (int)r.best->i[c];
        if (r.right->i[c] && b > 0) second_right++;
        for (int k = 0; k < nr; k++)
            if (k != b && d[k] == d[b] && len[k] != len[b]) {
                ties++;
                break;
            }
        for (int k = 0; k <= nr; k++) {
            empty += r.lens->i[seq + k] == 0;
            if (r.lens->i[seq + k] > longest) longest = (int)r.lens->i[seq + k];
        }
        seq += nr + 1;
        d_at += nr;
    }
    ck_assert_int_ge(second_right, 5);
    ck_assert_int_ge(ties, 5);
    ck_assert_int_ge(empty, 5);
    ck_assert_int_ge(longest, 60);
    npz_free(&r.z);
}
END_TEST

Suite *score_suite(void)
{
    Suite *s = suite_create("score (chapter 11)");
    TCase *tc = tcase_create("edit distance");
    tcase_add_test(tc, edit_distance_kitten_sitting);
    tcase_add_test(tc, edit_distance_empty);
    tcase_add_test(tc, edit_distance_one_edit);
    tcase_add_test(tc, edit_distance_by_hand);
    tcase_add_test(tc, edit_distance_longer_than_a_pronunciation);
    suite_add_tcase(s, tc);
    tc = tcase_create("words and rates");
    tcase_add_test(tc, score_word_second_reference_is_right);
    tcase_add_test(tc, score_word_sums_the_closest_length);
    tcase_add_test(tc, score_word_tie_takes_the_first);
    tcase_add_test(tc, score_word_empty_answer);
    tcase_add_test(tc, score_word_without_references);
    tcase_add_test(tc, rates_by_hand);
    tcase_add_test(tc, rates_of_counts);
    tcase_add_test(tc, matches_python);
    tcase_add_test(tc, python_cases_cover_the_rules);
    suite_add_tcase(s, tc);
    return s;
}
