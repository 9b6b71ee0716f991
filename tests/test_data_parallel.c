/*
 * test_data_parallel.c - chapter 12 through its program, build/bin/ch12,
 * started by mpirun on 2 to 3 ranks of this machine (--oversubscribe, and
 * --allow-run-as-root as root):
 *   - one step on 2 ranks, each with part of the batch, gives the loss and
 *     gradients of chapter 10's single process on the whole batch (ch10,
 *     and PyTorch's fixtures tests/fixtures/ch10_*), also when a rank has
 *     no rows at all;
 *   - four Adam steps on 2 ranks give ch10's parameters and torch.optim.Adam's;
 *   - one rank alone is ch10 bit for bit;
 *   - a training run with dropout on 2 and 3 ranks is ch10's run, and a run
 *     resumed on 2 ranks is bit-identical to one never stopped;
 *   - usage and data errors: one message, not one per rank, and the
 *     contract's exit status;
 *   - chapter 11's pronunciation model (--task g2p) on a few hundred words
 *     of the dictionary (tests/fixtures/g2p_dp_small.train): 2 and 3 ranks
 *     train what ch11 train trains in one process, dropout on; a run
 *     stopped and resumed on 2 ranks, by --steps or by SIGTERM, equals one
 *     never stopped bit for bit; ch11 train and ch12 continue each other's
 *     checkpoints; a missing dictionary is said once.
 * MPI is optional: without mpirun or mpicc the suite prints one note and
 * every test passes.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "npy.h"

/* Between ranks and one process only the order of the additions differs:
 * gradients of size up to ~1 agreed to 1.2e-7, so 1e-6 absolute (and 1e-5
 * relative) is float rounding with room to spare, and far below what a
 * wrong count or a wrong share would give (tens of percent). */
#define DP_ABS 1e-6
#define DP_REL 1e-5
/* After 4 Adam steps of lr 0.01, rounding moved parameters by 2.4e-7. */
#define DP_ADAM_ABS 2e-6
/* Against PyTorch, the contract's tolerances, as tests/test_train.c. */
#define TORCH_ABS 1e-5
#define TORCH_REL 1e-4
#define TORCH_ADAM_ABS 1e-6
#define LOSS_TOL 1e-5
/* Chapter 11's model, 4 steps with dropout on 2 or 3 ranks against ch11
 * train in one process: the parameters differed by at most 1.3e-7 (of up
 * to 0.11), Adam's moments by 1.9e-8 (m, up to 0.03) and 9.9e-10 (v), the
 * history's numbers by 4.8e-7 (of up to 1162, a PER in percent). Without
 * the dropout skip (rng_skip) the parameters differ by 5.4e-5 and m by
 * 5.2e-3. */
#define G2P_ABS 2e-6
#define G2P_REL 1e-5

typedef struct {
    const char *name;
    const char *smoothing;   /* as CASES in tests/fixtures/make_ch10_ref.py */
} Case;

static const Case CASES[] = {{"post", "0"}, {"pre", "0.1"}, {"nonorm", "0.1"}};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

/* ------------------------------------------------------------ running */

/* Whether MPI is installed: mpirun to start ranks, and mpicc, without which
 * make does not build ch12. Found once, before the tests fork. */
static int mpi_present;

static void find_mpi(void)
{
    mpi_present = run_shell("command -v mpirun >/dev/null 2>&1 && "
                            "mpicc --showme:link >/dev/null 2>&1") == 0;
    if (!mpi_present)
        printf("data_parallel: every test skipped: no MPI (mpirun, mpicc); chapter 12 is "
               "optional (Debian: apt-get install openmpi-bin libopenmpi-dev)\n");
}

/* Under make sanitize: Open MPI holds memory to the end, which LeakSanitizer
 * would call leaks; tests/data_parallel_lsan.supp silences those (and only
 * those), which needs full stacks. Ignored by a build without sanitizers. */
#define SANITIZER_ENV                                                      \
    "LSAN_OPTIONS=suppressions=tests/data_parallel_lsan.supp:print_suppressions=0 " \
    "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0 "

/* "mpirun ... -np N BIN/ch12": ranks share this machine's cores. */
static void mpirun(char *buf, size_t len, int ranks)
{
    snprintf(buf, len, SANITIZER_ENV "OMP_NUM_THREADS=1 mpirun --oversubscribe%s -np %d %s/ch12",
             geteuid() == 0 ? " --allow-run-as-root" : "", ranks, bin_dir());
}

