/*
 * test_encoder_layer.c - chapter 6's feed-forward network, layer norm and
 * encoder layer against hand arithmetic and against
 * torch.nn.TransformerEncoderLayer itself (tests/fixtures/make_ch06_ref.py,
 * post-norm and pre-norm), both as functions and through the program
 * build/bin/ch06 with .npz and .npy files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "encoder_layer.h"
#include "npy.h"
#include "params.h"
#include "rng.h"

/* ----------------------------------------------------------- by hand */

START_TEST(layernorm_by_hand)
{
    /* Row 0: x = (1, 2, 3, 4): mean 2.5, biased variance (2.25 + 0.25 + 0.25
     * + 2.25) / 4 = 1.25, so xhat = (-1.5, -0.5, 0.5, 1.5) / sqrt(1.25 + 1e-5)
     * = (-1.3416354, -0.4472118, 0.4472118, 1.3416354); with gamma = (1, 1, 2, 0.5)
     * and beta = (0, 1, 0, -1): (-1.3416354, 0.5527882, 0.8944236, -0.3291823).
     * Row 1 is constant: xhat = 0 (eps keeps the division finite), out = beta. */
    const float xv[] = {1, 2, 3, 4, 5, 5, 5, 5}, gv[] = {1, 1, 2, 0.5f}, bv[] = {0, 1, 0, -1};
    const double want[8] = {-1.3416354199689269, 0.552788193343691, 0.894423613312618,
                            -0.32918229001553656, 0, 1, 0, -1};
    LayerNorm ln = {mat_from(1, 4, gv), mat_from(1, 4, bv)};
    Mat x = mat_from(2, 4, xv), out = mat_new(2, 4);
    layernorm_forward(out, x, &ln);
    for (int k = 0; k < 8; k++) ck_assert_double_eq_tol(out.data[k], want[k], 1e-6);
    layernorm_forward(x, x, &ln);   /* in place gives the same */
    for (int k = 0; k < 8; k++) ck_assert(x.data[k] == out.data[k]);
    mat_free(&ln.weight);
    mat_free(&ln.bias);
    mat_free(&x);
    mat_free(&out);
}
END_TEST

START_TEST(feedforward_by_hand)
{
    /* E = 2, F = 3. x = (2, 1), W1 = ((1, 0), (0, 1), (1, -1)), b1 = (0, -2, 0.5):
     * x W1^T + b1 = (2, -1, 1.5); ReLU: (2, 0, 1.5).
     * W2 = ((1, 1, 1), (0.5, 2, -2)), b2 = (1, 0): (2 + 0 + 1.5 + 1, 1 + 0 - 3 + 0)
     * = (4.5, -2). Row 2, x = (-1, -1): (-1, -3, 0.5) -> (0, 0, 0.5) -> (1.5, -1). */
    const float w1[] = {1, 0, 0, 1, 1, -1}, b1[] = {0, -2, 0.5f};
    const float w2[] = {1, 1, 1, 0.5f, 2, -2}, b2[] = {1, 0}, xv[] = {2, 1, -1, -1};
    FeedForward ff = {mat_from(3, 2, w1), mat_from(1, 3, b1), mat_from(2, 3, w2),
                      mat_from(1, 2, b2)};
    Mat x = mat_from(2, 2, xv), out = mat_new(2, 2);
    feedforward_forward(out, x, &ff);
    ck_assert(MAT_AT(out, 0, 0) == 4.5f);
    ck_assert(MAT_AT(out, 0, 1) == -2.0f);
    ck_assert(MAT_AT(out, 1, 0) == 1.5f);
    ck_assert(MAT_AT(out, 1, 1) == -1.0f);
    Mat all[] = {ff.w1, ff.b1, ff.w2, ff.b2, x, out};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(&all[k]);
}
END_TEST

