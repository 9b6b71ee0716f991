/*
 * test_encoder.c - chapter 7's encoder: embedding_forward and
 * mask_from_pad_ids against hand arithmetic, and the whole encoder against
 * torch.nn.TransformerEncoder (tests/fixtures/make_ch07_ref.py), both as
 * functions (embedding_forward + encoder_forward per batch item) and through
 * the program build/bin/ch07 with .npz and .npy files; then the program's
 * contract errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "encoder.h"
#include "npy.h"
#include "params.h"

/* ------------------------------------------------------- by hand */

START_TEST(embedding_scales_and_adds_positions)
{
    /* E = 4: sqrt(E) = 2, and the frequencies are w_0 = 1, w_1 = 1/10000^(2/4) = 0.01:
     * PE[pos] = (sin pos, cos pos, sin 0.01 pos, cos 0.01 pos). */
    const float tv[] = {0.1f, 0.2f, 0.3f, 0.4f,    /* id 0 */
                        1.0f, -1.0f, 0.5f, 2.0f,   /* id 1 */
                        -2.0f, 0.0f, 1.0f, 3.0f};  /* id 2 */
    const int64_t ids[3] = {2, 0, 1};
    Mat table = mat_from(3, 4, tv), x = mat_new(3, 4);
    embedding_forward(x, table, ids);
    for (int pos = 0; pos < 3; pos++) {
        double pe[4] = {sin(pos), cos(pos), sin(0.01 * pos), cos(0.01 * pos)};
        for (int e = 0; e < 4; e++) {
            double want = 2.0 * tv[ids[pos] * 4 + e] + pe[e];
            ck_assert_msg(fabs(MAT_AT(x, pos, e) - want) <= 1e-6, "x[%d,%d] = %.9g, want %.9g",
                          pos, e, (double)MAT_AT(x, pos, e), want);
        }
    }
    /* Two spot values written out: pos 0, id 2: (-4 + 0, 0 + 1, 2 + 0, 6 + 1). */
    ck_assert_float_eq_tol(MAT_AT(x, 0, 0), -4.0f, 1e-6f);
    ck_assert_float_eq_tol(MAT_AT(x, 0, 3), 7.0f, 1e-6f);
    /* pos 1, id 0, column 0: 0.2 + sin 1 = 0.2 + 0.8414710 = 1.0414710. */
    ck_assert_float_eq_tol(MAT_AT(x, 1, 0), 1.0414710f, 1e-6f);
    mat_free(&table);
    mat_free(&x);
}
END_TEST

START_TEST(pad_mask_blocks_pad_keys_for_every_query)
{
    const int64_t ids[4] = {5, 0, 3, 0};
    Mat mask = mat_new(2, 4);   /* L = 2 queries need not equal S = 4 keys */
    mat_fill(mask, 7.0f);       /* every entry must be overwritten */
    mask_from_pad_ids(mask, ids);
    const float want[4] = {0, 1, 0, 1};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) ck_assert_float_eq(MAT_AT(mask, i, j), want[j]);
    const int64_t none[4] = {1, 2, 3, 4};
    mask_from_pad_ids(mask, none);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) ck_assert_float_eq(MAT_AT(mask, i, j), 0.0f);
    mat_free(&mask);
}
END_TEST

START_TEST(all_padding_source_gives_zero_weights)
{
    /* The contract: a query whose keys are all blocked gets zero weights, no NaN. */
    ParamSet ps;
    params_init(&ps);
    encoder_declare(&ps, "encoder.", 2, 4, 6, 1);
    params_alloc(&ps);
    Encoder enc = encoder_bind(&ps, "encoder.", 2, 2, 0, 1);
    Rng r;
    rng_seed(&r, 3);
    encoder_init(&enc, &r);
    Mat table = mat_new(2, 4), x = mat_new(3, 4), mask = mat_new(3, 3);
    Mat attn = mat_new(2 * 2 * 3, 3);   /* (N H S, S) */
    mat_rand_normal(table, &r, 0.0f, 1.0f);
    const int64_t ids[3] = {0, 0, 0};
    embedding_forward(x, table, ids);
    mask_from_pad_ids(mask, ids);
    mat_fill(attn, NAN);
    encoder_forward(x, attn, &enc, &mask);
    int i, j;
    ck_assert(mat_all_finite(x, &i, &j));
    for (i = 0; i < attn.rows; i++)
        for (j = 0; j < attn.cols; j++) ck_assert_float_eq(MAT_AT(attn, i, j), 0.0f);
    mat_free(&table);
    mat_free(&x);
    mat_free(&attn);
    mat_free(&mask);
    encoder_free(&enc);
    params_free(&ps);
}
END_TEST