/* BIN/ch12 started alone: one rank, without mpirun. */
static void alone(char *buf, size_t len)
{
    snprintf(buf, len, SANITIZER_ENV "%s/ch12", bin_dir());
}

/* The contract's options for fixture case `c`. */
static void case_args(char *buf, size_t len, const Case *c)
{
    snprintf(buf, len,
             "--params tests/fixtures/ch10_%s_model.npz --src tests/fixtures/ch10_%s_src.npy "
             "--tgt tests/fixtures/ch10_%s_tgt.npy --tgt-out tests/fixtures/ch10_%s_tgt_out.npy "
             "--label-smoothing %s", c->name, c->name, c->name, c->name, c->smoothing);
}

/* Runs `program args`, stdout to dir/out_name and stderr (the progress
 * line) beside it; expects exit 0. */
static void run_ok(const char *program, const char *args, const char *dir, const char *out_name)
{
    char cmd[4096], err[512];
    snprintf(err, sizeof err, "%s/%s.err", dir, out_name);
    snprintf(cmd, sizeof cmd, "%s %s > %s/%s 2> %s", program, args, dir, out_name, err);
    if (run_shell(cmd) != 0) ck_abort_msg("failed: %s\n%s", cmd, read_text(err));
}

/* The line after the one at `at`, or NULL at the end. */
static const char *next_line(const char *at)
{
    const char *end = strchr(at, '\n');
    return end && end[1] ? end + 1 : NULL;
}

/* The number after "loss " in the first line that starts with `prefix`. */
static double printed_loss(const char *text, const char *prefix)
{
    for (const char *at = text; at; at = next_line(at))
        if (strncmp(at, prefix, strlen(prefix)) == 0) {
            const char *l = strstr(at, "loss ");
            ck_assert_ptr_nonnull(l);
            return atof(l + 5);
        }
    ck_abort_msg("no line \"%s...\" in:\n%s", prefix, text);
    return NAN;
}

/* Every float array of `want` (but train.seconds, a time) against the
 * array of the same name in got. */
static void assert_npz_close(const Npz *got, const Npz *want, double abs_tol, double rel_tol,
                             const char *what)
{
    int arrays = 0;
    for (int k = 0; k < want->count; k++) {
        const Tensor *w = &want->arrays[k];
        if (w->dtype != DT_F32 || strcmp(want->names[k], "train.seconds") == 0) continue;
        const Tensor *g = npz_get(got, want->names[k]);
        ck_assert_msg(g != NULL, "%s: no %s", what, want->names[k]);
        ck_assert_int_eq(g->size, w->size);
        for (int64_t i = 0; i < w->size; i++)
            ck_assert_msg(isfinite(g->f[i]) && fabs(g->f[i] - w->f[i]) <= abs_tol + rel_tol *
                          fabs(w->f[i]), "%s: %s[%lld] = %.9g, want %.9g", what,
                          want->names[k], (long long)i, g->f[i], w->f[i]);
        arrays++;
    }
    ck_assert_int_gt(arrays, 10);
}

/* Every float array bit for bit (but train.seconds). */
static void assert_npz_identical(const Npz *got, const Npz *want, const char *what)
{
    for (int k = 0; k < want->count; k++) {
        const Tensor *w = &want->arrays[k];
        if (w->dtype != DT_F32 || strcmp(want->names[k], "train.seconds") == 0) continue;
        const Tensor *g = npz_get(got, want->names[k]);
        ck_assert_msg(g != NULL && g->size == w->size, "%s: %s missing or resized", what,
                      want->names[k]);
        ck_assert_msg(memcmp(g->f, w->f, (size_t)w->size * sizeof(float)) == 0,
                      "%s: %s differs", what, want->names[k]);
    }
}

/* --------------------------------------------- one step: gradients */

/* For each fixture case and N ranks: ch12's loss and --grads against ch10's
 * on the whole batch and against PyTorch's. */