START_TEST(declare_and_bind)
{
    /* The names and shapes of torch.nn.TransformerEncoderLayer under a
     * prefix, 4E^2 + 4E + 2EF + F + E + 4E floats, views into the set. */
    enum { E = 6, F = 10, H = 3 };
    ParamSet ps;
    params_init(&ps);
    encoder_layer_declare(&ps, "encoder.layers.3.", E, F);
    ck_assert_int_eq(ps.count, 12);
    ck_assert_int_eq((int)ps.size, 4 * E * E + 4 * E + 2 * E * F + F + E + 4 * E);
    const struct { const char *name; int ndim, rows, cols; } want[12] = {
        {"self_attn.in_proj_weight", 2, 3 * E, E}, {"self_attn.in_proj_bias", 1, 1, 3 * E},
        {"self_attn.out_proj.weight", 2, E, E},    {"self_attn.out_proj.bias", 1, 1, E},
        {"linear1.weight", 2, F, E},               {"linear1.bias", 1, 1, F},
        {"linear2.weight", 2, E, F},               {"linear2.bias", 1, 1, E},
        {"norm1.weight", 1, 1, E},                 {"norm1.bias", 1, 1, E},
        {"norm2.weight", 1, 1, E},                 {"norm2.bias", 1, 1, E},
    };
    for (int k = 0; k < 12; k++) {
        char name[128];
        snprintf(name, sizeof name, "encoder.layers.3.%s", want[k].name);
        const Param *p = params_find(&ps, name);
        ck_assert_msg(p != NULL, "no %s", name);
        ck_assert_int_eq(p->ndim, want[k].ndim);
        ck_assert_int_eq(p->rows, want[k].rows);
        ck_assert_int_eq(p->cols, want[k].cols);
    }
    params_alloc(&ps);
    EncoderLayer l = encoder_layer_bind(&ps, "encoder.layers.3.", H, 1);
    ck_assert_int_eq(l.norm_first, 1);
    ck_assert_int_eq(l.self_attn.E, E);
    ck_assert_int_eq(l.self_attn.H, H);
    ck_assert_ptr_eq(l.self_attn.in_proj_weight.data, ps.data);
    ck_assert_ptr_eq(l.ff.w1.data, params_mat(&ps, "encoder.layers.3.linear1.weight").data);
    ck_assert_int_eq(l.ff.w1.rows, F);
    ck_assert_int_eq(l.ff.w2.cols, F);
    ck_assert_ptr_eq(l.norm2.bias.data, ps.data + ps.size - E);

    /* PyTorch's initialisation: norms gamma 1, beta 0; linear layers within
     * +-1/sqrt(fan_in): linear1 1/sqrt(E), linear2 1/sqrt(F). */
    Rng r;
    rng_seed(&r, 3);
    encoder_layer_init(&l, &r);
    for (int j = 0; j < E; j++) {
        ck_assert(MAT_AT(l.norm1.weight, 0, j) == 1.0f && MAT_AT(l.norm2.weight, 0, j) == 1.0f);
        ck_assert(MAT_AT(l.norm1.bias, 0, j) == 0.0f && MAT_AT(l.norm2.bias, 0, j) == 0.0f);
        ck_assert(fabsf(MAT_AT(l.ff.b2, 0, j)) <= 1.0f / sqrtf((float)F));
    }
    for (int i = 0; i < F; i++)
        for (int j = 0; j < E; j++) {
            ck_assert(fabsf(MAT_AT(l.ff.w1, i, j)) <= 1.0f / sqrtf((float)E));
            ck_assert(fabsf(MAT_AT(l.ff.w2, j, i)) <= 1.0f / sqrtf((float)F));
        }
    params_free(&ps);
}
END_TEST

START_TEST(residual_paths_by_hand)
{
    /* Every weight zero, out_proj.bias = c and linear2.bias = d: attention
     * gives c for every token, the FFN gives d.
     *   pre-norm:  x + c + d exactly (the norms only feed the sublayers);
     *   post-norm: norm2(norm1(x + c) + d), here with x + c = (1, 2, 3, 4)
     *     and d = 0: norm1 gives xhat of layernorm_by_hand, and norm2 of
     *     that is xhat again, to 1e-5 (its variance is 1.25 / 1.25001). */
    enum { E = 4, F = 3 };
    ParamSet ps;
    params_init(&ps);
    encoder_layer_declare(&ps, "", E, F);
    params_alloc(&ps);
    EncoderLayer l = encoder_layer_bind(&ps, "", 2, 1);
    layernorm_init(&l.norm1);
    layernorm_init(&l.norm2);
    const float xv[] = {0.5f, 1, -2, 4, 3, 3, 0, 1};
    const float c[E] = {0.5f, 1, 3, 0}, d[E] = {1, -1, 0.25f, 2};
    for (int j = 0; j < E; j++) {
        MAT_AT(l.self_attn.out_proj_bias, 0, j) = c[j];
        MAT_AT(l.ff.b2, 0, j) = d[j];
    }
    Mat x = mat_from(2, E, xv), attn = mat_new(2 * 2, 2);
    encoder_layer_forward(x, attn, &l, NULL);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < E; j++)
            ck_assert(MAT_AT(x, i, j) == xv[i * E + j] + c[j] + d[j]);

    l.norm_first = 0;
    mat_fill(l.ff.b2, 0.0f);
    const float yv[] = {0.5f, 1, 0, 4};   /* + c = (1, 2, 3, 4) */
    const double xhat[E] = {-1.3416354199689269, -0.4472118066563090, 0.4472118066563090,
                            1.3416354199689269};
    Mat y = mat_from(1, E, yv), attn1 = mat_new(2, 1);
    encoder_layer_forward(y, attn1, &l, NULL);
    for (int j = 0; j < E; j++) ck_assert_double_eq_tol(MAT_AT(y, 0, j), xhat[j], 1e-5);
    Mat all[] = {x, attn, y, attn1};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(&all[k]);
    params_free(&ps);
}
END_TEST