/* --------------------------------------------------- against PyTorch */

static const char *const CASES[] = {"post2", "pre1", "pre3", "post1", "whole"};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

static int config_of(const Npz *z, const char *name)
{
    const Tensor *t = npz_get(z, name);
    ck_assert_msg(t && t->dtype == DT_I64 && t->size == 1, "fixture lacks %s", name);
    return (int)t->i[0];
}

START_TEST(matches_pytorch)
{
    const char *c = CASES[_i];
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/ch07_%s_model.npz", c);
    Npz z;
    Error err;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);

    /* The sizes, read off the fixture as the program does. */
    const Tensor *emb = npz_get(&z, "src_embed.weight");
    ck_assert_ptr_nonnull(emb);
    int V = (int)emb->shape[0], E = (int)emb->shape[1], N = 0;
    for (char name[64];; N++) {
        snprintf(name, sizeof name, "encoder.layers.%d.linear1.weight", N);
        if (!npz_get(&z, name)) break;
    }
    int F = (int)npz_get(&z, "encoder.layers.0.linear1.weight")->shape[0];
    int H = config_of(&z, "config.nhead"), norm_first = config_of(&z, "config.norm_first");
    int has_norm = npz_get(&z, "encoder.norm.weight") != NULL;

    ParamSet ps;
    params_init(&ps);
    params_add(&ps, "src_embed.weight", 2, V, E);
    encoder_declare(&ps, "encoder.", N, E, F, has_norm);
    params_alloc(&ps);
    static const char *const ignore[] = {"config.", "decoder.", "tgt_embed.", "generator.", NULL};
    ck_assert_msg(params_load(&ps, &z, path, ignore, &err) == 0, "%s", err.msg);
    npz_free(&z);
    Encoder enc = encoder_bind(&ps, "encoder.", N, H, norm_first, has_norm);
    Mat table = params_mat(&ps, "src_embed.weight");

    snprintf(path, sizeof path, "tests/fixtures/ch07_%s_src.npy", c);
    Tensor src = load_tensor(path);
    snprintf(path, sizeof path, "tests/fixtures/ch07_%s_memory.npy", c);
    Tensor want = load_tensor(path);
    snprintf(path, sizeof path, "tests/fixtures/ch07_%s_attn.npy", c);
    Tensor want_attn = load_tensor(path);
    int B = (int)src.shape[0], S = (int)src.shape[1];
    ck_assert_int_eq(want.ndim, 3);
    ck_assert_int_eq(want_attn.ndim, 5);
    ck_assert_int_eq((int)want_attn.shape[1], N);
    ck_assert_int_eq((int)want_attn.shape[2], H);

    Mat x = mat_new(S, E), attn = mat_new(N * H * S, S), mask = mat_new(S, S);
    for (int b = 0; b < B; b++) {
        char what[64];
        embedding_forward(x, table, src.i + (size_t)b * S);
        mask_from_pad_ids(mask, src.i + (size_t)b * S);
        encoder_forward(x, attn, &enc, &mask);
        snprintf(what, sizeof what, "%s memory, batch %d", c, b);
        assert_torch_close(x.data, want.f + (size_t)b * S * E, (int64_t)S * E, what);
        snprintf(what, sizeof what, "%s weights, batch %d", c, b);
        assert_torch_close(attn.data, want_attn.f + (size_t)b * N * H * S * S,
                           (int64_t)N * H * S * S, what);
    }
    mat_free(&x);
    mat_free(&attn);
    mat_free(&mask);
    tensor_free(&src);
    tensor_free(&want);
    tensor_free(&want_attn);
    encoder_free(&enc);
    params_free(&ps);
}
END_TEST

/* ------------------------------------------------- the program, ch07 */

