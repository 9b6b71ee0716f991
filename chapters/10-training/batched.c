/*
 * batched.c - chapter 10: the training step on the whole batch at once (see
 * batched.h). The same calculus as train.c, whose per-pair functions the
 * chapter page walks through; what changes is the shape of the work:
 *
 *   - the B pairs are stacked into (B S, E) and (B T, E) matrices, so each
 *     linear map is one product of B S or B T rows (chapter 4's projections,
 *     chapter 6's feed-forward network, the generator), large enough for the
 *     fast multiply (common/gemm.h) to run at full speed on every thread;
 *   - attention, the one piece that mixes positions, runs per (pair, head) on
 *     views of those matrices, in a small loop written for 10 x 10 weights:
 *     a general product would spend longer packing its operands than
 *     multiplying them;
 *   - a bias is added, and a ReLU applied, in the pass that follows the
 *     product; dropout and the residual sum share one pass too;
 *   - nothing is recomputed in the backward pass (the projections, the
 *     hidden layer, the norms' statistics are kept) and nothing is allocated
 *     once the workspace has its size.
 *
 * Threads (OpenMP): the products share their blocks out (gemm.c); the loops
 * here share out rows, or (pair, head) tasks, or stripes of columns for the
 * sums over rows (bias and norm gradients), each column summed from the
 * first row to the last. No sum depends on how the work is shared, so one
 * or many threads give the same bits.
 */
#include "batched.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "backward.h"
#include "crowding.h"
#include "loss.h"
#include "ops.h"
#include "positional.h"
#include "report.h"
#include "scaled_attention.h"

#include "parallel.h"

enum {
    PAR_MIN = 1 << 14,   /* a loop over fewer floats stays on one thread */
    STRIPE = 32,         /* columns per task in the sums over rows */
    ALIGN = 16           /* every matrix of the workspace starts on a 64-byte line */
};

/* The workspace's default budget, 64 MB: a batch needing more is done in
 * slices of pairs. */
#define WORK_FLOATS ((size_t)1 << 24)


static int max_int(int a, int b) { return a > b ? a : b; }
static int min_int(int a, int b) { return a < b ? a : b; }

/* ------------------------------------------------------ the workspace */

typedef enum { SELF_ATTENTION, CROSS_ATTENTION, FEED_FORWARD } Kind;

/* What one residual block keeps for its backward pass (N rows: B S or B T). */
typedef struct {
    Mat out;      /* (N, E) the block's output, the next block's input */
    Mat fin;      /* (N, E) pre-norm: norm(x), what the sublayer saw; empty for post-norm */
    Mat sum;      /* (N, E) post-norm: x + dropout(sublayer), the norm's input; empty for pre-norm */
    Mat stats;    /* (N, 2) mean and 1 / std of each row the norm saw */
    Mat keep;     /* (N, E) dropout multipliers; empty without dropout */
    Mat proj;     /* self-attention (N, 3E) Q' K' V'; cross (N, E) Q'; feed-forward (N, F) ReLU(hidden) */
    Mat kv;       /* cross-attention: (B S, 2E) K' V' of the memory */
    Mat attn;     /* attention: (B H L, Lk) weights; pair b, head h: rows [(b H + h) L, ...) */
    Mat concat;   /* attention: (N, E) the heads' outputs side by side */
} BlockWork;

struct BatchWork {
    TransformerConfig cfg;   /* the model the blocks are for */
    int pe_rows;             /* positions the table pe holds, 0 if it must be computed */
    float *arena;            /* every matrix below lives in this one allocation */
    size_t cap, used;        /* its size, and how much the layout takes (floats) */
    size_t budget;           /* the most floats a slice of the batch may take */
    BlockWork *enc, *dec;    /* 2 per encoder layer, 3 per decoder layer */
    int enc_blocks, dec_blocks;
    double *pair_loss;       /* (B) each pair's summed loss */
    int pair_cap;
    Transformer g;           /* the gradient views (transformer_grad_view) ... */
    const float *g_of;       /* ... of this gradient buffer, NULL if none */
    Crowding crowding;       /* one thread while the cores are busy (crowding.h) */

    Mat pe;                  /* (max(S, T), E) positional encodings */
    Mat x0, y0;              /* (B S, E), (B T, E) embeddings + PE, after dropout */
    Mat src_keep, tgt_keep;  /* (B S, E), (B T, E) their dropout multipliers */
    Mat enc_stats, memory;   /* (B S, 2), (B S, E) encoder.norm; empty without it */
    Mat dec_stats, y_norm;   /* (B T, 2), (B T, E) decoder.norm; empty without it */
    Mat mem, y_out;          /* views: the encoder's output, the generator's input */
    Mat logits, dlogits;     /* (B T, Vt) */
    /* Scratch, shared by the blocks (M = max(B S, B T), W = max(3E, F), Lm = max(S, T)) */
    Mat y;                   /* (M, E) a sublayer's output before bias and dropout */
    Mat dy;                  /* (M, E) d loss / d sublayer output, through dropout */
    Mat dfin;                /* (M, E) pre-norm: d loss / d norm(x) */
    Mat dconcat;             /* (M, E) d loss / d heads' outputs */
    Mat dproj;               /* (M, W) d loss / d Q' K' V' or d hidden */
    Mat dkv;                 /* (B S, 2E) d loss / d K' V' of the memory */
    Mat dscores;             /* (B H Lm, Lm) d loss / d scores */
    Mat dx_enc, dx_dec;      /* (B S, E), (B T, E) the running gradients */
    Mat dmem;                /* (B S, E) d loss / d memory, from every cross-attention */
};

BatchWork *batch_work_new(void)
{
    BatchWork *w = xcalloc(1, sizeof(BatchWork), "the training step's workspace");
    w->budget = WORK_FLOATS;
    return w;
}

void batch_work_limit(BatchWork *w, size_t floats)
{
    w->budget = floats > 0 ? floats : WORK_FLOATS;
}