static void check_grads(const Case *c, int ranks)
{
    char dir[64], args[1024], more[2048], ch10[256], ch12[512], path[256];
    make_temp_dir(dir, sizeof dir, "ch12-test");
    case_args(args, sizeof args, c);
    snprintf(ch10, sizeof ch10, "%s/ch10", bin_dir());
    mpirun(ch12, sizeof ch12, ranks);
    snprintf(more, sizeof more, "%s --grads %s/g10.npz", args, dir);
    run_ok(ch10, more, dir, "out10.txt");
    snprintf(more, sizeof more, "%s --grads %s/g12.npz", args, dir);
    run_ok(ch12, more, dir, "out12.txt");

    snprintf(path, sizeof path, "%s/out10.txt", dir);
    double loss10 = printed_loss(read_text(path), "loss ");
    snprintf(path, sizeof path, "%s/out12.txt", dir);
    const char *text = read_text(path);
    double loss12 = printed_loss(text, "loss ");
    ck_assert_msg(strstr(strstr(text, "loss ") + 1, "loss ") == NULL,
                  "%d ranks printed more than one loss line:\n%s", ranks, text);
    char want_path[256];
    snprintf(want_path, sizeof want_path, "tests/fixtures/ch10_%s_loss.npy", c->name);
    Tensor want;
    Error err;
    ck_assert_msg(npy_load(want_path, &want, &err) == 0, "%s", err.msg);
    ck_assert_msg(fabs(loss12 - loss10) <= 1e-6 * fabs(loss10), "%s on %d ranks: loss %.9f, "
                  "ch10 %.9f", c->name, ranks, loss12, loss10);
    ck_assert_msg(fabs(loss12 - want.f[0]) <= LOSS_TOL * fabs(want.f[0]), "%s on %d ranks: loss "
                  "%.9f, PyTorch %.9f", c->name, ranks, loss12, want.f[0]);
    tensor_free(&want);

    snprintf(path, sizeof path, "%s/g10.npz", dir);
    Npz g10 = load_npz(path);
    snprintf(path, sizeof path, "%s/g12.npz", dir);
    Npz g12 = load_npz(path);
    snprintf(path, sizeof path, "tests/fixtures/ch10_%s_grads.npz", c->name);
    Npz torch = load_npz(path);
    char what[96];
    snprintf(what, sizeof what, "%s, %d ranks against ch10", c->name, ranks);
    assert_npz_close(&g12, &g10, DP_ABS, DP_REL, what);
    snprintf(what, sizeof what, "%s, %d ranks against PyTorch", c->name, ranks);
    assert_npz_close(&g12, &torch, TORCH_ABS, TORCH_REL, what);
    npz_free(&g10);
    npz_free(&g12);
    npz_free(&torch);
    remove_tree(dir);
}

START_TEST(two_ranks_match_one_process)
{
    if (!mpi_present) return;
    check_grads(&CASES[_i], 2);
}
END_TEST

START_TEST(a_rank_without_rows)
{
    /* The "post" batch has B = 2: on 3 ranks the last one has no rows and
     * must still take part in every all-reduce (adding zeros). */
    if (!mpi_present) return;
    check_grads(&CASES[0], 3);
}
END_TEST

/* --------------------------------------------- Adam on 2 ranks */

START_TEST(adam_on_two_ranks)
{
    if (!mpi_present) return;
    char dir[64], args[1024], more[2048], ch10[256], ch12[512], path[256];
    make_temp_dir(dir, sizeof dir, "ch12-test");
    case_args(args, sizeof args, &CASES[0]);   /* "post", as ch10_adam_* */
    snprintf(ch10, sizeof ch10, "%s/ch10", bin_dir());
    mpirun(ch12, sizeof ch12, 2);
    snprintf(more, sizeof more, "%s --steps 4 --lr 0.01 --params-out %s/p10.npz", args, dir);
    run_ok(ch10, more, dir, "out10.txt");
    snprintf(more, sizeof more, "%s --steps 4 --lr 0.01 --params-out %s/p12.npz", args, dir);
    run_ok(ch12, more, dir, "out12.txt");

    Tensor losses;
    Error err;
    ck_assert_msg(npy_load("tests/fixtures/ch10_adam_losses.npy", &losses, &err) == 0, "%s",
                  err.msg);
    snprintf(path, sizeof path, "%s/out12.txt", dir);
    char text[4096];
    snprintf(text, sizeof text, "%s", read_text(path));
    for (int k = 0; k < 4; k++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "step %d ", k + 1);
        double got = printed_loss(text, prefix);
        ck_assert_msg(fabs(got - losses.f[k]) <= LOSS_TOL * fabs(losses.f[k]),
                      "before step %d: loss %.9f, PyTorch %.9f", k + 1, got, losses.f[k]);
    }
    tensor_free(&losses);
    snprintf(path, sizeof path, "%s/p10.npz", dir);
    Npz p10 = load_npz(path);
    snprintf(path, sizeof path, "%s/p12.npz", dir);
    Npz p12 = load_npz(path);
    Npz torch = load_npz("tests/fixtures/ch10_adam_params.npz");
    assert_npz_close(&p12, &p10, DP_ADAM_ABS, DP_REL, "Adam on 2 ranks against ch10");
    assert_npz_close(&p12, &torch, TORCH_ADAM_ABS, TORCH_REL, "Adam on 2 ranks against PyTorch");
    npz_free(&p10);
    npz_free(&p12);
    npz_free(&torch);
    remove_tree(dir);
}
END_TEST

