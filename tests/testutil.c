/*
 * testutil.c - the helpers of testutil.h, shared by the test suites (it
 * has no suite of its own). They fail the calling test through Check's
 * assertions, so they are called from inside a test (or its fixture).
 */
#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "suites.h"
#include "rng.h"

/* ------------------------------------------------------------ running programs */

const char *bin_dir(void)
{
    const char *d = getenv("BIN_DIR");
    return d ? d : "build/bin";
}

int run_shell(const char *cmd)
{
    int st = system(cmd);
    if (st == -1) return -1;
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

int run_program(const char *prog, const char *args, char *err, size_t cap)
{
    char err_file[] = "/tmp/test-stderr-XXXXXX", cmd[4096];
    int fd = mkstemp(err_file);
    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "%s/%s %s >/dev/null 2>%s", bin_dir(), prog, args, err_file);
    int rc = run_shell(cmd);
    FILE *fp = fopen(err_file, "r");
    ck_assert_msg(fp != NULL, "cannot read %s", err_file);
    size_t n = fread(err, 1, cap - 1, fp);
    err[n] = '\0';
    fclose(fp);
    remove(err_file);
    return rc;
}

void check_failure(const char *prog, const char *args, int rc, int code, const char *err,
                   const char *needle, int lines)
{
    size_t n = strlen(prog);
    ck_assert_msg(rc == code, "%s %s: exit %d, expected %d; stderr: %s", prog, args, rc, code,
                  err);
    ck_assert_msg(strncmp(err, prog, n) == 0 && strncmp(err + n, ": ", 2) == 0,
                  "message should start with %s: %s", prog, err);
    ck_assert_msg(strstr(err, needle) != NULL, "%s: expected '%s' in: %s", args, needle, err);
    if (lines == ONE_LINE)
        ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "one line expected: %s", err);
}

void expect_program_failure(const char *prog, const char *args, int code, const char *needle,
                            int lines)
{
    static char err[1 << 16];
    int rc = run_program(prog, args, err, sizeof err);
    check_failure(prog, args, rc, code, err, needle, lines);
}

void capture_stdout(const char *prog, const char *args, char *out, size_t len)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/%s %s", bin_dir(), prog, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    ck_assert_msg(status == 0, "%s failed (status %d)", cmd, status);
}

pid_t start_program(char *const argv[], const char *in, const char *out, const char *err,
                    long fsize)
{
    ck_assert_msg(access(argv[0], X_OK) == 0, "%s: not built (make %s)", argv[0], argv[0]);
    fflush(stdout);   /* or the child would print what is buffered again */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int i = in ? open(in, O_RDONLY) : 0;
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (i < 0 || o < 0 || e < 0 || (in && dup2(i, 0) < 0) || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(127);
        if (fsize > 0) {
            /* A write past the limit fails with EFBIG, as one to a full
             * disk fails with ENOSPC, instead of killing the process. */
            struct rlimit r = {(rlim_t)fsize, (rlim_t)fsize};
            signal(SIGXFSZ, SIG_IGN);
            if (setrlimit(RLIMIT_FSIZE, &r) != 0) _exit(127);
        }
        setenv("OMP_NUM_THREADS", "1", 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int finish_program(pid_t pid, int timeout, const char *what)
{
    int status;
    for (int waited = 0; waited < timeout * 100; waited++) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        ck_assert_int_ge(done, 0);
        if (done == pid) return status;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ck_abort_msg("%s still running after %d s (killed)", what, timeout);
    return -1;
}

void wait_for_file(const char *path, pid_t pid, int timeout, const char *what)
{
    for (int k = 0; k < timeout * 100 && !file_exists(path); k++) {
        int status;
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "%s ended before %s", what, path);
        sleep_ms(10);
    }
    ck_assert_msg(file_exists(path), "no %s after %d s", path, timeout);
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ files */

const char *at(const char *fmt, ...)
{
    static char buf[16][512];
    static int k;
    k = (k + 1) % 16;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf[k], sizeof buf[k], fmt, ap);
    va_end(ap);
    return buf[k];
}

void make_temp_dir(char *dir, size_t cap, const char *prefix)
{
    snprintf(dir, cap, "/tmp/%s-XXXXXX", prefix);
    ck_assert_msg(mkdtemp(dir) != NULL, "cannot make %s", dir);
}

char *fresh_dir(const char *parent, const char *name)
{
    char *d = strdup(at("%s/%s", parent, name));
    ck_assert_ptr_nonnull(d);
    remove_tree(d);
    ck_assert_msg(mkdir(d, 0777) == 0, "cannot make %s: %s", d, strerror(errno));
    return d;
}

void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            char child[1024];
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                remove_tree(child);
            }
            closedir(d);
        }
    }
    remove(path);
}