void batch_work_free(BatchWork *w)
{
    if (!w) return;
    free(w->arena);
    free(w->enc);
    free(w->dec);
    free(w->pair_loss);
    if (w->g_of) transformer_grad_view_free(&w->g);
    free(w);
}

/* The next (rows, cols) matrix of the arena; only counts while arena is NULL. */
static Mat take(BatchWork *w, int rows, int cols)
{
    Mat m = {w->arena ? w->arena + w->used : NULL, rows, cols, cols, 0};
    w->used += ((size_t)rows * (size_t)cols + ALIGN - 1) / ALIGN * ALIGN;
    return m;
}

static Kind block_kind(int decoder, int k)
{
    if (!decoder) return k % 2 == 0 ? SELF_ATTENTION : FEED_FORWARD;
    return k % 3 == 0 ? SELF_ATTENTION : k % 3 == 1 ? CROSS_ATTENTION : FEED_FORWARD;
}

/* One block's matrices: N query rows of length L, keys of length Lk (Nk rows). */
static void lay_out_block(BatchWork *w, BlockWork *c, Kind kind, int N, int L, int Nk, int Lk,
                          int dropout)
{
    const TransformerConfig *cfg = &w->cfg;
    int E = cfg->E;
    Mat none = {0};
    *c = (BlockWork){none, none, none, none, none, none, none, none, none};
    c->out = take(w, N, E);
    if (cfg->norm_first) c->fin = take(w, N, E);
    else c->sum = take(w, N, E);
    c->stats = take(w, N, 2);
    if (dropout) c->keep = take(w, N, E);
    if (kind == FEED_FORWARD) {
        c->proj = take(w, N, cfg->F);
        return;
    }
    c->proj = take(w, N, kind == SELF_ATTENTION ? 3 * E : E);
    if (kind == CROSS_ATTENTION) c->kv = take(w, Nk, 2 * E);
    c->attn = take(w, N / L * cfg->H * L, Lk);
    c->concat = take(w, N, E);
}

/* Every matrix of the step for B pairs of lengths S and T (w->arena NULL: counts). */
static void lay_out(BatchWork *w, int B, int S, int T, int dropout)
{
    const TransformerConfig *c = &w->cfg;
    int E = c->E, Ns = B * S, Nt = B * T, M = max_int(Ns, Nt), Lm = max_int(S, T);
    Mat none = {0};
    w->used = 0;
    w->pe = take(w, Lm, E);
    w->x0 = take(w, Ns, E);
    w->y0 = take(w, Nt, E);
    w->src_keep = dropout ? take(w, Ns, E) : none;
    w->tgt_keep = dropout ? take(w, Nt, E) : none;
    for (int k = 0; k < w->enc_blocks; k++)
        lay_out_block(w, &w->enc[k], block_kind(0, k), Ns, S, Ns, S, dropout);
    for (int k = 0; k < w->dec_blocks; k++)
        lay_out_block(w, &w->dec[k], block_kind(1, k), Nt, T, Ns,
                      block_kind(1, k) == SELF_ATTENTION ? T : S, dropout);
    w->enc_stats = c->enc_norm ? take(w, Ns, 2) : none;
    w->memory = c->enc_norm ? take(w, Ns, E) : none;
    w->dec_stats = c->dec_norm ? take(w, Nt, 2) : none;
    w->y_norm = c->dec_norm ? take(w, Nt, E) : none;
    w->logits = take(w, Nt, c->Vt);
    w->dlogits = take(w, Nt, c->Vt);
    w->y = take(w, M, E);
    w->dy = take(w, M, E);
    w->dfin = take(w, M, E);
    w->dconcat = take(w, M, E);
    w->dproj = take(w, M, max_int(3 * E, c->F));
    w->dkv = take(w, Ns, 2 * E);
    w->dscores = take(w, B * c->H * Lm, Lm);
    w->dx_enc = take(w, Ns, E);
    w->dx_dec = take(w, Nt, E);
    w->dmem = take(w, Ns, E);
}

/* The blocks' records for the model's layers. */
static void fit_model(BatchWork *w, const TransformerConfig *c)
{
    if (w->enc && memcmp(&w->cfg, c, sizeof *c) == 0) return;
    w->cfg = *c;
    w->enc_blocks = 2 * c->enc_layers;
    w->dec_blocks = 3 * c->dec_layers;
    free(w->enc);
    free(w->dec);
    w->enc = xcalloc((size_t)max_int(w->enc_blocks, 1), sizeof(BlockWork), "encoder blocks");
    w->dec = xcalloc((size_t)max_int(w->dec_blocks, 1), sizeof(BlockWork), "decoder blocks");
    w->pe_rows = 0;
}

/* The floats a layout for this shape takes. It leaves the matrices
 * pointing nowhere: fit must lay them out again before they are used. */
static size_t count_floats(BatchWork *w, int B, int S, int T, int dropout)
{
    float *arena = w->arena;
    w->arena = NULL;
    lay_out(w, B, S, T, dropout);
    w->arena = arena;
    return w->used;
}

/* Points the workspace's matrices at room for B pairs of lengths S and T,
 * allocating only when the arena is too small. */
static void fit(BatchWork *w, int B, int S, int T, int dropout)
{
    size_t need = count_floats(w, B, S, T, dropout);
    if (need > w->cap) {
        free(w->arena);
        w->arena = aligned_alloc(64, need * sizeof(float));
        if (!w->arena) {
            fprintf(stderr, "batched step: out of memory (%zu MB of workspace)\n",
                    need * sizeof(float) >> 20);
            exit(1);
        }
        w->cap = need;
        w->pe_rows = 0;
    }
    lay_out(w, B, S, T, dropout);
    if (B > w->pair_cap) {
        free(w->pair_loss);
        w->pair_loss = xcalloc((size_t)B, sizeof(double), "the pairs' losses");
        w->pair_cap = B;
    }
    if (w->pe_rows != w->pe.rows) {   /* the table sits first in the arena: it stays put */
        positional_encoding(w->pe);   /* chapter 5, positions 0 ... max(S, T) - 1 */
        w->pe_rows = w->pe.rows;
    }
}

