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
#include <sys/stat.h>
#include <unistd.h>

const char *cli_prog = "program";

void cli_init(const char *prog) { cli_prog = prog; }

static _Noreturn void die(int code, const char *fmt, va_list ap)
{
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* A word of the command line or a file name may hold a newline or a
     * terminal's escape character: shown as '?', the message stays one line. */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    fflush(stdout);
    fprintf(stderr, "%s: %s\n", cli_prog, msg);
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

void cli_check_output(const char *path, const char *option)
{
    AtomicFile af;
    Error err;
    if (!path) return;
    if (atomic_open(&af, path, &err) != 0) data_error("%s (%s)", err.msg, option);
    atomic_abort(&af);
}

void cli_check_outdir(const PlotOpts *o)
{
    if (o->format == PLOT_NONE) return;
    const char *dir = o->outdir;
    char *p = xstrdup(dir);
    char *deepest = xstrdup(dir[0] == '/' ? "/" : ".");   /* the deepest part that exists */
    struct stat st;
    /* Each prefix "a", "a/b", "a/b/c" in turn, until one does not exist yet. */
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (stat(p, &st) != 0) {
            if (errno == ENOENT) break;                 /* created later, with the rest */
            data_error("%s: --out: cannot use %s: %s", dir, p, strerror(errno));
        }
        if (!S_ISDIR(st.st_mode)) data_error("%s: --out: %s is not a directory", dir, p);
        free(deepest);
        deepest = xstrdup(p);
        *s = c;
        if (c == '\0') break;
    }
    if (access(deepest, W_OK | X_OK) != 0)
        data_error("%s: --out: cannot create files in %s: %s", dir, deepest, strerror(errno));
    free(deepest);
    free(p);
}

void cli_check_finite(const float *data, size_t n, const char *inputs)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(data[i]))
            data_error("%s: the result overflows float32 (%s at flat index %zu): inputs or "
                       "parameters too large; nothing written", inputs,
                       isnan(data[i]) ? "NaN" : "infinity", i);
}

void common_opts_init(CommonOpts *c, const char *default_out)
{
    c->seed = 1;
    c->plot.format = PLOT_PNG;
    c->plot.outdir = default_out;
    c->seed_given = 0;
    c->plot_given = 0;
}

int common_opts_handle(CommonOpts *c, int opt, const char *arg)
{
    switch (opt) {
    case OPT_SEED:
        c->seed = parse_seed("--seed", arg);
        c->seed_given = 1;
        return 1;
    case OPT_PLOT:
        if (plot_format_parse(arg, &c->plot.format) != 0)
            usage_error("--plot: '%s' is not one of png, svg, window, none", arg);
        c->plot_given = 1;
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

int cli_next_option(int argc, char **argv, const struct option *longopts, int *longindex,
                    CommonOpts *c, const char *usage)
{
    opterr = 0;   /* the messages are ours: cli_bad_option */
    int code;
    while ((code = getopt_long(argc, argv, ":", longopts, longindex)) != -1) {
        if (code == OPT_HELP) {
            printf("%s%s", usage, COMMON_HELP);
            exit(0);
        }
        if (code == '?' || code == ':') cli_bad_option(code, argc, argv);
        if (!common_opts_handle(c, code, optarg)) return code;   /* the program's own */
    }
    if (optind < argc) usage_error("%s: unexpected argument (try --help)", argv[optind]);
    return -1;
}
