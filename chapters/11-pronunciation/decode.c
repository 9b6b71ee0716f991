/*
 * decode.c - chapter 11: from next-phoneme probabilities to pronunciations,
 * greedily or by beam search, for many words at once (see decode.h).
 *
 * Chapter 9's greedy_decode runs the whole decoder on the whole prefix at
 * every step: step t computes t rows of every product, so a word of n
 * phonemes costs n^2 / 2 decoder rows, each product only a few rows tall.
 * Two facts remove that waste:
 *
 *   - the decoder is causal: position j's keys and values, in every layer,
 *     do not change when later positions are appended. They are kept (the
 *     cache), and step t computes only position t's row: n rows a word;
 *   - rows of different words, and of one word's hypotheses, meet only in
 *     attention. So the live hypotheses of a chunk of words are stacked,
 *     one row each, and every projection, feed-forward network and the
 *     generator is one product of many rows (chapter 10's batched.c does
 *     the same for training). Attention runs per (row, head), over that
 *     row's own short list of keys.
 *
 * The cache. Layer l keeps, for every position j, a block of rows: row r of
 * block j holds the keys and values computed at step j by the hypothesis
 * that sat in row r of the stack then. A hypothesis remembers, for each of
 * its positions, which row of the cache is its own (slot). When beam search
 * reorders, copies or drops hypotheses, only these short lists of slots are
 * copied; the cached vectors never move.
 *
 * The encoder runs once per chunk, stacked the same way, and each decoder
 * layer's cross-attention keys and values of the memory are computed once.
 *
 * g2p_decode_plain keeps chapter 9's way (no cache, one word, one
 * hypothesis at a time) beside it, for reading and as the tests' reference;
 * both use the same beam_select, the step a reader should study.
 *
 * Threads (OpenMP): the products share out their blocks (common/gemm.c);
 * the loops here share out rows or (row, head) tasks, each computed whole
 * by one thread. No sum depends on how the work is shared, so one or many
 * threads give the same bits. When another program keeps a core busy, the
 * work drops to one thread for a while (threads_begin).
 *
 * Sizes: E d_model, H heads, Dh = E / H, F d_ff, Vt phonemes, S a chunk's
 * padded word length, R rows of a step (live hypotheses), k the beam.
 */
#include "decode.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "crowding.h"
#include "ops.h"
#include "positional.h"
#include "report.h"
#include "scaled_attention.h"

#include "parallel.h"

enum {
    CHUNK_WORDS = 256,   /* a chunk holds at most this many words, */
    STEP_ROWS = 512,     /* about this many hypotheses (words times beam), */
    ENC_ROWS = 4096,     /* and at most this many source rows (words times length) */
    FIRST_POSITIONS = 16,/* positions the cache holds at first; it doubles when needed */
    PAR_MIN = 1 << 16,   /* a loop over fewer floats stays on one thread ... */
    PAR_ATTEND = 1 << 18 /* ... and attention with fewer multiply-adds (a few tens of us) */
};


DecodeOpts decode_defaults(void)
{
    DecodeOpts o = {1, 1.0f, G2P_MAX_PRON, 1};
    return o;
}

static int max_int(int a, int b) { return a > b ? a : b; }
static int min_int(int a, int b) { return a < b ? a : b; }

/* A caller's mistake (an empty word, an id outside the vocabulary, a beam
 * of 0) is a bug: reported, then exit 3, as the library's shape checks do. */
static void bad_call(const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", who);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(3);
}

static void check_call(const char *who, const Transformer *m, const Seq *words, int n,
                       const DecodeOpts *o)
{
    if (m->cfg.Vt <= G2P_EOS)
        bad_call(who, "the target vocabulary has %d ids, EOS is %d", m->cfg.Vt, G2P_EOS);
    if (o && (o->beam < 1 || o->max_len < 1))
        bad_call(who, "beam %d and max_len %d must be at least 1", o->beam, o->max_len);
    for (int i = 0; i < n; i++) {
        if (words[i].len < 1) bad_call(who, "word %d is empty", i);
        for (int j = 0; j < words[i].len; j++)
            if (words[i].ids[j] < 0 || words[i].ids[j] >= m->cfg.Vs)
                bad_call(who, "word %d, letter %d: id %lld is outside [0, %d)", i, j,
                         (long long)words[i].ids[j], m->cfg.Vs);
    }
}

/* ------------------------------------------------ choosing the answer */

/* log p(y) / |y|^alpha, |y| the tokens scored (phonemes, and EOS if chosen). */
static float normalised(float logp, int scored, float alpha)
{
    return scored > 0 ? logp / powf((float)scored, alpha) : logp;
}

/* An answer: len phonemes, and its score. */
static void answer(Seq *out, float *score, const int64_t *ids, int len, float logp, int scored,
                   float alpha)
{
    out->ids = xmalloc((size_t)max_int(len, 1), sizeof(int64_t), "an answer");
    if (len > 0) memcpy(out->ids, ids, (size_t)len * sizeof(int64_t));
    out->len = len;
    if (score) *score = normalised(logp, scored, alpha);
}

/* A candidate of beam search: live hypothesis hyp extended by token tok. */
typedef struct {
    float score;   /* the summed log-probability, unnormalised */
    int hyp;
    int tok;
} Candidate;

/* What beam search has finished for one word. */
typedef struct {
    int count;          /* hypotheses that chose EOS, at most k */
    int best_len;       /* the best one's phonemes, -1 while none */
    float best;         /* its normalised score */
    int64_t *best_ids;  /* (max_len) its phonemes */
} Finished;

