/*
 * test_survival.c - chapter 10's training runs survive what happens to
 * real runs (issue 9): Ctrl-C and SIGTERM, kill -9 at any moment, a loss
 * that becomes NaN, a full disk, an output directory that goes away.
 *
 * Each test runs BIN_DIR/ch10 (default build/bin) on the copy task with a
 * small model (d_model 16, one layer, batches of 4) that writes a
 * checkpoint every 2 steps, and reads the checkpoints back with
 * checkpoint_load, the function --resume uses.
 *
 * How the failures are made, honestly:
 * - kill -9: SIGKILL after a delay drawn from a seeded generator, so a
 *   failure can be replayed; 12 trials, each killed up to 3 times.
 * - NaN: a checkpoint whose source embeddings are all 1e38, a finite float
 *   that the loader accepts; times sqrt(d_model) = 4 it overflows to Inf, and
 *   layer norm of Inf is NaN, so the first step after --resume has a NaN loss.
 *   (No --lr the program accepts makes Adam diverge that far: its steps are
 *   at most about lr per parameter, and layer norm keeps the rest bounded.)
 * - a full disk: a file size limit (RLIMIT_FSIZE) of 64 KB in the child, with
 *   SIGXFSZ ignored, so that writing the 150 KB checkpoint fails with EFBIG
 *   the way a full disk fails with ENOSPC. stdout and stderr (a few KB) fit.
 * - an unwritable directory: root (as in CI) ignores permission bits, so the
 *   directory is renamed away while the run trains, as when a USB stick or a
 *   network share disappears; without root, a chmod 0555 directory as well.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "checkpoint.h"
#include "npy.h"
#include "rng.h"
#include "train_cli.h"

enum { TIMEOUT = 60, STEPS = 40 };

static char dir[64];   /* this test's temporary directory */

static const char *in_dir(const char *name)
{
    return at("%s/%s", dir, name);
}

static void setup(void)
{
    make_temp_dir(dir, sizeof dir, "survival");
}

static void teardown(void)
{
    chmod(dir, 0700);
    remove_tree(dir);
}

/* ------------------------------------------------------------ running ch10 */

enum { FULL_DISK = 1 };

/* The small run of every test; `more` adds or replaces options. */
#define SMALL "--task copy --batch 4 --d-model 16 --d-ff 32 --layers 1 --eval-every 2 --test 10 " \
              "--plot none"

/* Starts ch10 with the words of args (split at spaces) and, after them,
 * --checkpoint <d>/c.npz --out <d>; stdout and stderr go to <d>/stdout.txt
 * and <d>/stderr.txt. Returns the child's pid. */
static pid_t start(const char *d, const char *args, int flags)
{
    char path[512], words[1024], ckpt[512], out_file[512], err_file[512];
    snprintf(path, sizeof path, "%s/ch10", bin_dir());
    snprintf(words, sizeof words, "%s", args);
    snprintf(ckpt, sizeof ckpt, "%s/c.npz", d);
    snprintf(out_file, sizeof out_file, "%s/stdout.txt", d);
    snprintf(err_file, sizeof err_file, "%s/stderr.txt", d);
    char *argv[64];
    int n = 0;
    argv[n++] = path;
    for (char *w = strtok(words, " "); w && n < 58; w = strtok(NULL, " ")) argv[n++] = w;
    argv[n++] = "--checkpoint";
    argv[n++] = ckpt;
    argv[n++] = "--out";
    argv[n++] = (char *)d;
    argv[n] = NULL;
    /* The 150 KB checkpoint does not fit in 64 KB; stdout and stderr do. */
    return start_program(argv, NULL, out_file, err_file, flags & FULL_DISK ? 64 * 1024 : 0);
}

/* Waits for pid (killing it after TIMEOUT s); returns its wait status. */
static int finish(pid_t pid)
{
    return finish_program(pid, TIMEOUT, "ch10");
}

static int run(const char *d, const char *args, int flags)
{
    return finish(start(d, args, flags));
}

/* The whole text of <d>/name. */
static char *slurp(const char *d, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", d, name);
    char *s = read_file(path, NULL);
    ck_assert_msg(s != NULL, "%s: %s", path, strerror(errno));
    return s;
}

