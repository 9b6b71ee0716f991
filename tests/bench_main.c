/*
 * bench_main.c - `make bench`: how fast the book's matrix multiply is, and
 * how long one training step of the reference model takes, beside OpenBLAS
 * and PyTorch, all measured in one run and printed as one table.
 *
 * Rows:
 *   - GFLOP/s (2 M N K flops per product) of square products and of the
 *     products a training step of the reference model does on a batch of
 *     64 pairs x 10 tokens = 640 rows (d_model 128, Q,K,V 384, d_ff 512),
 *     forward and backward: the plain loop, the fast gemm on 1 and 2
 *     threads, OpenBLAS's cblas_sgemm on 1 and 2 threads when this program
 *     is linked with it (the Makefile does so when pkg-config finds it);
 *   - one training step (forward, backward, Adam: chapter 10's
 *     transformer_backward and adam_step) of the reference configuration,
 *     d_model 128, 4 heads, d_ff 512, 3 + 3 layers, vocabularies of 40,
 *     batch 64, source and target length 10, dropout 0, label smoothing 0.1:
 *     milliseconds, target tokens per second and peak resident memory, on 1
 *     and 2 threads, each in a fresh process; and the same step in PyTorch
 *     (tests/bench_torch.py, given with --torch) on as many threads.
 * Every number is the median of --repeats measurements. Products are timed
 * a column at a time, so one library's idle threads never compete with the
 * next one's.
 *
 * Usage: build/bin/bench [--repeats N] [--quick] [--kernel K]
 *                        [--torch "python3 tests/bench_torch.py"]
 *        build/bin/bench --step THREADS   (one line: a training step's time and memory)
 * Added with the performance work that follows chapter 10.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(BENCH_OPENBLAS) || defined(USE_OPENBLAS)
#define HAVE_OPENBLAS 1
#include <cblas.h>
#else
#define HAVE_OPENBLAS 0
#endif
#include "adam.h"
#include "cli.h"
#include "gemm.h"
#include "ops.h"
#include "report.h"
#include "rng.h"
#include "train.h"
#include "transformer.h"

enum { MAX_REPEATS = 99 };

/* The gemm kernel of the C columns (--kernel; 0 is the one mat_mul uses). */
static int kernel_choice = 0;

/* ------------------------------------------------------------ timing */

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, compare_doubles);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void set_threads(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
#if HAVE_OPENBLAS
    openblas_set_num_threads(n);
#endif
    (void)n;
}

/* --------------------------------------------------- matrix multiply */

typedef struct {
    const char *what;      /* where the product occurs */
    int M, N, K;           /* C (M, N) = op(A) (M, K) op(B) (K, N) */
    Trans ta, tb;
} Shape;

/* The reference model on a batch of 640 rows: X (640, 128) the sublayer
 * input, H (640, 512) the hidden layer of the feed-forward network, W the
 * weights as torch.nn.Linear stores them, (out, in), so y = x W^T. */
static const Shape SHAPES[] = {
    {"square", 64, 64, 64, NO_TRANS, NO_TRANS},
    {"square", 128, 128, 128, NO_TRANS, NO_TRANS},
    {"square", 256, 256, 256, NO_TRANS, NO_TRANS},
    {"square", 512, 512, 512, NO_TRANS, NO_TRANS},
    {"square", 1024, 1024, 1024, NO_TRANS, NO_TRANS},
    {"Q,K,V = X W^T", 640, 384, 128, NO_TRANS, TRANS},
    {"H = X W1^T", 640, 512, 128, NO_TRANS, TRANS},
    {"Y = H W2^T", 640, 128, 512, NO_TRANS, TRANS},
    {"logits = Y Wg^T", 640, 40, 128, NO_TRANS, TRANS},
    {"dX = dQKV W", 640, 128, 384, NO_TRANS, NO_TRANS},
    {"dH = dY W2", 640, 512, 128, NO_TRANS, NO_TRANS},
    {"dX = dH W1", 640, 128, 512, NO_TRANS, NO_TRANS},
    {"dW = dQKV^T X", 384, 128, 640, TRANS, NO_TRANS},
    {"dW1 = dH^T X", 512, 128, 640, TRANS, NO_TRANS},
    {"dW2 = dY^T H", 128, 512, 640, TRANS, NO_TRANS},
    {"one pair: Q,K,V", 10, 384, 128, NO_TRANS, TRANS},
};
enum { SHAPE_COUNT = sizeof SHAPES / sizeof SHAPES[0] };

