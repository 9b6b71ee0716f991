/*
 * gemm.c - the fast matrix multiply (see gemm.h for the idea): packing,
 * cache blocking, register-tile micro-kernels, threads.
 *
 * The loop nest, C = (M, N), the sum running over K:
 *
 *   for jc in steps of NC                    a band of C's columns
 *     for pc in steps of KC                  a slice of the sum
 *       pack op(B)[pc.., jc..] into bp       (KC, NC), shared by all threads
 *       for each block of up to MC rows      the blocks are shared out to threads
 *         pack op(A)[ic.., pc..] into ap     (MC, KC), one per thread, stays in L2
 *         for jr in steps of NR
 *           for ir in steps of MR
 *             micro-kernel: C[ir.., jr..] (+)= ap[ir] bp[jr]     tile in registers
 *
 * Packing op(A) copies whole runs of memory (memcpy), whichever way A is
 * used. A micro-panel of op(A) holds MR rows: as MR runs of kc floats
 * when A is used as it is (entry (i, k) at i kc + k), as kc runs of MR
 * floats when A is transposed (at k MR + i); the kernel is told which by
 * two strides, rsa and csa, since it reads A one entry at a time anyway. A
 * micro-panel of op(B) holds row k of its NR columns at [k NR, k NR + NR),
 * which the kernel loads as vectors; for a transposed B this is the one
 * place where packing gathers entries one by one. Panels are padded with
 * zeros, so the kernel never checks for edges.
 *
 * Determinism: each entry of C is summed slice by slice in order of pc, and
 * within a slice in order of k, by the same kernel; threads only change who
 * computes which tile. So results do not depend on the number of threads.
 *
 * Assumes C11; the x86-64 kernels need GCC or Clang (target attributes,
 * immintrin.h) and are picked at run time with __builtin_cpu_supports.
 */
#include "gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"   /* OMP(...): a pragma that disappears without OpenMP */

#if defined(__GNUC__) && defined(__x86_64__)
#define HAVE_X86_KERNELS 1
#include <immintrin.h>
#else
#define HAVE_X86_KERNELS 0
#endif

/* Block sizes. KC: a slice of the sum; a KC x NR micro-panel of B stays in
 * the L1 cache while the kernel runs down a block of A. MC x KC floats of
 * packed A (192 KB) stay in the L2 cache. NC bounds the packed B buffer
 * (2 MB). On the AMD EPYC (Zen 5: 48 KB L1, 1 MB L2 per core) these were
 * measured against KC 128 ... 512, MC 96 ... 288 and NC 1024 ... 4096: all
 * within a few percent. MC and NC change only the speed; KC also sets where
 * the sum is cut, so it is a constant, never a function of the threads. */
enum { KC = 256, MC = 192, NC = 2048 };

/* Below this many multiply-adds (M N K), about 10 microseconds of work on
 * one core, a product runs on one thread: waking a second costs a few
 * microseconds, and far more when the other core is busy with another
 * program. */
#define PARALLEL_MIN (128.0 * 128.0 * 64.0)

enum { MAX_MR = 16, MAX_NR = 32 };   /* the largest tile of any kernel */

/* One MR x NR tile of C:  C <- alpha * A B + beta C, summing over k < kc.
 * a: a packed (MR, kc) block whose entry (i, k) is at a[i * rsa + k * csa];
 * b: a packed (kc, NR) micro-panel, rows NR apart; c: the tile, rows ldc
 * apart. beta == 0 ignores C's old contents. */
typedef void (*MicroKernel)(int kc, const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *b,
                            float *c, ptrdiff_t ldc, float alpha, float beta);

typedef struct {
    const char *name;
    int mr, nr;           /* tile size */
    MicroKernel run;
    int (*usable)(void);  /* 1 if this CPU can run it */
} Kernel;

/* ---------------------------------------------------------------- kernels */

enum { P_MR = 4, P_NR = 16 };

/* The portable kernel, for any CPU: plain C whose loops over the tile the
 * compiler unrolls and vectorises for whatever vector unit it targets.
 * About 30 GFLOP/s on the machine above, where the AVX-512 kernel does 230. */
static void kernel_portable(int kc, const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *b,
                            float *c, ptrdiff_t ldc, float alpha, float beta)
{
    float acc[P_MR][P_NR] = {{0.0f}};
    for (int k = 0; k < kc; k++, a += csa, b += P_NR) {
#pragma GCC unroll 16
        for (int i = 0; i < P_MR; i++) {
            float ai = a[i * rsa];
#pragma GCC unroll 16
            for (int j = 0; j < P_NR; j++) acc[i][j] += ai * b[j];
        }
    }
    for (int i = 0; i < P_MR; i++)
        for (int j = 0; j < P_NR; j++) {
            float *cij = c + i * ldc + j;
            *cij = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *cij;
        }
}

