/*
 * test_decoder.c - chapter 8's decoder against hand arithmetic, against
 * properties that must hold whatever the weights (causality, padding that
 * nothing can see), and against torch.nn.Transformer's own encoder and decoder
 * stacks (tests/fixtures/make_ch08_ref.py), both through the library
 * (ParamSet, params_load, embedding_forward, encoder_forward, decoder_forward)
 * and through the program build/bin/ch08 with .npz and .npy files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "decoder.h"
#include "encoder.h"
#include "multihead.h"
#include "npy.h"
#include "params.h"
#include "rng.h"

/* The cases of make_ch08_ref.py, with the sizes that script gave them. */
typedef struct {
    const char *name;
    int E, H, F, enc_layers, dec_layers, norm_first, enc_norm, dec_norm, Vs, Vt;
    int weights;   /* 1 if the script saved the attention weights */
} Case;

static const Case CASES[] = {
    {"post1", 8, 2, 16, 1, 1, 0, 1, 1, 11, 9, 1},
    {"pre2", 6, 3, 10, 2, 2, 1, 1, 1, 7, 10, 1},
    {"post3_nonorm", 5, 1, 8, 1, 3, 0, 0, 0, 8, 6, 0},
    {"pre_mixed", 8, 4, 12, 1, 1, 1, 1, 0, 6, 7, 0},
};
enum { NCASES = sizeof CASES / sizeof *CASES };

/* ------------------------------------------------------------ helpers */

/* The fixture tests/fixtures/ch08_<name>_<part>.npy. */
static Tensor case_tensor(const char *name, const char *part)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/ch08_%s_%s.npy", name, part);
    return load_tensor(path);
}

/* PyTorch's values within the contract's tolerance; a failure names the case. */
static void assert_close_f(const float *got, const float *want, int64_t n, const char *what,
                           const char *name)
{
    char label[128];
    snprintf(label, sizeof label, "%s %s", name, what);
    assert_torch_close(got, want, n, label);
}

/* A model of this chapter: two embedding tables, an encoder and a decoder
 * in one ParamSet, declared exactly as chapter 8's program declares them. */
typedef struct {
    ParamSet ps;
    Mat src_embed, tgt_embed;   /* (Vs, E), (Vt, E) */
    Encoder enc;
    Decoder dec;
} Model;

static void model_build(Model *m, const Case *c)
{
    params_init(&m->ps);
    params_add(&m->ps, "src_embed.weight", 2, c->Vs, c->E);
    params_add(&m->ps, "tgt_embed.weight", 2, c->Vt, c->E);
    encoder_declare(&m->ps, "encoder.", c->enc_layers, c->E, c->F, c->enc_norm);
    decoder_declare(&m->ps, "decoder.", c->dec_layers, c->E, c->F, c->dec_norm);
    params_alloc(&m->ps);
    m->src_embed = params_mat(&m->ps, "src_embed.weight");
    m->tgt_embed = params_mat(&m->ps, "tgt_embed.weight");
    m->enc = encoder_bind(&m->ps, "encoder.", c->enc_layers, c->H, c->norm_first, c->enc_norm);
    m->dec = decoder_bind(&m->ps, "decoder.", c->dec_layers, c->H, c->norm_first, c->dec_norm);
}

static void model_free(Model *m)
{
    encoder_free(&m->enc);
    decoder_free(&m->dec);
    params_free(&m->ps);
}

/* memory = encoder(source), (S, E). */
static void encode(Mat memory, const Model *m, const Case *c, const int64_t *src, int S)
{
    Mat mask = mat_new(S, S), attn = mat_new(c->enc_layers * c->H * S, S);
    mask_from_pad_ids(mask, src);
    embedding_forward(memory, m->src_embed, src);
    encoder_forward(memory, attn, &m->enc, &mask);
    mat_free(&mask);
    mat_free(&attn);
}

/* y = decoder(target, memory) with the masks of the contract.
 *   y: (T, E)   self_w: (N H T, T)   cross_w: (N H T, S)   memory: (S, E) */