START_TEST(program_matches_pytorch)
{
    const char *c = CASES[_i];
    char dir[] = "/tmp/ch07-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024], out[256], att[256], path[256];
    snprintf(out, sizeof out, "%s/memory.npy", dir);
    snprintf(att, sizeof att, "%s/attn.npy", dir);
    snprintf(cmd, sizeof cmd,
             "%s/ch07 --params tests/fixtures/ch07_%s_model.npz"
             " --src tests/fixtures/ch07_%s_src.npy --output %s --attn %s >/dev/null",
             bin_dir(), c, c, out, att);
    ck_assert_int_eq(run_shell(cmd), 0);
    Tensor got = load_tensor(out), got_attn = load_tensor(att);
    remove(out);
    remove(att);
    rmdir(dir);
    snprintf(path, sizeof path, "tests/fixtures/ch07_%s_memory.npy", c);
    Tensor want = load_tensor(path);
    snprintf(path, sizeof path, "tests/fixtures/ch07_%s_attn.npy", c);
    Tensor want_attn = load_tensor(path);
    assert_same_shape(&got, &want, "ch07 --output", "PyTorch");
    assert_same_shape(&got_attn, &want_attn, "ch07 --attn", "PyTorch");
    assert_torch_close(got.f, want.f, want.size, "ch07 --output");
    assert_torch_close(got_attn.f, want_attn.f, want_attn.size, "ch07 --attn");
    tensor_free(&got);
    tensor_free(&got_attn);
    tensor_free(&want);
    tensor_free(&want_attn);
}
END_TEST

START_TEST(program_demo_runs)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s/ch07 --plot none >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);
}
END_TEST

/* Runs ch07 with `args`, expects exit `code` and `needle` in its stderr. */
static void expect_failure(const char *args, int code, const char *needle)
{
    expect_program_failure("ch07", args, code, needle, ONE_LINE);
}

/* Writes a copy of the post2 model to `path`, without the array `drop`
 * (may be NULL), and with `extra` (may be NULL) added as a float or int array. */
