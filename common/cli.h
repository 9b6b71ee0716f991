/**
 * \file cli.h
 * \brief The command-line conventions every chapter program keeps
 * (../shared/CONTRACT.md of the project's outside checks):
 * - `--help`: usage on stdout, exit 0;
 * - usage errors: one line on stderr, `chNN: --option: what is wrong`, exit 2;
 * - data errors: one line on stderr naming the file and the problem, exit 1;
 * - `--seed N`, `--plot png|svg|window|none`, `--out DIR`.
 *
 * Introduced with chapter 1.
 * \ingroup api_common
 */
#ifndef CLI_H
#define CLI_H

#include <getopt.h>
#include <stdint.h>
#include "npy.h"
#include "plot.h"
#include "util.h"

/** \addtogroup api_common
 *  @{ */

/** \brief The exit codes of the contract (0 is success). */
enum {
    EXIT_DATA = 1,    ///< a data error: a file, its format or its shapes
    EXIT_USAGE = 2    ///< a usage error: an option or its value
};

/** \brief The program's name for messages ("ch01"); set once by cli_init. */
extern const char *cli_prog;
/**
 * \brief Sets the program's name for messages.
 * \param prog e.g. "ch01"
 */
void cli_init(const char *prog);

/**
 * \brief Prints "prog: message" on stderr and exits 2 (usage).
 * \param fmt printf format
 * \param ... its values
 */
_Noreturn void usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/**
 * \brief Prints "prog: message" on stderr and exits 1 (data).
 * \param fmt printf format
 * \param ... its values
 */
_Noreturn void data_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/**
 * \brief Data error from an Error filled in by a library call.
 * \param err the message
 */
_Noreturn void data_error_from(const Error *err);

/**
 * \name Strict number parsing for an option's value
 * The whole string must be a number within [lo, hi], else a usage error
 * naming the option.
 * @{
 */
/**
 * \brief An integer option's value.
 * \param opt the option, for the message (`--heads`)
 * \param s its value
 * \param lo the smallest value allowed
 * \param hi the largest value allowed
 * \return the number
 */
long parse_long(const char *opt, const char *s, long lo, long hi);
/**
 * \brief A seed: any unsigned 64-bit number.
 * \param opt the option, for the message
 * \param s its value
 * \return the seed
 */
uint64_t parse_seed(const char *opt, const char *s);
/**
 * \brief A real option's value, finite.
 * \param opt the option, for the message
 * \param s its value
 * \param lo the smallest value allowed
 * \param hi the largest value allowed
 * \return the number
 */
float parse_float(const char *opt, const char *s, float lo, float hi);
/** @} */

/**
 * \name Files named on the command line, with the data errors of the contract
 * Any problem is a data error (exit 1) naming the file.
 * @{
 */
/**
 * \brief Reads a 2-D float .npy given to `option` and checks that every entry is finite.
 * \param path the file
 * \param option the option that named it (`--query`)
 * \return (R, C) as in the file, owning
 */
Mat cli_load_mat(const char *path, const char *option);
/**
 * \brief Writes a float32 .npy atomically.
 * \param path the file
 * \param data the product of shape floats, C order
 * \param ndim number of dimensions
 * \param shape ndim sizes
 */
void cli_save_f32(const char *path, const float *data, int ndim, const int64_t *shape);
/**
 * \brief Writes a matrix as a 2-D float32 .npy atomically.
 * \param path the file
 * \param m (R, C)
 */
void cli_save_mat(const char *path, Mat m);
/**
 * \brief Checks, before any work, that an output file can be written: makes
 * and removes its temporary file (util.h's AtomicFile).
 *
 * Called for every output option before anything is computed or written, so
 * that a typo in one output path neither costs a long run nor leaves the
 * other outputs of a failed run written. Otherwise a data error naming the
 * file, the problem and the option.
 * \param path the file; NULL (the option was not given) checks nothing
 * \param option the option that named it (`--output`)
 */
