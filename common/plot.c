/*
 * plot.c - figures through gnuplot: one heatmap, a grid of heatmaps, and line
 * plots. See plot.h.
 *
 * Every figure NAME is written as two files that stay on disk, NAME.dat (the
 * numbers) and NAME.gp (a gnuplot script that reads NAME.dat by its bare
 * name), and then gnuplot runs the script inside the output directory to make
 * NAME.png or NAME.svg. Keeping the script means a figure can be restyled by
 * editing it and running `gnuplot NAME.gp` again, without the C program.
 *
 * Assumes: POSIX (fork, exec, waitpid) and, optionally, gnuplot 5 on the
 * PATH. Introduced with chapter 1.
 */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

/* ------------------------------------------------------------ small helpers */

int plot_format_parse(const char *s, PlotFormat *f)
{
    static const struct { const char *name; PlotFormat format; } names[] = {
        {"png", PLOT_PNG}, {"svg", PLOT_SVG}, {"window", PLOT_WINDOW}, {"none", PLOT_NONE},
    };
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *f = names[i].format;
            return 0;
        }
    }
    return -1;
}

static int clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static double clamp_double(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Width on screen of a UTF-8 string, counted in characters rather than bytes:
 * a SentencePiece token like "\xe2\x96\x81the" is 4 wide, not 6. */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

/* labels[i], or the index written out when there are no labels. */
static const char *label_at(const char *const *labels, int i, char buf[16])
{
    if (labels && labels[i]) return labels[i];
    snprintf(buf, 16, "%d", i);
    return buf;
}

static int widest_label(const char *const *labels, int n)
{
    int w = 0;
    char buf[16];
    for (int i = 0; i < n; i++) {
        int k = text_width(label_at(labels, i, buf));
        if (k > w) w = k;
    }
    return w;
}

/* Writes s as a gnuplot single-quoted string. Inside single quotes gnuplot
 * takes a backslash literally, so the only escape is '' for a quote; control
 * characters (a "\n" token, say) become a visible \n, \t or \xHH so that one
 * label can never break the script's line. Enhanced-text markup (^ _ { } @ &
 * ~) is switched off for the whole figure with `noenhanced`. */
static void put_string(FILE *fp, const char *s)
{
    fputc('\'', fp);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'') fputs("''", fp);
        else if (c == '\n') fputs("\\n", fp);
        else if (c == '\t') fputs("\\t", fp);
        else if (c < 0x20 || c == 0x7F) fprintf(fp, "\\x%02X", c);
        else fputc(c, fp);
    }
    fputc('\'', fp);
}

/* NAME.ext, a new string. */
static char *with_extension(const char *name, const char *ext)
{
    char *file = xmalloc(strlen(name) + strlen(ext) + 1, 1, "a file name");
    strcpy(file, name);
    strcat(file, ext);
    return file;
}

/* A file of the figure, NAME.ext, as a gnuplot string. */
static void put_file_name(FILE *fp, const char *name, const char *ext)
{
    char *file = with_extension(name, ext);
    put_string(fp, file);
    free(file);
}

/* One number of a .dat file. gnuplot reads "NaN", "inf" and "-inf" back. */
static void put_value(FILE *fp, float v)
{
    if (isnan(v)) fputs("NaN", fp);
    else if (isinf(v)) fputs(v > 0 ? "inf" : "-inf", fp);
    else fprintf(fp, "%.6g", (double)v);
}

/* ------------------------------------------------ figures and their files */

typedef struct {
    const PlotOpts *o;
    const char *dir;    /* the output directory ("." when none is given) */
    const char *name;   /* NAME */
    char *dat;          /* dir/NAME.dat */
    char *gp;           /* dir/NAME.gp */
    char *picture;      /* dir/NAME.png or .svg; NULL for a window */
    int width, height;  /* canvas size in pixels */
} Figure;

static const char *picture_extension(PlotFormat f)
{
    return f == PLOT_SVG ? ".svg" : f == PLOT_PNG ? ".png" : NULL;
}

/* dir/NAME.ext, a new string. */
static char *figure_path(const char *dir, const char *name, const char *ext)
{
    char *file = with_extension(name, ext);
    char *path = path_join(dir, file);
    free(file);
    return path;
}

static void figure_free(Figure *f)
{
    free(f->dat);
    free(f->gp);
    free(f->picture);
    f->dat = f->gp = f->picture = NULL;
}

/* A name becomes file names inside the output directory, so it may not
 * hold a '/', nor control characters that would break a script's line. */
static int plain_file_name(const char *name)
{
    if (!name || !name[0]) return 0;
    for (const char *c = name; *c; c++)
        if (*c == '/' || (unsigned char)*c < 0x20 || *c == 0x7F) return 0;
    return 1;
}

