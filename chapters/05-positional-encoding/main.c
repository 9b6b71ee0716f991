/*
 * main.c - chapter 5's program, build/bin/ch05.
 *
 * With no arguments: the sinusoidal table printed small and drawn large, and
 * two of its properties computed rather than told: attention without
 * positions cannot see word order (permuting the input only permutes the
 * output), and PE[pos + k] is a fixed rotation of PE[pos].
 * With --positions N --dim D: the (N, D) table, written with --output as
 * .npy, for checking against NumPy or PyTorch.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "npy.h"
#include "ops.h"
#include "plot.h"
#include "positional.h"
#include "report.h"
#include "rng.h"
#include "scaled_attention.h"

static const char *const USAGE =
    "usage: ch05 [options]\n"
    "Chapter 5: the sinusoidal positional encoding,\n"
    "  PE[pos, 2i] = sin(pos / 10000^(2i/D)), PE[pos, 2i+1] = cos(pos / 10000^(2i/D)).\n"
    "With no table options, runs the demo.\n"
    "\n"
    "  --positions N      number of positions, rows of the table (1 ... 1000000)\n"
    "  --dim D            width of the table (1 ... 1000000; N * D at most 50000000)\n"
    "  --output PE.npy    write the table (N, D) as float32\n"
    "  (with a table, figures are drawn only when --plot is given, for N, D <= 512)\n";

/* Limits of the table options: 50 million float32 numbers are 200 MB. */
enum { MAX_SIDE = 1000000, MAX_PLOT_SIDE = 512 };
static const long long MAX_NUMBERS = 50000000;
static const double TWO_PI = 6.283185307179586;

static void plot_or_die(int rc, const Error *err)
{
    if (rc != 0) data_error_from(err);
}

/* ------------------------------------------------------ 1. the table small */

enum { SMALL_N = 8, SMALL_D = 8 };

static void show_small_table(void)
{
    Mat pe = mat_new(SMALL_N, SMALL_D);   /* (N, D) */
    positional_encoding(pe);
    mat_show("PE for N = 8 positions, D = 8 (rows: positions, cols: dimensions)", pe, NULL, NULL, 4);
    printf("Row 0 is (0, 1, 0, 1, ...): sin 0 and cos 0. Row 1 starts sin 1 = %.4f,\n"
           "cos 1 = %.4f. Each pair of columns turns at its own frequency:\n\n",
           (double)MAT_AT(pe, 1, 0), (double)MAT_AT(pe, 1, 1));
    printf("  pair i   columns   w_i = 1/10000^(2i/8)   wavelength 2 pi / w_i\n");
    for (int i = 0; i < SMALL_D / 2; i++) {
        double w = positional_frequency(i, SMALL_D);
        printf("  %6d   %3d, %-3d   %20.6f   %21.1f\n", i, 2 * i, 2 * i + 1, w,
               TWO_PI / w);
    }
    printf("\nThe first pair goes round once every 6.3 positions, the last once every\n"
           "6283: between them, the rows stay distinct far beyond any sentence length.\n\n");
    mat_free(&pe);
}

/* ---------------------------------- 2. attention without positions is blind */

enum { TOKENS = 6, WIDTH = 16 };
static const char *const SENTENCE[TOKENS] = {"the", "cat", "sat", "on", "the", "mat"};
/* Row r of the shuffled sentence is row PERM[r] of the original. */
static const int PERM[TOKENS] = {5, 2, 0, 3, 1, 4};

/* dst[r, :] = src[perm[r], :]: the product P src with a permutation matrix P.
 *   dst, src: (L, D) */
static void permute_rows(Mat dst, Mat src, const int *perm)
{
    for (int r = 0; r < src.rows; r++) mat_copy(mat_rows(dst, r, 1), mat_rows(src, perm[r], 1));
}

/* Chapter 2's attention with Q = K = V = x.   out, x: (L, D) */
static void self_attention(Mat out, Mat x)
{
    Mat weights = mat_new(x.rows, x.rows);   /* (L, L) */
    scaled_attention_forward(out, weights, x, x, x);
    mat_free(&weights);
}

/* max |attn(P x) - P attn(x)|, with the positions added after the shuffle
 * when `with_positions` is set: a position belongs to a slot, not a word. */