void cli_check_output(const char *path, const char *option);
/**
 * \brief Checks, before any work, that figures can be written under
 * o->outdir, which is created when they are: every part of it that exists
 * must be a directory, and the deepest one writable. Nothing to check for
 * PLOT_NONE. Otherwise a data error naming `--out`, the directory and the problem.
 * \param o the format and the folder
 */
void cli_check_outdir(const PlotOpts *o);
/**
 * \brief Checks, before it is written, that a result holds no NaN or infinity.
 *
 * Finite inputs can still overflow float32: entries near 3e38, or a model
 * whose parameters are that large. The contract allows no NaN in an output
 * file, so this is a data error naming the inputs, and nothing is written.
 * \param data n floats
 * \param n their number
 * \param inputs the files that gave them, for the message ("Q.npy, K.npy and V.npy")
 */
void cli_check_finite(const float *data, size_t n, const char *inputs);
/** @} */

/** \brief The options every program shares, with their defaults. */
typedef struct {
    uint64_t seed;       ///< `--seed N` (default 1)
    PlotOpts plot;       ///< `--plot FORMAT` (default png), `--out DIR` (default out/chNN)
    int seed_given;      ///< 1 if `--seed` was on the command line
    int plot_given;      ///< 1 if `--plot` was: with files, figures are drawn only then
} CommonOpts;

/**
 * \brief Sets the defaults.
 * \param[out] c the options
 * \param default_out e.g. "out/ch01"
 */
void common_opts_init(CommonOpts *c, const char *default_out);

/**
 * \brief Option codes of the shared options, for getopt_long; >= 1000 so
 * they never clash with a letter.
 */
enum {
    OPT_SEED = 1000,   ///< `--seed N`
    OPT_PLOT,          ///< `--plot FORMAT`
    OPT_OUT,           ///< `--out DIR`
    OPT_HELP           ///< `--help`
};
/** \brief getopt_long entries for the shared options, to splice into a program's table. */
#define COMMON_LONG_OPTIONS                                   \
    {"seed", required_argument, NULL, OPT_SEED},              \
    {"plot", required_argument, NULL, OPT_PLOT},              \
    {"out", required_argument, NULL, OPT_OUT},                \
    {"help", no_argument, NULL, OPT_HELP}
/**
 * \brief Applies one of the shared options.
 * \param c the options
 * \param opt the code getopt_long returned
 * \param arg its value (optarg)
 * \return 1 if `opt` was one of them (and applied it), 0 otherwise
 */
int common_opts_handle(CommonOpts *c, int opt, const char *arg);
/** \brief Help text for the shared options, to print at the end of `--help`. */
extern const char *const COMMON_HELP;

/**
 * \brief The next of the program's own options: getopt_long's loop, with
 * the shared options and the errors of the contract taken care of.
 *
 * On the way it applies `--seed`, `--plot` and `--out` (common_opts_handle);
 * `--help` prints `usage` and COMMON_HELP on stdout and exits 0; an unknown
 * option or a missing value is a usage error (cli_bad_option), and so is a
 * word left over once the options are read. A program reads its options with
 * `while ((c = cli_next_option(...)) != -1) switch (c) { ... }`, the value
 * of each in optarg, as with getopt_long.
 * \param argc main's argc
 * \param argv main's argv
 * \param longopts the program's options, whose codes count from 1 (below
 *        ':', which getopt_long returns for a missing value), then
 *        COMMON_LONG_OPTIONS and an entry of zeros
 * \param[out] longindex where in longopts the option returned is, or NULL
 * \param c the shared options, updated
 * \param usage the program's help text, printed before COMMON_HELP
 * \return the code of the program's next option, or -1 when all are read
 */
int cli_next_option(int argc, char **argv, const struct option *longopts, int *longindex,
                    CommonOpts *c, const char *usage);

/**
 * \brief Reports an unknown option ('?') or a missing value (':') after
 * getopt_long returned `code`.
 *
 * Call getopt_long with opterr = 0 and a leading ':' in optstring.
 * \param code what getopt_long returned
 * \param argc main's argc
 * \param argv main's argv
 */
_Noreturn void cli_bad_option(int code, int argc, char **argv);

/** @} */

#endif