/* Checks the name and creates the output directory. */
static int figure_begin(Figure *f, const PlotOpts *o, const char *name, Error *err)
{
    f->o = o;
    f->dir = o->outdir && o->outdir[0] ? o->outdir : ".";
    f->name = name;
    f->dat = f->gp = f->picture = NULL;
    f->width = f->height = 0;
    if (!plain_file_name(name)) {
        return error_set(err, "%s/%s: a figure name must be a plain file name "
                         "(no '/', no control characters)", f->dir, name ? name : "(null)");
    }
    if (make_dirs(f->dir, err) != 0) return -1;
    f->dat = figure_path(f->dir, name, ".dat");
    f->gp = figure_path(f->dir, name, ".gp");
    const char *ext = picture_extension(o->format);
    if (ext) f->picture = figure_path(f->dir, name, ext);
    return 0;
}

/* Both files are written through an AtomicFile, so an interrupted run leaves
 * either the old file or the new one, never half of one. */
typedef void (*Writer)(FILE *fp, const Figure *f, const void *what);

static int write_file(const char *path, Writer write, const Figure *f, const void *what,
                      Error *err)
{
    AtomicFile af;
    if (atomic_open(&af, path, err) != 0) return -1;
    write(af.fp, f, what);
    return atomic_commit(&af, err);
}

/* The first lines of every script: where the picture goes. For a file the
 * script prefers the cairo terminals (antialiased) and falls back to the
 * plain png one, so the same .gp works with any gnuplot build. */
static void put_terminal(FILE *fp, const Figure *f, const char *kind)
{
    fprintf(fp, "# %s.gp - %s, drawn from %s.dat.\n", f->name, kind, f->name);
    fprintf(fp, "# Written by common/plot.c; re-render with: gnuplot %s.gp\n\n", f->name);
    fputs("set encoding utf8\n", fp);
    switch (f->o->format) {
    case PLOT_SVG:
        fprintf(fp, "set terminal svg size %d,%d font 'Sans,10' noenhanced background '#ffffff'\n",
                f->width, f->height);
        fputs("set output ", fp);
        put_file_name(fp, f->name, ".svg");
        fputc('\n', fp);
        break;
    case PLOT_WINDOW:
        fputs("# An on-screen window: the default interactive terminal, sized like the\n"
              "# picture.\n", fp);
        fprintf(fp, "if (GPVAL_TERM eq 'qt' || GPVAL_TERM eq 'wxt' || GPVAL_TERM eq 'x11' \\\n"
                    "    || GPVAL_TERM eq 'aqua' || GPVAL_TERM eq 'windows') {\n"
                    "    eval sprintf('set terminal %%s size %d,%d', GPVAL_TERM)\n"
                    "} else {\n"
                    "    print 'This gnuplot has no window terminal (qt, wxt, x11); "
                    "draw a png or svg file instead.'\n"
                    "    exit\n"
                    "}\n",
                f->width, f->height);
        fputs("set termoption noenhanced\n", fp);
        break;
    default:
        fprintf(fp, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                    "    set terminal pngcairo size %d,%d font 'Sans,10' noenhanced\n"
                    "} else {\n"
                    "    set terminal png size %d,%d font 'Sans,10' noenhanced\n"
                    "}\n",
                f->width, f->height, f->width, f->height);
        fputs("set output ", fp);
        put_file_name(fp, f->name, ".png");
        fputc('\n', fp);
        break;
    }
    fputc('\n', fp);
}

/* The last line: a window stays open until it is closed with the mouse. */
static void put_ending(FILE *fp, const Figure *f)
{
    if (f->o->format == PLOT_WINDOW) fputs("pause mouse close\n", fp);
    else fputs("unset output\n", fp);
}

/* ------------------------------------------------------- running gnuplot */

int plot_have_gnuplot(void)
{
    /* Cached per value of PATH: searching it is cheap but not free, and a
     * program (or a test) that changes PATH gets a fresh answer. */
    static char *checked_path;
    static int found;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    if (checked_path && strcmp(checked_path, path) == 0) return found;

    found = 0;
    for (const char *p = path; !found; p++) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char *dir = xmalloc(n + 2, 1, "a PATH entry");
        memcpy(dir, p, n);
        dir[n] = '\0';
        char *exe = path_join(n ? dir : ".", "gnuplot");   /* "" means "." */
        struct stat st;
        found = stat(exe, &st) == 0 && S_ISREG(st.st_mode) && access(exe, X_OK) == 0;
        free(exe);
        free(dir);
        if (!end) break;
        p = end;
    }
    free(checked_path);
    checked_path = xstrdup(path);
    return found;
}

/* In the child: run `gnuplot NAME.gp` from inside the output directory, so
 * the script finds NAME.dat by its bare name. No shell is involved, so the
 * directory name needs no quoting. */
