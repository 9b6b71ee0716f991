/*
 * animation.c - chapter 10: an animated GIF of heatmap grids (see
 * animation.h). It follows common/plot.c's way: the numbers and the script
 * are kept beside the picture, written atomically, and gnuplot runs inside
 * the output directory so that the script names its files by their bare
 * names.
 *
 * Assumes: POSIX (fork, exec, waitpid) and, optionally, gnuplot 5 with the
 * gif terminal on the PATH.
 */
#include "animation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    CELL = 26,       /* pixels per heatmap cell */
    GAP_X = 24,      /* between panels */
    GAP_Y = 46,      /* between panel rows, room for a panel's title */
    LEFT = 90, RIGHT = 90, TOP = 80, BOTTOM = 70,
    HOLD = 5,        /* the last frame is shown this many more times */
};

/* s as a gnuplot single-quoted string ('' is a quote inside one). */
static void put_string(FILE *fp, const char *s)
{
    fputc('\'', fp);
    for (; *s; s++) {
        if (*s == '\'') fputs("''", fp);
        else if ((unsigned char)*s >= 0x20) fputc(*s, fp);
    }
    fputc('\'', fp);
}

static void put_tics(FILE *fp, const char *axis, const char *const *labels, int n)
{
    fprintf(fp, "set %stics (", axis);
    for (int i = 0; i < n; i++) {
        if (i > 0) fputs(", ", fp);
        if (labels) put_string(fp, labels[i]);
        else fprintf(fp, "'%d'", i);
        fprintf(fp, " %d", i);
    }
    fputs(") scale 0\n", fp);
}

static void put_array(FILE *fp, const char *name, const char *const *s, int n)
{
    fprintf(fp, "array %s[%d] = [", name, n);
    for (int i = 0; i < n; i++) {
        if (i > 0) fputs(i % 6 == 0 ? ", \\\n    " : ", ", fp);
        put_string(fp, s[i]);
    }
    fputs("]\n", fp);
}

static int write_dat(const char *path, const Animation *a, Error *err)
{
    AtomicFile af;
    if (atomic_open(&af, path, err) != 0) return -1;
    FILE *fp = af.fp;
    int P = a->grid_rows * a->grid_cols;
    fprintf(fp, "# %s.dat - the frames of %s.gif: %d frames of %d panels each.\n", a->name,
            a->name, a->frames, P);
    fputs("# One line per cell, \"row col value\"; a blank line ends a row, two end a panel.\n"
          "# Frame f, panel p is gnuplot's index f * P + p.\n", fp);
    for (int f = 0; f < a->frames; f++)
        for (int p = 0; p < P; p++) {
            Mat m = a->maps[f * P + p];
            if (f + p > 0) fputs("\n\n", fp);
            fprintf(fp, "# frame %d (%s), panel %d (%s)\n", f, a->frame_titles[f], p,
                    a->panel_titles[p]);
            for (int i = 0; i < m.rows; i++) {
                if (i > 0) fputc('\n', fp);
                for (int j = 0; j < m.cols; j++)
                    fprintf(fp, "%d %d %.5f\n", i, j, (double)MAT_AT(m, i, j));
            }
        }
    return atomic_commit(&af, err);
}

