/*
 * score.c - chapter 11: word and phoneme error rates, counted as the
 * published results on the CMUdict benchmark count them (see score.h and
 * data/cmudict/README.md).
 *
 * Assumes nothing about the lengths of the sequences: the edit distance
 * keeps two rows as long as the second sequence, allocated for each call.
 */
#include "score.h"

#include <stdlib.h>
#include "util.h"

static int min3(int a, int b, int c)
{
    int m = a < b ? a : b;
    return m < c ? m : c;
}

//! [edit_distance]
int edit_distance(const int64_t *a, int na, const int64_t *b, int nb)
{
    if (na <= 0) return nb > 0 ? nb : 0;   /* insert all of b */
    if (nb <= 0) return na;                /* delete all of a */
    /* prev[j]: the distance from a's first i-1 ids to b's first j ids;
     * cur[j]: from a's first i ids. Only the row above is ever read. */
    int *prev = xmalloc((size_t)nb + 1, sizeof(int), "edit_distance's rows");
    int *cur = xmalloc((size_t)nb + 1, sizeof(int), "edit_distance's rows");
    for (int j = 0; j <= nb; j++) prev[j] = j;   /* from nothing: j insertions */
    for (int i = 1; i <= na; i++) {
        cur[0] = i;                              /* to nothing: i deletions */
        for (int j = 1; j <= nb; j++) {
            int substitute = prev[j - 1] + (a[i - 1] != b[j - 1]);   /* 0 when they match */
            int delete = prev[j] + 1;                                /* drop a[i-1] */
            int insert = cur[j - 1] + 1;                             /* add b[j-1] */
            cur[j] = min3(substitute, delete, insert);
        }
        int *t = prev;
        prev = cur;
        cur = t;
    }
    int d = prev[nb];
    free(prev);
    free(cur);
    return d;
}
//! [edit_distance]

//! [score_word]
int score_word(Score *s, Seq hyp, const Entry *e)
{
    if (e->n_prons < 1) return -1;   /* nothing to compare with: nothing counted */
    int best = 0, best_d = 0;
    for (int r = 0; r < e->n_prons; r++) {
        int d = edit_distance(hyp.ids, hyp.len, e->prons[r].ids, e->prons[r].len);
        if (r == 0 || d < best_d) {   /* strictly closer: a tie keeps the first */
            best = r;
            best_d = d;
        }
    }
    s->words++;
    s->wrong += best_d != 0;          /* distance 0 is an exact match of some reference */
    s->edits += best_d;
    s->ref_phones += e->prons[best].len;
    return best;
}
//! [score_word]

double score_wer(const Score *s)
{
    return s->words > 0 ? 100.0 * (double)s->wrong / (double)s->words : 0.0;
}

double score_per(const Score *s)
{
    return s->ref_phones > 0 ? 100.0 * (double)s->edits / (double)s->ref_phones : 0.0;
}