/* --------------------------------------------------------- against PyTorch */

typedef struct {
    const char *name;
    int heads;
    int norm_first;
    int padding;     /* the case has a ch06_NAME_kpm.npy */
} TorchCase;

static const TorchCase CASES[] = {
    {"post_kpm", 4, 0, 1},    {"pre_kpm", 2, 1, 1},     {"post_odd", 3, 0, 0},
    {"pre_onehead", 1, 1, 0}, {"post_wide", 5, 0, 1},
};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

static void fixture_path(char *buf, size_t n, const char *name, const char *part)
{
    snprintf(buf, n, "tests/fixtures/ch06_%s_%s", name, part);
}

/* The layer of case c, loaded with params_load (E and F read off the file). */
static EncoderLayer load_case_layer(ParamSet *ps, const TorchCase *c)
{
    char path[256];
    fixture_path(path, sizeof path, c->name, "params.npz");
    Npz z;
    Error err;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    const Tensor *w_in = npz_get(&z, "self_attn.in_proj_weight");
    const Tensor *w1 = npz_get(&z, "linear1.weight");
    ck_assert(w_in && w1);
    params_init(ps);
    encoder_layer_declare(ps, "", (int)w_in->shape[1], (int)w1->shape[0]);
    params_alloc(ps);
    ck_assert_msg(params_load(ps, &z, path, NULL, &err) == 0, "%s", err.msg);
    npz_free(&z);
    return encoder_layer_bind(ps, "", c->heads, c->norm_first);
}

/* Runs the layer over every sequence of x (B, S, E) in place. */
static void forward_batch(Tensor *x, const Tensor *kpm, const EncoderLayer *l)
{
    int B = (int)x->shape[0], S = (int)x->shape[1], E = (int)x->shape[2];
    Mat attn = mat_new(l->self_attn.H * S, S), mask = mat_new(S, S), kp = mat_new(1, S);
    for (int b = 0; b < B; b++) {
        for (int j = 0; kpm && j < S; j++) MAT_AT(kp, 0, j) = kpm->i[b * S + j] != 0;
        mha_build_mask(mask, NULL, kpm ? &kp : NULL, 0);
        encoder_layer_forward(mat_wrap(x->f + (size_t)b * S * E, S, E), attn, l,
                              kpm ? &mask : NULL);
    }
    mat_free(&attn);
    mat_free(&mask);
    mat_free(&kp);
}

START_TEST(matches_torch)
{
    const TorchCase *c = &CASES[_i];
    ParamSet ps;
    EncoderLayer l = load_case_layer(&ps, c);
    char path[256];
    fixture_path(path, sizeof path, c->name, "x.npy");
    Tensor x = load_tensor(path);
    fixture_path(path, sizeof path, c->name, "out.npy");
    Tensor want = load_tensor(path);
    Tensor kpm = {0};
    if (c->padding) {
        fixture_path(path, sizeof path, c->name, "kpm.npy");
        kpm = load_tensor(path);
        ck_assert_int_eq(kpm.dtype, DT_I64);
    }
    forward_batch(&x, c->padding ? &kpm : NULL, &l);
    ck_assert_int_eq(x.size, want.size);
    assert_floats_close(x.f, want.f, want.size, CONTRACT_ABS, CONTRACT_REL, c->name,
                        "expected");
    tensor_free(&x);
    tensor_free(&want);
    tensor_free(&kpm);
    params_free(&ps);
}
END_TEST

