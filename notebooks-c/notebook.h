/*
 * notebook.h - the little a C notebook needs beyond the book's library.
 *
 * A notebook (notebooks-c/NN-name.c) is an ordinary C program written in
 * cells: a line `// %% [markdown]` opens a cell of prose, written as line
 * comments, and a line `// %%` opens a cell of code. The program compiles
 * and runs on its own; `make notebooks` also runs a copy of it in which every
 * code cell inside a function begins with nb_cell(), so that the renderer
 * (docs/nbrender.c) can tell which cell printed what, and turns the whole
 * into a Jupyter notebook (.ipynb) and a Markdown page (.md).
 *
 * A cell that draws a figure with plot.h writes it into nb_figures()'s
 * folder and calls nb_show(), which puts the picture into that cell's output.
 */
#ifndef NOTEBOOK_H
#define NOTEBOOK_H

#include "plot.h"

/* PNG figures into $NB_OUT if it is set (make notebooks sets it), else into
 * out/notebooks/<name>. */
PlotOpts nb_figures(const char *name);

/* Shows the figure `name` (drawn with o) in the current cell: rendered, the
 * picture; run by hand, a line naming the file. Exits 1 if the figure could
 * not be drawn (no gnuplot). */
void nb_show(const PlotOpts *o, const char *name);

/* The start of cell `cell` (counted from 1 in the file, prose cells too).
 * Inserted by the renderer at every code cell; never written by hand. */
void nb_cell(int cell);

/* The marker lines nb_cell and nb_show print for the renderer. */
#define NB_MARK_CELL "%%nb:cell "
#define NB_MARK_IMAGE "%%nb:image "

#endif
