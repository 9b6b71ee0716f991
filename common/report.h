/**
 * \file report.h
 * \brief What a chapter prints on the console: small matrices with row
 * and column labels, aligned; and a progress line for long loops.
 *
 * Introduced with chapter 1 (printing) and used by training (progress).
 * \ingroup api_common
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdio.h>
#include <time.h>
#include "mat.h"

/** \addtogroup api_common
 *  @{ */

/**
 * \brief Prints m under a title, one row per line, columns aligned:
 * \verbatim
   weights (rows: queries, cols: keys)
             the     cat     sat
     the  0.4223  0.2908  0.2869
     ...
   \endverbatim
 * \param fp where to print
 * \param title the line above the matrix
 * \param m (R, C)
 * \param row_labels R labels, or NULL (then 0, 1, 2, ...)
 * \param col_labels C labels, or NULL
 * \param decimals digits after the point
 */
void mat_print(FILE *fp, const char *title, Mat m, const char *const *row_labels,
               const char *const *col_labels, int decimals);

/**
 * \brief mat_print on stdout, then a blank line: how the demos show each matrix.
 * \param title the line above the matrix
 * \param m (R, C)
 * \param row_labels R labels, or NULL
 * \param col_labels C labels, or NULL
 * \param decimals digits after the point
 */
void mat_show(const char *title, Mat m, const char *const *row_labels,
              const char *const *col_labels, int decimals);

/**
 * \brief A progress reporter.
 *
 * On a terminal it redraws one line:
 * \verbatim
   train [#########...........]  450/1000  45.0%  123.4 it/s  ETA 0:04  loss 2.31
   \endverbatim
 * When the output is not a terminal (a log file, CI) it prints a plain line
 * at most every `interval` seconds, and one at the end.
 */
typedef struct {
    FILE *fp;             ///< where to print (stderr usually)
    const char *label;    ///< shown first
    long total;           ///< number of steps expected (> 0)
    long done;            ///< steps finished so far
    int tty;              ///< 1 if fp is a terminal
    double start;         ///< monotonic seconds at start
    double last_print;    ///< monotonic seconds of the last line
    double interval;      ///< seconds between plain lines when not a terminal
} Progress;

/**
 * \brief Starts reporting.
 * \param[out] p the reporter
 * \param fp where to print
 * \param label shown first
 * \param total number of steps expected (> 0)
 */
void progress_start(Progress *p, FILE *fp, const char *label, long total);
/**
 * \brief Records that `done` steps are finished. Prints only when it is time to.
 * \param p the reporter
 * \param done steps finished so far
 * \param extra appended to the line, e.g. "loss 2.31"; may be NULL
 */
void progress_update(Progress *p, long done, const char *extra);
/**
 * \brief Prints the final line (with the total time) and ends it with a newline.
 * \param p the reporter
 * \param extra appended to the line; may be NULL
 */
void progress_end(Progress *p, const char *extra);

/**
 * \brief Seconds on a monotonic clock, for timing.
 * \return seconds since an arbitrary start
 */
double now_seconds(void);

/** @} */

#endif