/* How many pairs one slice may hold to stay within the budget. */
static int pairs_per_slice(BatchWork *w, int S, int T, int dropout)
{
    size_t per_pair = count_floats(w, 1, S, T, dropout), n = w->budget / per_pair;
    return n < 1 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
}

/* The gradient views of m, made once per gradient buffer. */
static const Transformer *grad_views(BatchWork *w, Transformer *m)
{
    if (!m->params.grad) params_alloc_grad(&m->params);
    if (w->g_of != m->params.grad || memcmp(&w->g.cfg, &m->cfg, sizeof m->cfg) != 0) {
        if (w->g_of) transformer_grad_view_free(&w->g);
        transformer_grad_view(&w->g, m);
        w->g_of = m->params.grad;
    }
    return &w->g;
}

/* ------------------------------------------------- row-wise pieces */

/* x = (table[ids] * sqrt(E) + PE) * keep: chapter 7's embedding_forward and
 * dropout for B sequences of L.   x: (B L, E)  pe: (>= L, E)  keep: (B L, E) or empty */
static void embed(Mat x, Mat table, const int64_t *ids, Mat pe, int L, Mat keep)
{
    int N = x.rows, E = x.cols;
    float scale = sqrtf((float)E);
    OMP(omp parallel for schedule(static) if (N * E >= PAR_MIN))
    for (int i = 0; i < N; i++) {
        float *xi = &MAT_AT(x, i, 0);
        const float *t = &MAT_AT(table, ids[i], 0), *p = &MAT_AT(pe, i % L, 0);
        OMP(omp simd)
        for (int j = 0; j < E; j++) xi[j] = t[j] * scale + p[j];
        if (keep.data) {
            const float *k = &MAT_AT(keep, i, 0);
            OMP(omp simd)
            for (int j = 0; j < E; j++) xi[j] *= k[j];
        }
    }
}

/* m[i, :] += b, then ReLU if relu.   m: (N, C)  b: (1, C) */
static void add_bias(Mat m, Mat b, int relu)
{
    int N = m.rows, C = m.cols;
    const float *bj = b.data;
    OMP(omp parallel for schedule(static) if (N * C >= PAR_MIN))
    for (int i = 0; i < N; i++) {
        float *mi = &MAT_AT(m, i, 0);
        if (relu) {
            OMP(omp simd)
            for (int j = 0; j < C; j++) {
                float v = mi[j] + bj[j];
                mi[j] = v > 0.0f ? v : 0.0f;
            }
        } else {
            OMP(omp simd)
            for (int j = 0; j < C; j++) mi[j] += bj[j];
        }
    }
}

/* s = x + keep * (y + b): the sublayer's output with its bias, through
 * dropout, onto the residual path.   s, x, y, keep: (N, E)  b: (1, E) */
static void residual(Mat s, Mat x, Mat y, Mat b, Mat keep)
{
    int N = s.rows, E = s.cols;
    OMP(omp parallel for schedule(static) if (N * E >= PAR_MIN))
    for (int i = 0; i < N; i++) {
        float *si = &MAT_AT(s, i, 0);
        const float *xi = &MAT_AT(x, i, 0), *yi = &MAT_AT(y, i, 0), *bj = b.data;
        if (keep.data) {
            const float *k = &MAT_AT(keep, i, 0);
            OMP(omp simd)
            for (int j = 0; j < E; j++) si[j] = xi[j] + (yi[j] + bj[j]) * k[j];
        } else {
            OMP(omp simd)
            for (int j = 0; j < E; j++) si[j] = xi[j] + (yi[j] + bj[j]);
        }
    }
}

/* out = keep * d, elementwise (dropout backwards; out may be d).   (N, E) */
static void times_keep(Mat out, Mat d, Mat keep)
{
    int N = d.rows, E = d.cols;
    OMP(omp parallel for schedule(static) if (N * E >= PAR_MIN))
    for (int i = 0; i < N; i++) {
        float *o = &MAT_AT(out, i, 0);
        const float *di = &MAT_AT(d, i, 0), *k = &MAT_AT(keep, i, 0);
        OMP(omp simd)
        for (int j = 0; j < E; j++) o[j] = di[j] * k[j];
    }
}

/* d = 0 where a = ReLU(h) is 0 (relu_backward, with h > 0 exactly when a > 0).   (N, F) */
static void relu_grad(Mat d, Mat a)
{
    int N = d.rows, F = d.cols;
    OMP(omp parallel for schedule(static) if (N * F >= PAR_MIN))
    for (int i = 0; i < N; i++) {
        float *di = &MAT_AT(d, i, 0);
        const float *ai = &MAT_AT(a, i, 0);
        OMP(omp simd)
        for (int j = 0; j < F; j++) di[j] = ai[j] > 0.0f ? di[j] : 0.0f;
    }
}

/* db += the sum of d's rows. Each column is summed from the first row to
 * the last, whichever thread does it.   db: (1, C)  d: (N, C) */
static void add_col_sums(Mat db, Mat d)
{
    int N = d.rows, C = d.cols, stripes = (C + STRIPE - 1) / STRIPE;
    OMP(omp parallel for schedule(static) if (N * C >= PAR_MIN))
    for (int s = 0; s < stripes; s++) {
        int j0 = s * STRIPE, n = min_int(STRIPE, C - j0);
        float acc[STRIPE] = {0.0f};
        for (int i = 0; i < N; i++) {
            const float *di = &MAT_AT(d, i, j0);
            OMP(omp simd)
            for (int j = 0; j < n; j++) acc[j] += di[j];
        }
        for (int j = 0; j < n; j++) MAT_AT(db, 0, j0 + j) += acc[j];
    }
}

/* out = LayerNorm(x) row by row (chapter 6), keeping each row's mean and
 * 1 / std for the backward pass.   out, x: (N, E)  stats: (N, 2) */
