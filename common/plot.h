/*
 * plot.h - figures through gnuplot. Every figure NAME writes three files in
 * the output directory:
 *   NAME.dat  the numbers, as a plain table an instructor can read or edit;
 *   NAME.gp   the gnuplot script that draws them (re-render: gnuplot NAME.gp);
 *   NAME.png  (or NAME.svg) the picture, when gnuplot is installed.
 * With format PLOT_WINDOW the script opens a live window instead of a file.
 * Without gnuplot the .dat and .gp are still written, and one line says how
 * to install gnuplot and render them.
 *
 * Conventions: heatmap rows are queries (top to bottom), columns are keys
 * (left to right), both labelled with tokens; decoder-to-source attention is
 * target rows by source columns.
 * Introduced with chapter 1.
 */
#ifndef PLOT_H
#define PLOT_H

#include "mat.h"
#include "util.h"

typedef enum { PLOT_PNG, PLOT_SVG, PLOT_WINDOW, PLOT_NONE } PlotFormat;

typedef struct {
    PlotFormat format;   /* png (default), svg, window or none */
    const char *outdir;  /* directory for the files (created if missing) */
} PlotOpts;

/* Parses "png", "svg", "window" or "none"; -1 if it is none of them. */
int plot_format_parse(const char *s, PlotFormat *f);

/* One heatmap of m (R, C): row r labelled row_labels[r], column c labelled
 * col_labels[c] (either may be NULL for 0, 1, 2, ...). A colour bar; each
 * cell prints its value when the map is small enough to read them. Entries
 * that are NaN are drawn as "blocked" (a distinct grey), so a masked cell is
 * never confused with a small weight. Returns 0, or -1 with err set. */
int plot_heatmap(const PlotOpts *o, const char *name, const char *title, Mat m,
                 const char *const *row_labels, const char *const *col_labels,
                 const char *xlabel, const char *ylabel, Error *err);

/* A grid of heatmaps in one figure: grid_rows x grid_cols panels (for
 * attention: layers down, heads across). maps[p] and titles[p] for panel
 * p = r * grid_cols + c; all maps share the labels and one colour range. */
int plot_heatmap_grid(const PlotOpts *o, const char *name, const char *title,
                      const Mat *maps, const char *const *titles,
                      int grid_rows, int grid_cols,
                      const char *const *row_labels, const char *const *col_labels,
                      const char *xlabel, const char *ylabel, Error *err);

/* A line plot of ncurves curves over the same x (npoints values): curve k is
 * ys[k][0..npoints) labelled labels[k]. Flags pick log scales. */
enum { PLOT_LOGX = 1, PLOT_LOGY = 2 };
int plot_lines(const PlotOpts *o, const char *name, const char *title,
               const float *x, const float *const *ys, const char *const *labels,
               int ncurves, int npoints, const char *xlabel, const char *ylabel,
               int flags, Error *err);

/* 1 if a gnuplot program is on the PATH (checked once). */
int plot_have_gnuplot(void);

#endif
