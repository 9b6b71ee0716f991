/**
 * \file animation.h
 * \brief Chapter 10: an animated GIF of heatmaps that change as
 * training goes on (gnuplot's gif terminal with `animate`).
 *
 * Written as the NAME.dat / NAME.gp / NAME.gif files of common/plot.h:
 * - NAME.dat  one block per panel of every frame, "row col value" lines
 *             (gnuplot's `index f * P + p` picks panel p of frame f);
 * - NAME.gp   a loop over the frames, each a grid of panels (multiplot);
 * - NAME.gif  the animation, when gnuplot is installed.
 *
 * Rows are queries (top to bottom), columns keys, as in every heatmap.
 * \ingroup api_ch10
 */
#ifndef ANIMATION_H
#define ANIMATION_H

#include "mat.h"
#include "plot.h"
#include "util.h"

/** \addtogroup api_ch10
 *  @{ */

/** \brief An animation: F frames, each a grid of P heatmaps of the same size. */
typedef struct {
    const char *name;                  ///< NAME
    const char *title;                 ///< above every frame, before its own title
    int frames;                        ///< F
    int grid_rows,                     ///< panels per frame: P = grid_rows * grid_cols
        grid_cols;                     ///< (see grid_rows)
    const Mat *maps;                   ///< F * P maps, each (R, C): frame f, panel p at f P + p
    const char *const *frame_titles;   ///< F, e.g. "step 100"
    const char *const *panel_titles;   ///< P, e.g. "layer 1, head 2"
    const char *const *row_labels;     ///< R
    const char *const *col_labels;     ///< C
    const char *xlabel,                ///< columns' axis, under the bottom panels; or NULL
               *ylabel;                ///< rows' axis, left of the first panels; or NULL
    int delay;                         ///< hundredths of a second per frame
} Animation;

/**
 * \brief Writes the three files (the GIF only for formats png and svg; none
 * draws nothing).
 *
 * Values are drawn on the colour range [0, 1] of attention weights.
 * \param o format and folder
 * \param a the frames, their panels and labels
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int plot_animation(const PlotOpts *o, const Animation *a, Error *err);

/** @} */

#endif