static void norm_forward(Mat out, Mat stats, Mat x, const LayerNorm *ln)
{
    int N = x.rows, E = x.cols;
    const float *gamma = ln->weight.data, *beta = ln->bias.data;
    OMP(omp parallel for schedule(static) if (N * E >= PAR_MIN))
    for (int i = 0; i < N; i++) {
        const float *xi = &MAT_AT(x, i, 0);
        float *oi = &MAT_AT(out, i, 0);
        float sum = 0.0f, var = 0.0f;
        OMP(omp simd reduction(+ : sum))
        for (int j = 0; j < E; j++) sum += xi[j];
        float mean = sum / (float)E;
        OMP(omp simd reduction(+ : var))
        for (int j = 0; j < E; j++) var += (xi[j] - mean) * (xi[j] - mean);
        float rstd = 1.0f / sqrtf(var / (float)E + LAYERNORM_EPS);
        OMP(omp simd)
        for (int j = 0; j < E; j++) oi[j] = (xi[j] - mean) * rstd * gamma[j] + beta[j];
        MAT_AT(stats, i, 0) = mean;
        MAT_AT(stats, i, 1) = rstd;
    }
}

/* layernorm_backward (backward.c) with the kept statistics, in two passes
 * so that threads never add into the same gradient: the parameters'
 * gradients by stripes of columns, then dx by rows. dx (N, E) is written
 * (add = 0; it may then be dout itself) or added to (add = 1).
 * dout, x: (N, E)  stats: (N, 2) */
static void norm_backward(Mat dx, const LayerNorm *grad, Mat dout, Mat x, Mat stats,
                          const LayerNorm *ln, int add)
{
    int N = x.rows, E = x.cols, stripes = (E + STRIPE - 1) / STRIPE;
    const float *gamma = ln->weight.data;
    OMP(omp parallel for schedule(static) if (N * E >= PAR_MIN))
    for (int s = 0; s < stripes; s++) {
        int j0 = s * STRIPE, n = min_int(STRIPE, E - j0);
        float dgamma[STRIPE] = {0.0f}, dbeta[STRIPE] = {0.0f};
        for (int i = 0; i < N; i++) {
            const float *di = &MAT_AT(dout, i, j0), *xi = &MAT_AT(x, i, j0);
            float mean = MAT_AT(stats, i, 0), rstd = MAT_AT(stats, i, 1);
            OMP(omp simd)
            for (int j = 0; j < n; j++) {
                dgamma[j] += di[j] * ((xi[j] - mean) * rstd);
                dbeta[j] += di[j];
            }
        }
        for (int j = 0; j < n; j++) {
            MAT_AT(grad->weight, 0, j0 + j) += dgamma[j];
            MAT_AT(grad->bias, 0, j0 + j) += dbeta[j];
        }
    }
    OMP(omp parallel for schedule(static) if (N * E >= PAR_MIN))
    for (int i = 0; i < N; i++) {
        const float *di = &MAT_AT(dout, i, 0), *xi = &MAT_AT(x, i, 0);
        float *dxi = &MAT_AT(dx, i, 0);
        float mean = MAT_AT(stats, i, 0), rstd = MAT_AT(stats, i, 1);
        float mean_d = 0.0f, mean_dx = 0.0f;   /* of dxhat = dout * gamma, and dxhat * xhat */
        OMP(omp simd reduction(+ : mean_d, mean_dx))
        for (int j = 0; j < E; j++) {
            float dxhat = di[j] * gamma[j];
            mean_d += dxhat;
            mean_dx += dxhat * ((xi[j] - mean) * rstd);
        }
        mean_d /= (float)E;
        mean_dx /= (float)E;
        if (add) {
            OMP(omp simd)
            for (int j = 0; j < E; j++)
                dxi[j] += rstd * (di[j] * gamma[j] - mean_d - (xi[j] - mean) * rstd * mean_dx);
        } else {
            OMP(omp simd)
            for (int j = 0; j < E; j++)
                dxi[j] = rstd * (di[j] * gamma[j] - mean_d - (xi[j] - mean) * rstd * mean_dx);
        }
    }
}

/* ------------------------------------------------- attention, per head */

/* The per-head loops are short (D = Dh = 32 floats), and the library is
 * built for the baseline x86-64 CPU, whose vectors hold 4 floats. On x86-64
 * Linux (glibc) the compiler also makes AVX2 and AVX-512 copies of the
 * functions marked WIDE_VECTORS (the same C, vectorised 8 and 16 wide), and
 * the program picks the best one the CPU runs when it starts. Elsewhere:
 * the portable copy alone. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && \
    (!defined(__clang__) || __clang_major__ >= 14)
#define WIDE_VECTORS __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WIDE_VECTORS
#endif

static inline float dot(const float *a, const float *b, int n)
{
    float s = 0.0f;
    OMP(omp simd reduction(+ : s))
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

enum { TILE = 16, ROWS = 4 };   /* a register tile: 4 rows of one AVX-512 vector */

/* Rows [i, i + n) (n <= ROWS) and columns [d0, d0 + TILE) of mix_rows. The
 * ROWS x TILE sums stay in registers and are stored once; summing into c
 * itself would make every step wait for the last one's store, and ROWS
 * sums at a time keep the vector unit busy while each waits for its last
 * addition. Rows past n are computed on zero weights and not stored. */
static inline void mix_tile(Mat c, Mat a, int ta, Mat b, float scale, int i, int n, int d0)
{
    float acc[ROWS][TILE] = {{0.0f}};
    for (int j = 0; j < b.rows; j++) {
        const float *bj = &MAT_AT(b, j, d0);
#pragma GCC unroll 4
        for (int r = 0; r < ROWS; r++) {
            float w = r >= n ? 0.0f : ta ? MAT_AT(a, j, i + r) : MAT_AT(a, i + r, j);
            OMP(omp simd)
            for (int d = 0; d < TILE; d++) acc[r][d] += w * bj[d];
        }
    }
    for (int r = 0; r < n; r++) {
        float *cr = &MAT_AT(c, i + r, d0);
        OMP(omp simd)
        for (int d = 0; d < TILE; d++) cr[d] = acc[r][d] * scale;
    }
}