/* The columns of the table, in the order they are measured. */
typedef enum { PLAIN, FAST_1, FAST_2, BLAS_1, BLAS_2, METHODS } Method;

/* One cell of the table: a shape, a method and the matrices to use. */
typedef struct {
    const Shape *s;
    Method method;
    Mat a;                 /* (M, K), or (K, M) when s->ta */
    Mat b;                 /* (K, N), or (N, K) when s->tb */
    Mat c;                 /* (M, N) */
} Product;

static void product_run(const Product *p)
{
    const Shape *s = p->s;
    switch (p->method) {
    case PLAIN: mat_mul_plain(p->c, 1.0f, p->a, s->ta, p->b, s->tb, 0.0f); break;
    case FAST_1:
    case FAST_2: gemm_with(kernel_choice, p->c, 1.0f, p->a, s->ta, p->b, s->tb, 0.0f); break;
    case BLAS_1:
    case BLAS_2:
#if HAVE_OPENBLAS
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                    s->tb ? CblasTrans : CblasNoTrans, s->M, s->N, s->K, 1.0f, p->a.data,
                    p->a.stride, p->b.data, p->b.stride, 0.0f, p->c.data, p->c.stride);
#endif
        break;
    default: break;
    }
}

/* Median seconds per product over `repeats` timings, each of enough
 * back-to-back products to last at least `window` seconds. */
static double seconds_per_product(const Product *p, int repeats, double window)
{
    product_run(p);   /* first touch of the memory, threads started */
    double start = now_seconds();
    product_run(p);
    double once = now_seconds() - start;
    long calls = once >= window ? 1 : (long)(window / (once > 1e-7 ? once : 1e-7)) + 1;
    double t[MAX_REPEATS];
    for (int r = 0; r < repeats; r++) {
        start = now_seconds();
        for (long k = 0; k < calls; k++) product_run(p);
        t[r] = (now_seconds() - start) / (double)calls;
    }
    return median(t, repeats);
}

static int method_available(Method m)
{
    if ((m == BLAS_1 || m == BLAS_2) && !HAVE_OPENBLAS) return 0;
#ifndef _OPENMP
    if (m == FAST_2) return 0;
#endif
    return 1;
}

/* gflops[s][m]: GFLOP/s of shape s with method m; 0 when not measured. */
static void measure_products(double gflops[][METHODS], int repeats, double window)
{
    Rng r;
    rng_seed(&r, 1);
    Mat a[SHAPE_COUNT], b[SHAPE_COUNT], c[SHAPE_COUNT];
    for (int s = 0; s < SHAPE_COUNT; s++) {
        const Shape *sh = &SHAPES[s];
        a[s] = sh->ta ? mat_new(sh->K, sh->M) : mat_new(sh->M, sh->K);
        b[s] = sh->tb ? mat_new(sh->N, sh->K) : mat_new(sh->K, sh->N);
        c[s] = mat_new(sh->M, sh->N);
        mat_rand_uniform(a[s], &r, -1.0f, 1.0f);
        mat_rand_uniform(b[s], &r, -1.0f, 1.0f);
    }
    for (Method m = PLAIN; m < METHODS; m++) {
        if (!method_available(m)) continue;
        set_threads(m == FAST_2 || m == BLAS_2 ? 2 : 1);
        fprintf(stderr, ".");
        for (int s = 0; s < SHAPE_COUNT; s++) {
            Product p = {&SHAPES[s], m, a[s], b[s], c[s]};
            double flops = 2.0 * SHAPES[s].M * SHAPES[s].N * SHAPES[s].K;
            gflops[s][m] = flops / seconds_per_product(&p, repeats, window) * 1e-9;
        }
        /* Let this library's threads go idle before the next is timed. */
        nanosleep(&(struct timespec){0, 300000000L}, NULL);
    }
    for (int s = 0; s < SHAPE_COUNT; s++) {
        mat_free(&a[s]);
        mat_free(&b[s]);
        mat_free(&c[s]);
    }
}

