/*
 * notebook.c - see notebook.h. The markers go to stdout, between the cells'
 * own output, and only once nb_cell has been called: a notebook run by hand
 * prints nothing extra but a line per figure.
 */
#include "notebook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int rendering;   /* 1 once nb_cell ran: the renderer reads stdout */

PlotOpts nb_figures(const char *name)
{
    static char dir[512];
    const char *env = getenv("NB_OUT");
    if (env && *env) snprintf(dir, sizeof dir, "%s", env);
    else snprintf(dir, sizeof dir, "out/notebooks/%s", name);
    PlotOpts o = {PLOT_PNG, dir};
    return o;
}

void nb_show(const PlotOpts *o, const char *name)
{
    char *file = xmalloc(strlen(o->outdir) + strlen(name) + 6, 1, "a figure's path");
    sprintf(file, "%s/%s.png", o->outdir, name);
    struct stat st;
    if (stat(file, &st) != 0) {
        fprintf(stderr, "notebook: %s was not drawn (is gnuplot installed?)\n", file);
        exit(1);
    }
    if (rendering) printf("%s%s.png\n", NB_MARK_IMAGE, name);
    else printf("Figure: %s\n", file);
    fflush(stdout);
    free(file);
}

void nb_cell(int cell)
{
    rendering = 1;
    printf("%s%d\n", NB_MARK_CELL, cell);
    fflush(stdout);
}