static int write_script(const char *path, const Animation *a, Error *err)
{
    int R = a->maps[0].rows, C = a->maps[0].cols, P = a->grid_rows * a->grid_cols;
    int w = LEFT + RIGHT + a->grid_cols * C * CELL + (a->grid_cols - 1) * GAP_X;
    int h = TOP + BOTTOM + a->grid_rows * R * CELL + (a->grid_rows - 1) * GAP_Y;
    if (w < 480) w = 480;
    AtomicFile af;
    if (atomic_open(&af, path, err) != 0) return -1;
    FILE *fp = af.fp;
    fprintf(fp, "# %s.gp - an animation drawn from %s.dat, one frame per block of panels.\n",
            a->name, a->name);
    fprintf(fp, "# Written by chapters/10-training/animation.c; re-render with: gnuplot %s.gp\n\n",
            a->name);
    fprintf(fp, "set terminal gif animate delay %d loop 0 size %d,%d noenhanced\n", a->delay, w, h);
    fprintf(fp, "set output '%s.gif'\n\n", a->name);
    fprintf(fp, "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]   # row 0 at the top\n", C - 1,
            R - 1);
    fputs("set cbrange [0:1]\nset palette defined (0 '#ffffff', 0.5 '#6baed6', 1 '#08306b')\n"
          "unset key\nset tics out\n", fp);
    put_array(fp, "frame_title", a->frame_titles, a->frames);
    put_array(fp, "panel_title", a->panel_titles, P);
    fprintf(fp, "frames = %d\npanels = %d\n\n", a->frames, P);
    fprintf(fp, "# The last frame is shown %d more times, so the animation rests on it.\n", HOLD);
    fprintf(fp, "do for [k = 0:frames - 1 + %d] {\n", HOLD);
    fputs("    f = k < frames ? k : frames - 1\n", fp);
    fputs("    set multiplot layout ", fp);
    fprintf(fp, "%d,%d title ", a->grid_rows, a->grid_cols);
    put_string(fp, a->title);
    fputs(".\"\\n\".frame_title[f + 1] \\\n", fp);   /* "\n": a newline in double quotes */
    fprintf(fp, "        margins %.4f,%.4f,%.4f,%.4f spacing %.4f,%.4f\n", (double)LEFT / w,
            1.0 - (double)RIGHT / w, (double)BOTTOM / h, 1.0 - (double)TOP / h,
            (double)GAP_X / w, (double)GAP_Y / h);
    fputs("    do for [p = 0:panels - 1] {\n", fp);
    fputs("        set title panel_title[p + 1]\n", fp);
    fprintf(fp, "        if (p / %d == %d) {\n            ", a->grid_cols, a->grid_rows - 1);
    put_tics(fp, "x", a->col_labels, C);
    fputs("            set xlabel ", fp);
    put_string(fp, a->xlabel ? a->xlabel : "");
    fputs("\n        } else {\n            unset xtics\n            unset xlabel\n        }\n", fp);
    fprintf(fp, "        if (p %% %d == 0) {\n            ", a->grid_cols);
    put_tics(fp, "y", a->row_labels, R);
    fputs("            set ylabel ", fp);
    put_string(fp, a->ylabel ? a->ylabel : "");
    fputs("\n        } else {\n            unset ytics\n            unset ylabel\n        }\n", fp);
    fprintf(fp, "        if (p == panels - 1) {\n            set colorbox user origin screen "
                "%.4f,%.4f size screen %.4f,%.4f\n        } else {\n            unset colorbox\n"
                "        }\n",
            1.0 - (double)(RIGHT - 24) / w, (double)BOTTOM / h, 14.0 / w,
            1.0 - (double)(TOP + BOTTOM) / h);
    fprintf(fp, "        plot '%s.dat' index f * panels + p using 2:1:3 with image\n", a->name);
    fputs("    }\n    unset multiplot\n}\nunset output\n", fp);
    return atomic_commit(&af, err);
}

/* gnuplot NAME.gp, run inside dir; waits for it. */
static int run_gnuplot(const char *dir, const char *name, Error *err)
{
    char script[300];
    snprintf(script, sizeof script, "%s.gp", name);
    fflush(NULL);   /* or the child would repeat our buffered output */
    pid_t pid = fork();
    if (pid < 0)
        return error_set(err, "%s/%s: cannot start gnuplot: %s", dir, script, strerror(errno));
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return error_set(err, "%s/%s: waiting for gnuplot", dir, script);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    return error_set(err, "%s/%s: gnuplot failed (status %d)", dir, script, status);
}

int plot_animation(const PlotOpts *o, const Animation *a, Error *err)
{
    if (o->format == PLOT_NONE) return 0;
    if (a->frames < 1 || a->grid_rows < 1 || a->grid_cols < 1)
        return error_set(err, "%s: an animation needs at least one frame and one panel", a->name);
    const char *dir = o->outdir && o->outdir[0] ? o->outdir : ".";
    if (make_dirs(dir, err) != 0) return -1;
    char file[300];
    snprintf(file, sizeof file, "%s.dat", a->name);
    char *dat = path_join(dir, file);
    snprintf(file, sizeof file, "%s.gp", a->name);
    char *gp = path_join(dir, file);
    int rc = write_dat(dat, a, err);
    if (rc == 0) rc = write_script(gp, a, err);
    if (rc == 0 && (o->format == PLOT_PNG || o->format == PLOT_SVG)) {
        if (plot_have_gnuplot()) rc = run_gnuplot(dir, a->name, err);
        else fprintf(stderr, "gnuplot not found: wrote %s.dat and %s.gp in %s; install gnuplot "
                             "and run: cd %s && gnuplot %s.gp\n", a->name, a->name, dir, dir,
                     a->name);
    }
    free(dat);
    free(gp);
    return rc;
}