static void decode(Mat y, Mat self_w, Mat cross_w, const Model *m, Mat memory,
                   const int64_t *src, const int64_t *tgt)
{
    Mat self_mask = mat_new(y.rows, y.rows), cross_mask = mat_new(y.rows, memory.rows);
    decoder_masks(self_mask, cross_mask, tgt, src);
    embedding_forward(y, m->tgt_embed, tgt);
    decoder_forward(y, self_w, cross_w, memory, &m->dec, &self_mask, &cross_mask);
    mat_free(&self_mask);
    mat_free(&cross_mask);
}

/* A model with PyTorch-style random initialisation, plus random LayerNorm
 * parameters and attention biases (init leaves them 1 and 0). */
static void model_random(Model *m, const Case *c, uint64_t seed)
{
    model_build(m, c);
    Rng r;
    rng_seed(&r, seed);
    mat_rand_normal(m->src_embed, &r, 0.0f, 1.0f);
    mat_rand_normal(m->tgt_embed, &r, 0.0f, 1.0f);
    encoder_init(&m->enc, &r);
    decoder_init(&m->dec, &r);
    for (int n = 0; n < m->dec.layers; n++) {
        DecoderLayer *l = &m->dec.layer[n];
        mat_rand_uniform(l->self_attn.in_proj_bias, &r, -0.5f, 0.5f);
        mat_rand_uniform(l->cross_attn.in_proj_bias, &r, -0.5f, 0.5f);
        LayerNorm *norms[3] = {&l->norm1, &l->norm2, &l->norm3};
        for (int k = 0; k < 3; k++) {
            mat_rand_uniform(norms[k]->weight, &r, 0.5f, 1.5f);
            mat_rand_uniform(norms[k]->bias, &r, -0.5f, 0.5f);
        }
    }
}

/* ------------------------------------------------------ hand arithmetic */

START_TEST(masks_by_hand)
{
    /* target <bos> a <pad> b: the future is blocked, and key 2 (the pad) for
     * everyone; source x <pad> y: key 1 blocked for every target row. */
    const int64_t tgt[4] = {1, 5, 0, 7}, src[3] = {3, 0, 4};
    const float want_self[4][4] = {{0, 1, 1, 1}, {0, 0, 1, 1}, {0, 0, 1, 1}, {0, 0, 1, 0}};
    Mat self_mask = mat_new(4, 4), cross_mask = mat_new(4, 3);
    decoder_masks(self_mask, cross_mask, tgt, src);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++)
            ck_assert_msg(MAT_AT(self_mask, i, j) == want_self[i][j], "self mask (%d, %d) = %g",
                          i, j, (double)MAT_AT(self_mask, i, j));
        for (int j = 0; j < 3; j++)
            ck_assert_msg(MAT_AT(cross_mask, i, j) == (j == 1 ? 1.0f : 0.0f),
                          "cross mask (%d, %d) = %g", i, j, (double)MAT_AT(cross_mask, i, j));
    }
    mat_free(&self_mask);
    mat_free(&cross_mask);
}
END_TEST