static void expect_exit(int status, int code, const char *d)
{
    char *err = slurp(d, "stderr.txt");
    ck_assert_msg(WIFEXITED(status), "ch10 killed by signal %d; stderr: %s", WTERMSIG(status), err);
    ck_assert_msg(WEXITSTATUS(status) == code, "ch10 exit %d, expected %d; stderr: %s",
                  WEXITSTATUS(status), code, err);
    free(err);
}

/* The last line of stderr: the program's message. */
static char *message(const char *d)
{
    char *err = slurp(d, "stderr.txt");
    size_t n = strlen(err);
    if (n > 0 && err[n - 1] == '\n') err[--n] = '\0';
    char *line = strrchr(err, '\n');
    char *m = strdup(line ? line + 1 : err);
    free(err);
    return m;
}

/* The checkpoint <d>/c.npz, loaded as --resume loads it. */
static void load(const char *d, Trainer *t)
{
    char path[512];
    Error err;
    snprintf(path, sizeof path, "%s/c.npz", d);
    ck_assert_msg(checkpoint_load(path, t, &err) == 0, "%s", err.msg);
}

/* A fresh, empty directory in the test's directory; to free. */
static char *new_dir(const char *name)
{
    return fresh_dir(dir, name);
}

/* Waits until <d>/c.npz exists, that is until training has begun. */
static void wait_for_checkpoint(const char *d, pid_t pid)
{
    char path[512];
    snprintf(path, sizeof path, "%s/c.npz", d);
    wait_for_file(path, pid, TIMEOUT, "ch10");
}

/* trainer_run in-process, its lines and progress sent to /dev/null. */
static int quietly_run(Trainer *t, const RunOpts *o, Error *err)
{
    fflush(stdout);
    int out = dup(1), errfd = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    int rc = trainer_run(t, o, err);
    fflush(stdout);
    dup2(out, 1);
    dup2(errfd, 2);
    close(out);
    close(errfd);
    close(null);
    return rc;
}

/* ------------------------------------------------------------ the tests */

/* Ctrl-C and SIGTERM: a checkpoint of the step reached, the resume command
 * on stdout, exit status 128 + the signal; --resume then continues. */