START_TEST(padding_keys_do_not_matter)
{
    /* What sits at a padding position must not change any other position's
     * output: it is blocked as a key, and everything else is row by row. */
    ParamSet ps;
    EncoderLayer l = load_case_layer(&ps, &CASES[1]);   /* pre_kpm */
    Tensor x = load_tensor("tests/fixtures/ch06_pre_kpm_x.npy");
    Tensor kpm = load_tensor("tests/fixtures/ch06_pre_kpm_kpm.npy");
    Tensor y = load_tensor("tests/fixtures/ch06_pre_kpm_x.npy");
    int S = (int)x.shape[1], E = (int)x.shape[2], changed = 0;
    for (int64_t k = 0; k < y.size; k++)
        if (kpm.i[k / E] != 0) {
            y.f[k] = 100.0f * (float)(k % 7) - 300.0f;
            changed++;
        }
    ck_assert_int_gt(changed, 0);
    forward_batch(&x, &kpm, &l);
    forward_batch(&y, &kpm, &l);
    for (int64_t k = 0; k < x.size; k++)
        if (kpm.i[k / E] == 0) ck_assert_msg(x.f[k] == y.f[k], "entry %lld of %d x %d", (long long)k, S, E);
    tensor_free(&x);
    tensor_free(&y);
    tensor_free(&kpm);
    params_free(&ps);
}
END_TEST

/* ------------------------------------------------------- the program, ch06 */

START_TEST(program_matches_torch)
{
    const TorchCase *c = &CASES[_i];
    char dir[] = "/tmp/ch06-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char p[256], x[256], kpm[256], cmd[2048];
    fixture_path(p, sizeof p, c->name, "params.npz");
    fixture_path(x, sizeof x, c->name, "x.npy");
    fixture_path(kpm, sizeof kpm, c->name, "kpm.npy");
    snprintf(cmd, sizeof cmd, "%s/ch06 --params %s --heads %d --input %s%s%s%s --output %s/o.npy "
             ">/dev/null", bin_dir(), p, c->heads, x, c->norm_first ? " --norm-first" : "",
             c->padding ? " --key-padding-mask " : "", c->padding ? kpm : "", dir);
    ck_assert_msg(run_shell(cmd) == 0, "failed: %s", cmd);
    char path[256];
    snprintf(path, sizeof path, "%s/o.npy", dir);
    Tensor got = load_tensor(path);
    remove(path);
    rmdir(dir);
    fixture_path(path, sizeof path, c->name, "out.npy");
    Tensor want = load_tensor(path);
    ck_assert_int_eq(got.dtype, DT_F32);
    ck_assert_int_eq(got.ndim, 3);
    for (int d = 0; d < 3; d++) ck_assert_int_eq(got.shape[d], want.shape[d]);
    assert_floats_close(got.f, want.f, want.size, CONTRACT_ABS, CONTRACT_REL, c->name,
                        "expected");
    tensor_free(&got);
    tensor_free(&want);
}
END_TEST

START_TEST(program_demo_runs)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/ch06 --plot none > /tmp/ch06-demo-stdout.txt", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);
    const char *text = read_text("/tmp/ch06-demo-stdout.txt");
    remove("/tmp/ch06-demo-stdout.txt");
    /* E = 8, F = 32: 4 x 64 + 4 x 8 + 2 x 256 + 32 + 8 + 4 x 8 = 872; and the
     * step-by-step walk must be the same layer as encoder_layer_forward. */
    ck_assert_msg(strstr(text, "total                                  872") != NULL,
                  "no parameter total 872 in the demo");
    ck_assert_msg(strstr(text, "3152384 per layer") != NULL, "no base-model count");
    ck_assert_msg(strstr(text, "max |difference| = 0.") != NULL, "walk-through differs");
}
END_TEST

START_TEST(program_seed_is_reproducible)
{
    char cmd[512];
    const char *seeds[3] = {"5", "5", "6"};
    static char out[3][1 << 16];
    for (int k = 0; k < 3; k++) {
        snprintf(cmd, sizeof cmd, "%s/ch06 --norm-first --plot none --seed %s > "
                 "/tmp/ch06-seed.txt", bin_dir(), seeds[k]);
        ck_assert_int_eq(run_shell(cmd), 0);
        strcpy(out[k], read_text("/tmp/ch06-seed.txt"));
        remove("/tmp/ch06-seed.txt");
    }
    ck_assert_msg(strstr(out[0], "pre-norm, --norm-first") != NULL, "--norm-first ignored");
    ck_assert_msg(strcmp(out[0], out[1]) == 0, "the same seed gave different output");
    ck_assert_msg(strcmp(out[0], out[2]) != 0, "another seed gave the same output");
}
END_TEST