START_TEST(cross_rows_sum_to_one_over_real_tokens)
{
    /* E = 4, H = 2, one layer; source ids 5 <pad> 7 9, target 1 2 (T = 2). */
    const Case c = {"hand", 4, 2, 8, 1, 1, 0, 0, 0, 12, 12, 0};
    const int64_t src[4] = {5, 0, 7, 9}, tgt[2] = {1, 2};
    Model m;
    model_random(&m, &c, 11);
    Mat memory = mat_new(4, 4), y = mat_new(2, 4);
    Mat self_w = mat_new(2 * 2, 2), cross_w = mat_new(2 * 2, 4);   /* (H T, T), (H T, S) */
    encode(memory, &m, &c, src, 4);
    decode(y, self_w, cross_w, &m, memory, src, tgt);
    for (int r = 0; r < 4; r++) {   /* head h, target row i: r = h T + i */
        ck_assert_msg(MAT_AT(cross_w, r, 1) == 0.0f, "weight on the source pad: %g",
                      (double)MAT_AT(cross_w, r, 1));
        double sum = (double)MAT_AT(cross_w, r, 0) + MAT_AT(cross_w, r, 2) + MAT_AT(cross_w, r, 3);
        ck_assert_msg(fabs(sum - 1.0) < 1e-6, "row %d sums to %.9g over the real tokens", r, sum);
    }

    /* With W_Q = 0 and b_Q = 0 every query is 0, so every score is 0 and the
     * weights are uniform over the three real tokens: exactly 1/3 each. */
    MHA *cross = &m.dec.layer[0].cross_attn;
    mat_fill(mha_w(cross, 0), 0.0f);
    mat_fill(mha_b(cross, 0), 0.0f);
    decode(y, self_w, cross_w, &m, memory, src, tgt);
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 4; j++) {
            double want = j == 1 ? 0.0 : 1.0 / 3.0;
            ck_assert_msg(fabs(MAT_AT(cross_w, r, j) - want) < 1e-7, "(%d, %d) = %.9g, want %.9g",
                          r, j, (double)MAT_AT(cross_w, r, j), want);
        }
    mat_free(&memory);
    mat_free(&y);
    mat_free(&self_w);
    mat_free(&cross_w);
    model_free(&m);
}
END_TEST

/* ------------------------------------------------------ properties */

/* Changing target token p must leave the outputs at positions < p exactly as
 * they were, and change position p: the mask does it, not the data. */
START_TEST(causality_computed)
{
    const Case c = {"causal", 8, 2, 16, 1, 2, _i, 1, 1, 10, 10, 0};   /* post- and pre-norm */
    enum { S = 5, T = 7 };
    const int64_t src[S] = {4, 2, 9, 3, 0};
    int64_t tgt[T] = {1, 6, 3, 8, 2, 7, 5};
    Model m;
    model_random(&m, &c, 21 + (uint64_t)_i);
    Mat memory = mat_new(S, 8), y = mat_new(T, 8), y2 = mat_new(T, 8);
    Mat self_w = mat_new(2 * 2 * T, T), cross_w = mat_new(2 * 2 * T, S);
    encode(memory, &m, &c, src, S);
    decode(y, self_w, cross_w, &m, memory, src, tgt);
    for (int p = 1; p < T; p++) {
        int64_t old = tgt[p];
        tgt[p] = old % 9 + 1;   /* another real token */
        decode(y2, self_w, cross_w, &m, memory, src, tgt);
        tgt[p] = old;
        for (int i = 0; i < T; i++) {
            double worst = 0.0;
            for (int e = 0; e < 8; e++)
                worst = fmax(worst, fabs((double)MAT_AT(y, i, e) - MAT_AT(y2, i, e)));
            if (i < p)
                ck_assert_msg(worst <= 1e-6, "token %d changed, yet output %d moved by %g", p, i,
                              worst);
            else if (i == p)
                ck_assert_msg(worst > 1e-3, "token %d changed, its own output moved only %g", p,
                              worst);
        }
    }
    mat_free(&memory);
    mat_free(&y);
    mat_free(&y2);
    mat_free(&self_w);
    mat_free(&cross_w);
    model_free(&m);
}
END_TEST

/* What sits at a padded position is invisible: changing the memory row of a
 * source pad changes no output; changing the pad token's embedding changes
 * no output of a real target position. */