/* c[i, :] = scale * sum_j a[i, j] b[j, :], or with ta, a[j, i]: the small
 * products of attention, vectorised along the rows of b.
 * c: (M, D)  a: (M, K), or (K, M) with ta  b: (K, D) */
WIDE_VECTORS static void mix_rows(Mat c, Mat a, int ta, Mat b, float scale)
{
    int M = c.rows, K = b.rows, D = c.cols, tiled = D / TILE * TILE;
    for (int i = 0; i < M; i += ROWS)
        for (int d0 = 0; d0 < tiled; d0 += TILE)
            mix_tile(c, a, ta, b, scale, i, M - i < ROWS ? M - i : ROWS, d0);
    for (int i = 0; i < M; i++)            /* the last D % TILE columns */
        for (int d = tiled; d < D; d++) {
            float acc = 0.0f;
            for (int j = 0; j < K; j++) acc += (ta ? MAT_AT(a, j, i) : MAT_AT(a, i, j)) * MAT_AT(b, j, d);
            MAT_AT(c, i, d) = acc * scale;
        }
}

//! [head_forward]
/* One head of one pair: chapter 3's masked scaled attention, with the mask
 * read off the ids (key j blocked if it is padding, or causal and j > i).
 * out: (L, D)  weights: (L, S)  q: (L, D)  k: (S, D)  v: (S, D) */
WIDE_VECTORS static void head_forward(Mat out, Mat weights, Mat q, Mat k, Mat v,
                                      const int64_t *key_ids, int causal)
{
    int L = q.rows, S = k.rows, D = q.cols;
    float scale = attention_scale(D);                  /* 1 / sqrt(D), chapter 2 */
    for (int i = 0; i < L; i++)
        for (int j = 0; j < S; j++) {
            int blocked = key_ids[j] == PAD_ID || (causal && j > i);
            MAT_AT(weights, i, j) =
                blocked ? -INFINITY : dot(&MAT_AT(q, i, 0), &MAT_AT(k, j, 0), D) * scale;
        }
    softmax_rows(weights);                             /* blocked -> exactly 0 */
    mix_rows(out, weights, 0, v, 1.0f);                /* out = weights v */
}
//! [head_forward]

/* attention_backward (backward.c) for one head of one pair, with the dot
 * products of dP taken only where the weight is not 0.
 * dq: (L, D)  dk, dv: (S, D) written; ds: (L, S) scratch; dout: (L, D) */
WIDE_VECTORS static void head_backward(Mat dq, Mat dk, Mat dv, Mat ds, Mat dout, Mat weights,
                                       Mat q, Mat k, Mat v)
{
    int L = q.rows, S = k.rows, D = q.cols;
    float scale = attention_scale(D);
    mix_rows(dv, weights, 1, dout, 1.0f);              /* dV = P^T dO */
    for (int i = 0; i < L; i++)                        /* dP = dO V^T */
        for (int j = 0; j < S; j++)
            MAT_AT(ds, i, j) = MAT_AT(weights, i, j) == 0.0f
                                   ? 0.0f
                                   : dot(&MAT_AT(dout, i, 0), &MAT_AT(v, j, 0), D);
    softmax_backward(ds, ds, weights);                 /* dScores, in place */
    mix_rows(dq, ds, 0, k, scale);                     /* dQ = dS K / sqrt(D) */
    mix_rows(dk, ds, 1, q, scale);                     /* dK = dS^T Q / sqrt(D) */
}

//! [heads_forward]
/* Every (pair, head) of a stacked batch: head h of pair b is rows
 * [b L, (b + 1) L) (queries) or [b S, ...) (keys, values) and columns
 * [h Dh, (h + 1) Dh) of Q, K, V: views, no copies.
 * concat, q: (B L, E)  attn: (B H L, S)  k, v: (B S, E)  key_ids: (B, S) */
static void heads_forward(Mat concat, Mat attn, Mat q, Mat k, Mat v, int H, int L, int S,
                          const int64_t *key_ids, int causal)
{
    int B = q.rows / L, Dh = q.cols / H;
    OMP(omp parallel for schedule(static) if (B * H > 1))
    for (int t = 0; t < B * H; t++) {
        int b = t / H, h = t % H;
        head_forward(mat_block(concat, b * L, h * Dh, L, Dh), mat_rows(attn, t * L, L),
                     mat_block(q, b * L, h * Dh, L, Dh), mat_block(k, b * S, h * Dh, S, Dh),
                     mat_block(v, b * S, h * Dh, S, Dh), key_ids + (size_t)b * S, causal);
    }
}
//! [heads_forward]

/* The same backwards: dq (B L, E), dk and dv (B S, E) written;
 * dscores: (B H L, S) scratch; dconcat: (B L, E) */
static void heads_backward(Mat dq, Mat dk, Mat dv, Mat dscores, Mat dconcat, Mat attn, Mat q,
                           Mat k, Mat v, int H, int L, int S)
{
    int B = q.rows / L, Dh = q.cols / H;
    OMP(omp parallel for schedule(static) if (B * H > 1))
    for (int t = 0; t < B * H; t++) {
        int b = t / H, h = t % H;
        head_backward(mat_block(dq, b * L, h * Dh, L, Dh), mat_block(dk, b * S, h * Dh, S, Dh),
                      mat_block(dv, b * S, h * Dh, S, Dh), mat_rows(dscores, t * L, L),
                      mat_block(dconcat, b * L, h * Dh, L, Dh), mat_rows(attn, t * L, L),
                      mat_block(q, b * L, h * Dh, L, Dh), mat_block(k, b * S, h * Dh, S, Dh),
                      mat_block(v, b * S, h * Dh, S, Dh));
    }
}

/* ------------------------------------------------- the residual blocks */