START_TEST(stop_signal_writes_checkpoint)
{
    int sig = _i == 0 ? SIGINT : SIGTERM;
    char *d = new_dir(sig == SIGINT ? "sigint" : "sigterm");
    pid_t pid = start(d, SMALL " --steps 1000000", 0);
    wait_for_checkpoint(d, pid);
    kill(pid, sig);
    expect_exit(finish(pid), 128 + sig, d);

    char *out = slurp(d, "stdout.txt"), want[600];
    long step = -1;
    const char *stopped = strstr(out, "Stopped by ");
    ck_assert_msg(stopped, "no 'Stopped by' in: %s", out);
    ck_assert_msg(strstr(stopped, sig == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM"), "%s", stopped);
    ck_assert_int_eq(sscanf(strstr(stopped, " at step "), " at step %ld", &step), 1);
    snprintf(want, sizeof want, "ch10 --resume --checkpoint %s/c.npz", d);
    ck_assert_msg(strstr(out, want), "expected '%s' in: %s", want, out);
    free(out);

    Trainer t;
    load(d, &t);
    ck_assert_int_eq(t.step, step);   /* the step it stopped at, not an older one */
    trainer_free(&t);

    char args[256];
    snprintf(args, sizeof args, "--resume --steps %ld --test 10 --plot none", step + 4);
    expect_exit(run(d, args, 0), 0, d);
    load(d, &t);
    ck_assert_int_eq(t.step, step + 4);
    trainer_free(&t);
    free(d);
}
END_TEST

/* The parameters and Adam's moments of two runs, bit for bit. */
static int same_state(const Trainer *a, const Trainer *b)
{
    size_t n = a->m.params.size;
    return n == b->m.params.size && a->step == b->step &&
           memcmp(a->m.params.data, b->m.params.data, n * sizeof(float)) == 0 &&
           memcmp(a->adam.m, b->adam.m, n * sizeof(float)) == 0 &&
           memcmp(a->adam.v, b->adam.v, n * sizeof(float)) == 0;
}

/* kill -9 at random moments: whatever is on disk loads (it is never half a
 * file), and --resume finishes the run exactly as a run never killed. */
START_TEST(kill_9_at_random_moments)
{
    enum { TRIALS = 12, KILLS = 3 };
    char args[256];
    snprintf(args, sizeof args, SMALL " --steps %d", STEPS);
    char *ref = new_dir("uninterrupted");
    expect_exit(run(ref, args, 0), 0, ref);
    Trainer want;
    load(ref, &want);
    ck_assert_int_eq(want.step, STEPS);

    Rng r;
    rng_seed(&r, 20240609);
    int loaded = 0, fresh_starts = 0;
    for (int trial = 0; trial < TRIALS; trial++) {
        char name[32], path[512];
        snprintf(name, sizeof name, "trial%02d", trial);
        char *d = new_dir(name);
        snprintf(path, sizeof path, "%s/c.npz", d);
        for (int k = 0; k <= KILLS; k++) {
            int resume = file_exists(path);
            if (!resume) fresh_starts++;
            pid_t pid = start(d, resume ? "--resume --test 10 --plot none" : args, 0);
            if (k == KILLS) {   /* the last one runs to the end */
                expect_exit(finish(pid), 0, d);
                break;
            }
            sleep_ms((long)(rng_uniform(&r) * 700.0f));
            kill(pid, SIGKILL);
            int status;
            waitpid(pid, &status, 0);
            if (file_exists(path)) {   /* the newest checkpoint always loads */
                Trainer t;
                load(d, &t);
                ck_assert(t.step >= 0 && t.step <= STEPS);
                trainer_free(&t);
                loaded++;
            }
        }
        Trainer got;
        load(d, &got);
        ck_assert_msg(same_state(&got, &want), "trial %d: the resumed run differs from the "
                      "uninterrupted one", trial);
        trainer_free(&got);
        char tmp[600];
        ck_assert_msg(!has_temporary(d, tmp, sizeof tmp), "trial %d: %s left behind", trial, tmp);
        remove_tree(d);
        free(d);
    }
    ck_assert_msg(loaded > TRIALS, "only %d of the kills left a checkpoint to load", loaded);
    trainer_free(&want);
    free(ref);
}
END_TEST

/* A file written while an earlier writer of it was killed: the killed
 * process's temporary goes, a temporary of a process still running stays. */
START_TEST(atomic_write_removes_a_killed_writers_temporary)
{
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    ck_assert_int_gt(dead, 0);
    waitpid(dead, NULL, 0);
    char *d = new_dir("stale"), gone[600], kept[600];
    snprintf(gone, sizeof gone, "%s/m.npy.tmp-%ld", d, (long)dead);
    snprintf(kept, sizeof kept, "%s/m.npy.tmp-%ld", d, (long)getppid());
    FILE *f = fopen(gone, "wb");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_ptr_nonnull(f = fopen(kept, "wb"));
    fclose(f);

    Mat m = mat_new(2, 3);
    mat_fill(m, 1.5f);
    Error err;
    ck_assert_int_eq(npy_save_mat(in_dir("stale/m.npy"), m, &err), 0);
    ck_assert_msg(!file_exists(gone), "%s was left behind", gone);
    ck_assert_msg(file_exists(kept), "%s, of a running process, was removed", kept);
    remove(kept);
    mat_free(&m);
    remove_tree(d);
    free(d);
}
END_TEST

/* A loss of NaN stops the run at that step, with a message naming it, and
 * the checkpoint on disk stays the last good one. */
START_TEST(nan_loss_stops_and_keeps_checkpoint)
{
    char *d = new_dir("nan");
    expect_exit(run(d, SMALL " --steps 6", 0), 0, d);

    /* Embeddings that overflow float32 once multiplied by sqrt(d_model). */
    char path[512];
    snprintf(path, sizeof path, "%s/c.npz", d);
    Npz z;
    Error err;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    NpzWriter w;
    npz_writer_init(&w);
    for (int k = 0; k < z.count; k++) {
        Tensor *t = &z.arrays[k];
        if (strcmp(z.names[k], "src_embed.weight") == 0)
            for (int64_t i = 0; i < t->size; i++) t->f[i] = 1e38f;
        if (t->dtype == DT_F32) npz_add_f32(&w, z.names[k], t->f, t->ndim, t->shape);
        else npz_add_i64(&w, z.names[k], t->i, t->ndim, t->shape);
    }
    ck_assert_msg(npz_write(&w, path, &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
    npz_free(&z);
    char *before = slurp(d, "c.npz");
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);

    expect_exit(run(d, "--resume --steps 12 --plot none", 0), 1, d);
    char *m = message(d), want[600];
    /* Which check sees it first depends on how NaN and Inf travel through
     * the vectorised code of a build: the loss of step 7 (NaN at -O2), or
     * the state before the checkpoint of step 8 or later. */
    long step = 0;
    ck_assert_msg(sscanf(m, "ch10: step %ld: ", &step) == 1 && step >= 7 && step <= 12, "%s", m);
    ck_assert_msg(strstr(m, "training stopped"), "%s", m);
    snprintf(want, sizeof want, "%s (step 6) is kept", path);
    ck_assert_msg(strstr(m, want), "expected '%s' in: %s", want, m);
    char *after = slurp(d, "c.npz");
    ck_assert_msg(memcmp(before, after, (size_t)st.st_size) == 0, "the checkpoint changed");
    free(before);
    free(after);
    free(m);
    free(d);
}
END_TEST

/* The trainer of the in-process tests: SMALL's model on the copy task, 6
 * steps, from ch10's defaults (without label smoothing). */
static void new_small_trainer(Trainer *t)
{
    TrainConfig c = train_config_default(TASK_COPY);
    c.model = (TransformerConfig){16, 32, 2, 1, 1, TASK_VOCAB, TASK_VOCAB, 0, 1, 1};
    c.batch = 4;
    c.seed = 5;
    c.smoothing = 0.0f;
    c.warmup = 20;
    c.steps = 6;
    trainer_new(t, &c);
}

/* A training loss of NaN stops the run at once, naming the step: here the
 * generator's bias is NaN, so every logit and the loss of step 1 are. */
START_TEST(nan_loss_names_the_step)
{
    Trainer t;
    new_small_trainer(&t);
    const Param *bias = params_find(&t.m.params, "generator.bias");
    ck_assert_ptr_nonnull(bias);
    t.m.params.data[bias->offset + 3] = NAN;
    RunOpts o = {6, 2, 2, in_dir("nan.npz"), NULL, NULL};
    Error err;
    int rc = quietly_run(&t, &o, &err);
    ck_assert_int_eq(rc, -1);
    const char *want = "step 1: the training loss is NaN: training stopped; no checkpoint was "
                       "written yet";
    ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
    ck_assert(!file_exists(in_dir("nan.npz")));
    trainer_free(&t);
}
END_TEST

/* Before a checkpoint is written, the state is checked: Adam's second
 * moment at Inf (the loss stays finite: the update is 0 there) would make a
 * file that --resume refuses, so the run stops instead. In-process. */
START_TEST(no_checkpoint_of_a_broken_state)
{
    Trainer t;
    new_small_trainer(&t);
    t.adam.v[7] = INFINITY;
    RunOpts o = {6, 2, 2, in_dir("broken.npz"), NULL, NULL};
    Error err;
    ck_assert_int_eq(quietly_run(&t, &o, &err), -1);
    ck_assert_msg(strstr(err.msg, "step 2: a parameter or Adam moment is not finite"), "%s",
                  err.msg);
    ck_assert_msg(strstr(err.msg, "no checkpoint was written yet"), "%s", err.msg);
    ck_assert(!file_exists(in_dir("broken.npz")));
    trainer_free(&t);
}
END_TEST

/* A full disk while training: a clear error, and the previous checkpoint
 * intact, byte for byte, with no temporary file left. */
START_TEST(full_disk_keeps_previous_checkpoint)
{
    char *d = new_dir("full");
    expect_exit(run(d, SMALL " --steps 4", 0), 0, d);
    char *before = slurp(d, "c.npz");
    char path[512];
    snprintf(path, sizeof path, "%s/c.npz", d);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_gt(st.st_size, 64 * 1024);   /* larger than the limit */

    expect_exit(run(d, "--resume --steps 8 --plot none", FULL_DISK), 1, d);
    char *m = message(d), want[600];
    snprintf(want, sizeof want, "ch10: %s: write failed: File too large", path);
    ck_assert_msg(strcmp(m, want) == 0, "expected '%s', found '%s'", want, m);
    char *after = slurp(d, "c.npz");
    ck_assert_msg(memcmp(before, after, (size_t)st.st_size) == 0, "the checkpoint changed");
    Trainer t;
    load(d, &t);
    ck_assert_int_eq(t.step, 4);
    trainer_free(&t);
    char tmp[600];
    ck_assert_msg(!has_temporary(d, tmp, sizeof tmp), "%s left behind", tmp);
    free(before);
    free(after);
    free(m);
    free(d);
}
END_TEST

/* The run's directory disappears while it trains (renamed away): the next
 * checkpoint cannot be written, the run says so, and the one it wrote before
 * is intact where the directory went. */
START_TEST(directory_gone_keeps_previous_checkpoint)
{
    char *d = new_dir("gone"), moved[600];
    snprintf(moved, sizeof moved, "%s-moved", d);
    remove_tree(moved);
    pid_t pid = start(d, SMALL " --steps 1000000", 0);
    wait_for_checkpoint(d, pid);
    ck_assert_int_eq(rename(d, moved), 0);
    int status = finish(pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    char *m = message(moved), want[600];
    /* "cannot write" when the temporary could not be made, "write failed"
     * when the directory went while it was being written. */
    snprintf(want, sizeof want, "ch10: %s/c.npz: ", d);
    ck_assert_msg(strncmp(m, want, strlen(want)) == 0 && strstr(m, ": No such file or directory"),
                  "expected '%s...: No such file or directory', found '%s'", want, m);
    Trainer t;
    load(moved, &t);
    ck_assert_int_gt(t.step, 0);
    trainer_free(&t);
    /* A temporary may be left in the moved directory when the rename came in
     * the middle of a write: its name no longer leads there. The next run in
     * that directory removes it (its process is gone). */
    char args[256];
    snprintf(args, sizeof args, "--resume --steps %ld --test 10 --plot none", t.step + 2);
    expect_exit(run(moved, args, 0), 0, moved);
    char tmp[600];
    ck_assert_msg(!has_temporary(moved, tmp, sizeof tmp), "%s left behind", tmp);
    free(m);
    free(d);
}
END_TEST

/* Without root, a directory that cannot be written (chmod 0555) fails at the
 * start, before any training, and leaves the checkpoint alone. Root ignores
 * permission bits, so the test has nothing to show there. */
START_TEST(read_only_directory)
{
    if (geteuid() == 0) return;
    char *d = new_dir("readonly");
    expect_exit(run(d, SMALL " --steps 4", 0), 0, d);
    char *before = slurp(d, "c.npz");
    char path[512];
    snprintf(path, sizeof path, "%s/c.npz", d);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    /* stdout.txt and stderr.txt exist already: they stay writable. */
    ck_assert_int_eq(chmod(d, 0555), 0);
    int status = run(d, "--resume --steps 8 --plot none", 0);
    chmod(d, 0755);
    expect_exit(status, 1, d);
    char *m = message(d);
    ck_assert_msg(strstr(m, "Permission denied") && strstr(m, path), "%s", m);
    char *after = slurp(d, "c.npz");
    ck_assert(memcmp(before, after, (size_t)st.st_size) == 0);
    free(before);
    free(after);
    free(m);
    free(d);
}
END_TEST

Suite *survival_suite(void)
{
    Suite *s = suite_create("survival (issue 9)");
    TCase *tc = tcase_create("ch10 runs");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, stop_signal_writes_checkpoint, 0, 2);
    tcase_add_test(tc, kill_9_at_random_moments);
    tcase_add_test(tc, atomic_write_removes_a_killed_writers_temporary);
    tcase_add_test(tc, nan_loss_stops_and_keeps_checkpoint);
    tcase_add_test(tc, nan_loss_names_the_step);
    tcase_add_test(tc, no_checkpoint_of_a_broken_state);
    tcase_add_test(tc, full_disk_keeps_previous_checkpoint);
    tcase_add_test(tc, directory_gone_keeps_previous_checkpoint);
    tcase_add_test(tc, read_only_directory);
    suite_add_tcase(s, tc);
    return s;
}