//! [permutation_error]
static float permutation_error(Mat x, int with_positions)
{
    int l = x.rows, d = x.cols;
    Mat a = mat_new(l, d), px = mat_new(l, d);                               /* (L, D) */
    Mat out = mat_new(l, d), out_p = mat_new(l, d), p_out = mat_new(l, d);   /* (L, D) */
    mat_copy(a, x);
    permute_rows(px, x, PERM);
    if (with_positions) {
        positional_add(a);
        positional_add(px);
    }
    self_attention(out, a);
    self_attention(out_p, px);         /* attn(P X) */
    permute_rows(p_out, out, PERM);    /* P attn(X) */
    float e = mat_max_abs_diff(out_p, p_out);
    mat_free(&a);
    mat_free(&px);
    mat_free(&out);
    mat_free(&out_p);
    mat_free(&p_out);
    return e;
}
//! [permutation_error]

/* max |out[i] - out[j]| for two rows of self-attention over x (+ PE). */
static float row_gap(Mat x, int with_positions, int i, int j)
{
    Mat a = mat_new(x.rows, x.cols), out = mat_new(x.rows, x.cols);   /* (L, D) */
    mat_copy(a, x);
    if (with_positions) positional_add(a);
    self_attention(out, a);
    float e = mat_max_abs_diff(mat_rows(out, i, 1), mat_rows(out, j, 1));
    mat_free(&a);
    mat_free(&out);
    return e;
}

static void show_permutation(uint64_t seed)
{
    printf("--- Without positions, attention cannot see word order\n\n");
    Rng rng;
    rng_seed(&rng, seed);
    Mat emb = mat_new(TOKENS - 1, WIDTH);   /* (5, D): one row per distinct word */
    mat_rand_normal(emb, &rng, 0.0f, 1.0f);
    static const int WORD[TOKENS] = {0, 1, 2, 3, 0, 4};   /* both "the" share row 0 */
    Mat x = mat_new(TOKENS, WIDTH);          /* (L, D) */
    for (int r = 0; r < TOKENS; r++) mat_copy(mat_rows(x, r, 1), mat_rows(emb, WORD[r], 1));

    printf("X: \"the cat sat on the mat\", L = %d words, random N(0, 1) embeddings of\n"
           "width %d (seed %llu). Self-attention of chapter 2, Q = K = V = X. P shuffles\n"
           "the rows into \"", TOKENS, WIDTH, (unsigned long long)seed);
    for (int r = 0; r < TOKENS; r++) printf("%s%s", r ? " " : "", SENTENCE[PERM[r]]);
    printf("\".\n\n");
    float plain = permutation_error(x, 0), with_pe = permutation_error(x, 1);
    printf("  input      max |attn(P X) - P attn(X)|   max |out[the, 0] - out[the, 4]|\n");
    printf("  X          %27.2e   %31.2e\n", (double)plain, (double)row_gap(x, 0, 0, 4));
    printf("  X + PE     %27.2e   %31.2e\n\n", (double)with_pe, (double)row_gap(x, 1, 0, 4));
    printf("Without PE, shuffling the words only shuffles the outputs (up to float\n"
           "rounding), and the two \"the\" get the same output: attention sees a bag of\n"
           "words. With PE added, the same words in other slots give other outputs.\n\n");
    mat_free(&emb);
    mat_free(&x);
}

/* -------------------------------------- 3. a shift by k is a fixed rotation */

enum { TABLE_N = 64, TABLE_D = 128 };

/* max over rows r of |M_k PE[pos + r] - PE[pos + k + r]|, rows pos ... pos + count - 1.
 *   pe: (N, D)  m: (D, D) */
static float shift_error(Mat pe, Mat m, int k, int pos, int count)
{
    Mat moved = mat_new(count, pe.cols);   /* (count, D) */
    /* Rows are row vectors, so M_k PE[pos]^T is PE[pos] M_k^T. */
    mat_mul(moved, 1.0f, mat_rows(pe, pos, count), NO_TRANS, m, TRANS, 0.0f);
    float e = mat_max_abs_diff(moved, mat_rows(pe, pos + k, count));
    mat_free(&moved);
    return e;
}