/* A block's sublayer and norm: the model's parameters, or their gradients. */
typedef struct {
    Kind kind;
    const MHA *attn;
    const FeedForward *ff;
    const LayerNorm *norm;
} Part;

static Part enc_part(const Encoder *e, int k)
{
    const EncoderLayer *l = &e->layer[k / 2];
    return k % 2 == 0 ? (Part){SELF_ATTENTION, &l->self_attn, NULL, &l->norm1}
                      : (Part){FEED_FORWARD, NULL, &l->ff, &l->norm2};
}

static Part dec_part(const Decoder *d, int k)
{
    const DecoderLayer *l = &d->layer[k / 3];
    if (k % 3 == 0) return (Part){SELF_ATTENTION, &l->self_attn, NULL, &l->norm1};
    if (k % 3 == 1) return (Part){CROSS_ATTENTION, &l->cross_attn, NULL, &l->norm2};
    return (Part){FEED_FORWARD, NULL, &l->ff, &l->norm3};
}

/* Which side a block is on: its sequences' length, the ids whose padding
 * its self-attention blocks, and whether that is causal. */
typedef struct {
    int L;
    const int64_t *ids;   /* (B, L) */
    int causal;
} Side;

/* The views of Q', K', V' inside a block's projections. */
static void qkv_views(Mat *q, Mat *k, Mat *v, const BlockWork *c, const BatchWork *w, Kind kind)
{
    int E = w->cfg.E;
    if (kind == SELF_ATTENTION) {
        *q = mat_cols(c->proj, 0, E);
        *k = mat_cols(c->proj, E, E);
        *v = mat_cols(c->proj, 2 * E, E);
    } else {
        *q = c->proj;
        *k = mat_cols(c->kv, 0, E);
        *v = mat_cols(c->kv, E, E);
    }
}

/* train.c's block_forward for the whole batch: x (N, E) in, c->out out. */
static void block_forward(BatchWork *w, BlockWork *c, Mat x, Part f, Side side, const Batch *b)
{
    int N = x.rows, E = w->cfg.E, H = w->cfg.H, norm_first = w->cfg.norm_first;
    Mat fin = x, y = mat_rows(w->y, 0, N), bias;
    if (norm_first) {
        norm_forward(c->fin, c->stats, x, f.norm);
        fin = c->fin;
    }
    if (f.kind == FEED_FORWARD) {
        mat_mul(c->proj, 1.0f, fin, NO_TRANS, f.ff->w1, TRANS, 0.0f);   /* x W1^T  (N, F) */
        add_bias(c->proj, f.ff->b1, 1);                                  /* + b1, ReLU */
        mat_mul(y, 1.0f, c->proj, NO_TRANS, f.ff->w2, TRANS, 0.0f);     /* (N, E) */
        bias = f.ff->b2;
    } else {
        const MHA *a = f.attn;
        Mat q, k, v;
        if (f.kind == SELF_ATTENTION) {   /* Q', K', V' in one product with the stacked weights */
            mat_mul(c->proj, 1.0f, fin, NO_TRANS, a->in_proj_weight, TRANS, 0.0f);   /* (N, 3E) */
            add_bias(c->proj, a->in_proj_bias, 0);
        } else {                          /* Q' from the target, K' V' from the memory */
            mat_mul(c->proj, 1.0f, fin, NO_TRANS, mha_w(a, 0), TRANS, 0.0f);         /* (N, E) */
            add_bias(c->proj, mha_b(a, 0), 0);
            mat_mul(c->kv, 1.0f, w->mem, NO_TRANS, mat_rows(a->in_proj_weight, E, 2 * E), TRANS,
                    0.0f);                                                          /* (B S, 2E) */
            add_bias(c->kv, mat_cols(a->in_proj_bias, E, 2 * E), 0);
        }
        qkv_views(&q, &k, &v, c, w, f.kind);
        if (f.kind == SELF_ATTENTION) heads_forward(c->concat, c->attn, q, k, v, H, side.L, side.L,
                                                    side.ids, side.causal);
        else heads_forward(c->concat, c->attn, q, k, v, H, side.L, b->S, b->src, 0);
        mat_mul(y, 1.0f, c->concat, NO_TRANS, a->out_proj_weight, TRANS, 0.0f);    /* (N, E) */
        bias = a->out_proj_bias;
    }
    if (norm_first) {
        residual(c->out, x, y, bias, c->keep);
    } else {
        residual(c->sum, x, y, bias, c->keep);
        norm_forward(c->out, c->stats, c->sum, f.norm);
    }
}

/* train.c's block_backward for the whole batch. dx (N, E): on entry
 * d loss / d block output, on return d loss / d block input x. */