/* --------------------------------------------- one rank is chapter 10 */

START_TEST(one_rank_is_chapter_10)
{
    /* Started alone, ch12 is one rank: its share c_r / C is exactly 1, so
     * gradients and parameters are ch10's bit for bit. */
    if (!mpi_present) return;
    char dir[64], args[1024], more[2048], ch10[256], ch12[512], path[256];
    make_temp_dir(dir, sizeof dir, "ch12-test");
    case_args(args, sizeof args, &CASES[1]);
    snprintf(ch10, sizeof ch10, "%s/ch10", bin_dir());
    alone(ch12, sizeof ch12);
    snprintf(more, sizeof more, "%s --steps 2 --lr 0.01 --grads %s/g10.npz --params-out "
             "%s/p10.npz", args, dir, dir);
    run_ok(ch10, more, dir, "out10.txt");
    snprintf(more, sizeof more, "%s --steps 2 --lr 0.01 --grads %s/g12.npz --params-out "
             "%s/p12.npz", args, dir, dir);
    run_ok(ch12, more, dir, "out12.txt");
    char out10[4096];
    snprintf(path, sizeof path, "%s/out10.txt", dir);
    snprintf(out10, sizeof out10, "%s", read_text(path));
    snprintf(path, sizeof path, "%s/out12.txt", dir);
    ck_assert_str_eq(read_text(path), out10);
    const char *names[2] = {"g", "p"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s10.npz", dir, names[k]);
        Npz a = load_npz(path);
        snprintf(path, sizeof path, "%s/%s12.npz", dir, names[k]);
        Npz b = load_npz(path);
        assert_npz_identical(&b, &a, names[k][0] == 'g' ? "--grads" : "--params-out");
        npz_free(&a);
        npz_free(&b);
    }
    remove_tree(dir);
}
END_TEST

/* --------------------------------------------- training runs */

/* A short copy-task run with dropout: batch 8, 20 steps. */
#define RUN_ARGS "--task copy --batch 8 --dropout 0.1 --eval-every 10 --test 10 --plot none"

START_TEST(dropout_run_matches_chapter_10)
{
    /* Dropout draws row after row: each rank must skip the numbers of the
     * rows before its own (rng_skip). Wrong skips give other masks, and
     * parameters that differ by whole Adam steps (~1e-4 and more). */
    if (!mpi_present) return;
    char dir[64], more[2048], ch10[256], ch12[512], path[256];
    make_temp_dir(dir, sizeof dir, "ch12-test");
    snprintf(ch10, sizeof ch10, "%s/ch10", bin_dir());
    snprintf(more, sizeof more, RUN_ARGS " --steps 20 --checkpoint %s/c10.npz --out %s", dir, dir);
    run_ok(ch10, more, dir, "out10.txt");
    snprintf(path, sizeof path, "%s/c10.npz", dir);
    Npz want = load_npz(path);
    for (int ranks = 2; ranks <= 3; ranks++) {
        mpirun(ch12, sizeof ch12, ranks);
        snprintf(more, sizeof more, RUN_ARGS " --steps 20 --checkpoint %s/c12.npz --out %s", dir,
                 dir);
        run_ok(ch12, more, dir, "out12.txt");
        snprintf(path, sizeof path, "%s/c12.npz", dir);
        Npz got = load_npz(path);
        char what[64];
        snprintf(what, sizeof what, "20 steps with dropout on %d ranks", ranks);
        assert_npz_close(&got, &want, DP_ADAM_ABS, DP_REL, what);
        npz_free(&got);
    }
    npz_free(&want);
    remove_tree(dir);
}
END_TEST