/* ------------------------------------------------------ training step */

enum { STEP_B = 64, STEP_LEN = 10, STEP_VOCAB = 40 };

/* The child mode: a model and a batch of the reference configuration, one
 * warm-up step, then `repeats` timed steps. Prints
 *   step_ms <median> peak_rss_kb <peak resident memory of this process>. */
static int run_steps(int threads, int repeats)
{
    set_threads(threads);
    TransformerConfig cfg = {.E = 128, .F = 512, .H = 4, .enc_layers = 3, .dec_layers = 3,
                             .Vs = STEP_VOCAB, .Vt = STEP_VOCAB, .norm_first = 0,
                             .enc_norm = 1, .dec_norm = 1};
    Rng r;
    rng_seed(&r, 1);
    Transformer m;
    transformer_new(&m, &cfg, &r);
    /* Random ids in [1, V): no padding (id 0), so every token counts. */
    int64_t src[STEP_B * STEP_LEN], tgt[STEP_B * STEP_LEN], tgt_out[STEP_B * STEP_LEN];
    for (int i = 0; i < STEP_B * STEP_LEN; i++) {
        src[i] = 1 + (int64_t)rng_below(&r, STEP_VOCAB - 1);
        tgt[i] = 1 + (int64_t)rng_below(&r, STEP_VOCAB - 1);
        tgt_out[i] = 1 + (int64_t)rng_below(&r, STEP_VOCAB - 1);
    }
    Batch batch = {STEP_B, STEP_LEN, STEP_LEN, src, tgt, tgt_out};
    Adam adam;
    adam_init(&adam, m.params.size, 0.9f, 0.98f, 1e-9f);

    double t[MAX_REPEATS];
    for (int k = -1; k < repeats; k++) {   /* step -1 is the warm-up */
        double start = now_seconds();
        transformer_backward(&m, &batch, 0.1f, 0.0f, &r);
        adam_step(&adam, m.params.data, m.params.grad, 1e-4f);
        if (k >= 0) t[k] = now_seconds() - start;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("step_ms %.3f peak_rss_kb %ld\n", 1e3 * median(t, repeats), (long)ru.ru_maxrss);
    adam_free(&adam);
    transformer_free(&m);
    return 0;
}

typedef struct {
    int ok;            /* 1 if measured */
    double ms;         /* median milliseconds per step */
    long rss_kb;       /* peak resident memory of the process (KB) */
    char version[64];  /* PyTorch's version, for the PyTorch rows */
} StepResult;

/* Runs `command` and reads its step line. */
static StepResult run_child(const char *command)
{
    StepResult s = {0, 0.0, 0, ""};
    fflush(stdout);
    FILE *p = popen(command, "r");
    if (!p) return s;
    char line[256];
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "step_ms %lf peak_rss_kb %ld torch %63s", &s.ms, &s.rss_kb, s.version) >= 2)
            s.ok = 1;
    if (pclose(p) != 0) s.ok = 0;
    return s;
}

/* ---------------------------------------------------------- the table */

static void print_cell_value(double v, int ok, const char *fmt)
{
    char cell[32] = "-";
    if (ok) snprintf(cell, sizeof cell, fmt, v);
    printf(" %11s |", cell);
}

static void print_rule(void)
{
    printf("|%s|%s|", "---------------------------------", "----------");
    for (int i = 0; i < 8; i++) printf("------------:|");
    printf("\n");
}