static int always(void) { return 1; }

#if HAVE_X86_KERNELS
/* The x86 kernels keep the tile in vector registers: MR rows of NR/W
 * vectors of W floats. Each step k loads one row of B (NR/W vectors),
 * broadcasts each of the MR entries of A's column and does MR * NR/W fused
 * multiply-adds. The loops over i are unrolled by the compiler, so every
 * acc[i] becomes a register. */

enum { AVX2_MR = 6, AVX2_NR = 16 };     /* 12 accumulators of the 16 ymm registers */

__attribute__((target("avx2,fma"))) static void kernel_avx2(int kc, const float *a,
                                                            ptrdiff_t rsa, ptrdiff_t csa,
                                                            const float *b, float *c,
                                                            ptrdiff_t ldc, float alpha,
                                                            float beta)
{
    __m256 acc0[AVX2_MR], acc1[AVX2_MR];
#pragma GCC unroll 16
    for (int i = 0; i < AVX2_MR; i++) acc0[i] = acc1[i] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++, a += csa, b += AVX2_NR) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 16
        for (int i = 0; i < AVX2_MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i * rsa);
            acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
        }
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < AVX2_MR; i++, c += ldc) {
        __m256 r0 = _mm256_mul_ps(va, acc0[i]), r1 = _mm256_mul_ps(va, acc1[i]);
        if (beta != 0.0f) {
            r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), r0);
            r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), r1);
        }
        _mm256_storeu_ps(c, r0);
        _mm256_storeu_ps(c + 8, r1);
    }
}

enum { AVX512_MR = 12, AVX512_NR = 32 };   /* 24 accumulators of the 32 zmm registers */

__attribute__((target("avx512f"))) static void kernel_avx512(int kc, const float *a,
                                                             ptrdiff_t rsa, ptrdiff_t csa,
                                                             const float *b, float *c,
                                                             ptrdiff_t ldc, float alpha,
                                                             float beta)
{
    __m512 acc0[AVX512_MR], acc1[AVX512_MR];
#pragma GCC unroll 16
    for (int i = 0; i < AVX512_MR; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++, a += csa, b += AVX512_NR) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
        for (int i = 0; i < AVX512_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i * rsa]);
            acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
            acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < AVX512_MR; i++, c += ldc) {
        __m512 r0 = _mm512_mul_ps(va, acc0[i]), r1 = _mm512_mul_ps(va, acc1[i]);
        if (beta != 0.0f) {
            r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + 16), r1);
        }
        _mm512_storeu_ps(c, r0);
        _mm512_storeu_ps(c + 16, r1);
    }
}

static int has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int has_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}
#endif

/* Every kernel, best first. */
static const Kernel kernels[] = {
#if HAVE_X86_KERNELS
    {"avx512 12x32", AVX512_MR, AVX512_NR, kernel_avx512, has_avx512},
    {"avx2 6x16", AVX2_MR, AVX2_NR, kernel_avx2, has_avx2},
#endif
    {"portable 4x16", P_MR, P_NR, kernel_portable, always},
};
enum { KERNELS = sizeof kernels / sizeof kernels[0] };

/* The n-th kernel this CPU can run, or NULL. */
static const Kernel *usable_kernel(int n)
{
    for (int i = 0; i < KERNELS; i++)
        if (kernels[i].usable() && n-- == 0) return &kernels[i];
    return NULL;
}

int gemm_kernel_count(void)
{
    int n = 0;
    while (usable_kernel(n)) n++;
    return n;
}

const char *gemm_kernel_name(int kernel)
{
    const Kernel *k = usable_kernel(kernel);
    return k ? k->name : NULL;
}

/* ---------------------------------------------------------------- packing */

static int min_int(int a, int b) { return a < b ? a : b; }
static int round_up(int n, int m) { return (n + m - 1) / m * m; }

/* op(A)[i0 + i, p0 + k] for i < m, k < kc into micro-panels of MR rows,
 * each a copy of whole runs of A's memory, so packing is a row-by-row
 * memcpy whichever way A is used: row i of the panel goes to
 * [i kc, i kc + kc) when A is used as it is (rsa = kc, csa = 1); column k
 * to [k MR, k MR + MR) when it is transposed (rsa = 1, csa = MR). Rows past m
 * are zeros. */
