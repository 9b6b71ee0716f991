/*
 * test_plot.c - tests of plot.c: the .dat and .gp files of each kind of
 * figure, the pictures gnuplot makes from them (a real PNG, an SVG), the
 * output directory (created when missing, an error when it is a file), and
 * the two ways gnuplot can let us down: missing from the PATH (the files are
 * still written, and the call succeeds) or failing (an Error naming the
 * script and gnuplot's exit status).
 *
 * Every test writes into its own fresh directory under /tmp. Tests that need
 * a real gnuplot print a note and pass when it is not installed.
 * Introduced with chapter 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "suites.h"
#include "testutil.h"
#include "mat.h"
#include "plot.h"

/* ---------------------------------------------------------------- helpers */

typedef struct {
    char dir[64];     /* a fresh directory, removed at the end of the test */
    char *saved_path; /* PATH before a test changed it, or NULL */
} Scratch;

static void scratch_begin(Scratch *s)
{
    strcpy(s->dir, "/tmp/test_plot_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s->dir));
    s->saved_path = NULL;
}

static void scratch_end(Scratch *s)
{
    if (s->saved_path) {
        setenv("PATH", s->saved_path, 1);
        free(s->saved_path);
        s->saved_path = NULL;
    }
    remove_tree(s->dir);
}

/* Replaces PATH for the rest of the test (scratch_end puts it back). */
static void scratch_set_path(Scratch *s, const char *path)
{
    if (!s->saved_path) s->saved_path = xstrdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", path, 1);
}

static char *in_dir(const char *dir, const char *name)
{
    return path_join(dir, name);
}

static int exists(const char *dir, const char *name)
{
    char *p = in_dir(dir, name);
    int ok = file_exists(p);
    free(p);
    return ok;
}

/* The whole file as a string (free it), or NULL if it cannot be read. */
static char *slurp(const char *dir, const char *name)
{
    char *p = in_dir(dir, name);
    char *text = read_file(p, NULL);
    free(p);
    return text;
}

static int file_has(const char *dir, const char *name, const char *needle)
{
    char *text = slurp(dir, name);
    int found = text && strstr(text, needle) != NULL;
    free(text);
    return found;
}

static int file_starts_with(const char *dir, const char *name, const char *magic, size_t n)
{
    char *text = slurp(dir, name);
    int ok = text && memcmp(text, magic, n) == 0;
    free(text);
    return ok;
}

static const char PNG_MAGIC[] = "\x89PNG\r\n\x1a\n";

/* 1 if gnuplot is installed; otherwise prints why the test stops early. */
static int have_gnuplot_or_note(const char *test)
{
    if (plot_have_gnuplot()) return 1;
    printf("note: gnuplot is not installed; %s checks only the .dat and .gp files\n", test);
    return 0;
}

/* A 4x5 attention map with a causal-looking blocked corner. */
static Mat sample_weights(void)
{
    const float v[] = {0.70f, 0.30f, NAN, NAN, NAN,
                       0.20f, 0.50f, 0.30f, NAN, NAN,
                       0.10f, 0.20f, 0.30f, 0.40f, -INFINITY,
                       0.05f, 0.15f, 0.25f, 0.35f, 0.20f};
    return mat_from(4, 5, v);
}

static const char *const QUERIES[] = {"the", "cat", "sat", "<pad>"};
static const char *const KEYS[] = {"<bos>", "the", "cat", "sat", "<pad>"};

/* ------------------------------------------------------------------ tests */

START_TEST(test_format_parse)
{
    PlotFormat f = PLOT_NONE;
    ck_assert_int_eq(plot_format_parse("png", &f), 0);
    ck_assert_int_eq(f, PLOT_PNG);
    ck_assert_int_eq(plot_format_parse("svg", &f), 0);
    ck_assert_int_eq(f, PLOT_SVG);
    ck_assert_int_eq(plot_format_parse("window", &f), 0);
    ck_assert_int_eq(f, PLOT_WINDOW);
    ck_assert_int_eq(plot_format_parse("none", &f), 0);
    ck_assert_int_eq(f, PLOT_NONE);
    ck_assert_int_eq(plot_format_parse("PNG", &f), -1);
    ck_assert_int_eq(plot_format_parse("", &f), -1);
}
END_TEST

START_TEST(test_heatmap_png)
{
    Scratch s;
    scratch_begin(&s);
    Mat m = sample_weights();
    PlotOpts o = {PLOT_PNG, s.dir};
    Error err = {""};
    int rc = plot_heatmap(&o, "attn", "attention weights", m, QUERIES, KEYS, "keys", "queries",
                          &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    /* The numbers: one "row col value" line per cell; blocked cells kept. */
    ck_assert(file_has(s.dir, "attn.dat", "\n0 0 0.7\n"));
    ck_assert(file_has(s.dir, "attn.dat", "\n0 2 NaN\n"));
    ck_assert(file_has(s.dir, "attn.dat", "\n2 4 -inf\n"));
    ck_assert(file_has(s.dir, "attn.dat", "\n3 4 0.2\n"));
    /* The script: reads the .dat by its bare name, labels cells with tokens. */
    ck_assert(file_has(s.dir, "attn.gp", "plot 'attn.dat'"));
    ck_assert(file_has(s.dir, "attn.gp", "set output 'attn.png'"));
    ck_assert(file_has(s.dir, "attn.gp", "'<pad>' 3"));
    ck_assert(file_has(s.dir, "attn.gp", "'<bos>' 0"));
    ck_assert(file_has(s.dir, "attn.gp", "'the' 1"));
    ck_assert(file_has(s.dir, "attn.gp", "set title 'attention weights'"));
    ck_assert(file_has(s.dir, "attn.gp", "set yrange [3.5:-0.5]"));
    ck_assert(file_has(s.dir, "attn.gp", "blocked"));
    if (have_gnuplot_or_note("test_heatmap_png"))
        ck_assert(file_starts_with(s.dir, "attn.png", PNG_MAGIC, 8));
    mat_free(&m);
    scratch_end(&s);
}
END_TEST

START_TEST(test_heatmap_svg)
{
    Scratch s;
    scratch_begin(&s);
    Mat m = sample_weights();
    PlotOpts o = {PLOT_SVG, s.dir};
    Error err = {""};
    int rc = plot_heatmap(&o, "attn", NULL, m, NULL, NULL, NULL, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(file_has(s.dir, "attn.gp", "set output 'attn.svg'"));
    ck_assert(file_has(s.dir, "attn.gp", "'0' 0"));   /* no labels: indices */
    if (have_gnuplot_or_note("test_heatmap_svg")) {
        ck_assert(file_has(s.dir, "attn.svg", "<svg"));
        ck_assert(!exists(s.dir, "attn.png"));
    }
    mat_free(&m);
    scratch_end(&s);
}
END_TEST

START_TEST(test_heatmap_escapes_labels)
{
    Scratch s;
    scratch_begin(&s);
    Mat m = mat_new(2, 3);
    mat_fill(m, 0.5f);
    const char *rows[] = {"it's", "a\\b"};
    const char *cols[] = {"x\ny", "^_{x}@&~", "\"q\""};
    PlotOpts o = {PLOT_PNG, s.dir};
    Error err = {""};
    int rc = plot_heatmap(&o, "odd", "it's a \"title\"", m, rows, cols, NULL, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(file_has(s.dir, "odd.gp", "'it''s' 0"));
    ck_assert(file_has(s.dir, "odd.gp", "'a\\b' 1"));
    ck_assert(file_has(s.dir, "odd.gp", "'x\\ny' 0"));   /* a visible \n, not a line break */
    ck_assert(file_has(s.dir, "odd.gp", "'^_{x}@&~' 1"));
    ck_assert(file_has(s.dir, "odd.gp", "'\"q\"' 2"));
    ck_assert(file_has(s.dir, "odd.gp", "noenhanced"));
    ck_assert(file_has(s.dir, "odd.gp", "set title 'it''s a \"title\"'"));
    if (have_gnuplot_or_note("test_heatmap_escapes_labels"))
        ck_assert(file_starts_with(s.dir, "odd.png", PNG_MAGIC, 8));
    mat_free(&m);
    scratch_end(&s);
}
END_TEST

START_TEST(test_heatmap_of_a_view)
{
    Scratch s;
    scratch_begin(&s);
    Mat big = mat_new(4, 6);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) MAT_AT(big, i, j) = (float)(10 * i + j);
    PlotOpts o = {PLOT_PNG, s.dir};
    Error err = {""};
    int rc = plot_heatmap(&o, "head1", NULL, mat_block(big, 1, 3, 2, 2), NULL, NULL, NULL, NULL,
                          &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(file_has(s.dir, "head1.dat", "\n0 0 13\n0 1 14\n\n1 0 23\n1 1 24\n"));
    /* Values outside [0, 1]: the colour range follows the data. */
    ck_assert(file_has(s.dir, "head1.gp", "cbmin = 13\ncbmax = 24\n"));
    mat_free(&big);
    scratch_end(&s);
}
END_TEST

START_TEST(test_none_writes_nothing)
{
    Scratch s;
    scratch_begin(&s);
    char *dir = in_dir(s.dir, "never");
    Mat m = sample_weights();
    PlotOpts o = {PLOT_NONE, dir};
    Error err = {""};
    const float *ys[] = {m.data};
    ck_assert_int_eq(plot_heatmap(&o, "a", "t", m, NULL, NULL, NULL, NULL, &err), 0);
    ck_assert_int_eq(plot_heatmap_grid(&o, "b", "t", &m, NULL, 1, 1, NULL, NULL, NULL, NULL, &err),
                     0);
    ck_assert_int_eq(plot_lines(&o, "c", "t", NULL, ys, NULL, 1, 5, NULL, NULL, 0, &err), 0);
    ck_assert(!exists(s.dir, "never"));
    free(dir);
    mat_free(&m);
    scratch_end(&s);
}
END_TEST

START_TEST(test_grid)
{
    Scratch s;
    scratch_begin(&s);
    Mat maps[6];
    const char *titles[6] = {"layer 0, head 0", "layer 0, head 1", "layer 0, head 2",
                             "layer 1, head 0", "layer 1, head 1", "layer 1, head 2"};
    for (int p = 0; p < 6; p++) {
        maps[p] = sample_weights();
        MAT_AT(maps[p], 3, 0) = (float)p;   /* panel 5 reaches 5: a shared range [0, 5] */
    }
    PlotOpts o = {PLOT_PNG, s.dir};
    Error err = {""};
    int rc = plot_heatmap_grid(&o, "heads", "attention by layer and head", maps, titles, 2, 3,
                               QUERIES, KEYS, "keys", "queries", &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(file_has(s.dir, "heads.dat", "# panel 5 (index 5): 'layer 1, head 2'\n"));
    ck_assert(file_has(s.dir, "heads.dat", "\n3 0 5\n"));
    ck_assert(file_has(s.dir, "heads.gp", "set multiplot layout 2,3"));
    ck_assert(file_has(s.dir, "heads.gp", "'layer 1, head 2'"));
    ck_assert(file_has(s.dir, "heads.gp", "index p"));
    ck_assert(file_has(s.dir, "heads.gp", "cbmin = 0\ncbmax = 5\n"));
    ck_assert(file_has(s.dir, "heads.gp", "'<pad>' 4"));
    if (have_gnuplot_or_note("test_grid"))
        ck_assert(file_starts_with(s.dir, "heads.png", PNG_MAGIC, 8));
    for (int p = 0; p < 6; p++) mat_free(&maps[p]);
    scratch_end(&s);
}
END_TEST

START_TEST(test_grid_shapes_must_match)
{
    Scratch s;
    scratch_begin(&s);
    Mat maps[2] = {mat_new(2, 3), mat_new(3, 2)};
    PlotOpts o = {PLOT_PNG, s.dir};
    Error err = {""};
    int rc = plot_heatmap_grid(&o, "bad", NULL, maps, NULL, 1, 2, NULL, NULL, NULL, NULL, &err);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strncmp(err.msg, s.dir, strlen(s.dir)) == 0, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "panel 1 is (3, 2)") != NULL, "%s", err.msg);
    mat_free(&maps[0]);
    mat_free(&maps[1]);
    scratch_end(&s);
}
END_TEST

START_TEST(test_lines)
{
    Scratch s;
    scratch_begin(&s);
    float x[50], train[50], val[50];
    for (int i = 0; i < 50; i++) {
        x[i] = (float)(10 * (i + 1));
        train[i] = 3.0f * expf(-i / 10.0f) + 0.5f;
        val[i] = 3.2f * expf(-i / 12.0f) + 0.7f;
    }
    val[7] = NAN;   /* a missing point */
    const float *ys[] = {train, val};
    const char *labels[] = {"train", "validation"};
    PlotOpts o = {PLOT_PNG, s.dir};
    Error err = {""};
    int rc = plot_lines(&o, "loss", "loss while training", x, ys, labels, 2, 50, "step", "loss",
                        PLOT_LOGY, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(file_has(s.dir, "loss.dat", "# column 1: x ('step'); column 2: 'train'; "
                                          "column 3: 'validation'\n"));
    ck_assert(file_has(s.dir, "loss.dat", "\n10 3.5 3.9\n"));
    ck_assert(file_has(s.dir, "loss.dat", " NaN\n"));
    ck_assert(file_has(s.dir, "loss.gp", "set logscale y\n"));
    ck_assert(!file_has(s.dir, "loss.gp", "set logscale x"));
    ck_assert(file_has(s.dir, "loss.gp", "using 1:3 with linespoints"));
    ck_assert(file_has(s.dir, "loss.gp", "title 'validation'"));
    ck_assert(file_has(s.dir, "loss.gp", "set xlabel 'step'"));
    if (have_gnuplot_or_note("test_lines"))
        ck_assert(file_starts_with(s.dir, "loss.png", PNG_MAGIC, 8));
    scratch_end(&s);
}
END_TEST

START_TEST(test_lines_without_labels_or_x)
{
    Scratch s;
    scratch_begin(&s);
    const float a[] = {1, 2, 3}, b[] = {3, 2, 1};
    const float *ys[] = {a, b};
    PlotOpts o = {PLOT_PNG, s.dir};
    Error err = {""};
    int rc = plot_lines(&o, "two", NULL, NULL, ys, NULL, 2, 3, NULL, NULL, PLOT_LOGX | PLOT_LOGY,
                        &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(file_has(s.dir, "two.dat", "\n0 1 3\n1 2 2\n2 3 1\n"));
    ck_assert(file_has(s.dir, "two.gp", "title '0'"));
    ck_assert(file_has(s.dir, "two.gp", "title '1'"));
    ck_assert(file_has(s.dir, "two.gp", "set logscale x\n"));
    scratch_end(&s);
}
END_TEST

START_TEST(test_creates_outdir)
{
    Scratch s;
    scratch_begin(&s);
    char *dir = in_dir(s.dir, "a/b/c");
    Mat m = sample_weights();
    PlotOpts o = {PLOT_PNG, dir};
    Error err = {""};
    int rc = plot_heatmap(&o, "attn", NULL, m, NULL, NULL, NULL, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(exists(dir, "attn.dat"));
    ck_assert(exists(dir, "attn.gp"));
    free(dir);
    mat_free(&m);
    scratch_end(&s);
}
END_TEST

START_TEST(test_outdir_is_a_file)
{
    Scratch s;
    scratch_begin(&s);
    char *file = in_dir(s.dir, "plain");
    FILE *fp = fopen(file, "w");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);
    Mat m = sample_weights();
    PlotOpts o = {PLOT_PNG, file};
    Error err = {""};
    ck_assert_int_eq(plot_heatmap(&o, "attn", NULL, m, NULL, NULL, NULL, NULL, &err), -1);
    ck_assert_msg(strncmp(err.msg, file, strlen(file)) == 0, "%s", err.msg);
    free(file);
    mat_free(&m);
    scratch_end(&s);
}
END_TEST

START_TEST(test_bad_arguments)
{
    Scratch s;
    scratch_begin(&s);
    Mat m = sample_weights();
    Mat empty = {NULL, 0, 0, 0, 0};
    PlotOpts o = {PLOT_PNG, s.dir};
    Error err = {""};
    ck_assert_int_eq(plot_heatmap(&o, "a/b", NULL, m, NULL, NULL, NULL, NULL, &err), -1);
    ck_assert_msg(strncmp(err.msg, s.dir, strlen(s.dir)) == 0, "%s", err.msg);
    ck_assert_int_eq(plot_heatmap(&o, "e", NULL, empty, NULL, NULL, NULL, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "e.dat: nothing to plot") != NULL, "%s", err.msg);
    ck_assert_int_eq(plot_lines(&o, "l", NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, 0, &err), -1);
    ck_assert_msg(strncmp(err.msg, s.dir, strlen(s.dir)) == 0, "%s", err.msg);
    ck_assert(!exists(s.dir, "e.gp"));
    mat_free(&m);
    scratch_end(&s);
}
END_TEST

/* Runs fn(dir) with stderr going to a file in dir; returns what was
 * written there (free it). */
static char *with_stderr_captured(const char *dir, int (*fn)(const char *dir), int *rc)
{
    char *path = in_dir(dir, "stderr.txt");
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    ck_assert_ptr_nonnull(freopen(path, "w", stderr));
    *rc = fn(dir);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    clearerr(stderr);
    char *text = slurp(dir, "stderr.txt");
    remove(path);
    free(path);
    return text;
}

static int plot_sample_heatmap(const char *dir)
{
    Mat m = sample_weights();
    PlotOpts o = {PLOT_PNG, dir};
    Error err = {""};
    int rc = plot_heatmap(&o, "attn", NULL, m, QUERIES, KEYS, NULL, NULL, &err);
    if (rc != 0) fprintf(stdout, "unexpected error: %s\n", err.msg);
    mat_free(&m);
    return rc;
}

START_TEST(test_without_gnuplot)
{
    Scratch s;
    scratch_begin(&s);
    char *empty = in_dir(s.dir, "empty-bin");
    ck_assert_int_eq(mkdir(empty, 0700), 0);
    scratch_set_path(&s, empty);
    ck_assert_int_eq(plot_have_gnuplot(), 0);   /* the answer follows PATH */

    int rc;
    char *said = with_stderr_captured(s.dir, plot_sample_heatmap, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert(exists(s.dir, "attn.dat"));
    ck_assert(exists(s.dir, "attn.gp"));
    ck_assert(!exists(s.dir, "attn.png"));
    ck_assert_ptr_nonnull(said);
    char expected[512];
    snprintf(expected, sizeof expected,
             "gnuplot not found: wrote attn.dat and attn.gp in %s; install gnuplot "
             "(Debian: sudo apt-get install gnuplot-nox) and run: cd %s && gnuplot attn.gp\n",
             s.dir, s.dir);
    ck_assert_str_eq(said, expected);
    free(said);
    free(empty);
    scratch_end(&s);
}
END_TEST

static int plot_quoted_name(const char *dir)
{
    Mat m = sample_weights();
    PlotOpts o = {PLOT_PNG, dir};
    Error err = {""};
    int rc = plot_heatmap(&o, "it's", NULL, m, NULL, NULL, NULL, NULL, &err);
    if (rc != 0) fprintf(stdout, "unexpected error: %s\n", err.msg);
    mat_free(&m);
    return rc;
}

START_TEST(test_without_gnuplot_quotes_the_command)
{
    /* The command to paste must survive a space in the directory and a
     * quote in the name. */
    Scratch s;
    scratch_begin(&s);
    scratch_set_path(&s, s.dir);
    char *dir = in_dir(s.dir, "my figures");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    int rc;
    char *said = with_stderr_captured(dir, plot_quoted_name, &rc);
    ck_assert_int_eq(rc, 0);
    char expected[512];
    snprintf(expected, sizeof expected, "run: cd '%s' && gnuplot 'it'\\''s.gp'\n", dir);
    ck_assert_ptr_nonnull(said);
    ck_assert_msg(strstr(said, expected) != NULL, "%s", said);
    free(said);
    free(dir);
    scratch_end(&s);
}
END_TEST

START_TEST(test_name_with_a_quote)
{
    Scratch s;
    scratch_begin(&s);
    ck_assert_int_eq(plot_quoted_name(s.dir), 0);
    ck_assert(file_has(s.dir, "it's.gp", "set output 'it''s.png'\n"));
    ck_assert(file_has(s.dir, "it's.gp", "plot 'it''s.dat' using"));
    if (have_gnuplot_or_note("test_name_with_a_quote"))
        ck_assert(file_starts_with(s.dir, "it's.png", PNG_MAGIC, 8));
    scratch_end(&s);
}
END_TEST

START_TEST(test_gnuplot_failing)
{
    /* A stand-in "gnuplot" that starts writing the picture, then fails. */
    Scratch s;
    scratch_begin(&s);
    char *bin = in_dir(s.dir, "bin");
    ck_assert_int_eq(mkdir(bin, 0700), 0);
    char *fake = in_dir(bin, "gnuplot");
    FILE *fp = fopen(fake, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("#!/bin/sh\nprintf 'half' > attn.png\nexit 3\n", fp);
    fclose(fp);
    ck_assert_int_eq(chmod(fake, 0700), 0);
    scratch_set_path(&s, bin);
    ck_assert_int_eq(plot_have_gnuplot(), 1);

    Mat m = sample_weights();
    PlotOpts o = {PLOT_PNG, s.dir};
    Error err = {""};
    ck_assert_int_eq(plot_heatmap(&o, "attn", NULL, m, NULL, NULL, NULL, NULL, &err), -1);
    char *gp = in_dir(s.dir, "attn.gp");
    ck_assert_msg(strncmp(err.msg, gp, strlen(gp)) == 0, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "exit status 3") != NULL, "%s", err.msg);
    ck_assert(!exists(s.dir, "attn.png"));   /* no half-drawn picture left */
    ck_assert(exists(s.dir, "attn.gp"));      /* the script stays, to be run by hand */
    free(gp);
    free(fake);
    free(bin);
    mat_free(&m);
    scratch_end(&s);
}
END_TEST

static int plot_window_heatmap(const char *dir)
{
    Mat m = sample_weights();
    PlotOpts o = {PLOT_WINDOW, dir};
    Error err = {""};
    int rc = plot_heatmap(&o, "live", NULL, m, NULL, NULL, NULL, NULL, &err);
    if (rc != 0) fprintf(stdout, "unexpected error: %s\n", err.msg);
    mat_free(&m);
    return rc;
}

START_TEST(test_window_script)
{
    /* Without gnuplot on the PATH nothing is launched; the script is what a
     * window would run: no output file, and a pause until it is closed. */
    Scratch s;
    scratch_begin(&s);
    scratch_set_path(&s, s.dir);
    int rc;
    char *said = with_stderr_captured(s.dir, plot_window_heatmap, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(said);
    ck_assert_ptr_nonnull(strstr(said, "run: cd "));
    ck_assert_ptr_nonnull(strstr(said, " && gnuplot live.gp\n"));
    ck_assert(file_has(s.dir, "live.gp", "pause mouse close\n"));
    ck_assert(!file_has(s.dir, "live.gp", "set output"));
    ck_assert(!exists(s.dir, "live.png"));
    free(said);
    scratch_end(&s);
}
END_TEST

Suite *plot_suite(void)
{
    Suite *s = suite_create("plot");
    TCase *files = tcase_create("files");
    tcase_set_timeout(files, 60);   /* gnuplot takes a moment, more under sanitizers */
    tcase_add_test(files, test_format_parse);
    tcase_add_test(files, test_heatmap_png);
    tcase_add_test(files, test_heatmap_svg);
    tcase_add_test(files, test_heatmap_escapes_labels);
    tcase_add_test(files, test_heatmap_of_a_view);
    tcase_add_test(files, test_none_writes_nothing);
    tcase_add_test(files, test_grid);
    tcase_add_test(files, test_grid_shapes_must_match);
    tcase_add_test(files, test_lines);
    tcase_add_test(files, test_lines_without_labels_or_x);
    suite_add_tcase(s, files);

    TCase *trouble = tcase_create("trouble");
    tcase_set_timeout(trouble, 60);
    tcase_add_test(trouble, test_creates_outdir);
    tcase_add_test(trouble, test_outdir_is_a_file);
    tcase_add_test(trouble, test_bad_arguments);
    tcase_add_test(trouble, test_without_gnuplot);
    tcase_add_test(trouble, test_without_gnuplot_quotes_the_command);
    tcase_add_test(trouble, test_name_with_a_quote);
    tcase_add_test(trouble, test_gnuplot_failing);
    tcase_add_test(trouble, test_window_script);
    suite_add_tcase(s, trouble);
    return s;
}