static void show_rotation(Mat pe)
{
    printf("--- PE[pos + k] is a fixed linear map of PE[pos]\n\n");
    int d = pe.cols;
    Mat m = mat_new(d, d);   /* (D, D) */
    positional_shift_matrix(m, 1);
    char title[128];
    snprintf(title, sizeof title, "M_1, top-left corner: pairs 0 and 1, rotations by w_0 = 1 "
             "and w_1 = %.4f", positional_frequency(1, d));
    mat_show(title, mat_block(m, 0, 0, 4, 4), NULL, NULL, 4);
    printf("M_k is block-diagonal, one 2x2 rotation by the angle w_i k per column pair.\n"
           "It depends on k only. Applied to every row of the %d x %d table:\n\n",
           TABLE_N, TABLE_D);
    static const int KS[] = {1, 2, 5, 10};
    printf("        max |M_k PE[pos] - PE[pos + k]|                 for scale:\n");
    printf("   k     pos 0    pos 20    pos 50    every pos    max |PE[pos] - PE[pos + k]|\n");
    for (size_t t = 0; t < sizeof KS / sizeof KS[0]; t++) {
        int k = KS[t];
        float unmoved =
            mat_max_abs_diff(mat_rows(pe, 0, pe.rows - k), mat_rows(pe, k, pe.rows - k));
        positional_shift_matrix(m, k);
        printf("  %2d   %7.1e   %7.1e   %7.1e    %9.1e    %27.2f\n", k,
               (double)shift_error(pe, m, k, 0, 1), (double)shift_error(pe, m, k, 20, 1),
               (double)shift_error(pe, m, k, 50, 1), (double)shift_error(pe, m, k, 0, pe.rows - k),
               (double)unmoved);
    }
    printf("\nOne matrix per k works at every position (the errors are float32\n"
           "rounding; at pos 0 it is exact, M_k PE[0] just picks out sin and cos of\n"
           "w_i k): \"k steps further on\" is one linear map wherever it starts, which\n"
           "is why the paper expected relative positions to be easy to learn.\n\n");
    mat_free(&m);
}

/* -------------------------------------- 4. near positions have near rows */

static void show_dot_products(Mat dots)
{
    printf("--- PE PE^T: nearby positions are alike\n\n");
    enum { SHIFTS = 7 };
    static const char *const ROWS[] = {"pos 10", "pos 40"};
    static const char *const COLS[SHIFTS] = {"k=0", "k=1", "k=2", "k=3", "k=4", "k=5", "k=6"};
    Mat near = mat_new(2, SHIFTS);   /* (2, SHIFTS) */
    for (int k = 0; k < SHIFTS; k++) {
        MAT_AT(near, 0, k) = MAT_AT(dots, 10, 10 + k);
        MAT_AT(near, 1, k) = MAT_AT(dots, 40, 40 + k);
    }
    mat_show("PE[pos] . PE[pos + k]", near, ROWS, COLS, 2);
    float far = MAT_AT(dots, 0, 0);
    for (int j = 0; j < dots.cols; j++)
        if (MAT_AT(dots, 0, j) < far) far = MAT_AT(dots, 0, j);
    printf("Every row has length^2 D/2 = %d (sin^2 + cos^2 = 1 per pair). The dot\n"
           "product falls as positions move apart (smallest in row 0: %.2f) and is\n"
           "the same at pos 10 and pos 40: it is sum_i cos(w_i k), a function of the\n"
           "distance k alone.\n\n", TABLE_D / 2, (double)far);
    mat_free(&near);
}

/* ------------------------------------------------------------- figures */

enum { CURVE_N = 100, CURVES = 4 };

static void draw_curves(const PlotOpts *o)
{
    /* A sine and its cosine partner, then two slower sines. */
    static const int DIMS[CURVES] = {16, 17, 32, 48};
    Mat pe = mat_new(CURVE_N, TABLE_D);   /* (N, D) */
    positional_encoding(pe);
    float x[CURVE_N], y[CURVES][CURVE_N];
    const float *ys[CURVES];
    char names[CURVES][64];
    const char *labels[CURVES];
    for (int pos = 0; pos < CURVE_N; pos++) x[pos] = (float)pos;
    for (int c = 0; c < CURVES; c++) {
        int dim = DIMS[c];
        for (int pos = 0; pos < CURVE_N; pos++) y[c][pos] = MAT_AT(pe, pos, dim);
        ys[c] = y[c];
        snprintf(names[c], sizeof names[c], "dim %d (%s, wavelength %.0f)", dim,
                 dim % 2 == 0 ? "sin" : "cos", TWO_PI / positional_frequency(dim / 2, TABLE_D));
        labels[c] = names[c];
    }
    Error err;
    plot_or_die(plot_lines(o, "pe_curves", "Four columns of PE (D = 128) along the positions", x,
                           ys, labels, CURVES, CURVE_N, "position", "PE[pos, dim]", 0, &err),
                &err);
    mat_free(&pe);
}