static void pack_a(float *dst, Mat a, Trans ta, int i0, int m, int p0, int kc, int mr)
{
    for (int ip = 0; ip < m; ip += mr, dst += (size_t)mr * kc) {
        int rows = min_int(mr, m - ip);
        if (ta == NO_TRANS) {
            for (int i = 0; i < rows; i++)
                memcpy(dst + (size_t)i * kc, &MAT_AT(a, i0 + ip + i, p0), sizeof(float) * kc);
            memset(dst + (size_t)rows * kc, 0, sizeof(float) * (size_t)(mr - rows) * kc);
        } else {
            for (int k = 0; k < kc; k++) {
                float *d = dst + (size_t)k * mr;
                memcpy(d, &MAT_AT(a, p0 + k, i0 + ip), sizeof(float) * rows);
                for (int i = rows; i < mr; i++) d[i] = 0.0f;
            }
        }
    }
}

/* op(B)[p0 + k, j0 + j] for k < kc, j < n into NR-column micro-panels. */
static void pack_b(float *dst, Mat b, Trans tb, int p0, int kc, int j0, int n, int nr)
{
    for (int jp = 0; jp < n; jp += nr, dst += (size_t)nr * kc) {
        int cols = min_int(nr, n - jp);
        if (tb == NO_TRANS) {             /* row k of the panel is part of row k of B */
            for (int k = 0; k < kc; k++)
                memcpy(dst + (size_t)k * nr, &MAT_AT(b, p0 + k, j0 + jp), sizeof(float) * cols);
        } else {                          /* row k of op(B) is column k of B */
            const float *col[MAX_NR];
            for (int j = 0; j < cols; j++) col[j] = &MAT_AT(b, j0 + jp + j, p0);
            for (int k = 0; k < kc; k++)
                for (int j = 0; j < cols; j++) dst[(size_t)k * nr + j] = col[j][k];
        }
        for (int k = 0; k < kc; k++)
            for (int j = cols; j < nr; j++) dst[(size_t)k * nr + j] = 0.0f;
    }
}

/* ------------------------------------------------------------ the driver */

/* One tile of C, (rows, cols) <= (MR, NR). A partial tile at C's right or
 * bottom edge goes through a full-size copy, so the kernel does the same
 * arithmetic on every tile. */
static void tile(const Kernel *kn, int kc, const float *ap, ptrdiff_t rsa, ptrdiff_t csa,
                 const float *bp, float *c, ptrdiff_t ldc, int rows, int cols, float alpha,
                 float beta)
{
    if (rows == kn->mr && cols == kn->nr) {
        kn->run(kc, ap, rsa, csa, bp, c, ldc, alpha, beta);
        return;
    }
    float t[MAX_MR * MAX_NR] = {0.0f};
    for (int i = 0; i < rows; i++) memcpy(t + i * kn->nr, c + i * ldc, sizeof(float) * cols);
    kn->run(kc, ap, rsa, csa, bp, t, kn->nr, alpha, beta);
    for (int i = 0; i < rows; i++) memcpy(c + i * ldc, t + i * kn->nr, sizeof(float) * cols);
}

int gemm_max_threads(void)
{
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    return 1;
#endif
}

/* The packing buffers (0: op(A), 1: op(B)) are kept from one call to the
 * next, one pair per thread, and only grow. Allocating and freeing them on
 * every call costs more than a small product: the C library gives the
 * memory back to the system and then takes it again, page by page. They are
 * 64-byte aligned, so every micro-panel starts on a cache line. */
static _Thread_local float *kept[2];
static _Thread_local size_t kept_floats[2];

static float *buffer(int which, size_t n)
{
    if (n > kept_floats[which]) {
        size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
        free(kept[which]);
        kept[which] = aligned_alloc(64, bytes);
        if (!kept[which]) {
            fprintf(stderr, "gemm: out of memory (%zu bytes for packed blocks)\n", bytes);
            exit(1);
        }
        kept_floats[which] = n;
    }
    return kept[which];
}

/* C <- alpha * 0 + beta C: what is left of the product when K is 0. */
static void scale_only(Mat c, float alpha, float beta)
{
    for (int i = 0; i < c.rows; i++)
        for (int j = 0; j < c.cols; j++) {
            float old = beta == 0.0f ? 0.0f : beta * MAT_AT(c, i, j);
            MAT_AT(c, i, j) = alpha * 0.0f + old;
        }
}

