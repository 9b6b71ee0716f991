/**
 * \file qkv_files.h
 * \brief Chapters 1 to 3 with files: attention on queries, keys and values
 * read from .npy files, for checking against NumPy or PyTorch.
 *
 * The options `--query Q.npy --key K.npy --value V.npy` (the three go
 * together) and `--output O.npy --attn A.npy` (what to write), with the
 * errors of the contract (cli.h): a usage error when only some of the
 * inputs are given, a data error naming the files when their shapes do not
 * fit or the result overflows. Chapter 2 (scaled) and chapter 3 (masked)
 * read and write the same files; each adds its own options.
 * \ingroup api_ch01
 */
#ifndef QKV_FILES_H
#define QKV_FILES_H

#include "cli.h"
#include "mat.h"

/** \addtogroup api_ch01
 *  @{ */

/** \brief The files named on the command line. */
typedef struct {
    const char *query;    ///< `--query`: Q (L, D)
    const char *key;      ///< `--key`: K (S, D)
    const char *value;    ///< `--value`: V (S, Dv)
    const char *output;   ///< `--output`: write the output (L, Dv), or NULL
    const char *attn;     ///< `--attn`: write the weights (L, S), or NULL
} QkvFiles;

/**
 * \brief Option codes of the file options, for getopt_long; a program's
 * own options count on from QKV_OPT_END.
 */
enum {
    QKV_OPT_QUERY = 1,   ///< `--query Q.npy`
    QKV_OPT_KEY,         ///< `--key K.npy`
    QKV_OPT_VALUE,       ///< `--value V.npy`
    QKV_OPT_OUTPUT,      ///< `--output O.npy`
    QKV_OPT_ATTN,        ///< `--attn A.npy`
    QKV_OPT_END          ///< the first code after them
};
/** \brief getopt_long entries for the file options, to splice into a program's table. */
#define QKV_LONG_OPTIONS                                        \
    {"query", required_argument, NULL, QKV_OPT_QUERY},          \
    {"key", required_argument, NULL, QKV_OPT_KEY},              \
    {"value", required_argument, NULL, QKV_OPT_VALUE},          \
    {"output", required_argument, NULL, QKV_OPT_OUTPUT},        \
    {"attn", required_argument, NULL, QKV_OPT_ATTN}

/**
 * \brief Takes one of the file options.
 * \param f the files
 * \param opt the code cli_next_option returned
 * \param arg its value (optarg)
 * \return 1 if `opt` was one of them, 0 otherwise
 */
int qkv_files_handle(QkvFiles *f, int opt, const char *arg);

/**
 * \brief Whether the program runs on files: 1 when `--query`, `--key` and
 * `--value` were all given, 0 when none was; a usage error naming the
 * first one missing when only some were.
 * \param f the files
 * \return 1 or 0
 */
int qkv_files_given(const QkvFiles *f);

/**
 * \brief Checks, before any work, that `--output` and `--attn` can be
 * written (cli_check_output).
 * \param f the files
 */
void qkv_check_outputs(const QkvFiles *f);

/**
 * \brief Reads Q, K and V, each finite, and checks that they fit together:
 * Q and K of one width D, as many values as keys. Otherwise a data error
 * naming the files and the shapes.
 * \param[out] q (L, D), owning
 * \param[out] k (S, D), owning
 * \param[out] v (S, Dv), owning
 * \param f the files
 */
void qkv_load(Mat *q, Mat *k, Mat *v, const QkvFiles *f);

/**
 * \brief Writes the output and the weights that were asked for, once both
 * are known to be finite: finite inputs can still overflow float32, and
 * then it is a data error naming the three inputs, and nothing is written.
 * \param f the files
 * \param output (L, Dv)
 * \param weights (L, S)
 */
void qkv_save(const QkvFiles *f, Mat output, Mat weights);

/**
 * \brief Reads the whole command line of a program whose own options are
 * the file options alone (chapters 1 and 2), and checks it before any work.
 *
 * `--output` or `--attn` without the inputs is a usage error. With files,
 * the outputs must be writable, and the figures' folder too when `--plot`
 * was given; for the demo, the figures' folder.
 * \param[out] f the files
 * \param c the shared options, from common_opts_init
 * \param argc main's argc
 * \param argv main's argv
 * \param usage the program's help text
 * \return 1 to run on the files, 0 to run the demo
 */
int qkv_read_options(QkvFiles *f, CommonOpts *c, int argc, char **argv, const char *usage);

/** @} */

#endif