/* The best `keep` of the live x Vt candidates, best first. Ties go to the
 * earlier hypothesis, then the lower token: candidates arrive in that
 * order, and a later one passes an earlier one only on a strictly higher
 * score.   best: (keep)  logp: (live, Vt)  cum: (live) */
static int best_candidates(Candidate *best, int keep, Mat logp, const float *cum)
{
    int n = 0;
    for (int h = 0; h < logp.rows; h++)
        for (int v = 0; v < logp.cols; v++) {
            Candidate c = {cum[h] + MAT_AT(logp, h, v), h, v};
            if (n == keep && !(c.score > best[n - 1].score)) continue;
            int i = n < keep ? n++ : n - 1;   /* full: the worst makes room */
            for (; i > 0 && c.score > best[i - 1].score; i--) best[i] = best[i - 1];
            best[i] = c;
        }
    return n;
}

//! [beam_select]
/* One step of beam search for one word, whose live hypotheses have t
 * phonemes: walk the candidates best first. One that picks EOS among the
 * first k is finished (while fewer than k are), ranked by
 * log p / (t + 1)^alpha; the others fill the next beam, best first, until
 * it holds k. Returns the size of the next beam; hypothesis i of it is
 * live hypothesis parent[i] followed by next[i], with log-probability
 * cum_next[i].   logp: (live, Vt)  cum: (live)  tokens: (live, P), BOS first */
static int beam_select(int *parent, int64_t *next, float *cum_next, Finished *f, Candidate *cand,
                       Mat logp, const float *cum, const int64_t *tokens, int P, int t,
                       const DecodeOpts *o)
{
    int k = o->beam, live = 0;
    /* k EOS at most among them (one per hypothesis): k others are left */
    int n = best_candidates(cand, 2 * k, logp, cum);
    for (int i = 0; i < n && live < k; i++) {
        Candidate c = cand[i];
        if (c.tok != G2P_EOS) {
            parent[live] = c.hyp;
            next[live] = c.tok;
            cum_next[live++] = c.score;
        } else if (i < k && f->count < k) {
            float s = normalised(c.score, t + 1, o->alpha);
            f->count++;
            if (f->best_len < 0 || s > f->best) {   /* the earlier wins a tie */
                f->best = s;
                f->best_len = t;
                memcpy(f->best_ids, tokens + (size_t)c.hyp * P + 1, (size_t)t * sizeof(int64_t));
            }
        }
    }
    return live;
}
//! [beam_select]

/* Whether a word's search is over, once its `live` hypotheses (best first)
 * have `phonemes` phonemes each: k finished, or no room left, or no live
 * hypothesis can beat the best finished one. The last test only saves
 * time, it never changes the answer: a hypothesis with log-probability
 * c <= 0 now ends with at most c, over |y| tokens, phonemes + 1 <= |y| <=
 * max_len, so its score is at most c / max(|y|^alpha) over that range; a
 * hypothesis that finishes later and only ties the best loses the tie. */
static int word_done(const Finished *f, const float *cum, int live, int phonemes,
                     const DecodeOpts *o)
{
    if (f->count >= o->beam || live == 0 || phonemes >= o->max_len) return 1;
    if (f->best_len < 0) return 0;
    float room = fmaxf(powf((float)(phonemes + 1), o->alpha), powf((float)o->max_len, o->alpha));
    for (int i = 0; i < live; i++)
        if (cum[i] / room > f->best) return 0;
    return 1;
}

/* A finished word's answer: its best finished hypothesis or, if none
 * finished (max_len reached), the best live one: `prefix` (BOS first, t
 * phonemes) followed by `last`, with log-probability logp. */
static void beam_answer(Seq *out, float *score, const Finished *f, const int64_t *prefix, int t,
                        int64_t last, float logp, float alpha)
{
    if (f->best_len >= 0) {
        answer(out, NULL, f->best_ids, f->best_len, 0.0f, 0, alpha);
        if (score) *score = f->best;
    } else if (prefix) {
        out->ids = xmalloc((size_t)t + 1, sizeof(int64_t), "an answer");
        if (t > 0) memcpy(out->ids, prefix + 1, (size_t)t * sizeof(int64_t));
        out->ids[t] = last;
        out->len = t + 1;
        if (score) *score = normalised(logp, t + 1, alpha);
    } else {   /* nothing live, nothing finished: cannot happen with Vt > EOS */
        answer(out, score, NULL, 0, 0.0f, 0, alpha);
    }
}

/* ------------------------------------------------ the plain way */

/* log p(next token | prefix), chapter 9's way: the whole decoder on the
 * whole prefix, the last row.   logp: (1, Vt)  memory: (S, E)  prefix: (T) */
/* PAD and BOS are not phonemes: with DecodeOpts.phonemes_only their logits
 * become -inf, so no answer holds them (log-softmax then shares the
 * probability among the others). logits: (R, Vt) */
static void block_specials(Mat logits)
{
    for (int r = 0; r < logits.rows; r++) {
        MAT_AT(logits, r, G2P_PAD) = -INFINITY;
        MAT_AT(logits, r, G2P_BOS) = -INFINITY;
    }
}

static void prefix_log_probs(Mat logp, const Transformer *m, Mat memory, const int64_t *src,
                             int S, const int64_t *prefix, int T, int phonemes_only)
{
    const TransformerConfig *c = &m->cfg;
    Mat logits = mat_new(T, c->Vt);
    Mat self_w = mat_new(c->dec_layers * c->H * T, T);   /* weights, not needed here */
    Mat cross = mat_new(c->dec_layers * c->H * T, S);
    transformer_decode(logits, self_w, cross, m, memory, src, S, prefix, T);
    if (phonemes_only) block_specials(mat_rows(logits, T - 1, 1));
    transformer_log_probs(logits, logits);
    mat_copy(logp, mat_rows(logits, T - 1, 1));
    mat_free(&logits);
    mat_free(&self_w);
    mat_free(&cross);
}