/* One product, cut into blocks (see the loop nest at the top). */
typedef struct {
    const Kernel *kn;
    Mat c, a, b;          /* c: (M, N); op(a): (M, K); op(b): (K, N) */
    Trans ta, tb;
    float alpha, beta;
    int M, N, K;
    int mc;               /* rows per block of C, a multiple of MR */
    int m_blocks;         /* blocks of rows */
    int n_parts;          /* pieces each block's columns are cut into */
    float *bp;            /* the packed slice of op(B), shared */
} Job;

/* The loop nest. Run by every thread of a parallel region, it shares out
 * the packing of B and the blocks of C (the two `omp for`); called outside
 * one, the single caller does it all. The implicit barrier at the end of
 * each `omp for` keeps threads from packing the next slice of B while
 * others still read this one. */
static void run_job(const Job *j)
{
    const int mr = j->kn->mr, nr = j->kn->nr;
    float *ap = buffer(0, (size_t)j->mc * min_int(j->K, KC));   /* each thread's own */
    for (int jc = 0; jc < j->N; jc += NC) {
        int nc = min_int(NC, j->N - jc), panels = (nc + nr - 1) / nr;
        for (int pc = 0; pc < j->K; pc += KC) {
            int kc = min_int(KC, j->K - pc);
            ptrdiff_t rsa = j->ta == NO_TRANS ? kc : 1, csa = j->ta == NO_TRANS ? 1 : mr;
            float beta = pc == 0 ? j->beta : 1.0f;   /* later slices add on */

            OMP(omp for schedule(static))
            for (int p = 0; p < panels; p++)
                pack_b(j->bp + (size_t)p * nr * kc, j->b, j->tb, pc, kc, jc + p * nr,
                       min_int(nr, nc - p * nr), nr);

            OMP(omp for schedule(static))
            for (int task = 0; task < j->m_blocks * j->n_parts; task++) {
                int ic = task / j->n_parts * j->mc, m = min_int(j->mc, j->M - ic);
                int part = task % j->n_parts;
                int p_lo = panels * part / j->n_parts, p_hi = panels * (part + 1) / j->n_parts;
                if (p_lo == p_hi) continue;
                pack_a(ap, j->a, j->ta, ic, m, pc, kc, mr);
                for (int p = p_lo; p < p_hi; p++)
                    for (int ir = 0; ir < m; ir += mr)
                        tile(j->kn, kc, ap + (size_t)ir * kc, rsa, csa, j->bp + (size_t)p * nr * kc,
                             &MAT_AT(j->c, ic + ir, jc + p * nr), j->c.stride,
                             min_int(mr, m - ir), min_int(nr, nc - p * nr), j->alpha, beta);
            }
        }
    }
}

void gemm_with(int kernel, Mat c, float alpha, Mat a, Trans ta, Mat b, Trans tb, float beta)
{
    const Kernel *kn = usable_kernel(kernel);
    if (!kn) {
        fprintf(stderr, "gemm_with: no kernel %d on this CPU\n", kernel);
        exit(3);
    }
    int M = c.rows, N = c.cols, K = ta ? a.rows : a.cols;
    if (M == 0 || N == 0) return;
    if (K == 0) {
        scale_only(c, alpha, beta);
        return;
    }
    int threads = (double)M * N * K < PARALLEL_MIN ? 1 : gemm_max_threads();

    /* Rows of C in blocks of at most MC, as many blocks as a multiple of the
     * thread count so that every thread gets the same share. When there are
     * fewer blocks than threads, each block's columns are split instead. */
    Job j = {kn, c, a, b, ta, tb, alpha, beta, M, N, K, 0, 0, 0, NULL};
    int blocks = round_up((M + MC - 1) / MC, threads);
    j.mc = round_up((M + blocks - 1) / blocks, kn->mr);
    j.m_blocks = (M + j.mc - 1) / j.mc;
    j.n_parts = j.m_blocks >= threads ? 1 : threads;
    j.bp = buffer(1, (size_t)min_int(K, KC) * round_up(min_int(N, NC), kn->nr));

    if (threads > 1) {
        OMP(omp parallel num_threads(threads))
        run_job(&j);
    } else {
        run_job(&j);   /* no parallel region at all: it costs a microsecond */
    }
}

void gemm(Mat c, float alpha, Mat a, Trans ta, Mat b, Trans tb, float beta)
{
    gemm_with(0, c, alpha, a, ta, b, tb, beta);
}