START_TEST(resumed_on_two_ranks)
{
    /* 10 steps, then --resume to 20 (rank 0 reads the checkpoint and sends
     * it to the other rank): every array as in 20 steps in one go. */
    if (!mpi_present) return;
    char dir[64], more[2048], ch12[512], path[256];
    make_temp_dir(dir, sizeof dir, "ch12-test");
    mpirun(ch12, sizeof ch12, 2);
    snprintf(more, sizeof more, RUN_ARGS " --steps 20 --checkpoint %s/whole.npz --out %s", dir,
             dir);
    run_ok(ch12, more, dir, "whole.txt");
    snprintf(more, sizeof more, RUN_ARGS " --steps 10 --checkpoint %s/part.npz --out %s", dir,
             dir);
    run_ok(ch12, more, dir, "part.txt");
    snprintf(more, sizeof more, "--resume --checkpoint %s/part.npz --steps 20 --test 10 "
             "--plot none --out %s", dir, dir);
    run_ok(ch12, more, dir, "resumed.txt");
    snprintf(path, sizeof path, "%s/whole.npz", dir);
    Npz whole = load_npz(path);
    snprintf(path, sizeof path, "%s/part.npz", dir);
    Npz resumed = load_npz(path);
    assert_npz_identical(&resumed, &whole, "resumed on 2 ranks");
    npz_free(&whole);
    npz_free(&resumed);
    remove_tree(dir);
}
END_TEST

/* --------------------------------------------- chapter 11's model */

/* 284 lines of the dictionary (tests/fixtures/g2p_dp_small.NOTICE): 274
 * training pairs, in batches of 128, 128 and 18 with the classroom recipe
 * (dropout 0.1), so 4 steps span two epochs and meet the short batch; 10
 * development words. */
#define G2P_ARGS "--dict tests/fixtures/g2p_dp_small.train --eval-every 2 --plot none"
/* Where the training time is in g2p.floats (CF_SECONDS in g2p_train.c). */
enum { G2P_SECONDS = 3 };

static void ch11(char *buf, size_t len)
{
    snprintf(buf, len, "%s/ch11 train", bin_dir());
}

/* The first float of n in got that is not within abs_tol + rel_tol |want|
 * of want's (bit for bit when both are 0), skipping index `skip`; -1 if none.
 * (A Check assertion per element would cost more than the runs: there are
 * three million.) */
static int64_t first_apart(const float *got, const float *want, int64_t n, double abs_tol,
                           double rel_tol, int64_t skip)
{
    int exact = abs_tol == 0.0 && rel_tol == 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (i == skip) continue;
        int ok = exact ? memcmp(&got[i], &want[i], sizeof(float)) == 0
                       : isfinite(got[i]) &&
                             fabs(got[i] - want[i]) <= abs_tol + rel_tol * fabs(want[i]);
        if (!ok) return i;
    }
    return -1;
}

/* Every array of chapter 11's checkpoint `want` against got's: integers
 * equal, floats within abs_tol + rel_tol |want|, or bit for bit when both
 * are 0; all but the training time. */
static void assert_g2p_close(const Npz *got, const Npz *want, double abs_tol, double rel_tol,
                             const char *what)
{
    ck_assert_msg(got->count == want->count, "%s: %d arrays, want %d", what, got->count,
                  want->count);
    for (int k = 0; k < want->count; k++) {
        const Tensor *w = &want->arrays[k];
        const Tensor *g = npz_get(got, want->names[k]);
        ck_assert_msg(g && g->dtype == w->dtype && g->size == w->size,
                      "%s: %s missing, or of another type or size", what, want->names[k]);
        if (w->dtype != DT_F32) {
            ck_assert_msg(memcmp(g->i, w->i, (size_t)w->size * sizeof *w->i) == 0,
                          "%s: %s differs", what, want->names[k]);
            continue;
        }
        int64_t skip = strcmp(want->names[k], "g2p.floats") == 0 ? G2P_SECONDS : -1;
        int64_t i = first_apart(g->f, w->f, w->size, abs_tol, rel_tol, skip);
        if (i >= 0)
            ck_abort_msg("%s: %s[%lld] = %.9g, want %.9g", what, want->names[k], (long long)i,
                         g->f[i], w->f[i]);
    }
}

