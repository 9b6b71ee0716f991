/**
 * \file plot.h
 * \brief Figures through gnuplot. Every figure NAME writes three files in
 * the output directory:
 * - NAME.dat  the numbers, as a plain table an instructor can read or edit;
 * - NAME.gp   the gnuplot script that draws them (re-render: gnuplot NAME.gp);
 * - NAME.png  (or NAME.svg) the picture, when gnuplot is installed.
 *
 * With format PLOT_WINDOW the script opens a live window instead of a file.
 * Without gnuplot the .dat and .gp are still written, and one line says how
 * to install gnuplot and render them.
 *
 * Conventions: heatmap rows are queries (top to bottom), columns are keys
 * (left to right), both labelled with tokens; decoder-to-source attention is
 * target rows by source columns.
 * Introduced with chapter 1.
 * \ingroup api_common
 */
#ifndef PLOT_H
#define PLOT_H

#include "mat.h"
#include "util.h"

/** \addtogroup api_common
 *  @{ */

/** \brief What a figure becomes: a file, a live window, or nothing. */
typedef enum {
    PLOT_PNG,      ///< NAME.png
    PLOT_SVG,      ///< NAME.svg
    PLOT_WINDOW,   ///< a gnuplot window, for a class
    PLOT_NONE      ///< no figures at all
} PlotFormat;

/** \brief Where and how figures are written (`--plot` and `--out`). */
typedef struct {
    PlotFormat format;   ///< png (default), svg, window or none
    const char *outdir;  ///< directory for the files (created if missing)
} PlotOpts;

/**
 * \brief Parses "png", "svg", "window" or "none".
 * \param s the text of `--plot`
 * \param[out] f the format
 * \return 0, or -1 if it is none of them
 */
int plot_format_parse(const char *s, PlotFormat *f);

/**
 * \brief One heatmap of m, with a colour bar.
 *
 * Each cell prints its value when the map is small enough to read them.
 * Entries that are NaN are drawn as "blocked" (a distinct grey), so a masked
 * cell is never confused with a small weight.
 * \param o format and folder
 * \param name the files' name, without extension
 * \param title the figure's title
 * \param m (R, C): rows are queries, columns are keys
 * \param row_labels R labels (tokens), or NULL for 0, 1, 2, ...
 * \param col_labels C labels, or NULL for 0, 1, 2, ...
 * \param xlabel the axis title under the columns
 * \param ylabel the axis title beside the rows
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int plot_heatmap(const PlotOpts *o, const char *name, const char *title, Mat m,
                 const char *const *row_labels, const char *const *col_labels,
                 const char *xlabel, const char *ylabel, Error *err);

/**
 * \brief A grid of heatmaps in one figure (for attention: layers down, heads
 * across); all maps share the labels and one colour range.
 * \param o format and folder
 * \param name the files' name, without extension
 * \param title the figure's title
 * \param maps grid_rows * grid_cols maps, each (R, C); panel p = r * grid_cols + c
 * \param titles the panels' titles, in the same order
 * \param grid_rows panels down
 * \param grid_cols panels across
 * \param row_labels R labels, or NULL
 * \param col_labels C labels, or NULL
 * \param xlabel the axis title under the columns
 * \param ylabel the axis title beside the rows
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int plot_heatmap_grid(const PlotOpts *o, const char *name, const char *title,
                      const Mat *maps, const char *const *titles,
                      int grid_rows, int grid_cols,
                      const char *const *row_labels, const char *const *col_labels,
                      const char *xlabel, const char *ylabel, Error *err);

/**
 * \brief The attention weights of every layer and head in one figure:
 * layers down, heads across, titled "layer n, head h"; blocked cells grey.
 * \param o format and folder
 * \param name the files' name, without extension
 * \param title the figure's title
 * \param maps (layers * heads * R, C): layer n, head h at rows [(n heads + h) R, ...)
 * \param layers panels down
 * \param heads panels across
 * \param blocked (R, C) nonzero where a query may not look (drawn grey), or
 *        a matrix with no data (mat_wrap(NULL, 0, 0)) when none is
 * \param row_labels R labels (the queries), or NULL
 * \param col_labels C labels (the keys), or NULL
 * \param xlabel the axis title under the columns
 * \param ylabel the axis title beside the rows
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int plot_attention_layers(const PlotOpts *o, const char *name, const char *title, Mat maps,
                          int layers, int heads, Mat blocked, const char *const *row_labels,
                          const char *const *col_labels, const char *xlabel,
                          const char *ylabel, Error *err);

/** \brief Flags of plot_lines: log scales. */
enum {
    PLOT_LOGX = 1,   ///< logarithmic x axis
    PLOT_LOGY = 2    ///< logarithmic y axis
};
/**
 * \brief A line plot of several curves over the same x.
 * \param o format and folder
 * \param name the files' name, without extension
 * \param title the figure's title
 * \param x npoints values
 * \param ys ncurves arrays: curve k is ys[k][0..npoints)
 * \param labels ncurves legend entries
 * \param ncurves number of curves
 * \param npoints points per curve
 * \param xlabel the x axis title
 * \param ylabel the y axis title
 * \param flags 0, PLOT_LOGX, PLOT_LOGY or both
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int plot_lines(const PlotOpts *o, const char *name, const char *title,
               const float *x, const float *const *ys, const char *const *labels,
               int ncurves, int npoints, const char *xlabel, const char *ylabel,
               int flags, Error *err);

/**
 * \brief Whether a gnuplot program is on the PATH (checked once).
 * \return 1 or 0
 */
int plot_have_gnuplot(void);

/** @} */

#endif