static void machine_line(int repeats)
{
    char model[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
                snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        fclose(f);
    }
    printf("Machine: %s, %ld CPUs. ", model, sysconf(_SC_NPROCESSORS_ONLN));
#if defined(__clang__)
    printf("Compiler: clang %s", __clang_version__);
#elif defined(__GNUC__)
    printf("Compiler: gcc %s", __VERSION__);
#endif
#ifdef _OPENMP
    printf(", OpenMP.\n");
#else
    printf(", no OpenMP (make OMP=0): the 2-thread columns are empty.\n");
#endif
    printf("C columns: gemm kernel %s (this CPU runs:", gemm_kernel_name(kernel_choice));
    for (int k = 0; k < gemm_kernel_count(); k++)
        printf(" %d %s%s", k, gemm_kernel_name(k), k + 1 < gemm_kernel_count() ? "," : "");
    printf("; mat_mul uses 0).\n");
#if HAVE_OPENBLAS
    printf("OpenBLAS: %s (core %s).\n", openblas_get_config(), openblas_get_corename());
#else
    printf("OpenBLAS: not linked (install libopenblas-dev for its columns).\n");
#endif
#ifdef USE_OPENBLAS
    printf("mat_mul calls OpenBLAS (make BLAS=openblas): the C training step is in its columns.\n");
#endif
    double load = -1.0;
    f = fopen("/proc/loadavg", "r");   /* other programs running skew the 2-thread columns */
    if (f) {
        if (fscanf(f, "%lf", &load) != 1) load = -1.0;
        fclose(f);
    }
    printf("Each number is the median of %d measurements", repeats);
    if (load >= 0.0) printf("; load average at the end: %.2f", load);
    printf(".\n\n");
}

static void print_table(double gflops[][METHODS], const StepResult c[3], const StepResult py[3],
                        int repeats)
{
    machine_line(repeats);
    printf("| %-31s | %-8s | %11s | %11s | %11s | %11s | %11s | %11s | %11s | %11s |\n", "row",
           "unit", "plain", "C 1 thread", "C 2 threads", "OpenBLAS 1t", "OpenBLAS 2t",
           "C/OpenBLAS", "PyTorch 1t", "PyTorch 2t");
    print_rule();
    for (int s = 0; s < SHAPE_COUNT; s++) {
        const Shape *sh = &SHAPES[s];
        char row[64];
        snprintf(row, sizeof row, "%dx%dx%d %c%c %s", sh->M, sh->N, sh->K, sh->ta ? 'T' : 'N',
                 sh->tb ? 'T' : 'N', sh->what);
        printf("| %-31s | %-8s |", row, "GFLOP/s");
        for (Method m = PLAIN; m < METHODS; m++)
            print_cell_value(gflops[s][m], method_available(m), "%.1f");
        print_cell_value(gflops[s][FAST_1] / gflops[s][BLAS_1], HAVE_OPENBLAS, "%.2f");
        printf(" %11s | %11s |\n", "-", "-");
    }

    /* The C step goes in the columns of what its mat_mul calls. */
#ifdef USE_OPENBLAS
    const int at = 3;
#else
    const int at = 1;
#endif
    static const char *const rows[4][2] = {{"training step", "ms"},
                                           {"training step", "tokens/s"},
                                           {"peak resident memory", "MB"},
                                           {"step time / PyTorch 1 thread", "ratio"}};
    for (int row = 0; row < 4; row++) {
        printf("| %-31s | %-8s |", rows[row][0], rows[row][1]);
        double v[8] = {0};
        int ok[8] = {0};
        for (int t = 1; t <= 2; t++) {
            const StepResult *cs = &c[t], *ps = &py[t];
            int ci = at + t - 1, pi = 5 + t;   /* value columns: 0 plain ... 6, 7 PyTorch */
            double cvals[4] = {cs->ms, STEP_B * STEP_LEN / (cs->ms * 1e-3), cs->rss_kb / 1024.0,
                               cs->ms / py[1].ms};
            double pvals[4] = {ps->ms, STEP_B * STEP_LEN / (ps->ms * 1e-3), ps->rss_kb / 1024.0,
                               ps->ms / py[1].ms};
            v[ci] = cvals[row];
            ok[ci] = cs->ok && (row < 3 || py[1].ok);
            v[pi] = pvals[row];
            ok[pi] = ps->ok && (row < 3 || py[1].ok);
        }
        for (int col = 0; col < 8; col++)
            print_cell_value(v[col], ok[col], row == 3 ? "%.2f" : row == 1 ? "%.0f" : "%.1f");
        printf("\n");
    }
    printf("\nTraining step: d_model 128, 4 heads, d_ff 512, 3 + 3 layers, vocabularies of 40, "
           "batch 64, lengths 10,\ndropout 0, label smoothing 0.1, Adam; tokens/s counts target "
           "tokens (640 a step). PyTorch: %s.\n",
           py[1].ok ? py[1].version : "not measured (no --torch, or torch missing)");
}