//! [decode_plain]
void g2p_decode_plain(Seq *out, float *score, const Transformer *m, Seq word,
                      const DecodeOpts *o)
{
    check_call("g2p_decode_plain", m, &word, 1, o);
    const TransformerConfig *c = &m->cfg;
    int k = o->beam, P = o->max_len + 1, S = word.len;
    Mat memory = mat_new(S, c->E), enc_attn = mat_new(c->enc_layers * c->H * S, S);
    transformer_encode(memory, enc_attn, m, word.ids, S);   /* the word is read once */

    int64_t *tokens = xcalloc((size_t)k * P, sizeof(int64_t), "hypotheses");   /* (k, P) */
    int64_t *tokens_next = xcalloc((size_t)k * P, sizeof(int64_t), "hypotheses");
    float *cum = xcalloc((size_t)k, sizeof(float), "scores");
    float *cum_next = xcalloc((size_t)k, sizeof(float), "scores");
    int *parent = xcalloc((size_t)k, sizeof(int), "parents");
    int64_t *next = xcalloc((size_t)k, sizeof(int64_t), "next tokens");
    Candidate *cand = xcalloc((size_t)2 * k, sizeof(Candidate), "candidates");
    Finished f = {0, -1, 0.0f, xcalloc((size_t)o->max_len, sizeof(int64_t), "an answer")};
    Mat logp = mat_new(k, c->Vt);

    tokens[0] = G2P_BOS;   /* one live hypothesis: BOS alone */
    int live = 1;
    for (int t = 0;; t++) {
        for (int h = 0; h < live; h++)
            prefix_log_probs(mat_rows(logp, h, 1), m, memory, word.ids, S, tokens + h * P, t + 1,
                             o->phonemes_only);
        int n = beam_select(parent, next, cum_next, &f, cand, mat_rows(logp, 0, live), cum,
                            tokens, P, t, o);
        if (word_done(&f, cum_next, n, t + 1, o)) {
            beam_answer(out, score, &f, n > 0 ? tokens + parent[0] * P : NULL, t, next[0],
                        cum_next[0], o->alpha);
            break;
        }
        for (int i = 0; i < n; i++) {   /* the next beam: a parent's prefix and one token */
            memcpy(tokens_next + i * P, tokens + parent[i] * P, (size_t)(t + 1) * sizeof(int64_t));
            tokens_next[i * P + t + 1] = next[i];
            cum[i] = cum_next[i];
        }
        int64_t *swap = tokens;
        tokens = tokens_next;
        tokens_next = swap;
        live = n;
    }
    mat_free(&logp);
    free(f.best_ids);
    free(cand);
    free(next);
    free(parent);
    free(cum_next);
    free(cum);
    free(tokens_next);
    free(tokens);
    mat_free(&memory);
    mat_free(&enc_attn);
}
//! [decode_plain]

/* ------------------------------------------------ the workspace */

typedef struct {
    const Transformer *m;
    int E, H, Dh, Vt;
    int W;               /* the most words of a chunk */
    int N;               /* the most source rows of a chunk */
    int R;               /* the most rows of a step: W k */
    int max_len;         /* steps; the cache holds positions 0 ... max_len - 1 */
    int phonemes_only;   /* 1: PAD and BOS are never chosen (DecodeOpts) */
    int P;               /* max_len + 1: a hypothesis' tokens, BOS first */
    int L;               /* the longest list of keys: max(longest word, max_len) */
    Mat pe;              /* (L, E) positional encodings */
    /* the chunk */
    int nw, S;           /* its words, their padded length */
    int64_t *src;        /* (nw, S) letters, PAD after each word */
    Mat x, h, z, concat; /* (N, E) the encoder's stack and scratch */
    Mat wide;            /* (N, max(3E, F)) Q' K' V', or the hidden layer */
    Mat *mem_kv;         /* (dec_layers) (N, 2E) keys | values of the memory, for cross-attention */
    /* a step */
    Mat y, yh, yz, q, yconcat;   /* (R, E) */
    Mat hidden;          /* (R, F) */
    Mat logits;          /* (R, Vt) */
    float **kv;          /* (dec_layers) (positions R, 2E): position j at rows [j R, (j + 1) R) */
    int positions;       /* positions the cache has room for */
    float *weights;      /* (max(W, R) H, L) attention weights, one row per task */
    int *iota;           /* (L) 0, 1, 2, ...: the rows of keys that lie one after another */
    /* the hypotheses: row r of the stack */
    int64_t *tok, *tok2; /* (R, P) tokens, BOS first */
    int *slot, *slot2;   /* (R, max_len) the cache row of each position: j R + its row at step j */
    int *word, *word2;   /* (R) its word in the chunk */
    float *cum, *cum2;   /* (R) summed log-probability */
    int *parent;         /* (R) the row the next step's row i continues */
    int64_t *next;       /* (R) ... and the token it appends */
    float *cum_next;     /* (R) ... and its log-probability */
    int *choice;         /* (R) greedy's argmax */
    /* beam search, per word of the chunk */
    int beam;
    int *first, *count;  /* (W) its rows in the stack */
    Finished *fin;       /* (W) */
    int64_t *fin_ids;    /* (W, max_len) room for the finished answers */
    Candidate *cand;     /* (2 k) */
} Work;

