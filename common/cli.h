/*
 * cli.h - the command-line conventions every chapter program keeps
 * (../shared/CONTRACT.md of the project's outside checks):
 *   --help           usage on stdout, exit 0
 *   usage errors     one line on stderr, "chNN: --option: what is wrong", exit 2
 *   data errors      one line on stderr naming the file and the problem, exit 1
 *   --seed N, --plot png|svg|window|none, --out DIR
 *
 * Introduced with chapter 1.
 */
#ifndef CLI_H
#define CLI_H

#include <stdint.h>
#include "npy.h"
#include "plot.h"
#include "util.h"

enum { EXIT_DATA = 1, EXIT_USAGE = 2 };

/* The program's name for messages ("ch01"); set once by cli_init. */
extern const char *cli_prog;
void cli_init(const char *prog);

/* Print "prog: message" on stderr and exit 2 (usage) or 1 (data). */
_Noreturn void usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
_Noreturn void data_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Data error from an Error filled in by a library call. */
_Noreturn void data_error_from(const Error *err);

/* Strict number parsing for an option's value: the whole string must be a
 * number within [lo, hi], else a usage error naming the option. */
long parse_long(const char *opt, const char *s, long lo, long hi);
uint64_t parse_seed(const char *opt, const char *s);
float parse_float(const char *opt, const char *s, float lo, float hi);

/* Files named on the command line, with the data errors of the contract:
 * cli_load_mat reads a 2-D float .npy given to `option` and checks that every
 * entry is finite; the savers write float32 .npy files atomically. Any
 * problem is a data error (exit 1) naming the file. */
Mat cli_load_mat(const char *path, const char *option);
void cli_save_f32(const char *path, const float *data, int ndim, const int64_t *shape);
void cli_save_mat(const char *path, Mat m);

/* The options every program shares, with their defaults. */
typedef struct {
    uint64_t seed;       /* --seed N (default 1) */
    PlotOpts plot;       /* --plot FORMAT (default png), --out DIR (default out/chNN) */
} CommonOpts;

/* Sets the defaults; default_out is e.g. "out/ch01". */
void common_opts_init(CommonOpts *c, const char *default_out);

/* getopt_long entries for the shared options, to splice into a program's
 * table, and the handler: returns 1 if `opt` was one of them (and applied it),
 * 0 otherwise. Option codes are >= 1000 so they never clash with a letter. */
enum { OPT_SEED = 1000, OPT_PLOT, OPT_OUT, OPT_HELP };
#define COMMON_LONG_OPTIONS                                   \
    {"seed", required_argument, NULL, OPT_SEED},              \
    {"plot", required_argument, NULL, OPT_PLOT},              \
    {"out", required_argument, NULL, OPT_OUT},                \
    {"help", no_argument, NULL, OPT_HELP}
int common_opts_handle(CommonOpts *c, int opt, const char *arg);
/* Help text for the shared options, to print at the end of --help. */
extern const char *const COMMON_HELP;

/* Reports an unknown option ('?') or a missing value (':') after getopt_long
 * returned `code` (call it with opterr = 0 and a leading ':' in optstring). */
_Noreturn void cli_bad_option(int code, int argc, char **argv);

#endif
