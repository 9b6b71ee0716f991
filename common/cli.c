/*
 * cli.c - the command-line conventions of every chapter program (see cli.h).
 * Introduced with chapter 1.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_prog = "program";

void cli_init(const char *prog) { cli_prog = prog; }

static _Noreturn void die(int code, const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, "%s: ", cli_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    exit(code);
}

void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    die(EXIT_USAGE, fmt, ap);
}

void data_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    die(EXIT_DATA, fmt, ap);
}

void data_error_from(const Error *err) { data_error("%s", err->msg); }

long parse_long(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0')
        usage_error("%s: '%s' is not a whole number", opt, s);
    if (errno == ERANGE || v < lo || v > hi)
        usage_error("%s: %s is out of range [%ld, %ld]", opt, s, lo, hi);
    return v;
}

uint64_t parse_seed(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    if (s[0] == '-' || s[0] == '\0') usage_error("%s: '%s' is not a non-negative whole number", opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0') usage_error("%s: '%s' is not a non-negative whole number", opt, s);
    if (errno == ERANGE) usage_error("%s: %s is larger than 2^64 - 1", opt, s);
    return (uint64_t)v;
}

float parse_float(const char *opt, const char *s, float lo, float hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0') usage_error("%s: '%s' is not a number", opt, s);
    if (!isfinite(v)) usage_error("%s: '%s' is not a finite number", opt, s);
    if (v < lo || v > hi) usage_error("%s: %s is out of range [%g, %g]", opt, s, lo, hi);
    return (float)v;
}

Mat cli_load_mat(const char *path, const char *option)
{
    Mat m;
    Error err;
    if (npy_load_mat(path, option, &m, &err) != 0) data_error_from(&err);
    int i, j;
    if (!mat_all_finite(m, &i, &j))
        data_error("%s: %s holds %g at (%d, %d); inputs must be finite", path, option,
                   (double)MAT_AT(m, i, j), i, j);
    return m;
}

void cli_save_f32(const char *path, const float *data, int ndim, const int64_t *shape)
{
    Error err;
    if (npy_save_f32(path, data, ndim, shape, &err) != 0) data_error_from(&err);
}

void cli_save_mat(const char *path, Mat m)
{
    Error err;
    if (npy_save_mat(path, m, &err) != 0) data_error_from(&err);
}

void common_opts_init(CommonOpts *c, const char *default_out)
{
    c->seed = 1;
    c->plot.format = PLOT_PNG;
    c->plot.outdir = default_out;
}

int common_opts_handle(CommonOpts *c, int opt, const char *arg)
{
    switch (opt) {
    case OPT_SEED:
        c->seed = parse_seed("--seed", arg);
        return 1;
    case OPT_PLOT:
        if (plot_format_parse(arg, &c->plot.format) != 0)
            usage_error("--plot: '%s' is not one of png, svg, window, none", arg);
        return 1;
    case OPT_OUT:
        if (arg[0] == '\0') usage_error("--out: the directory name is empty");
        c->plot.outdir = arg;
        return 1;
    default:
        return 0;
    }
}

const char *const COMMON_HELP =
    "  --seed N           seed of the random generator (default 1)\n"
    "  --plot FORMAT      figures as png (default), svg, window or none\n"
    "  --out DIR          directory for figures (default out/<program>)\n"
    "  --help             show this help and exit\n";

void cli_bad_option(int code, int argc, char **argv)
{
    /* getopt_long leaves the offending word at argv[optind - 1]. */
    const char *word = optind > 0 && optind - 1 < argc ? argv[optind - 1] : "?";
    char name[128];
    if (optopt > 0 && optopt < 256 && strncmp(word, "--", 2) != 0)
        snprintf(name, sizeof name, "-%c", optopt);
    else
        snprintf(name, sizeof name, "%s", word);
    char *eq = strchr(name, '=');
    if (eq) *eq = '\0';
    if (code == ':') usage_error("%s: missing value (try --help)", name);
    usage_error("%s: unknown option (try --help)", name);
}
