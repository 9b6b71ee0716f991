/*
 * testutil.h - what several test suites need and each used to write again:
 * running a chapter program and reading what it said, temporary
 * directories, whole files, loading fixtures and comparing arrays with a
 * tolerance. Each check fails the calling test (Check's assertions) with a
 * message naming the file, the program or the entry concerned, so these
 * are called from inside a test or its fixture.
 *
 * Paths are relative to the repository root, where the tests run; the
 * programs are found in BIN_DIR (default build/bin).
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "mat.h"
#include "npy.h"
#include "transformer.h"

/* 1 in a build with AddressSanitizer (make sanitize), 0 otherwise. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ------------------------------------------------------------ running programs */

/* The folder of the chapter programs: $BIN_DIR, or build/bin. */
const char *bin_dir(void);

/* Runs a shell command line; returns its exit status, 128 + signal, or -1. */
int run_shell(const char *cmd);

/* Runs BIN_DIR/prog args, stdout discarded, stderr (cap - 1 bytes at most) into err. */
int run_program(const char *prog, const char *args, char *err, size_t cap);

/* May a failing program say more than one line (ANY_LINES), or must it not (ONE_LINE)? */
enum { ANY_LINES, ONE_LINE };

/* Checks a failed run of prog: exit rc is code; err starts "prog: ", holds needle and,
 * if lines is ONE_LINE, is one line. */
void check_failure(const char *prog, const char *args, int rc, int code, const char *err,
                   const char *needle, int lines);

/* Runs BIN_DIR/prog args and checks its failure as check_failure does. */
void expect_program_failure(const char *prog, const char *args, int code, const char *needle,
                            int lines);

/* Runs BIN_DIR/prog args, stdout into out (len - 1 bytes at most); it must exit 0. */
void capture_stdout(const char *prog, const char *args, char *out, size_t len);

/* Starts argv[0] with stdin from in (NULL: ours), stdout to out, stderr to err, files
 * larger than fsize bytes failing if fsize > 0 (a full disk), and OMP_NUM_THREADS=1. */
pid_t start_program(char *const argv[], const char *in, const char *out, const char *err,
                    long fsize);

/* Waits for pid; after timeout seconds kills it and fails, naming what. */
int finish_program(pid_t pid, int timeout, const char *what);

/* Waits until path exists; fails if pid (named what) ends first, or after timeout s. */
void wait_for_file(const char *path, pid_t pid, int timeout, const char *what);

/* Sleeps ms milliseconds. */
void sleep_ms(long ms);

/* ------------------------------------------------------------ files */

/* A path made like printf, in one of 16 buffers used in turn. */
const char *at(const char *fmt, ...);

/* Makes a fresh directory /tmp/<prefix>-XXXXXX and writes its name to dir. */
void make_temp_dir(char *dir, size_t cap, const char *prefix);

/* A fresh, empty directory <parent>/<name> (an old one is removed); its path, to free. */
char *fresh_dir(const char *parent, const char *name);

/* Removes path and everything under it (symbolic links are removed, not followed). */
void remove_tree(const char *path);

/* Whether path exists. */
int file_exists(const char *path);

/* The whole file, NUL-terminated, to free; its size to *len (if len); NULL if unreadable. */
char *read_file(const char *path, size_t *len);

/* The text of a file of at most 64 KiB, in a buffer the next call reuses. */
const char *read_text(const char *path);

/* The number of newlines in s. */
int count_lines(const char *s);

/* Writes n bytes to the file path. */
void write_bytes(const char *path, const void *bytes, size_t n);

/* Writes text to the file path. */
void write_text(const char *path, const char *text);

/* Whether a file of dir has ".tmp-" in its name (left behind); its path goes to found. */
int has_temporary(const char *dir, char *found, size_t cap);

/* ------------------------------------------------------------ arrays and models */

/* The .npy file at path. */
Tensor load_tensor(const char *path);

/* The .npz file at path. */
Npz load_npz(const char *path);

/* The model file at path, read by transformer_load. */
Transformer load_model(const char *path);

/* The 2-D fixture tests/fixtures/<name> as a matrix. */
Mat load_fixture(const char *name);

/* The 2-D array a program wrote to <dir>/<file>, which is then removed. */
Mat load_written(const char *dir, const char *file);

/* Saves int64 ids of the given shape as the .npy file path. */
void write_ids(const char *path, const int64_t *ids, int ndim, const int64_t *shape);

/* Saves (B, L) int64 ids as the .npy file path. */
void write_id_rows(const char *path, const int64_t *ids, int64_t B, int64_t L);

/* A model of cfg from seed, every 1-D tensor then random (gains 0.7-1.3, biases +-0.3). */
Transformer random_model(const TransformerConfig *cfg, uint64_t seed);

/* The contract's tolerance for chapters 6-9: |got - want| <= 1e-5 + 1e-4 |want|. */
#define CONTRACT_ABS 1e-5
#define CONTRACT_REL 1e-4

/* Whether got is finite and within abs_tol + rel_tol |want| of want. */
int close_to(double got, double want, double abs_tol, double rel_tol);

/* Checks got's shape and entries (close_to) against want, made by source ("PyTorch"). */
void assert_mat_close(Mat got, Mat want, double abs_tol, double rel_tol, const char *what,
                      const char *source);

/* Checks n floats (close_to) against want, made by source. */
void assert_floats_close(const float *got, const float *want, int64_t n, double abs_tol,
                         double rel_tol, const char *what, const char *source);

/* Checks n floats against PyTorch's within the contract's tolerance. */
void assert_torch_close(const float *got, const float *want, int64_t n, const char *what);

/* Checks that got has the shape of want, made by source. */
void assert_same_shape(const Tensor *got, const Tensor *want, const char *what,
                       const char *source);

#endif