static Work *work_new(const Transformer *m, int W, int N, int beam, int max_len, int longest,
                      int phonemes_only)
{
    const TransformerConfig *c = &m->cfg;
    Work *w = xcalloc(1, sizeof(Work), "the decoder's workspace");
    w->m = m;
    w->E = c->E;
    w->H = c->H;
    w->Dh = c->E / c->H;
    w->Vt = c->Vt;
    w->W = W;
    w->N = N;
    w->beam = beam;
    w->R = W * beam;
    w->max_len = max_len;
    w->phonemes_only = phonemes_only;
    w->P = max_len + 1;
    w->L = max_int(longest, max_len);
    int E = c->E, R = w->R;
    w->pe = mat_new(w->L, E);
    positional_encoding(w->pe);   /* chapter 5 */
    w->src = xcalloc((size_t)N, sizeof(int64_t), "source ids");
    w->x = mat_new(N, E);
    w->h = mat_new(N, E);
    w->z = mat_new(N, E);
    w->concat = mat_new(N, E);
    w->wide = mat_new(N, max_int(3 * E, c->F));
    w->mem_kv = xcalloc((size_t)c->dec_layers, sizeof(Mat), "memory keys");
    for (int l = 0; l < c->dec_layers; l++) w->mem_kv[l] = mat_new(N, 2 * E);
    w->y = mat_new(R, E);
    w->yh = mat_new(R, E);
    w->yz = mat_new(R, E);
    w->q = mat_new(R, E);
    w->yconcat = mat_new(R, E);
    w->hidden = mat_new(R, c->F);
    w->logits = mat_new(R, c->Vt);
    w->kv = xcalloc((size_t)c->dec_layers, sizeof(float *), "the cache");
    w->weights = xcalloc((size_t)max_int(W, R) * c->H * w->L, sizeof(float), "attention weights");
    w->iota = xcalloc((size_t)w->L, sizeof(int), "key rows");
    for (int j = 0; j < w->L; j++) w->iota[j] = j;
    w->tok = xcalloc((size_t)R * w->P, sizeof(int64_t), "tokens");
    w->tok2 = xcalloc((size_t)R * w->P, sizeof(int64_t), "tokens");
    w->slot = xcalloc((size_t)R * max_len, sizeof(int), "cache rows");
    w->slot2 = xcalloc((size_t)R * max_len, sizeof(int), "cache rows");
    w->word = xcalloc((size_t)R, sizeof(int), "words");
    w->word2 = xcalloc((size_t)R, sizeof(int), "words");
    w->cum = xcalloc((size_t)R, sizeof(float), "scores");
    w->cum2 = xcalloc((size_t)R, sizeof(float), "scores");
    w->parent = xcalloc((size_t)R, sizeof(int), "parents");
    w->next = xcalloc((size_t)R, sizeof(int64_t), "next tokens");
    w->cum_next = xcalloc((size_t)R, sizeof(float), "scores");
    w->choice = xcalloc((size_t)R, sizeof(int), "choices");
    w->first = xcalloc((size_t)W, sizeof(int), "rows");
    w->count = xcalloc((size_t)W, sizeof(int), "rows");
    w->fin = xcalloc((size_t)W, sizeof(Finished), "finished");
    w->fin_ids = xcalloc((size_t)W * max_len, sizeof(int64_t), "answers");
    w->cand = xcalloc((size_t)2 * beam, sizeof(Candidate), "candidates");
    return w;
}

static void work_free(Work *w)
{
    int layers = w->m->cfg.dec_layers;
    Mat *mats[] = {&w->pe, &w->x, &w->h, &w->z, &w->concat, &w->wide, &w->y, &w->yh, &w->yz,
                   &w->q, &w->yconcat, &w->hidden, &w->logits};
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) mat_free(mats[i]);
    for (int l = 0; l < layers; l++) {
        mat_free(&w->mem_kv[l]);
        free(w->kv[l]);
    }
    void *arrays[] = {w->src,  w->mem_kv,   w->kv,    w->weights, w->iota,  w->tok,
                      w->tok2, w->slot,     w->slot2, w->word,    w->word2, w->cum,
                      w->cum2, w->parent,   w->next,  w->cum_next, w->choice, w->first,
                      w->count, w->fin,     w->fin_ids, w->cand};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) free(arrays[i]);
    free(w);
}

/* Room in the cache for position t: the first time a step reaches a
 * position past the room, the blocks double (at most max_len positions).
 * Position j sits at the same place in the bigger buffer, so nothing is
 * rearranged; this is the only allocation of the step loop, and it
 * happens a few times a call. */
static void cache_reserve(Work *w, int t)
{
    if (t < w->positions) return;
    int want = min_int(max_int(2 * w->positions, FIRST_POSITIONS), w->max_len);
    want = max_int(want, t + 1);
    for (int l = 0; l < w->m->cfg.dec_layers; l++)
        w->kv[l] = xrealloc(w->kv[l], (size_t)want * w->R * 2 * w->E, sizeof(float), "the cache");
    w->positions = want;
}

/* ------------------------------------------------ stacked layers */