static void write_model(const char *path, const char *drop, const char *extra, int extra_int,
                        int ndim, const int64_t *shape, const float *data)
{
    Npz z;
    Error err;
    ck_assert_msg(npz_load("tests/fixtures/ch07_post2_model.npz", &z, &err) == 0, "%s", err.msg);
    NpzWriter w;
    npz_writer_init(&w);
    for (int k = 0; k < z.count; k++) {
        const Tensor *t = &z.arrays[k];
        if ((drop && strcmp(z.names[k], drop) == 0) || (extra && strcmp(z.names[k], extra) == 0))
            continue;
        if (t->dtype == DT_F32) npz_add_f32(&w, z.names[k], t->f, t->ndim, t->shape);
        else npz_add_i64(&w, z.names[k], t->i, t->ndim, t->shape);
    }
    if (extra && extra_int) {
        int64_t v = (int64_t)data[0];
        npz_add_i64(&w, extra, &v, ndim, shape);
    } else if (extra) {
        npz_add_f32(&w, extra, data, ndim, shape);
    }
    ck_assert_msg(npz_write(&w, path, &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
    npz_free(&z);
}

#define MODEL "--params tests/fixtures/ch07_post2_model.npz "
#define SRC "--src tests/fixtures/ch07_post2_src.npy "

START_TEST(program_contract_errors)
{
    char cmd[512], args[1024], p[256], q[256];
    snprintf(cmd, sizeof cmd, "%s/ch07 --help >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);

    /* Usage errors, exit 2, naming the option. */
    expect_failure("--no-such-option", 2, "--no-such-option");
    expect_failure("--params", 2, "--params");
    expect_failure(MODEL, 2, "--src");
    expect_failure(SRC, 2, "--params");
    expect_failure("--output /tmp/m.npy", 2, "--output");
    expect_failure("--attn /tmp/a.npy", 2, "--attn");
    expect_failure("--seed minus-one", 2, "--seed");
    expect_failure("--plot jpeg", 2, "--plot");
    expect_failure(MODEL SRC "extra-word", 2, "extra-word");

    /* Data errors, exit 1, naming the file and the problem. */
    expect_failure("--params /nonexistent/m.npz " SRC, 1, "/nonexistent/m.npz");
    expect_failure(MODEL "--src /nonexistent/s.npy", 1, "/nonexistent/s.npy");
    expect_failure(MODEL SRC "--output /nonexistent-dir/m.npy", 1, "/nonexistent-dir/m.npy");
    expect_failure(MODEL SRC "--attn /nonexistent-dir/a.npy", 1, "/nonexistent-dir/a.npy");

    char dir[] = "/tmp/ch07-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/src.npy", dir);

    /* Ids outside [0, Vs): post2 has Vs = 11. The message names the position. */
    const int64_t big[6] = {1, 2, 3, 4, 5, 11}, neg[6] = {1, 2, 3, -1, 0, 0};
    const int64_t shape23[2] = {2, 3}, shape6[1] = {6};
    write_ids(p, big, 2, shape23);
    snprintf(args, sizeof args, MODEL "--src %s", p);
    expect_failure(args, 1, "id 11 at (1, 2)");
    expect_failure(args, 1, p);
    write_ids(p, neg, 2, shape23);
    expect_failure(args, 1, "id -1 at (1, 0)");
    write_ids(p, big, 1, shape6);
    expect_failure(args, 1, "2-D");
    const float fl[6] = {1, 2, 3, 4, 5, 6};
    Error err;
    ck_assert(npy_save_f32(p, fl, 2, shape23, &err) == 0);
    expect_failure(args, 1, "integer");

    /* Broken model files. */
    snprintf(q, sizeof q, "%s/model.npz", dir);
    snprintf(args, sizeof args, "--params %s " SRC, q);
    write_model(q, "encoder.layers.1.norm2.bias", NULL, 0, 0, NULL, NULL);
    expect_failure(args, 1, "encoder.layers.1.norm2.bias");
    write_model(q, "src_embed.weight", NULL, 0, 0, NULL, NULL);
    expect_failure(args, 1, "src_embed.weight");
    write_model(q, "encoder.layers.0.linear1.weight", NULL, 0, 0, NULL, NULL);
    expect_failure(args, 1, "encoder.layers.0.linear1.weight");
    write_model(q, "config.nhead", NULL, 0, 0, NULL, NULL);
    expect_failure(args, 1, "config.nhead");
    write_model(q, "config.norm_first", NULL, 0, 0, NULL, NULL);
    expect_failure(args, 1, "config.norm_first");
    write_model(q, "encoder.norm.weight", NULL, 0, 0, NULL, NULL);   /* bias without weight */
    expect_failure(args, 1, "encoder.norm.weight");

    float zeros[8 * 9] = {0}, three = 3, two = 2, nan1[8] = {NAN};
    const int64_t s89[2] = {8, 9}, s8[1] = {8};
    write_model(q, NULL, "encoder.layers.1.linear2.weight", 0, 2, s89, zeros);   /* (8, 16) */
    expect_failure(args, 1, "encoder.layers.1.linear2.weight");
    write_model(q, NULL, "encoder.layers.0.norm1.bias", 0, 1, s8, nan1);
    expect_failure(args, 1, "finite");
    write_model(q, NULL, "config.nhead", 1, 0, NULL, &three);   /* 3 does not divide E = 8 */
    expect_failure(args, 1, "config.nhead");
    write_model(q, NULL, "config.norm_first", 1, 0, NULL, &two);
    expect_failure(args, 1, "config.norm_first");
    write_model(q, NULL, "config.nhead", 0, 0, NULL, &two);    /* a float, not an integer */
    expect_failure(args, 1, "config.nhead");
    write_model(q, NULL, "encoder.layers.0.extra", 0, 1, s8, zeros);
    expect_failure(args, 1, "encoder.layers.0.extra");

    remove(p);
    remove(q);
    rmdir(dir);
}
END_TEST

Suite *encoder_suite(void)
{
    Suite *s = suite_create("encoder (chapter 7)");
    TCase *tc = tcase_create("function");
    tcase_add_test(tc, embedding_scales_and_adds_positions);
    tcase_add_test(tc, pad_mask_blocks_pad_keys_for_every_query);
    tcase_add_test(tc, all_padding_source_gives_zero_weights);
    tcase_add_loop_test(tc, matches_pytorch, 0, NCASES);
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, program_matches_pytorch, 0, NCASES);
    tcase_add_test(tc, program_demo_runs);
    tcase_add_test(tc, program_contract_errors);
    suite_add_tcase(s, tc);
    return s;
}