START_TEST(padding_is_invisible)
{
    const Case c = {"pad", 6, 3, 12, 1, 2, 0, 1, 1, 10, 10, 0};
    enum { S = 5, T = 5 };
    const int64_t src[S] = {4, 0, 9, 3, 0}, tgt[T] = {1, 6, 0, 8, 0};
    Model m;
    model_random(&m, &c, 31);
    Mat memory = mat_new(S, 6), y = mat_new(T, 6), y2 = mat_new(T, 6);
    Mat self_w = mat_new(2 * 3 * T, T), cross_w = mat_new(2 * 3 * T, S);
    encode(memory, &m, &c, src, S);
    decode(y, self_w, cross_w, &m, memory, src, tgt);

    for (int e = 0; e < 6; e++) MAT_AT(memory, 1, e) += 3.0f;   /* source pads */
    for (int e = 0; e < 6; e++) MAT_AT(memory, 4, e) -= 2.0f;
    decode(y2, self_w, cross_w, &m, memory, src, tgt);
    for (int i = 0; i < T; i++)
        for (int e = 0; e < 6; e++)
            ck_assert_msg(MAT_AT(y, i, e) == MAT_AT(y2, i, e), "source pad reached (%d, %d)", i, e);

    encode(memory, &m, &c, src, S);
    for (int e = 0; e < 6; e++) MAT_AT(m.tgt_embed, 0, e) += 1.5f;   /* the target pad's row */
    decode(y2, self_w, cross_w, &m, memory, src, tgt);
    for (int i = 0; i < T; i++) {
        if (tgt[i] == 0) continue;   /* a pad query sees itself changed; nobody else may */
        for (int e = 0; e < 6; e++)
            ck_assert_msg(MAT_AT(y, i, e) == MAT_AT(y2, i, e), "target pad reached (%d, %d)", i, e);
    }
    mat_free(&memory);
    mat_free(&y);
    mat_free(&y2);
    mat_free(&self_w);
    mat_free(&cross_w);
    model_free(&m);
}
END_TEST

/* ------------------------------------------------------ against PyTorch */

START_TEST(matches_pytorch)
{
    const Case *c = &CASES[_i];
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/ch08_%s_model.npz", c->name);
    Npz z;
    Error err;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    const Tensor *nhead = npz_get(&z, "config.nhead"), *nf = npz_get(&z, "config.norm_first");
    ck_assert(nhead && nhead->i && nhead->i[0] == c->H);
    ck_assert(nf && nf->i && nf->i[0] == c->norm_first);
    Model m;
    model_build(&m, c);
    static const char *const ignore[] = {"config.", "generator.", NULL};
    ck_assert_msg(params_load(&m.ps, &z, path, ignore, &err) == 0, "%s", err.msg);
    npz_free(&z);

    Tensor src = case_tensor(c->name, "src"), tgt = case_tensor(c->name, "tgt");
    Tensor want = case_tensor(c->name, "out");
    int B = (int)src.shape[0], S = (int)src.shape[1], T = (int)tgt.shape[1], E = c->E;
    int NHT = c->dec_layers * c->H * T;
    ck_assert_int_eq(want.ndim, 3);
    ck_assert(want.shape[0] == B && want.shape[1] == T && want.shape[2] == E);
    Tensor want_self = {0}, want_cross = {0};
    if (c->weights) {
        want_self = case_tensor(c->name, "self");     /* (B, N, H, T, T) */
        want_cross = case_tensor(c->name, "cross");   /* (B, N, H, T, S) */
        ck_assert(want_self.size == (int64_t)B * NHT * T);
        ck_assert(want_cross.size == (int64_t)B * NHT * S);
    }

    Mat memory = mat_new(S, E), y = mat_new(T, E);
    Mat self_w = mat_new(NHT, T), cross_w = mat_new(NHT, S);
    for (int b = 0; b < B; b++) {
        const int64_t *s = src.i + (size_t)b * S, *t = tgt.i + (size_t)b * T;
        encode(memory, &m, c, s, S);
        decode(y, self_w, cross_w, &m, memory, s, t);
        assert_close_f(y.data, want.f + (size_t)b * T * E, (int64_t)T * E, "output", c->name);
        if (c->weights) {
            assert_close_f(self_w.data, want_self.f + (size_t)b * NHT * T, (int64_t)NHT * T,
                           "self-attention", c->name);
            assert_close_f(cross_w.data, want_cross.f + (size_t)b * NHT * S, (int64_t)NHT * S,
                           "cross-attention", c->name);
        }
    }
    mat_free(&memory);
    mat_free(&y);
    mat_free(&self_w);
    mat_free(&cross_w);
    tensor_free(&src);
    tensor_free(&tgt);
    tensor_free(&want);
    tensor_free(&want_self);
    tensor_free(&want_cross);
    model_free(&m);
}
END_TEST