static void run_demo(const CommonOpts *opts)
{
    printf("Chapter 5: positional encoding\n\n");
    printf("Attention compares contents and nothing else. The sinusoidal encoding gives\n"
           "every position pos a vector PE[pos] that is added to the embedding there:\n"
           "  PE[pos, 2i] = sin(pos w_i),  PE[pos, 2i+1] = cos(pos w_i),"
           "  w_i = 1/10000^(2i/D)\n\n");
    show_small_table();
    show_permutation(opts->seed);

    Mat pe = mat_new(TABLE_N, TABLE_D);         /* (N, D) */
    Mat dots = mat_new(TABLE_N, TABLE_N);       /* (N, N) */
    positional_encoding(pe);
    show_rotation(pe);
    mat_mul(dots, 1.0f, pe, NO_TRANS, pe, TRANS, 0.0f);
    show_dot_products(dots);

    Error err;
    const PlotOpts *o = &opts->plot;
    plot_or_die(plot_heatmap(o, "pe_table", "Sinusoidal positional encoding, 64 positions x 128"
                             " dimensions", pe, NULL, NULL, "dimension", "position", &err), &err);
    draw_curves(o);
    plot_or_die(plot_heatmap(o, "pe_dot", "PE PE^T: dot products between positions (D = 128)",
                             dots, NULL, NULL, "position", "position", &err), &err);
    if (o->format == PLOT_PNG || o->format == PLOT_SVG) {
        const char *ext = o->format == PLOT_PNG ? "png" : "svg";
        printf("Figures: %s/pe_table.%s, %s/pe_curves.%s, %s/pe_dot.%s\n"
               "(each with its .dat and .gp beside it)\n", o->outdir, ext, o->outdir, ext,
               o->outdir, ext);
    }
    mat_free(&pe);
    mat_free(&dots);
}

/* ------------------------------------------------- with --positions, --dim */

typedef struct {
    long positions, dim;   /* table size; 0 when not given */
    const char *output;    /* output file, may be NULL */
} Table;

static void run_table(const Table *t, const CommonOpts *opts)
{
    Mat pe = mat_new((int)t->positions, (int)t->dim);   /* (N, D) */
    positional_encoding(pe);
    Error err;
    if (t->output && npy_save_mat(t->output, pe, &err) != 0) data_error_from(&err);
    printf("positional encoding: (%ld, %ld)%s%s\n", t->positions, t->dim,
           t->output ? " written to " : "", t->output ? t->output : "");
    if (opts->plot_given)
        plot_or_die(plot_heatmap(&opts->plot, "pe_table", "Sinusoidal positional encoding", pe,
                                 NULL, NULL, "dimension", "position", &err), &err);
    mat_free(&pe);
}

int main(int argc, char **argv)
{
    cli_init("ch05");
    CommonOpts opts;
    common_opts_init(&opts, "out/ch05");
    Table t = {0};

    enum { OPT_POSITIONS = 1, OPT_DIM, OPT_OUTPUT };
    static const struct option longopts[] = {
        {"positions", required_argument, NULL, OPT_POSITIONS},
        {"dim", required_argument, NULL, OPT_DIM},
        {"output", required_argument, NULL, OPT_OUTPUT},
        COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_next_option(argc, argv, longopts, NULL, &opts, USAGE)) != -1) {
        switch (c) {
        case OPT_POSITIONS: t.positions = parse_long("--positions", optarg, 1, MAX_SIDE); break;
        case OPT_DIM: t.dim = parse_long("--dim", optarg, 1, MAX_SIDE); break;
        case OPT_OUTPUT: t.output = optarg; break;
        }
    }

    int given = (t.positions != 0) + (t.dim != 0);
    if (given == 0 && t.output) usage_error("--output needs --positions and --dim");
    if (given == 0) {
        cli_check_outdir(&opts.plot);
        run_demo(&opts);
        return 0;
    }
    if (given < 2)
        usage_error("%s: --positions and --dim go together", t.dim ? "--positions" : "--dim");
    if ((long long)t.positions * t.dim > MAX_NUMBERS)
        usage_error("--positions %ld --dim %ld: the table would hold %lld numbers, more than "
                    "the limit of %lld (200 MB of float32)", t.positions, t.dim,
                    (long long)t.positions * t.dim, MAX_NUMBERS);
    if (opts.plot_given && opts.plot.format != PLOT_NONE &&
        (t.positions > MAX_PLOT_SIDE || t.dim > MAX_PLOT_SIDE))
        usage_error("--plot: a (%ld, %ld) table is too large to draw (at most %d positions and "
                    "%d dimensions)", t.positions, t.dim, MAX_PLOT_SIDE, MAX_PLOT_SIDE);
    cli_check_output(t.output, "--output");   /* before any work: see cli.h */
    if (opts.plot_given) cli_check_outdir(&opts.plot);
    run_table(&t, &opts);
    return 0;
}