static inline float dot(const float *a, const float *b, int n)
{
    float s = 0.0f;
    OMP(omp simd reduction(+ : s))
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

//! [attend]
/* One query's masked scaled attention (chapters 2 and 3) over n keys: key
 * j is k + rows[j] ld, value j is v + rows[j] ld (D floats each), blocked
 * where ids[j] is padding. All blocked: a zero output, as the contract says.
 * out: (D)  w: (n) scratch  q: (D) */
static void attend(float *out, float *w, const float *q, const float *k, const float *v,
                   size_t ld, const int *rows, const int64_t *ids, int n, int D)
{
    float scale = attention_scale(D), top = -INFINITY, sum = 0.0f;
    for (int j = 0; j < n; j++) {
        w[j] = ids[j] == PAD_ID ? -INFINITY : dot(q, k + (size_t)rows[j] * ld, D) * scale;
        top = fmaxf(top, w[j]);
    }
    for (int d = 0; d < D; d++) out[d] = 0.0f;
    if (top == -INFINITY) return;
    for (int j = 0; j < n; j++) {
        w[j] = expf(w[j] - top);   /* blocked: exactly 0 */
        sum += w[j];
    }
    for (int j = 0; j < n; j++) {
        if (w[j] == 0.0f) continue;
        float a = w[j] / sum;
        const float *vj = v + (size_t)rows[j] * ld;
        OMP(omp simd)
        for (int d = 0; d < D; d++) out[d] += a * vj[d];
    }
}
//! [attend]

/* One row's LayerNorm (chapter 6), in float and vectorised, as chapter
 * 10's batched.c does.   out, x: (E); out may be x */
static void norm_row(float *out, const float *x, const LayerNorm *ln, int E)
{
    const float *gamma = ln->weight.data, *beta = ln->bias.data;
    float sum = 0.0f, var = 0.0f;
    OMP(omp simd reduction(+ : sum))
    for (int j = 0; j < E; j++) sum += x[j];
    float mean = sum / (float)E;
    OMP(omp simd reduction(+ : var))
    for (int j = 0; j < E; j++) var += (x[j] - mean) * (x[j] - mean);
    float rstd = 1.0f / sqrtf(var / (float)E + LAYERNORM_EPS);   /* biased, eps inside */
    OMP(omp simd)
    for (int j = 0; j < E; j++) out[j] = (x[j] - mean) * rstd * gamma[j] + beta[j];
}

/* out = LayerNorm(x), row by row.   out, x: (n, E) */
static void norm_rows(Mat out, Mat x, const LayerNorm *ln)
{
    OMP(omp parallel for schedule(static) if (x.rows * x.cols >= PAR_MIN))
    for (int i = 0; i < x.rows; i++) norm_row(&MAT_AT(out, i, 0), &MAT_AT(x, i, 0), ln, x.cols);
}

/* m[i, :] += b, then ReLU if relu. Two loops without branches, so that
 * they vectorise: a branch on the sign of random numbers is mispredicted
 * half the time.   m: (n, C)  b: (1, C) */
static void add_bias(Mat m, Mat b, int relu)
{
    const float *bj = b.data;
    OMP(omp parallel for schedule(static) if (m.rows * m.cols >= PAR_MIN))
    for (int i = 0; i < m.rows; i++) {
        float *mi = &MAT_AT(m, i, 0);
        if (relu) {
            OMP(omp simd)
            for (int j = 0; j < m.cols; j++) {
                float s = mi[j] + bj[j];
                mi[j] = s > 0.0f ? s : 0.0f;
            }
        } else {
            OMP(omp simd)
            for (int j = 0; j < m.cols; j++) mi[j] += bj[j];
        }
    }
}

/* out = x W^T + b (torch.nn.Linear) as one product of all the rows.
 * out: (n, O)  x: (n, I)  wt: (O, I)  b: (1, O) */
static void linear_rows(Mat out, Mat x, Mat wt, Mat b, int relu)
{
    mat_mul(out, 1.0f, x, NO_TRANS, wt, TRANS, 0.0f);
    add_bias(out, b, relu);
}

/* What a sublayer reads: norm(x) in pre-norm, x itself in post-norm. */
static Mat sublayer_input(Mat h, Mat x, const LayerNorm *ln, int norm_first)
{
    if (!norm_first) return x;
    norm_rows(h, x, ln);
    return h;
}

/* x = x + (z + b) onto the residual path; post-norm then normalises.
 * x, z: (n, E)  b: (1, E) */
static void sublayer_output(Mat x, Mat z, Mat b, const LayerNorm *ln, int norm_first)
{
    OMP(omp parallel for schedule(static) if (x.rows * x.cols >= PAR_MIN))
    for (int i = 0; i < x.rows; i++) {
        float *xi = &MAT_AT(x, i, 0);
        const float *zi = &MAT_AT(z, i, 0), *bj = b.data;
        OMP(omp simd)
        for (int j = 0; j < x.cols; j++) xi[j] += zi[j] + bj[j];
        if (!norm_first) norm_row(xi, xi, ln, x.cols);
    }
}

/* z = ReLU(h W1^T + b1) W2^T; b2 is added by sublayer_output.
 * z, h: (n, E)  hidden: (n, F) */
static void feed_forward(Mat z, Mat hidden, Mat h, const FeedForward *ff)
{
    linear_rows(hidden, h, ff->w1, ff->b1, 1);
    mat_mul(z, 1.0f, hidden, NO_TRANS, ff->w2, TRANS, 0.0f);
}

/* x = table[id] sqrt(E) + pe, one row (chapter 7).   x, pe: (E) */
static void embed_row(float *x, Mat table, int64_t id, const float *pe)
{
    float scale = sqrtf((float)table.cols);
    const float *t = &MAT_AT(table, id, 0);
    for (int j = 0; j < table.cols; j++) x[j] = t[j] * scale + pe[j];
}

/* ------------------------------------------------ threads on a busy machine */

/* Each stretch of work (a chunk's encoder, a decoder step) runs on one
 * thread while another program holds a core (common/crowding.h): greedy
 * decoding of 2,000 words, 1.7 s on one thread, took 9.7 s on two beside a
 * training run without it. The record is kept from call to call (a call
 * may be short), one per calling thread. */
static _Thread_local Crowding crowding;

/* ------------------------------------------------ the encoder, once a chunk */

/* The chunk's memory: chapter 7's encoder on the stacked words (w->src),
 * then each decoder layer's cross-attention keys and values of it. */
static void encoder_stack(Work *w)
{
    const Transformer *m = w->m;
    int S = w->S, N = w->nw * S, E = w->E, H = w->H, Dh = w->Dh;
    Mat x = mat_rows(w->x, 0, N), h = mat_rows(w->h, 0, N), z = mat_rows(w->z, 0, N);
    Mat concat = mat_rows(w->concat, 0, N), qkv = mat_wrap(w->wide.data, N, 3 * E);
    Mat hidden = mat_wrap(w->wide.data, N, m->cfg.F);
    OMP(omp parallel for schedule(static) if (N * E >= PAR_MIN))
    for (int i = 0; i < N; i++)
        embed_row(&MAT_AT(x, i, 0), m->src_embed, w->src[i], &MAT_AT(w->pe, i % S, 0));
    for (int l = 0; l < m->encoder.layers; l++) {
        const EncoderLayer *el = &m->encoder.layer[l];
        Mat in = sublayer_input(h, x, &el->norm1, el->norm_first);
        linear_rows(qkv, in, el->self_attn.in_proj_weight, el->self_attn.in_proj_bias, 0);
        OMP(omp parallel for schedule(static) if (w->nw * H > 1 && N * S * E >= PAR_ATTEND))
        for (int task = 0; task < w->nw * H; task++) {
            int wd = task / H, hd = task % H, r0 = wd * S;
            for (int i = 0; i < S; i++)
                attend(&MAT_AT(concat, r0 + i, hd * Dh), w->weights + (size_t)task * w->L,
                       &MAT_AT(qkv, r0 + i, hd * Dh), &MAT_AT(qkv, r0, E + hd * Dh),
                       &MAT_AT(qkv, r0, 2 * E + hd * Dh), (size_t)qkv.stride, w->iota,
                       w->src + r0, S, Dh);
        }
        mat_mul(z, 1.0f, concat, NO_TRANS, el->self_attn.out_proj_weight, TRANS, 0.0f);
        sublayer_output(x, z, el->self_attn.out_proj_bias, &el->norm1, el->norm_first);
        in = sublayer_input(h, x, &el->norm2, el->norm_first);
        feed_forward(z, hidden, in, &el->ff);
        sublayer_output(x, z, el->ff.b2, &el->norm2, el->norm_first);
    }
    if (m->encoder.has_norm) norm_rows(x, x, &m->encoder.norm);
    for (int l = 0; l < m->decoder.layers; l++) {   /* K' V' of the memory, for every step */
        const MHA *a = &m->decoder.layer[l].cross_attn;
        linear_rows(mat_rows(w->mem_kv[l], 0, N), x, mat_rows(a->in_proj_weight, E, 2 * E),
                    mat_cols(a->in_proj_bias, E, 2 * E), 0);
    }
}

/* encoder_stack on the threads the machine allows. */
static void encode_chunk(Work *w)
{
    Stretch s = crowding_begin(&crowding);
    encoder_stack(w);
    crowding_end(&crowding, &s, 1);
}

/* ------------------------------------------------ the decoder, a step */

/* Row r of the stack is a hypothesis whose token at position t is
 * tok[r, t]: one step of the decoder for the first n rows. Each layer's
 * new keys and values go to the cache (position t, row r); the logits
 * (n, Vt) predict position t + 1. */
static void decoder_stack(Work *w, int n, int t)
{
    const Transformer *m = w->m;
    int E = w->E, H = w->H, Dh = w->Dh, R = w->R, P = w->P, S = w->S;
    Mat y = mat_rows(w->y, 0, n), h = mat_rows(w->yh, 0, n), z = mat_rows(w->yz, 0, n);
    Mat q = mat_rows(w->q, 0, n), concat = mat_rows(w->yconcat, 0, n);
    Mat hidden = mat_rows(w->hidden, 0, n);
    cache_reserve(w, t);
    for (int r = 0; r < n; r++) {
        embed_row(&MAT_AT(y, r, 0), m->tgt_embed, w->tok[(size_t)r * P + t], &MAT_AT(w->pe, t, 0));
        w->slot[(size_t)r * w->max_len + t] = t * R + r;   /* its keys' row in the cache */
    }
    for (int l = 0; l < m->decoder.layers; l++) {
        const DecoderLayer *dl = &m->decoder.layer[l];
        const MHA *sa = &dl->self_attn, *ca = &dl->cross_attn;
        /* causal self-attention: this position's query over the cached positions 0 ... t */
        Mat kv = mat_wrap(w->kv[l], w->positions * R, 2 * E);
        Mat in = sublayer_input(h, y, &dl->norm1, dl->norm_first);
        linear_rows(q, in, mha_w(sa, 0), mha_b(sa, 0), 0);
        linear_rows(mat_rows(kv, t * R, n), in, mat_rows(sa->in_proj_weight, E, 2 * E),
                    mat_cols(sa->in_proj_bias, E, 2 * E), 0);
        OMP(omp parallel for schedule(static) if (n * H > 1 && n * (t + 1) * E >= PAR_ATTEND))
        for (int task = 0; task < n * H; task++) {
            int r = task / H, hd = task % H;
            attend(&MAT_AT(concat, r, hd * Dh), w->weights + (size_t)task * w->L,
                   &MAT_AT(q, r, hd * Dh), &MAT_AT(kv, 0, hd * Dh), &MAT_AT(kv, 0, E + hd * Dh),
                   (size_t)kv.stride, w->slot + (size_t)r * w->max_len, w->tok + (size_t)r * P,
                   t + 1, Dh);
        }
        mat_mul(z, 1.0f, concat, NO_TRANS, sa->out_proj_weight, TRANS, 0.0f);
        sublayer_output(y, z, sa->out_proj_bias, &dl->norm1, dl->norm_first);
        /* cross-attention: over the memory of the row's word */
        Mat mem = w->mem_kv[l];
        in = sublayer_input(h, y, &dl->norm2, dl->norm_first);
        linear_rows(q, in, mha_w(ca, 0), mha_b(ca, 0), 0);
        OMP(omp parallel for schedule(static) if (n * H > 1 && n * S * E >= PAR_ATTEND))
        for (int task = 0; task < n * H; task++) {
            int r = task / H, hd = task % H, r0 = w->word[r] * S;
            attend(&MAT_AT(concat, r, hd * Dh), w->weights + (size_t)task * w->L,
                   &MAT_AT(q, r, hd * Dh), &MAT_AT(mem, r0, hd * Dh),
                   &MAT_AT(mem, r0, E + hd * Dh), (size_t)mem.stride, w->iota, w->src + r0, S,
                   Dh);
        }
        mat_mul(z, 1.0f, concat, NO_TRANS, ca->out_proj_weight, TRANS, 0.0f);
        sublayer_output(y, z, ca->out_proj_bias, &dl->norm2, dl->norm_first);
        /* feed-forward */
        in = sublayer_input(h, y, &dl->norm3, dl->norm_first);
        feed_forward(z, hidden, in, &dl->ff);
        sublayer_output(y, z, dl->ff.b2, &dl->norm3, dl->norm_first);
    }
    if (m->decoder.has_norm) norm_rows(y, y, &m->decoder.norm);
    linear_rows(mat_rows(w->logits, 0, n), y, m->gen_weight, m->gen_bias, 0);   /* the generator */
}

/* decoder_stack on the threads the machine allows. */
static void decoder_step(Work *w, int n, int t)
{
    Stretch s = crowding_begin(&crowding);
    decoder_stack(w, n, t);
    crowding_end(&crowding, &s, 1);
    if (w->phonemes_only) block_specials(mat_rows(w->logits, 0, n));
}

/* log-softmax of the first n rows of the logits, in place. */
static void log_probs_rows(Work *w, int n)
{
    OMP(omp parallel for schedule(static) if (n * w->Vt >= PAR_MIN))
    for (int r = 0; r < n; r++) log_softmax_rows(mat_rows(w->logits, r, 1));
}

/* The next step's first n rows: row i continues row parent[i] (its
 * tokens, its cache rows, its word) with token next[i] at position t + 1
 * and log-probability cum_next[i]. Only these short lists move. */
static void carry_rows(Work *w, int n, int t)
{
    int P = w->P, M = w->max_len;
    for (int i = 0; i < n; i++) {
        int p = w->parent[i];
        memcpy(w->tok2 + (size_t)i * P, w->tok + (size_t)p * P, (size_t)(t + 1) * sizeof(int64_t));
        w->tok2[(size_t)i * P + t + 1] = w->next[i];
        memcpy(w->slot2 + (size_t)i * M, w->slot + (size_t)p * M, (size_t)(t + 1) * sizeof(int));
        w->word2[i] = w->word[p];
        w->cum2[i] = w->cum_next[i];
    }
    int64_t *tok = w->tok;
    w->tok = w->tok2;
    w->tok2 = tok;
    int *slot = w->slot;
    w->slot = w->slot2;
    w->slot2 = slot;
    int *word = w->word;
    w->word = w->word2;
    w->word2 = word;
    float *cum = w->cum;
    w->cum = w->cum2;
    w->cum2 = cum;
}

/* Row i: word i of the chunk, BOS alone. */
static void start_rows(Work *w)
{
    for (int i = 0; i < w->nw; i++) {
        w->tok[(size_t)i * w->P] = G2P_BOS;
        w->word[i] = i;
        w->cum[i] = 0.0f;
    }
}

/* ------------------------------------------------ greedy and beam, a chunk */

//! [greedy_step]
/* Greedy decoding of the chunk's words; word i's answer goes to out[who[i]]. */
static void greedy_chunk(Work *w, Seq *out, float *score, const int *who, float alpha)
{
    int n = w->nw, P = w->P;
    start_rows(w);
    for (int t = 0; n > 0 && t < w->max_len; t++) {
        decoder_step(w, n, t);
        Mat logits = mat_rows(w->logits, 0, n);
        argmax_rows(w->choice, logits);   /* the most likely token, picked as chapter 9 does */
        log_probs_rows(w, n);             /* the logits become log-probabilities */
        int live = 0;
        for (int r = 0; r < n; r++) {
            int64_t v = w->choice[r], *tokens = w->tok + (size_t)r * P;
            float lp = w->cum[r] + MAT_AT(logits, r, v);
            int i = who[w->word[r]];
            if (v == G2P_EOS) {                       /* finished: t phonemes and EOS */
                answer(&out[i], score ? &score[i] : NULL, tokens + 1, t, lp, t + 1, alpha);
            } else if (t + 1 == w->max_len) {         /* long enough: stops without EOS */
                tokens[t + 1] = v;
                answer(&out[i], score ? &score[i] : NULL, tokens + 1, t + 1, lp, t + 1, alpha);
            } else {                                  /* goes on, in row `live` */
                w->parent[live] = r;
                w->next[live] = v;
                w->cum_next[live++] = lp;
            }
        }
        carry_rows(w, live, t);
        n = live;
    }
}
//! [greedy_step]

//! [beam_chunk]
/* Beam search on the chunk's words, each as g2p_decode_plain's loop; word
 * i's live hypotheses are rows first[i] ... first[i] + count[i] - 1. */
static void beam_chunk(Work *w, Seq *out, float *score, const int *who, const DecodeOpts *o)
{
    int n = w->nw, P = w->P;
    start_rows(w);
    for (int i = 0; i < w->nw; i++) {
        w->first[i] = i;
        w->count[i] = 1;
        w->fin[i] = (Finished){0, -1, 0.0f, w->fin_ids + (size_t)i * w->max_len};
    }
    for (int t = 0; n > 0; t++) {
        decoder_step(w, n, t);
        log_probs_rows(w, n);
        int live = 0;
        for (int i = 0; i < w->nw; i++) {   /* each word's beam, from its rows */
            if (w->count[i] == 0) continue;
            int f0 = w->first[i];
            int c = beam_select(w->parent + live, w->next + live, w->cum_next + live, &w->fin[i],
                                w->cand, mat_rows(w->logits, f0, w->count[i]), w->cum + f0,
                                w->tok + (size_t)f0 * P, P, t, o);
            for (int j = 0; j < c; j++) w->parent[live + j] += f0;
            if (word_done(&w->fin[i], w->cum_next + live, c, t + 1, o)) {
                const int64_t *best = c > 0 ? w->tok + (size_t)w->parent[live] * P : NULL;
                beam_answer(&out[who[i]], score ? &score[who[i]] : NULL, &w->fin[i], best, t,
                            w->next[live], w->cum_next[live], o->alpha);
                w->count[i] = 0;   /* its rows are not carried on */
                continue;
            }
            w->first[i] = live;
            w->count[i] = c;
            live += c;
        }
        carry_rows(w, live, t);
        n = live;
    }
}
//! [beam_chunk]

/* ------------------------------------------------ many words */

/* A word's place in the list, sorted by length so that a chunk's words
 * need little padding. */
typedef struct {
    int len, index;
} ByLength;

static int by_length(const void *a, const void *b)
{
    const ByLength *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The chunk of words order[0 ... nw - 1], padded to the longest. */
static void load_chunk(Work *w, const Seq *words, const int *order, int nw)
{
    int S = 0;
    for (int i = 0; i < nw; i++) S = max_int(S, words[order[i]].len);
    w->nw = nw;
    w->S = S;
    for (int i = 0; i < nw; i++) {
        const Seq *s = &words[order[i]];
        for (int j = 0; j < S; j++) w->src[(size_t)i * S + j] = j < s->len ? s->ids[j] : G2P_PAD;
    }
}

void g2p_decode(Seq *out, float *score, const Transformer *m, const Seq *words, int n,
                const DecodeOpts *o)
{
    check_call("g2p_decode", m, words, n, o);
    if (n <= 0) return;
    ByLength *sorted = xmalloc((size_t)n, sizeof(ByLength), "word order");
    int *order = xmalloc((size_t)n, sizeof(int), "word order");
    for (int i = 0; i < n; i++) sorted[i] = (ByLength){words[i].len, i};
    qsort(sorted, (size_t)n, sizeof(ByLength), by_length);
    for (int i = 0; i < n; i++) order[i] = sorted[i].index;
    int longest = sorted[n - 1].len;
    int W = min_int(min_int(n, CHUNK_WORDS), max_int(1, STEP_ROWS / o->beam));
    int N = max_int(longest, min_int(W * longest, ENC_ROWS));
    Work *w = work_new(m, W, N, o->beam, o->max_len, longest, o->phonemes_only);
    for (int i = 0; i < n;) {
        int nw = 1;   /* as many words as fit: sorted, so the last is the longest */
        while (nw < W && i + nw < n && (nw + 1) * sorted[i + nw].len <= N) nw++;
        load_chunk(w, words, order + i, nw);
        encode_chunk(w);
        if (o->beam == 1) greedy_chunk(w, out, score, order + i, o->alpha);
        else beam_chunk(w, out, score, order + i, o);
        i += nw;
    }
    work_free(w);
    free(order);
    free(sorted);
}

void g2p_log_probs(Mat logp, const Transformer *m, const Seq *words, int n, const int64_t *tgt,
                   int T)
{
    check_call("g2p_log_probs", m, words, n, NULL);
    mat_check_shape(logp, n * T, m->cfg.Vt, "g2p_log_probs: logp");
    for (int i = 0; i < n * T; i++)
        if (tgt[i] < 0 || tgt[i] >= m->cfg.Vt)
            bad_call("g2p_log_probs", "target %d, position %d: id %lld is outside [0, %d)", i / T,
                     i % T, (long long)tgt[i], m->cfg.Vt);
    if (n <= 0 || T <= 0) return;
    int longest = 0;
    for (int i = 0; i < n; i++) longest = max_int(longest, words[i].len);
    int *order = xmalloc((size_t)n, sizeof(int), "word order");
    for (int i = 0; i < n; i++) order[i] = i;
    Work *w = work_new(m, n, n * longest, 1, T, longest, 0);
    load_chunk(w, words, order, n);
    encode_chunk(w);
    start_rows(w);
    for (int t = 0; t < T; t++) {
        for (int r = 0; r < n; r++) w->tok[(size_t)r * w->P + t] = tgt[(size_t)r * T + t];
        decoder_step(w, n, t);
        log_probs_rows(w, n);
        for (int r = 0; r < n; r++)
            mat_copy(mat_rows(logp, r * T + t, 1), mat_rows(w->logits, r, 1));
    }
    work_free(w);
    free(order);
}