static void block_backward(BatchWork *w, BlockWork *c, Mat dx, Mat x, Part f, Part g, Side side,
                           const Batch *b)
{
    int N = dx.rows, E = w->cfg.E, H = w->cfg.H, norm_first = w->cfg.norm_first;
    if (!norm_first) norm_backward(dx, g.norm, dx, c->sum, c->stats, f.norm, 0);
    /* dx is now d loss / d (x + dropout(sublayer)): it stays on the residual
     * path, and reaches the sublayer through dropout. */
    Mat dy = dx;
    if (c->keep.data) {
        dy = mat_rows(w->dy, 0, N);
        times_keep(dy, dx, c->keep);
    }
    Mat fin = norm_first ? c->fin : x;
    /* d loss / d fin: post-norm adds it straight onto dx (the residual sum);
     * pre-norm takes it through the norm first. */
    Mat dfin = norm_first ? mat_rows(w->dfin, 0, N) : dx;
    float beta = norm_first ? 0.0f : 1.0f;
    if (f.kind == FEED_FORWARD) {
        Mat da = mat_wrap(w->dproj.data, N, w->cfg.F);
        add_col_sums(g.ff->b2, dy);
        mat_mul(da, 1.0f, dy, NO_TRANS, f.ff->w2, NO_TRANS, 0.0f);       /* dA = dY W2 */
        mat_mul(g.ff->w2, 1.0f, dy, TRANS, c->proj, NO_TRANS, 1.0f);     /* dW2 += dY^T A */
        relu_grad(da, c->proj);
        add_col_sums(g.ff->b1, da);
        mat_mul(g.ff->w1, 1.0f, da, TRANS, fin, NO_TRANS, 1.0f);         /* dW1 += dH^T x */
        mat_mul(dfin, 1.0f, da, NO_TRANS, f.ff->w1, NO_TRANS, beta);     /* dx (+)= dH W1 */
    } else {
        const MHA *a = f.attn, *ga = g.attn;
        Mat dconcat = mat_rows(w->dconcat, 0, N), q, k, v;
        add_col_sums(ga->out_proj_bias, dy);
        mat_mul(dconcat, 1.0f, dy, NO_TRANS, a->out_proj_weight, NO_TRANS, 0.0f);
        mat_mul(ga->out_proj_weight, 1.0f, dy, TRANS, c->concat, NO_TRANS, 1.0f);
        qkv_views(&q, &k, &v, c, w, f.kind);
        /* Nothing is added to the key bias b_K: its gradient is exactly 0 (mha_backward). */
        if (f.kind == SELF_ATTENTION) {
            Mat dqkv = mat_wrap(w->dproj.data, N, 3 * E);
            Mat dscores = mat_wrap(w->dscores.data, c->attn.rows, c->attn.cols);
            heads_backward(mat_cols(dqkv, 0, E), mat_cols(dqkv, E, E), mat_cols(dqkv, 2 * E, E),
                           dscores, dconcat, c->attn, q, k, v, H, side.L, side.L);
            mat_mul(ga->in_proj_weight, 1.0f, dqkv, TRANS, fin, NO_TRANS, 1.0f);
            add_col_sums(mha_b(ga, 0), mat_cols(dqkv, 0, E));
            add_col_sums(mha_b(ga, 2), mat_cols(dqkv, 2 * E, E));
            mat_mul(dfin, 1.0f, dqkv, NO_TRANS, a->in_proj_weight, NO_TRANS, beta);
        } else {
            int Ns = w->mem.rows;
            Mat dq = mat_wrap(w->dproj.data, N, E), dkv = mat_rows(w->dkv, 0, Ns);
            Mat dscores = mat_wrap(w->dscores.data, c->attn.rows, c->attn.cols);
            heads_backward(dq, mat_cols(dkv, 0, E), mat_cols(dkv, E, E), dscores, dconcat,
                           c->attn, q, k, v, H, side.L, b->S);
            mat_mul(mha_w(ga, 0), 1.0f, dq, TRANS, fin, NO_TRANS, 1.0f);
            add_col_sums(mha_b(ga, 0), dq);
            mat_mul(dfin, 1.0f, dq, NO_TRANS, mha_w(a, 0), NO_TRANS, beta);
            mat_mul(mat_rows(ga->in_proj_weight, E, 2 * E), 1.0f, dkv, TRANS, w->mem, NO_TRANS,
                    1.0f);
            add_col_sums(mha_b(ga, 2), mat_cols(dkv, E, E));
            mat_mul(w->dmem, 1.0f, dkv, NO_TRANS, mat_rows(a->in_proj_weight, E, 2 * E), NO_TRANS,
                    1.0f);                                 /* the memory's gradient adds up */
        }
    }
    if (norm_first) norm_backward(dx, g.norm, dfin, x, c->stats, f.norm, 1);
}

/* ------------------------------------------------- the whole model */

/* The dropout multipliers, drawn as dropout_forward draws them. */
static void draw_keep(Mat keep, float p, Rng *r)
{
    for (int i = 0; i < keep.rows; i++)
        for (int j = 0; j < keep.cols; j++)
            MAT_AT(keep, i, j) = rng_uniform(r) < p ? 0.0f : 1.0f / (1.0f - p);
}

/* Every mask of the step, in the order train.c's pair_forward draws them:
 * pair by pair, source embeddings, encoder blocks, target embeddings,
 * decoder blocks. The same generator thus gives the same masks. */
static void draw_masks(BatchWork *w, int B, int S, int T, float p, Rng *r)
{
    for (int i = 0; i < B; i++) {
        draw_keep(mat_rows(w->src_keep, i * S, S), p, r);
        for (int k = 0; k < w->enc_blocks; k++) draw_keep(mat_rows(w->enc[k].keep, i * S, S), p, r);
        draw_keep(mat_rows(w->tgt_keep, i * T, T), p, r);
        for (int k = 0; k < w->dec_blocks; k++) draw_keep(mat_rows(w->dec[k].keep, i * T, T), p, r);
    }
}

static Mat enc_input(const BatchWork *w, int k) { return k == 0 ? w->x0 : w->enc[k - 1].out; }
static Mat dec_input(const BatchWork *w, int k) { return k == 0 ? w->y0 : w->dec[k - 1].out; }

/* pair_forward for the whole batch: logits in w->logits. */
static void forward(BatchWork *w, const Transformer *m, const Batch *b, float p, Rng *r)
{
    const TransformerConfig *c = &m->cfg;
    Side enc = {b->S, b->src, 0}, dec = {b->T, b->tgt, 1};
    if (p > 0.0f) draw_masks(w, b->B, b->S, b->T, p, r);
    embed(w->x0, m->src_embed, b->src, w->pe, b->S, w->src_keep);
    for (int k = 0; k < w->enc_blocks; k++)
        block_forward(w, &w->enc[k], enc_input(w, k), enc_part(&m->encoder, k), enc, b);
    w->mem = enc_input(w, w->enc_blocks);
    if (c->enc_norm) {
        norm_forward(w->memory, w->enc_stats, w->mem, &m->encoder.norm);
        w->mem = w->memory;
    }
    embed(w->y0, m->tgt_embed, b->tgt, w->pe, b->T, w->tgt_keep);
    for (int k = 0; k < w->dec_blocks; k++)
        block_forward(w, &w->dec[k], dec_input(w, k), dec_part(&m->decoder, k), dec, b);
    w->y_out = dec_input(w, w->dec_blocks);
    if (c->dec_norm) {
        norm_forward(w->y_norm, w->dec_stats, w->y_out, &m->decoder.norm);
        w->y_out = w->y_norm;
    }
    mat_mul(w->logits, 1.0f, w->y_out, NO_TRANS, m->gen_weight, TRANS, 0.0f);   /* (B T, Vt) */
    add_bias(w->logits, m->gen_bias, 0);
}