/* Runs ch06 with `args`, expects exit `code` and `needle` in its stderr. */
static void expect_failure(const char *args, int code, const char *needle)
{
    expect_program_failure("ch06", args, code, needle, ONE_LINE);
}

/* Writes post_kpm's parameters to `path` with one change: `drop` left out,
 * `reshape` given shape (2, 2), `nan` holding a NaN, or an `extra` array. */
static void write_changed_params(const char *path, const char *drop, const char *reshape,
                                 const char *nan, const char *extra)
{
    Npz z;
    Error err;
    ck_assert_msg(npz_load("tests/fixtures/ch06_post_kpm_params.npz", &z, &err) == 0, "%s",
                  err.msg);
    NpzWriter w;
    npz_writer_init(&w);
    for (int k = 0; k < z.count; k++) {
        Tensor *t = &z.arrays[k];
        if (drop && strcmp(z.names[k], drop) == 0) continue;
        if (nan && strcmp(z.names[k], nan) == 0) t->f[t->size - 1] = NAN;
        int64_t square[2] = {2, 2};
        int re = reshape && strcmp(z.names[k], reshape) == 0;
        npz_add_f32(&w, z.names[k], t->f, re ? 2 : t->ndim, re ? square : t->shape);
    }
    if (extra) {
        int64_t one[1] = {1};
        float v = 1.0f;
        npz_add_f32(&w, extra, &v, 1, one);
    }
    ck_assert_msg(npz_write(&w, path, &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
    npz_free(&z);
}

#define FX "tests/fixtures/ch06_"
#define P "--params " FX "post_kpm_params.npz "
#define X "--input " FX "post_kpm_x.npy "
#define KPM "--key-padding-mask " FX "post_kpm_kpm.npy "

START_TEST(program_contract_errors)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/ch06 --help >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);
    /* usage errors, exit 2 */
    expect_failure("--no-such-option", 2, "--no-such-option");
    expect_failure("--heads", 2, "--heads");
    expect_failure(P "--heads x " X, 2, "--heads");
    expect_failure(P "--heads 0 " X, 2, "--heads");
    expect_failure(P "--heads 4", 2, "--input");
    expect_failure(X "--heads 4", 2, "--params");
    expect_failure(P X, 2, "--heads");
    expect_failure("--output /tmp/o.npy", 2, "--output");
    expect_failure(KPM, 2, "--key-padding-mask");
    expect_failure("--norm-first=yes", 2, "--norm-first");
    expect_failure("--plot jpeg", 2, "--plot");
    expect_failure("--seed -1", 2, "--seed");
    expect_failure(P "--heads 4 " X "stray", 2, "stray");

    /* data errors, exit 1 */
    expect_failure("--params /nonexistent/p.npz --heads 4 " X, 1, "/nonexistent/p.npz");
    expect_failure(P "--heads 4 --input /nonexistent/x.npy", 1, "/nonexistent/x.npy");
    expect_failure(P "--heads 5 " X, 1, "5 heads do not divide the model width E = 12");
    expect_failure(P "--heads 4 --input " FX "post_odd_x.npy", 1, "width 9");
    expect_failure(P "--heads 4 --input tests/fixtures/att_odd_q.npy", 1, "3-D (B, S, E)");
    expect_failure(P "--heads 4 --input " FX "post_kpm_kpm.npy", 1, "real numbers");
    expect_failure(P "--heads 4 " X "--key-padding-mask " FX "post_kpm_x.npy", 1,
                   "bool or integer");
    expect_failure(P "--heads 4 " X "--key-padding-mask " FX "post_wide_kpm.npy", 1,
                   "(B, S) = (2, 5), found (2, 6)");
    expect_failure("--params tests/fixtures/npz_savez.npz --heads 4 " X, 1,
                   "no array named 'self_attn.in_proj_weight'");
    expect_failure("--params " FX "post_kpm_x.npy --heads 4 " X, 1, "post_kpm_x.npy");
    expect_failure(P "--heads 4 " X "--output /nonexistent-dir/o.npy", 1,
                   "/nonexistent-dir/o.npy");

    /* parameter files with one thing wrong */
    char path[] = "/tmp/ch06-bad-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char args[512];
    snprintf(args, sizeof args, "--params %s --heads 4 " X, path);
    write_changed_params(path, "norm2.bias", NULL, NULL, NULL);
    expect_failure(args, 1, "no array named 'norm2.bias'");
    write_changed_params(path, "linear1.weight", NULL, NULL, NULL);
    expect_failure(args, 1, "no array named 'linear1.weight'");
    write_changed_params(path, NULL, "linear2.weight", NULL, NULL);
    expect_failure(args, 1, "linear2.weight must have shape (12, 20), found (2, 2)");
    write_changed_params(path, NULL, "linear1.weight", NULL, NULL);
    expect_failure(args, 1, "linear1.weight must have shape (any, 12)");
    write_changed_params(path, NULL, "self_attn.in_proj_weight", NULL, NULL);
    expect_failure(args, 1, "(3E, E)");
    write_changed_params(path, NULL, "norm1.weight", NULL, NULL);
    expect_failure(args, 1, "norm1.weight must have shape (12,)");
    write_changed_params(path, NULL, NULL, "linear2.bias", NULL);
    expect_failure(args, 1, "finite");
    write_changed_params(path, NULL, NULL, NULL, "encoder.norm.weight");
    expect_failure(args, 1, "unexpected array 'encoder.norm.weight'");
    remove(path);

    /* a NaN in the input */
    char xpath[] = "/tmp/ch06-nan-XXXXXX";
    fd = mkstemp(xpath);
    ck_assert_int_ge(fd, 0);
    close(fd);
    float xv[2 * 5 * 12];
    for (int k = 0; k < 120; k++) xv[k] = 0.5f;
    xv[77] = NAN;
    int64_t shape[3] = {2, 5, 12};
    Error err;
    ck_assert_msg(npy_save_f32(xpath, xv, 3, shape, &err) == 0, "%s", err.msg);
    snprintf(args, sizeof args, P "--heads 4 --input %s", xpath);
    expect_failure(args, 1, "finite");
    /* finite, but too large for the arithmetic: an error, not inf or NaN written */
    xv[77] = 3e38f;
    ck_assert_msg(npy_save_f32(xpath, xv, 3, shape, &err) == 0, "%s", err.msg);
    expect_failure(args, 1, "overflows float32");
    remove(xpath);
}
END_TEST