static void compare_g2p(const char *dir, const char *got, const char *want, double abs_tol,
                        double rel_tol, const char *what)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, got);
    Npz a = load_npz(path);
    snprintf(path, sizeof path, "%s/%s", dir, want);
    Npz b = load_npz(path);
    assert_g2p_close(&a, &b, abs_tol, rel_tol, what);
    npz_free(&a);
    npz_free(&b);
}

static void copy_file(const char *dir, const char *from, const char *to)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s/%s %s/%s", dir, from, dir, to);
    ck_assert_int_eq(run_shell(cmd), 0);
}

START_TEST(g2p_ranks_match_chapter_11)
{
    /* 4 steps of ch11 train, and of ch12 --task g2p on 2 and 3 ranks (3:
     * rows 43, 43, 42 and 6, 6, 6 of the short batch): the same batches,
     * the same dropout masks, the same Adam steps, to float rounding; on
     * one rank, bit for bit. */
    if (!mpi_present) return;
    char dir[64], more[2048], prog[512];
    make_temp_dir(dir, sizeof dir, "ch12-test");
    ch11(prog, sizeof prog);
    snprintf(more, sizeof more, G2P_ARGS " --steps 4 --checkpoint %s/c11.npz --out %s", dir, dir);
    run_ok(prog, more, dir, "out11.txt");
    for (int ranks = 2; ranks <= 3; ranks++) {
        mpirun(prog, sizeof prog, ranks);
        snprintf(more, sizeof more, "--task g2p " G2P_ARGS " --steps 4 --checkpoint %s/c12.npz "
                 "--out %s", dir, dir);
        run_ok(prog, more, dir, "out12.txt");
        char what[64];
        snprintf(what, sizeof what, "4 g2p steps on %d ranks against ch11", ranks);
        compare_g2p(dir, "c12.npz", "c11.npz", G2P_ABS, G2P_REL, what);
    }
    /* One rank alone: its share is exactly 1, so it is ch11 train bit for bit. */
    alone(prog, sizeof prog);
    snprintf(more, sizeof more, "--task g2p " G2P_ARGS " --steps 4 --checkpoint %s/c12.npz "
             "--out %s", dir, dir);
    run_ok(prog, more, dir, "out12.txt");
    compare_g2p(dir, "c12.npz", "c11.npz", 0.0, 0.0, "4 g2p steps on 1 rank against ch11");
    remove_tree(dir);
}
END_TEST

START_TEST(g2p_resumed_on_two_ranks)
{
    /* 2 steps, then --resume to 4 (rank 0 reads chapter 11's checkpoint and
     * sends it to the other rank): every array, history included, as in 4
     * steps in one go, but the training time. Then ch11 train continues a
     * copy of the 2-step checkpoint to the same place, to rounding. */
    if (!mpi_present) return;
    char dir[64], more[2048], prog[512];
    make_temp_dir(dir, sizeof dir, "ch12-test");
    mpirun(prog, sizeof prog, 2);
    snprintf(more, sizeof more, "--task g2p " G2P_ARGS " --steps 4 --checkpoint %s/whole.npz "
             "--out %s", dir, dir);
    run_ok(prog, more, dir, "whole.txt");
    snprintf(more, sizeof more, "--task g2p " G2P_ARGS " --steps 2 --checkpoint %s/part.npz "
             "--out %s", dir, dir);
    run_ok(prog, more, dir, "part.txt");
    copy_file(dir, "part.npz", "part11.npz");
    snprintf(more, sizeof more, "--task g2p --resume " G2P_ARGS " --steps 4 --checkpoint "
             "%s/part.npz --out %s", dir, dir);
    run_ok(prog, more, dir, "resumed.txt");
    compare_g2p(dir, "part.npz", "whole.npz", 0.0, 0.0, "resumed on 2 ranks");

    ch11(prog, sizeof prog);
    snprintf(more, sizeof more, "--resume " G2P_ARGS " --steps 4 --checkpoint %s/part11.npz "
             "--out %s", dir, dir);
    run_ok(prog, more, dir, "resumed11.txt");
    compare_g2p(dir, "part11.npz", "whole.npz", G2P_ABS, G2P_REL,
                "ch12's 2 steps and ch11's 2 more against ch12's 4");
    remove_tree(dir);
}
END_TEST