/* ------------------------------------------------- the program, ch08 */

/* Compares a file the program wrote with a fixture, shapes first. */
static void assert_file_matches(const char *got_path, const char *name, const char *part)
{
    Tensor got = load_tensor(got_path), want = case_tensor(name, part);
    char label[128];
    snprintf(label, sizeof label, "%s %s", name, part);
    assert_same_shape(&got, &want, label, "PyTorch");
    ck_assert_msg(strcmp(got.file_dtype, "<f4") == 0, "%s: dtype %s", got_path, got.file_dtype);
    assert_close_f(got.f, want.f, got.size, part, name);
    tensor_free(&got);
    tensor_free(&want);
    remove(got_path);
}

START_TEST(program_matches_pytorch)
{
    const Case *c = &CASES[_i];
    char dir[] = "/tmp/ch08-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[2048], weights[512] = "";
    if (c->weights)
        snprintf(weights, sizeof weights, "--self-attn %s/a.npy --cross-attn %s/c.npy", dir, dir);
    snprintf(cmd, sizeof cmd,
             "%s/ch08 --params tests/fixtures/ch08_%s_model.npz "
             "--src tests/fixtures/ch08_%s_src.npy --tgt tests/fixtures/ch08_%s_tgt.npy "
             "--output %s/y.npy %s >/dev/null",
             bin_dir(), c->name, c->name, c->name, dir, weights);
    ck_assert_int_eq(run_shell(cmd), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/y.npy", dir);
    assert_file_matches(path, c->name, "out");
    if (c->weights) {
        snprintf(path, sizeof path, "%s/a.npy", dir);
        assert_file_matches(path, c->name, "self");
        snprintf(path, sizeof path, "%s/c.npy", dir);
        assert_file_matches(path, c->name, "cross");
    }
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* Runs ch08 with `args`, expects exit `code` and `needle` in its stderr. */
static void expect_failure(const char *args, int code, const char *needle)
{
    expect_program_failure("ch08", args, code, needle, ONE_LINE);
}

/* Writes ch08_post1_model.npz again to `path`, without the array `drop` and
 * with `reshape` (if not NULL) given one entry more than it should have. */
static void write_broken_model(const char *path, const char *drop, const char *reshape)
{
    Npz z;
    Error err;
    ck_assert_msg(npz_load("tests/fixtures/ch08_post1_model.npz", &z, &err) == 0, "%s", err.msg);
    NpzWriter w;
    npz_writer_init(&w);
    float extra[64] = {0};
    for (int k = 0; k < z.count; k++) {
        const Tensor *t = &z.arrays[k];
        if (drop && strcmp(z.names[k], drop) == 0) continue;
        if (t->dtype == DT_I64) {
            npz_add_i64(&w, z.names[k], t->i, t->ndim, t->shape);
        } else if (reshape && strcmp(z.names[k], reshape) == 0) {
            ck_assert(t->ndim == 1 && t->size < 64);
            memcpy(extra, t->f, (size_t)t->size * sizeof(float));
            int64_t n = t->size + 1;
            npz_add_f32(&w, z.names[k], extra, 1, &n);
        } else {
            npz_add_f32(&w, z.names[k], t->f, t->ndim, t->shape);
        }
    }
    ck_assert_msg(npz_write(&w, path, &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
    npz_free(&z);
}

#define MODEL "--params tests/fixtures/ch08_post1_model.npz "
#define SRC "--src tests/fixtures/ch08_post1_src.npy "
#define TGT "--tgt tests/fixtures/ch08_post1_tgt.npy "

START_TEST(program_contract_errors)
{
    char cmd[512], args[1024];
    snprintf(cmd, sizeof cmd, "%s/ch08 --help >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);

    /* usage errors: exit 2, the option named */
    expect_failure("--no-such-option", 2, "--no-such-option");
    expect_failure("--params", 2, "--params");
    expect_failure(MODEL SRC, 2, "--tgt");
    expect_failure("--output /tmp/y.npy", 2, "--output");
    expect_failure(MODEL SRC TGT "extra-word", 2, "extra-word");
    expect_failure("--plot jpeg", 2, "--plot");

    /* data errors: exit 1, the file named */
    expect_failure("--params /nonexistent/m.npz " SRC TGT, 1, "/nonexistent/m.npz");
    expect_failure(MODEL "--src /nonexistent/s.npy " TGT, 1, "/nonexistent/s.npy");
    expect_failure(MODEL "--src tests/fixtures/ch08_post1_out.npy " TGT, 1, "integer");
    expect_failure(MODEL SRC TGT "--output /nonexistent-dir/y.npy", 1, "/nonexistent-dir/y.npy");

    /* post1's target vocabulary is [0, 9): id 9 at (1, 2) is outside it */
    const int64_t bad_ids[8] = {1, 2, 3, 4, 5, 6, 9, 1}, shape24[2] = {2, 4};
    write_ids("/tmp/ch08-test-tgt-bad.npy", bad_ids, 2, shape24);
    expect_failure(MODEL SRC "--tgt /tmp/ch08-test-tgt-bad.npy", 1, "(1, 2)");
    expect_failure(MODEL SRC "--tgt /tmp/ch08-test-tgt-bad.npy", 1, "/tmp/ch08-test-tgt-bad.npy");
    expect_failure(MODEL SRC "--tgt /tmp/ch08-test-tgt-bad.npy", 1, "token id 9");
    remove("/tmp/ch08-test-tgt-bad.npy");

    /* three targets for two sources */
    const int64_t ids12[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, shape34[2] = {3, 4};
    write_ids("/tmp/ch08-test-tgt-b3.npy", ids12, 2, shape34);
    expect_failure(MODEL SRC "--tgt /tmp/ch08-test-tgt-b3.npy", 1, "batch sizes differ");
    remove("/tmp/ch08-test-tgt-b3.npy");

    /* one sequence without its batch dimension */
    const int64_t shape4[1] = {4};
    write_ids("/tmp/ch08-test-tgt-1d.npy", ids12, 1, shape4);
    expect_failure(MODEL SRC "--tgt /tmp/ch08-test-tgt-1d.npy", 1, "2-D");
    remove("/tmp/ch08-test-tgt-1d.npy");

    /* a model file without config.nhead, and one with a norm of the wrong size */
    write_broken_model("/tmp/ch08-test-model.npz", "config.nhead", NULL);
    snprintf(args, sizeof args, "--params /tmp/ch08-test-model.npz " SRC TGT);
    expect_failure(args, 1, "config.nhead");
    write_broken_model("/tmp/ch08-test-model.npz", NULL, "decoder.layers.0.norm3.bias");
    expect_failure(args, 1, "decoder.layers.0.norm3.bias");
    remove("/tmp/ch08-test-model.npz");
}
END_TEST

Suite *decoder_suite(void)
{
    Suite *s = suite_create("decoder (chapter 8)");
    TCase *tc = tcase_create("function");
    tcase_add_test(tc, masks_by_hand);
    tcase_add_test(tc, cross_rows_sum_to_one_over_real_tokens);
    tcase_add_loop_test(tc, causality_computed, 0, 2);
    tcase_add_test(tc, padding_is_invisible);
    tcase_add_loop_test(tc, matches_pytorch, 0, NCASES);
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, program_matches_pytorch, 0, NCASES);
    tcase_add_test(tc, program_contract_errors);
    suite_add_tcase(s, tc);
    return s;
}