START_TEST(program_all_padding_gives_no_nan)
{
    /* A sequence that is all padding: the contract's zero attention, never NaN. */
    char dir[] = "/tmp/ch06-pad-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char mpath[256], opath[256], cmd[1024];
    snprintf(mpath, sizeof mpath, "%s/kpm.npy", dir);
    snprintf(opath, sizeof opath, "%s/o.npy", dir);
    int64_t kpm[10] = {0, 0, 1, 0, 0, 1, 1, 1, 1, 1};
    write_id_rows(mpath, kpm, 2, 5);
    snprintf(cmd, sizeof cmd, "%s/ch06 " P "--heads 4 " X "--key-padding-mask %s --output %s "
             "> %s/stdout.txt", bin_dir(), mpath, opath, dir);
    ck_assert_msg(run_shell(cmd) == 0, "failed: %s", cmd);
    Tensor o = load_tensor(opath);
    ck_assert_int_eq(tensor_find_nonfinite(&o), -1);
    snprintf(cmd, sizeof cmd, "%s/stdout.txt", dir);
    ck_assert_msg(strstr(read_text(cmd), "1 sequence(s) are all padding") != NULL, "no note");
    tensor_free(&o);
    remove(cmd);
    remove(mpath);
    remove(opath);
    rmdir(dir);
}
END_TEST

Suite *encoder_layer_suite(void)
{
    Suite *s = suite_create("encoder layer (chapter 6)");
    TCase *tc = tcase_create("function");
    tcase_add_test(tc, layernorm_by_hand);
    tcase_add_test(tc, feedforward_by_hand);
    tcase_add_test(tc, declare_and_bind);
    tcase_add_test(tc, residual_paths_by_hand);
    tcase_add_loop_test(tc, matches_torch, 0, NCASES);
    tcase_add_test(tc, padding_keys_do_not_matter);
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, program_matches_torch, 0, NCASES);
    tcase_add_test(tc, program_demo_runs);
    tcase_add_test(tc, program_seed_is_reproducible);
    tcase_add_test(tc, program_contract_errors);
    tcase_add_test(tc, program_all_padding_gives_no_nan);
    suite_add_tcase(s, tc);
    return s;
}