/* CMD (which may start with VAR=value settings) in the background, stdout
 * and stderr to files of dir; the pid is CMD's program's own (mpirun's). */
static pid_t start_background(const char *cmd, const char *dir)
{
    char line[8192];
    snprintf(line, sizeof line, "exec env %s > %s/stdout.txt 2> %s/stderr.txt", cmd, dir, dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", line, (char *)NULL);
        _exit(127);
    }
    return pid;
}

START_TEST(g2p_sigterm_on_two_ranks)
{
    /* SIGTERM to mpirun, which passes it on to its ranks: every rank stops
     * after the same step K, rank 0 writes the checkpoint of step K and says
     * how to continue; resumed to K + 2, the run is bit for bit one of K + 2
     * steps never stopped, the training loss summed since the last
     * measurement (kept in the checkpoint) included. Not under
     * AddressSanitizer: mpirun kills its ranks a few seconds after passing
     * the signal on, and a sanitized step and checkpoint, on a busy
     * machine, can take longer, so rank 0's last lines may be lost. */
#ifdef __SANITIZE_ADDRESS__
    if (mpi_present) printf("g2p_sigterm_on_two_ranks: skipped under AddressSanitizer\n");
    return;
#endif
    if (!mpi_present) return;
    char dir[64], cmd[4096], prog[512], path[256];
    make_temp_dir(dir, sizeof dir, "ch12-test");
    mpirun(prog, sizeof prog, 2);
    snprintf(cmd, sizeof cmd, "%s --task g2p " G2P_ARGS " --steps 100000 "
             "--checkpoint %s/stopped.npz --out %s", prog, dir, dir);
    pid_t pid = start_background(cmd, dir);
    snprintf(path, sizeof path, "%s/stopped.npz", dir);
    struct stat st;
    int waited = 0;
    for (; waited < 6000 && stat(path, &st) != 0; waited++) sleep_ms(10);   /* up to 60 s */
    if (waited == 6000) kill(pid, SIGKILL);
    ck_assert_msg(waited < 6000, "no checkpoint after 60 s");
    kill(pid, SIGTERM);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);

    snprintf(path, sizeof path, "%s/stdout.txt", dir);
    const char *out = read_text(path);
    const char *stopped = strstr(out, "Stopped after step ");
    ck_assert_msg(stopped != NULL, "no 'Stopped after step' in:\n%s", out);
    long K = atol(stopped + strlen("Stopped after step "));
    ck_assert_msg(strstr(out, "--task g2p --resume --checkpoint"), "no resume command in:\n%s",
                  out);
    snprintf(path, sizeof path, "%s/stopped.npz", dir);
    Npz z = load_npz(path);
    const Tensor *ints = npz_get(&z, "g2p.ints");
    ck_assert_ptr_nonnull(ints);
    ck_assert_int_eq(ints->i[13], K);   /* CK_STEP: the step it stopped at */
    npz_free(&z);

    char more[2048];
    snprintf(more, sizeof more, "--task g2p --resume " G2P_ARGS " --steps %ld "
             "--checkpoint %s/stopped.npz --out %s", K + 2, dir, dir);
    run_ok(prog, more, dir, "resumed.txt");
    snprintf(more, sizeof more, "--task g2p " G2P_ARGS " --steps %ld "
             "--checkpoint %s/whole.npz --out %s", K + 2, dir, dir);
    run_ok(prog, more, dir, "whole.txt");
    compare_g2p(dir, "stopped.npz", "whole.npz", 0.0, 0.0, "stopped by SIGTERM and resumed");
    remove_tree(dir);
}
END_TEST

/* --------------------------------------------- errors */

/* Runs ch12 on `ranks` ranks (1: started alone) with `args`: exit `code`,
 * and exactly one line of stderr that starts with "ch12: " and holds
 * `needle` (mpirun adds its own lines about the exit status). */
