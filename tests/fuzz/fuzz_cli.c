/*
 * fuzz_cli.c - libFuzzer target: command-line parsing as every chapter
 * program does it: cli_next_option (getopt_long, the shared options --seed,
 * --plot and --out, --help, cli_bad_option, words left over) and the strict
 * number parsers parse_long and parse_float.
 * The input is the words of a command line, separated by NUL bytes.
 * Seeds in corpus/cli/.
 *
 * A usage error exits; here, where the fuzzer must go on, cli.c is built
 * with exit() renamed to fuzz_exit (see the Makefile), which jumps back.
 * Checked: a value accepted is within its range and finite; a refusal exits
 * with 2 and prints one line starting "fuzz: " on stderr; --help exits 0
 * and says nothing on stderr.
 */
#include <getopt.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static jmp_buf back;
static int exit_code;

_Noreturn void fuzz_exit(int code);
_Noreturn void fuzz_exit(int code)
{
    exit_code = code;
    longjmp(back, 1);
}

enum { OPT_HEADS = 1, OPT_LR, OPT_CAUSAL };
static const struct option longopts[] = {
    {"heads", required_argument, NULL, OPT_HEADS},
    {"lr", required_argument, NULL, OPT_LR},
    {"causal", no_argument, NULL, OPT_CAUSAL},
    COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* The loop of every main.c, with the values checked. */
static void parse(int argc, char **argv)
{
    CommonOpts opts;
    common_opts_init(&opts, "out/fuzz");
    optind = 0;   /* glibc: start afresh, as at a program's start */
    int c;
    while ((c = cli_next_option(argc, argv, longopts, NULL, &opts, "usage\n")) != -1) {
        switch (c) {
        case OPT_HEADS: {
            long h = parse_long("--heads", optarg, 1, 4096);
            if (h < 1 || h > 4096) abort();
            break;
        }
        case OPT_LR: {
            float lr = parse_float("--lr", optarg, 1e-12f, 1e3f);
            if (!isfinite(lr) || lr < 1e-12f || lr > 1e3f) abort();
            break;
        }
        case OPT_CAUSAL: break;
        default: abort();   /* only the program's own options come back */
        }
    }
    if (opts.plot.format > PLOT_NONE || !opts.plot.outdir || !opts.plot.outdir[0]) abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    enum { MAX_WORDS = 16 };
    if (size > 4096) return 0;
    cli_init("fuzz");
    char *text = malloc(size + 1), *argv[MAX_WORDS + 2];
    memcpy(text, data, size);
    text[size] = '\0';
    int argc = 0;
    argv[argc++] = "fuzz";
    for (char *w = text; argc <= MAX_WORDS && w <= text + size; w += strlen(w) + 1)
        argv[argc++] = w;
    argv[argc] = NULL;

    char msg[16384] = "", help[16384] = "";
    FILE *saved = stderr, *saved_out = stdout, *mem = fmemopen(msg, sizeof msg, "w"),
         *out = fmemopen(help, sizeof help, "w");
    if (!mem || !out) abort();
    stderr = mem;
    stdout = out;
    exit_code = -1;
    if (setjmp(back) == 0) parse(argc, argv);
    stderr = saved;
    stdout = saved_out;
    fclose(mem);
    fclose(out);
    if (exit_code == 0) {   /* --help */
        if (msg[0] || strncmp(help, "usage\n", 6) != 0) abort();
    } else if (exit_code != -1) {   /* refused: a usage error, one line naming the program */
        size_t n = strlen(msg);
        if (exit_code != EXIT_USAGE || strncmp(msg, "fuzz: ", 6) != 0 || n == 0 ||
            msg[n - 1] != '\n' || strchr(msg, '\n') != msg + n - 1)
            abort();
    }
    free(text);
    return 0;
}