int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    while ((got = fread(s + n, 1, cap - n - 1, fp)) > 0) {
        n += got;
        if (n + 1 == cap) {
            s = realloc(s, cap *= 2);
            ck_assert_ptr_nonnull(s);
        }
    }
    ck_assert_msg(!ferror(fp), "%s: read error", path);
    fclose(fp);
    s[n] = '\0';
    if (len) *len = n;
    return s;
}

const char *read_text(const char *path)
{
    static char text[1 << 16];
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot read %s", path);
    size_t n = fread(text, 1, sizeof text - 1, fp);
    text[n] = '\0';
    fclose(fp);
    return text;
}

int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

void write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_msg(fp != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(bytes, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

int has_temporary(const char *dir, char *found, size_t cap)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int hit = 0;
    while (!hit && (e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp-")) {
            snprintf(found, cap, "%s/%s", dir, e->d_name);
            hit = 1;
        }
    closedir(d);
    return hit;
}

/* ------------------------------------------------------------ arrays */

Tensor load_tensor(const char *path)
{
    Tensor t;
    Error err;
    ck_assert_msg(npy_load(path, &t, &err) == 0, "%s", err.msg);
    return t;
}

Npz load_npz(const char *path)
{
    Npz z;
    Error err;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    return z;
}

Transformer load_model(const char *path)
{
    Transformer m;
    Error err;
    ck_assert_msg(transformer_load(&m, path, &err) == 0, "%s", err.msg);
    return m;
}

Mat load_fixture(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/%s", name);
    Mat m;
    Error err;
    ck_assert_msg(npy_load_mat(path, "fixture", &m, &err) == 0, "%s", err.msg);
    return m;
}

Mat load_written(const char *dir, const char *file)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    Mat m;
    Error err;
    ck_assert_msg(npy_load_mat(path, file, &m, &err) == 0, "%s", err.msg);
    remove(path);
    return m;
}

void write_ids(const char *path, const int64_t *ids, int ndim, const int64_t *shape)
{
    Error err;
    ck_assert_msg(npy_save_i64(path, ids, ndim, shape, &err) == 0, "%s", err.msg);
}

void write_id_rows(const char *path, const int64_t *ids, int64_t B, int64_t L)
{
    const int64_t shape[2] = {B, L};
    write_ids(path, ids, 2, shape);
}

/* Whether a parameter's name ends in "weight" below a norm: a gain. */
static int is_norm_gain(const char *name)
{
    size_t n = strlen(name);
    return strstr(name, "norm") && n > 6 && strcmp(name + n - 6, "weight") == 0;
}

Transformer random_model(const TransformerConfig *cfg, uint64_t seed)
{
    Transformer m;
    Rng r;
    rng_seed(&r, seed);
    transformer_new(&m, cfg, &r);
    for (int k = 0; k < m.params.count; k++) {
        const Param *p = &m.params.items[k];
        if (p->ndim != 1) continue;
        Mat t = mat_wrap(m.params.data + p->offset, 1, p->cols);
        int gain = is_norm_gain(p->name);
        mat_rand_uniform(t, &r, gain ? 0.7f : -0.3f, gain ? 1.3f : 0.3f);
    }
    return m;
}

int close_to(double got, double want, double abs_tol, double rel_tol)
{
    return isfinite(got) && fabs(got - want) <= abs_tol + rel_tol * fabs(want);
}

void assert_mat_close(Mat got, Mat want, double abs_tol, double rel_tol, const char *what,
                      const char *source)
{
    ck_assert_int_eq(got.rows, want.rows);
    ck_assert_int_eq(got.cols, want.cols);
    for (int i = 0; i < got.rows; i++)
        for (int j = 0; j < got.cols; j++) {
            double g = MAT_AT(got, i, j), w = MAT_AT(want, i, j);
            ck_assert_msg(close_to(g, w, abs_tol, rel_tol), "%s[%d,%d] = %.9g, %s %.9g", what, i,
                          j, g, source, w);
        }
}

void assert_floats_close(const float *got, const float *want, int64_t n, double abs_tol,
                         double rel_tol, const char *what, const char *source)
{
    for (int64_t k = 0; k < n; k++) {
        double g = got[k], w = want[k];
        ck_assert_msg(close_to(g, w, abs_tol, rel_tol), "%s[%lld] = %.9g, %s %.9g", what,
                      (long long)k, g, source, w);
    }
}

void assert_torch_close(const float *got, const float *want, int64_t n, const char *what)
{
    assert_floats_close(got, want, n, CONTRACT_ABS, CONTRACT_REL, what, "PyTorch");
}

void assert_same_shape(const Tensor *got, const Tensor *want, const char *what,
                       const char *source)
{
    char g[128], w[128];
    tensor_shape_str(got, g, sizeof g);
    tensor_shape_str(want, w, sizeof w);
    ck_assert_msg(strcmp(g, w) == 0, "%s: shape %s, %s %s", what, g, source, w);
}