static void expect_failure_on(int ranks, const char *args, int code, const char *needle)
{
    char ch12[512], cmd[2048];
    if (ranks == 1) alone(ch12, sizeof ch12);
    else mpirun(ch12, sizeof ch12, ranks);
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>/tmp/ch12-test-stderr.txt", ch12, args);
    ck_assert_int_eq(run_shell(cmd), code);
    const char *text = read_text("/tmp/ch12-test-stderr.txt");
    int lines = 0;
    for (const char *at = text; at; at = next_line(at)) {
        if (strncmp(at, "ch12: ", 6) != 0) continue;
        lines++;
        const char *end = strchr(at, '\n');
        ck_assert_msg(strstr(at, needle) && (!end || strstr(at, needle) < end),
                      "expected \"%s\" in: %s", needle, at);
    }
    ck_assert_msg(lines == 1, "%d lines start with ch12: in\n%s", lines, text);
    remove("/tmp/ch12-test-stderr.txt");
}

static void expect_failure(const char *args, int code, const char *needle)
{
    expect_failure_on(2, args, code, needle);
}

START_TEST(errors_are_reported_once)
{
    if (!mpi_present) return;
    /* Every rank finds a usage error; rank 0 alone says it. */
    expect_failure("--allreduce bogus", 2, "--allreduce");
    /* Every rank finds a bad input file: the first says it. */
    expect_failure("--params tests/fixtures/no-such-model.npz "
                   "--src tests/fixtures/ch10_post_src.npy --tgt tests/fixtures/ch10_post_tgt.npy "
                   "--tgt-out tests/fixtures/ch10_post_tgt_out.npy", 1, "no-such-model.npz");
    /* Rank 0 alone cannot write its output. */
    char args[1200];
    case_args(args, sizeof args, &CASES[0]);
    strcat(args, " --grads /nonexistent-dir/g.npz");
    expect_failure(args, 1, "/nonexistent-dir/g.npz");
}
END_TEST

START_TEST(g2p_errors_are_reported_once)
{
    if (!mpi_present) return;
    char dir[64], args[512];
    make_temp_dir(dir, sizeof dir, "ch12-test");
    /* Every rank reads the dictionary, and finds it missing: one line. */
    snprintf(args, sizeof args, "--task g2p --dict %s/no-such.train --out %s --plot none", dir,
             dir);
    expect_failure(args, 1, "no-such.train");
    /* Rank 0 alone reads a checkpoint to resume. */
    snprintf(args, sizeof args, "--task g2p --resume --dict tests/fixtures/g2p_dp_small.train "
             "--checkpoint %s/no-such.npz --out %s --plot none", dir, dir);
    expect_failure(args, 1, "no-such.npz");
    /* Usage errors, said once on 2 ranks as every usage error is (the
     * --allreduce case above): checked on one rank, which starts faster. */
    expect_failure_on(1, "--task g2p --batch 8", 2, "--batch");
    expect_failure_on(1, "--task g2p --recipe tiny", 2, "--recipe");
    expect_failure_on(1, "--dict tests/fixtures/g2p_dp_small.train --task copy", 2, "--dict");
    expect_failure_on(1, "--task g2p --resume --seed 3", 2, "--seed");
    expect_failure_on(1, "--task g2p --test 10", 2, "--test");
    remove_tree(dir);
}
END_TEST

Suite *data_parallel_suite(void)
{
    Suite *s = suite_create("data parallel (chapter 12, MPI)");
    TCase *tc = tcase_create("mpirun");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, find_mpi, NULL);
    tcase_add_loop_test(tc, two_ranks_match_one_process, 0, NCASES);
    tcase_add_test(tc, a_rank_without_rows);
    tcase_add_test(tc, adam_on_two_ranks);
    tcase_add_test(tc, one_rank_is_chapter_10);
    tcase_add_test(tc, dropout_run_matches_chapter_10);
    tcase_add_test(tc, resumed_on_two_ranks);
    tcase_add_test(tc, errors_are_reported_once);
    tcase_add_test(tc, g2p_ranks_match_chapter_11);
    tcase_add_test(tc, g2p_resumed_on_two_ranks);
    tcase_add_test(tc, g2p_sigterm_on_two_ranks);
    tcase_add_test(tc, g2p_errors_are_reported_once);
    suite_add_tcase(s, tc);
    return s;
}