/* ------------------------------------------------------------- main */

static const char USAGE[] =
    "Usage: bench [--repeats N] [--quick] [--kernel K] [--torch COMMAND]\n"
    "Times the matrix multiply (plain, fast, OpenBLAS when linked) and a training\n"
    "step of the reference model, and prints one table (make bench runs it).\n"
    "  --repeats N      measurements per number; the median is shown (default 5)\n"
    "  --quick          shorter timings (for a smoke test)\n"
    "  --kernel K       the gemm kernel of the matrix-multiply rows (default 0, the best)\n"
    "  --torch COMMAND  the PyTorch twin, e.g. \"python3 tests/bench_torch.py\"\n"
    "  --step THREADS   only time training steps on THREADS threads; print one line\n";

int main(int argc, char **argv)
{
    cli_init("bench");
    enum { OPT_REPEATS = 1, OPT_QUICK, OPT_KERNEL, OPT_TORCH, OPT_STEP, OPT_BENCH_HELP };
    static const struct option longopts[] = {{"repeats", required_argument, NULL, OPT_REPEATS},
                                             {"quick", no_argument, NULL, OPT_QUICK},
                                             {"kernel", required_argument, NULL, OPT_KERNEL},
                                             {"torch", required_argument, NULL, OPT_TORCH},
                                             {"step", required_argument, NULL, OPT_STEP},
                                             {"help", no_argument, NULL, OPT_BENCH_HELP},
                                             {NULL, 0, NULL, 0}};
    int repeats = 5, quick = 0, step_threads = 0;
    const char *torch = NULL;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_REPEATS: repeats = (int)parse_long("--repeats", optarg, 1, MAX_REPEATS); break;
        case OPT_QUICK: quick = 1; break;
        case OPT_KERNEL:
            kernel_choice = (int)parse_long("--kernel", optarg, 0, gemm_kernel_count() - 1);
            break;
        case OPT_TORCH: torch = optarg; break;
        case OPT_STEP: step_threads = (int)parse_long("--step", optarg, 1, 256); break;
        case OPT_BENCH_HELP: printf("%s", USAGE); return 0;
        default: cli_bad_option(c, argc, argv);
        }
    }
    if (optind < argc) usage_error("unexpected argument '%s'", argv[optind]);
    if (step_threads) return run_steps(step_threads, repeats);
    if (quick) repeats = repeats < 3 ? repeats : 3;

    fprintf(stderr, "bench: timing products");
    static double gflops[SHAPE_COUNT][METHODS];
    measure_products(gflops, repeats, quick ? 0.01 : 0.05);

    fprintf(stderr, " training steps");
    StepResult cstep[3] = {{0}}, pystep[3] = {{0}};
    char command[1024];
    for (int t = 1; t <= 2; t++) {
#ifndef _OPENMP
        if (t == 2) break;
#endif
        fprintf(stderr, ".");
        snprintf(command, sizeof command, "%s --step %d --repeats %d", argv[0], t, repeats);
        cstep[t] = run_child(command);
        if (torch) {
            snprintf(command, sizeof command, "%s --threads %d --steps %d", torch, t, repeats);
            pystep[t] = run_child(command);
        }
    }
    fprintf(stderr, "\n\n");
    print_table(gflops, cstep, pystep, repeats);
    return 0;
}