/* The loss of every pair and d loss / d logits (scaled by inv_count), pair
 * by pair as train.c does; the pairs' sums are added in their order. */
static double loss_and_dlogits(BatchWork *w, const Batch *b, float smoothing, float inv_count)
{
    int T = b->T;
    OMP(omp parallel for schedule(static) if (b->B > 1))
    for (int i = 0; i < b->B; i++)
        w->pair_loss[i] = cross_entropy_backward(mat_rows(w->dlogits, i * T, T),
                                                 mat_rows(w->logits, i * T, T),
                                                 b->tgt_out + (size_t)i * T, smoothing, inv_count);
    double total = 0.0;
    for (int i = 0; i < b->B; i++) total += w->pair_loss[i];
    return total;
}

/* pair_backward for the whole batch: from w->dlogits to every parameter's
 * gradient, added into g. */
static void backward(BatchWork *w, const Transformer *m, const Transformer *g, const Batch *b)
{
    const TransformerConfig *c = &m->cfg;
    Side enc = {b->S, b->src, 0}, dec = {b->T, b->tgt, 1};
    Mat dy = w->dx_dec;
    mat_mul(dy, 1.0f, w->dlogits, NO_TRANS, m->gen_weight, NO_TRANS, 0.0f);      /* (B T, E) */
    mat_mul(g->gen_weight, 1.0f, w->dlogits, TRANS, w->y_out, NO_TRANS, 1.0f);   /* (Vt, E) */
    add_col_sums(g->gen_bias, w->dlogits);
    if (c->dec_norm)
        norm_backward(dy, &g->decoder.norm, dy, dec_input(w, w->dec_blocks), w->dec_stats,
                      &m->decoder.norm, 0);
    mat_fill(w->dmem, 0.0f);
    for (int k = w->dec_blocks - 1; k >= 0; k--)
        block_backward(w, &w->dec[k], dy, dec_input(w, k), dec_part(&m->decoder, k),
                       dec_part(&g->decoder, k), dec, b);
    if (w->tgt_keep.data) times_keep(dy, dy, w->tgt_keep);
    embedding_backward(g->tgt_embed, dy, b->tgt);

    Mat dx = w->dmem;   /* the encoder's output gradient */
    if (c->enc_norm) {
        dx = w->dx_enc;
        norm_backward(dx, &g->encoder.norm, w->dmem, enc_input(w, w->enc_blocks), w->enc_stats,
                      &m->encoder.norm, 0);
    }
    for (int k = w->enc_blocks - 1; k >= 0; k--)
        block_backward(w, &w->enc[k], dx, enc_input(w, k), enc_part(&m->encoder, k),
                       enc_part(&g->encoder, k), enc, b);
    if (w->src_keep.data) times_keep(dx, dx, w->src_keep);
    embedding_backward(g->src_embed, dx, b->src);
}

/* Pairs [first, first + n) of b. */
static Batch slice(const Batch *b, int first, int n)
{
    Batch s = {n, b->S, b->T, b->src + (size_t)first * b->S, b->tgt + (size_t)first * b->T,
               b->tgt_out + (size_t)first * b->T};
    return s;
}

/* The step on b's pairs, slice by slice: the loss summed over the counted
 * positions; with inv_count > 0 the gradients too, added into g. */
static double run_slices(BatchWork *w, const Transformer *m, const Transformer *g,
                         const Batch *b, float smoothing, float inv_count, float dropout, Rng *r)
{
    int drop = dropout > 0.0f, per = pairs_per_slice(w, b->S, b->T, drop);
    double total = 0.0;
    for (int first = 0; first < b->B; first += per) {
        Batch s = slice(b, first, min_int(per, b->B - first));
        fit(w, s.B, s.S, s.T, drop);
        forward(w, m, &s, dropout, r);
        total += loss_and_dlogits(w, &s, smoothing, inv_count);
        if (g) backward(w, m, g, &s);
    }
    return total;
}

/* run_slices on both threads, or on one while another program holds a
 * core (crowding.h: the spinning barriers of a step's hundreds of loops
 * would then last milliseconds each). */
static double run_step(BatchWork *w, const Transformer *m, const Transformer *g, const Batch *b,
                       float smoothing, float inv_count, float dropout, Rng *r)
{
    fit_model(w, &m->cfg);
    size_t cap = w->cap;
    Stretch s = crowding_begin(&w->crowding);
    double total = run_slices(w, m, g, b, smoothing, inv_count, dropout, r);
    /* a step that allocated the workspace says nothing: one thread alone
     * then fills fresh pages */
    crowding_end(&w->crowding, &s, w->cap == cap);
    return total;
}

double batched_backward(Transformer *m, BatchWork *w, const Batch *b, float smoothing,
                        float dropout, Rng *r)
{
    const Transformer *g = grad_views(w, m);
    memset(m->params.grad, 0, m->params.size * sizeof(float));
    int count = loss_count(b->tgt_out, b->B * b->T);
    float inv = count > 0 ? 1.0f / (float)count : 0.0f;
    double total = run_step(w, m, g, b, smoothing, inv, dropout, r);
    return count > 0 ? total / count : 0.0;
}

double batched_loss(const Transformer *m, BatchWork *w, const Batch *b, float smoothing)
{
    int count = loss_count(b->tgt_out, b->B * b->T);
    double total = run_step(w, m, NULL, b, smoothing, 0.0f, 0.0f, NULL);
    return count > 0 ? total / count : 0.0;
}