static _Noreturn void exec_gnuplot(const Figure *f)
{
    char *script = xstrdup(strrchr(f->gp, '/') + 1);   /* NAME.gp */
    if (chdir(f->dir) != 0) {
        fprintf(stderr, "%s: cannot enter directory: %s\n", f->dir, strerror(errno));
        _exit(126);
    }
    char *argv[] = {"gnuplot", script, NULL};
    execvp("gnuplot", argv);
    fprintf(stderr, "gnuplot: cannot run: %s\n", strerror(errno));
    _exit(127);
}

/* Runs gnuplot and waits for it. A failed run removes the picture it may
 * have started, so that no half-drawn file is left behind. */
static int render_file(const Figure *f, Error *err)
{
    fflush(NULL);   /* or the child would inherit, and repeat, buffered output */
    pid_t pid = fork();
    if (pid < 0) return error_set(err, "%s: cannot start gnuplot: %s", f->gp, strerror(errno));
    if (pid == 0) exec_gnuplot(f);

    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return error_set(err, "%s: waiting for gnuplot: %s", f->gp, strerror(errno));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    remove(f->picture);
    if (WIFEXITED(status))
        return error_set(err, "%s: gnuplot failed with exit status %d", f->gp,
                         WEXITSTATUS(status));
    return error_set(err, "%s: gnuplot was killed by signal %d", f->gp, WTERMSIG(status));
}

/* A window must not make the program wait until it is closed, so gnuplot is
 * started detached: a child starts the grandchild that runs gnuplot and
 * exits at once; the grandchild, now an orphan, is collected by the system. */
static int render_window(const Figure *f, Error *err)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return error_set(err, "%s: cannot start gnuplot: %s", f->gp, strerror(errno));
    if (pid == 0) {
        if (fork() != 0) _exit(0);
        setsid();   /* its own session: Ctrl-C in our terminal leaves the window */
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, STDIN_FILENO);
        exec_gnuplot(f);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return 0;
}

/* A word of a shell command the reader may paste: as it is when it holds
 * only harmless characters, else in single quotes ('\'' for a quote). */
static void put_shell_word(FILE *fp, const char *s)
{
    static const char harmless[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789/._-+,:@%=";
    if (s[0] && strspn(s, harmless) == strlen(s)) {
        fputs(s, fp);
        return;
    }
    fputc('\'', fp);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", fp);
        else fputc(*s, fp);
    }
    fputc('\'', fp);
}

/* Without gnuplot the figure is not lost: its files are written, and this
 * says how to draw them once gnuplot is installed. */
static void say_gnuplot_missing(const Figure *f)
{
    fprintf(stderr, "gnuplot not found: wrote %s.dat and %s.gp in %s; install gnuplot "
                    "(Debian: sudo apt-get install gnuplot-nox) and run: cd ",
            f->name, f->name, f->dir);
    put_shell_word(stderr, f->dir);
    fputs(" && gnuplot ", stderr);
    put_shell_word(stderr, strrchr(f->gp, '/') + 1);
    fputc('\n', stderr);
}

static int render(const Figure *f, Error *err)
{
    if (!plot_have_gnuplot()) {
        say_gnuplot_missing(f);
        return 0;
    }
    return f->o->format == PLOT_WINDOW ? render_window(f, err) : render_file(f, err);
}

/* ----------------------------------------------------------------- heatmaps */

/* What a heatmap figure shows: one panel, or a grid of them sharing labels
 * and a colour range. Cells that are not finite numbers (NaN, or -inf from a
 * masked score) are "blocked": drawn grey with a cross, never as a colour. */
typedef struct {
    const Mat *maps;
    const char *const *titles;   /* one per panel (grids only) */
    int npanels, grid_rows, grid_cols;
    const char *const *row_labels, *const *col_labels;
    const char *title, *xlabel, *ylabel;
    int rows, cols;              /* shape of every map */
    double lo, hi;               /* colour range */
    int any_blocked;
    /* layout, in pixels */
    double cell;                 /* side of one cell */
    int label_step;              /* label every label_step-th row and column */
    int rotate_x;                /* x tic labels slanted to fit */
    int show_values;             /* print each cell's value */
    int left, right, top, bottom;   /* margins around the map(s) */
    int gap_x, gap_y;               /* between the panels of a grid */
} Heatmaps;

/* The colour range: [0, 1] for weights (all finite values inside it),
 * otherwise the smallest and largest finite value. */
static void colour_range(Heatmaps *h)
{
    double lo = INFINITY, hi = -INFINITY;
    h->any_blocked = 0;
    for (int p = 0; p < h->npanels; p++) {
        Mat m = h->maps[p];
        for (int i = 0; i < m.rows; i++) {
            for (int j = 0; j < m.cols; j++) {
                float v = MAT_AT(m, i, j);
                if (!isfinite(v)) {
                    h->any_blocked = 1;
                    continue;
                }
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
        }
    }
    if (lo > hi || (lo >= 0 && hi <= 1)) {
        lo = 0;
        hi = 1;
    } else if (lo == hi) {
        lo -= 0.5;
        hi += 0.5;
    }
    h->lo = lo;
    h->hi = hi;
}

static int check_maps(const Heatmaps *h, const char *where, Error *err)
{
    if (h->rows <= 0 || h->cols <= 0)
        return error_set(err, "%s: nothing to plot: the matrix is (%d, %d)", where, h->rows,
                         h->cols);
    for (int p = 1; p < h->npanels; p++) {
        if (h->maps[p].rows != h->rows || h->maps[p].cols != h->cols) {
            return error_set(err, "%s: panel %d is (%d, %d) but panel 0 is (%d, %d); "
                             "all panels share their labels, so they need one shape",
                             where, p, h->maps[p].rows, h->maps[p].cols, h->rows, h->cols);
        }
    }
    return 0;
}

/* Chooses the cell size so that the map is `side` pixels across (bounded by
 * the cell size limits), then thins the tic labels if their text would
 * overlap (a label needs about 12 pixels of height). */
static void choose_cells(Heatmaps *h, double side, double min_cell, double max_cell,
                         int values_up_to)
{
    int n = h->rows > h->cols ? h->rows : h->cols;
    h->cell = clamp_double(side / n, min_cell, max_cell);
    h->label_step = h->cell >= 12 ? 1 : (int)ceil(12 / h->cell);
    h->rotate_x = widest_label(h->col_labels, h->cols) * 7 > h->cell - 4;
    h->show_values = n <= values_up_to && h->cell >= 30;
}

static void put_labels_comment(FILE *fp, const char *what, const char *const *labels, int n)
{
    char buf[16];
    fprintf(fp, "# %s:", what);
    for (int i = 0; i < n; i++) {
        fprintf(fp, " %d ", i);
        put_string(fp, label_at(labels, i, buf));
    }
    fputc('\n', fp);
}

/* NAME.dat for heatmaps: one line per cell, "row col value", a blank line
 * after each row (gnuplot's grid convention) and two between panels (so the
 * script picks panel p with `index p`). */
static void write_heatmap_dat(FILE *fp, const Figure *f, const void *what)
{
    const Heatmaps *h = what;
    fprintf(fp, "# %s.dat - the numbers of the heatmap%s in %s.gp", f->name,
            h->npanels > 1 ? "s" : "", f->name);
    if (h->title) {
        fputs(": ", fp);
        put_string(fp, h->title);
    }
    fprintf(fp, "\n# %d panel%s of %d rows x %d columns. One line per cell: row col value.\n",
            h->npanels, h->npanels > 1 ? "s" : "", h->rows, h->cols);
    fputs("# Row 0 is drawn at the top. NaN, inf or -inf is a blocked (masked) cell.\n", fp);
    put_labels_comment(fp, "rows, top to bottom", h->row_labels, h->rows);
    put_labels_comment(fp, "columns, left to right", h->col_labels, h->cols);
    for (int p = 0; p < h->npanels; p++) {
        Mat m = h->maps[p];
        if (p > 0) fputs("\n\n", fp);
        if (h->npanels > 1) {
            fprintf(fp, "# panel %d (index %d): ", p, p);
            put_string(fp, h->titles && h->titles[p] ? h->titles[p] : "");
            fputc('\n', fp);
        }
        for (int i = 0; i < m.rows; i++) {
            if (i > 0) fputc('\n', fp);
            for (int j = 0; j < m.cols; j++) {
                fprintf(fp, "%d %d ", i, j);
                put_value(fp, MAT_AT(m, i, j));
                fputc('\n', fp);
            }
        }
    }
}

/* `set xtics ('the' 0, 'cat' 1, ...)`: tokens as tic labels, every
 * label_step-th one, without tic marks (the cells themselves are the marks). */
static void put_tics(FILE *fp, const char *axis, const char *const *labels, int n, int step,
                     int rotate, const char *font)
{
    char buf[16];
    fprintf(fp, "set %stics (", axis);
    for (int i = 0; i < n; i += step) {
        if (i > 0) fputs(i % (8 * step) == 0 ? ", \\\n    " : ", ", fp);
        put_string(fp, label_at(labels, i, buf));
        fprintf(fp, " %d", i);
    }
    fprintf(fp, ") noenhanced scale 0 font '%s'%s\n", font, rotate ? " rotate by 45 right" : "");
}

static void put_optional(FILE *fp, const char *command, const char *text)
{
    if (!text) return;
    fprintf(fp, "%s ", command);
    put_string(fp, text);
    fputc('\n', fp);
}

static void put_title(FILE *fp, const char *text)
{
    if (!text) return;
    fputs("set title ", fp);
    put_string(fp, text);
    fputs(" font ',12'\n", fp);
}

/* Settings shared by one heatmap and a grid: ranges (rows reversed so row 0
 * is at the top), the palette (white to dark blue) and the helpers the plot
 * command uses. */
static void put_heatmap_settings(FILE *fp, const Heatmaps *h)
{
    fprintf(fp, "set xrange [-0.5:%d.5]\n", h->cols - 1);
    fprintf(fp, "set yrange [%d.5:-0.5]    # reversed: row 0 (the first query) at the top\n",
            h->rows - 1);
    fputs("set tics out\nunset key\n", fp);
    fprintf(fp, "cbmin = %.9g\ncbmax = %.9g\nset cbrange [cbmin:cbmax]\n", h->lo, h->hi);
    fputs("set palette defined (0 '#ffffff', 0.5 '#6baed6', 1 '#08306b')\n\n", fp);
    fputs("# A cell is blocked (masked) when its value is NaN or infinite.\n"
          "finite(c) = valid(c) ? abs(column(c)) < 1e39 : 0\n"
          "# Values are written in white on the dark half of the palette.\n"
          "ink(z) = (z - cbmin) / (cbmax - cbmin) > 0.5 ? 0xffffff : 0x000000\n\n", fp);
}

/* The plot command: the colours (with image), then grey boxes and crosses
 * on the blocked cells, then, for small maps, each value printed on top.
 * An SVG draws the cells one by one ("pixels"): an SVG viewer would blur a
 * tiny embedded image when it stretches it. */
static void put_heatmap_plot(FILE *fp, const Figure *f, const Heatmaps *h, const char *index,
                             const char *value_font, const char *indent)
{
    fputs("plot ", fp);
    put_file_name(fp, f->name, ".dat");
    fprintf(fp, "%s using 2:1:(finite(3) ? $3 : NaN) with image%s notitle",
            index, f->o->format == PLOT_SVG ? " pixels" : "");
    if (h->any_blocked) {
        fprintf(fp, ", \\\n%s     ''%s using (finite(3) ? NaN : $2):1:(0.5):(0.5) with boxxyerror"
                    " fs solid 1.0 noborder fc rgb '#b4b4b4' title 'blocked (masked)'",
                indent, index);
    }
    if (h->any_blocked && h->cell >= 10) {   /* a cross, on cells big enough to show one */
        fprintf(fp, ", \\\n%s     ''%s using (finite(3) ? NaN : $2):1 with points pt 2 ps %.1f"
                    " lw 1.5 lc rgb '#555555' notitle", indent, index,
                clamp_double(h->cell / 28, 0.5, 2.5));
    }
    if (h->show_values) {
        fprintf(fp, ", \\\n%s     ''%s using 2:1:(finite(3) ? sprintf('%%.2f', $3) : ''):(ink($3))"
                    " with labels tc rgb variable font '%s' notitle", indent, index, value_font);
    }
    fputc('\n', fp);
}

/* Margins in pixels, from the text that goes in them: the row labels on
 * the left, the colour bar on the right, the title above, and below the
 * column labels (slanted ones need more room), the axis label and the key. */
static void choose_margins(Heatmaps *h)
{
    int wide_row = clamp_int(widest_label(h->row_labels, h->rows), 1, 24);
    int wide_col = clamp_int(widest_label(h->col_labels, h->cols), 1, 24);
    int tics_height = h->rotate_x ? (int)(5.5 * wide_col) + 16 : 24;
    h->left = 24 + 7 * wide_row + (h->ylabel ? 26 : 0);
    h->right = 100;
    h->top = h->title ? 44 : 16;
    h->bottom = 12 + tics_height + (h->xlabel ? 24 : 0);
}

static double pixels_to_screen(double px, int canvas)
{
    return px / canvas;
}

/* The plot area is placed exactly (margins "at screen"), so that the cells
 * come out square and the colour bar can be put beside it at a fixed width. */
static void put_single_layout(FILE *fp, const Figure *f, const Heatmaps *h)
{
    double left = pixels_to_screen(h->left, f->width);
    double right = 1 - pixels_to_screen(h->right, f->width);
    double bottom = pixels_to_screen(h->bottom, f->height);
    double top = 1 - pixels_to_screen(h->top, f->height);
    fprintf(fp, "set lmargin at screen %.4f\nset rmargin at screen %.4f\n", left, right);
    fprintf(fp, "set bmargin at screen %.4f\nset tmargin at screen %.4f\n", bottom, top);
    fprintf(fp, "set colorbox user origin screen %.4f,%.4f size screen %.4f,%.4f\n",
            right + pixels_to_screen(20, f->width), bottom, pixels_to_screen(16, f->width),
            top - bottom);
}

static void write_heatmap_script(FILE *fp, const Figure *f, const void *what)
{
    const Heatmaps *h = what;
    const char *tic_font = h->cell < 16 ? ",8" : ",10";
    put_terminal(fp, f, "a heatmap (rows: top to bottom, columns: left to right)");
    put_title(fp, h->title);
    put_optional(fp, "set xlabel", h->xlabel);
    put_optional(fp, "set ylabel", h->ylabel);
    put_single_layout(fp, f, h);
    put_tics(fp, "x", h->col_labels, h->cols, h->label_step, h->rotate_x, tic_font);
    put_tics(fp, "y", h->row_labels, h->rows, h->label_step, 0, tic_font);
    put_heatmap_settings(fp, h);
    if (h->any_blocked) {
        fprintf(fp, "set key at screen 0.5,%.4f center bottom horizontal reverse Left"
                    " samplen 1.5\n",
                pixels_to_screen(6, f->height));
    }
    put_heatmap_plot(fp, f, h, "", h->cell < 56 ? ",9" : ",10", "");
    put_ending(fp, f);
}

/* A small map still gets a canvas wide enough for its title (about 8
 * pixels a character), with the map kept in the middle. */
static void widen_for_title(Figure *f, Heatmaps *h)
{
    int min_width = h->title ? clamp_int(8 * text_width(h->title) + 40, 360, 1600) : 360;
    if (f->width < min_width) {
        int extra = min_width - f->width;
        h->left += extra / 2;
        h->right += extra - extra / 2;
        f->width = min_width;
    }
    if (f->height < 240) {
        h->top += 240 - f->height;
        f->height = 240;
    }
}

/* A map of n x n cells is about 12n pixels across, within [440, 1000]; big
 * cells (at most 80 pixels) for a short sentence, and room for a title. */
static void choose_heatmap_layout(Figure *f, Heatmaps *h)
{
    int n = h->rows > h->cols ? h->rows : h->cols;
    choose_cells(h, clamp_double(12.0 * n, 440, 1000), 1, 80, 12);
    choose_margins(h);
    if (h->any_blocked) h->bottom += 26;   /* the key */
    f->width = h->left + (int)(h->cell * h->cols) + h->right;
    f->height = h->top + (int)(h->cell * h->rows) + h->bottom;
    widen_for_title(f, h);
}

int plot_heatmap(const PlotOpts *o, const char *name, const char *title, Mat m,
                 const char *const *row_labels, const char *const *col_labels,
                 const char *xlabel, const char *ylabel, Error *err)
{
    if (o->format == PLOT_NONE) return 0;
    Heatmaps h = {
        .maps = &m, .npanels = 1, .grid_rows = 1, .grid_cols = 1,
        .row_labels = row_labels, .col_labels = col_labels,
        .title = title, .xlabel = xlabel, .ylabel = ylabel, .rows = m.rows, .cols = m.cols,
    };
    Figure f;
    if (figure_begin(&f, o, name, err) != 0) return -1;
    int rc = check_maps(&h, f.dat, err);
    if (rc == 0) {
        colour_range(&h);
        choose_heatmap_layout(&f, &h);
        rc = write_file(f.dat, write_heatmap_dat, &f, &h, err);
    }
    if (rc == 0) rc = write_file(f.gp, write_heatmap_script, &f, &h, err);
    if (rc == 0) rc = render(&f, err);
    figure_free(&f);
    return rc;
}

/* The grid uses `set multiplot layout` with margins and spacing given in
 * screen fractions, computed here from pixels so that every panel gets the
 * same square cells whatever the number of panels. */
static void put_grid_layout(FILE *fp, const Figure *f, const Heatmaps *h)
{
    int w = f->width, hh = f->height;
    fprintf(fp, "set multiplot layout %d,%d", h->grid_rows, h->grid_cols);
    if (h->title) {
        fputs(" title ", fp);
        put_string(fp, h->title);
        fputs(" font ',12'", fp);
    }
    fprintf(fp, " \\\n    margins %.4f,%.4f,%.4f,%.4f spacing %.4f,%.4f\n",
            pixels_to_screen(h->left, w), 1 - pixels_to_screen(h->right, w),
            pixels_to_screen(h->bottom, hh), 1 - pixels_to_screen(h->top, hh),
            pixels_to_screen(h->gap_x, w), pixels_to_screen(h->gap_y, hh));
}

/* The one colour bar, drawn with the last panel at the right of the grid. */
static void put_shared_colorbox(FILE *fp, const Figure *f, const Heatmaps *h)
{
    int w = f->width, hh = f->height;
    fprintf(fp, "set colorbox user origin screen %.4f,%.4f size screen %.4f,%.4f\n",
            1 - pixels_to_screen(h->right - 18, w), pixels_to_screen(h->bottom, hh),
            pixels_to_screen(14, w), 1 - pixels_to_screen(h->top + h->bottom, hh));
}

/* Panels are drawn by a loop; only the outer ones carry tic labels (row
 * tokens on the left column, column tokens on the bottom row), since every
 * panel shares them. */
static void write_grid_script(FILE *fp, const Figure *f, const void *what)
{
    const Heatmaps *h = what;
    int last = h->npanels - 1;
    const char *tic_font = h->cell < 16 ? ",8" : ",9";
    put_terminal(fp, f, "a grid of heatmaps (rows: top to bottom, columns: left to right)");
    put_heatmap_settings(fp, h);
    fprintf(fp, "array panel_title[%d] = [", h->npanels);
    for (int p = 0; p < h->npanels; p++) {
        char buf[32];
        snprintf(buf, sizeof buf, "panel %d", p);
        if (p > 0) fputs(p % 4 == 0 ? ", \\\n    " : ", ", fp);
        put_string(fp, h->titles && h->titles[p] ? h->titles[p] : buf);
    }
    fputs("]\n\n", fp);
    put_grid_layout(fp, f, h);
    fprintf(fp, "do for [p = 0:%d] {\n", last);
    fprintf(fp, "    row = p / %d\n    col = p %% %d\n", h->grid_cols, h->grid_cols);
    fputs("    set title panel_title[p + 1] font ',10'\n", fp);
    fprintf(fp, "    if (row == %d) {\n        ", h->grid_rows - 1);
    put_tics(fp, "x", h->col_labels, h->cols, h->label_step, h->rotate_x, tic_font);
    fputs("        ", fp);
    put_optional(fp, "set xlabel", h->xlabel ? h->xlabel : "");
    fputs("    } else {\n        unset xtics\n        unset xlabel\n    }\n", fp);
    fputs("    if (col == 0) {\n        ", fp);
    put_tics(fp, "y", h->row_labels, h->rows, h->label_step, 0, tic_font);
    fputs("        ", fp);
    put_optional(fp, "set ylabel", h->ylabel ? h->ylabel : "");
    fputs("    } else {\n        unset ytics\n        unset ylabel\n    }\n", fp);
    fprintf(fp, "    if (p == %d) {\n        ", last);
    put_shared_colorbox(fp, f, h);
    fputs("    } else {\n        unset colorbox\n    }\n    ", fp);
    put_heatmap_plot(fp, f, h, " index p", ",8", "    ");
    fputs("}\nunset multiplot\n", fp);
    put_ending(fp, f);
}

/* Pixel geometry of a grid: each panel's map is about 220 pixels across;
 * the margins hold the outer labels, the figure title and the colour bar,
 * the gaps between panels hold the panel titles. */
static void choose_grid_layout(Figure *f, Heatmaps *h)
{
    choose_cells(h, 220, 1, 44, 8);
    choose_margins(h);
    h->top += 24;   /* the titles of the first row of panels */
    h->gap_x = 16;
    h->gap_y = 42;
    f->width = h->left + h->right + h->grid_cols * (int)(h->cell * h->cols)
               + (h->grid_cols - 1) * h->gap_x;
    f->height = h->top + h->bottom + h->grid_rows * (int)(h->cell * h->rows)
                + (h->grid_rows - 1) * h->gap_y;
    widen_for_title(f, h);
}

int plot_heatmap_grid(const PlotOpts *o, const char *name, const char *title,
                      const Mat *maps, const char *const *titles,
                      int grid_rows, int grid_cols,
                      const char *const *row_labels, const char *const *col_labels,
                      const char *xlabel, const char *ylabel, Error *err)
{
    if (o->format == PLOT_NONE) return 0;
    Figure f;
    if (figure_begin(&f, o, name, err) != 0) return -1;
    int rc = 0;
    if (grid_rows < 1 || grid_cols < 1 || !maps) {
        rc = error_set(err, "%s: a grid needs at least one panel (asked for %d x %d)", f.dat,
                       grid_rows, grid_cols);
    }
    Heatmaps h = {
        .maps = maps, .titles = titles, .npanels = grid_rows * grid_cols,
        .grid_rows = grid_rows, .grid_cols = grid_cols,
        .row_labels = row_labels, .col_labels = col_labels,
        .title = title, .xlabel = xlabel, .ylabel = ylabel,
    };
    if (rc == 0) {
        h.rows = maps[0].rows;
        h.cols = maps[0].cols;
        rc = check_maps(&h, f.dat, err);
    }
    if (rc == 0) {
        colour_range(&h);
        choose_grid_layout(&f, &h);
        rc = write_file(f.dat, write_heatmap_dat, &f, &h, err);
    }
    if (rc == 0) rc = write_file(f.gp, write_grid_script, &f, &h, err);
    if (rc == 0) rc = render(&f, err);
    figure_free(&f);
    return rc;
}

/* --------------------------------------------------------------- line plots */

typedef struct {
    const char *title, *xlabel, *ylabel;
    const float *x;                 /* NULL: 0, 1, 2, ... */
    const float *const *ys;
    const char *const *labels;
    int ncurves, npoints, flags;
} Lines;

/* NAME.dat for a line plot: column 1 is x, column k+2 is curve k. */
static void write_lines_dat(FILE *fp, const Figure *f, const void *what)
{
    const Lines *l = what;
    char buf[16];
    fprintf(fp, "# %s.dat - the numbers of the line plot in %s.gp", f->name, f->name);
    if (l->title) {
        fputs(": ", fp);
        put_string(fp, l->title);
    }
    fputs("\n# column 1: x", fp);
    if (l->xlabel) {
        fputs(" (", fp);
        put_string(fp, l->xlabel);
        fputc(')', fp);
    }
    for (int k = 0; k < l->ncurves; k++) {
        fprintf(fp, "; column %d: ", k + 2);
        put_string(fp, label_at(l->labels, k, buf));
    }
    fputs("\n# NaN marks a missing point.\n", fp);
    for (int i = 0; i < l->npoints; i++) {
        if (l->x) put_value(fp, l->x[i]);
        else fprintf(fp, "%d", i);
        for (int k = 0; k < l->ncurves; k++) {
            fputc(' ', fp);
            put_value(fp, l->ys[k][i]);
        }
        fputc('\n', fp);
    }
}

static void write_lines_script(FILE *fp, const Figure *f, const void *what)
{
    const Lines *l = what;
    char buf[16];
    put_terminal(fp, f, "a line plot, one curve per column after the first");
    put_title(fp, l->title);
    put_optional(fp, "set xlabel", l->xlabel);
    put_optional(fp, "set ylabel", l->ylabel);
    if (l->flags & PLOT_LOGX) fputs("set logscale x\n", fp);
    if (l->flags & PLOT_LOGY) fputs("set logscale y\n", fp);
    fputs("set grid\nset key outside right top reverse Left noenhanced\n", fp);
    /* A point every few samples: enough to tell the curves apart in print,
     * not so many that they hide the line. */
    int every = l->npoints > 25 ? l->npoints / 25 : 1;
    for (int k = 0; k < l->ncurves; k++) {
        fputs(k == 0 ? "plot " : ", \\\n     ", fp);
        if (k == 0) put_file_name(fp, f->name, ".dat");
        else fputs("''", fp);
        fprintf(fp, " using 1:%d with linespoints pointinterval %d lw 2 title ", k + 2, every);
        put_string(fp, label_at(l->labels, k, buf));
    }
    fputc('\n', fp);
    put_ending(fp, f);
}

int plot_lines(const PlotOpts *o, const char *name, const char *title,
               const float *x, const float *const *ys, const char *const *labels,
               int ncurves, int npoints, const char *xlabel, const char *ylabel,
               int flags, Error *err)
{
    if (o->format == PLOT_NONE) return 0;
    Figure f;
    if (figure_begin(&f, o, name, err) != 0) return -1;
    Lines l = {
        .title = title, .xlabel = xlabel, .ylabel = ylabel, .x = x, .ys = ys,
        .labels = labels, .ncurves = ncurves, .npoints = npoints, .flags = flags,
    };
    int rc = 0;
    if (ncurves < 1 || npoints < 1 || !ys)
        rc = error_set(err, "%s: nothing to plot: %d curves of %d points", f.dat, ncurves, npoints);
    for (int k = 0; rc == 0 && k < ncurves; k++)
        if (!ys[k]) rc = error_set(err, "%s: curve %d has no values (NULL)", f.dat, k);
    f.width = 800;
    f.height = 480;
    if (rc == 0) rc = write_file(f.dat, write_lines_dat, &f, &l, err);
    if (rc == 0) rc = write_file(f.gp, write_lines_script, &f, &l, err);
    if (rc == 0) rc = render(&f, err);
    figure_free(&f);
    return rc;
}

int plot_attention_layers(const PlotOpts *o, const char *name, const char *title, Mat maps,
                          int layers, int heads, Mat blocked, const char *const *row_labels,
                          const char *const *col_labels, const char *xlabel,
                          const char *ylabel, Error *err)
{
    int panels = layers * heads, R = panels > 0 ? maps.rows / panels : 0;
    if (o->format == PLOT_NONE) return 0;
    Mat shown = mat_new(maps.rows, maps.cols);   /* a copy: blocked cells become NaN */
    mat_copy(shown, maps);
    Mat *panel = xcalloc((size_t)panels + 1, sizeof *panel, "figure panels");
    char **titles = xcalloc((size_t)panels + 1, sizeof *titles, "panel titles");
    for (int p = 0; p < panels; p++) {
        panel[p] = mat_rows(shown, p * R, R);
        if (blocked.data)
            for (int i = 0; i < R; i++)
                for (int j = 0; j < maps.cols; j++)
                    if (MAT_AT(blocked, i, j) != 0.0f) MAT_AT(panel[p], i, j) = NAN;
        titles[p] = xmalloc(48, 1, "a panel title");
        snprintf(titles[p], 48, "layer %d, head %d", p / heads + 1, p % heads + 1);
    }
    int rc = plot_heatmap_grid(o, name, title, panel, (const char *const *)titles, layers, heads,
                               row_labels, col_labels, xlabel, ylabel, err);
    for (int p = 0; p < panels; p++) free(titles[p]);
    free(titles);
    free(panel);
    mat_free(&shown);
    return rc;
}
