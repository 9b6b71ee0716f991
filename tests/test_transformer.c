/*
 * test_transformer.c - chapter 9's whole encoder-decoder model against
 * PyTorch models built around torch.nn.Transformer
 * (tests/fixtures/make_ch09_ref.py), through the library and through the
 * program build/bin/ch09; its parameter file (save, load, names), its
 * parameter count (hand arithmetic and the paper's Table 3), greedy
 * decoding, and the contract's error cases.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "npy.h"
#include "rng.h"
#include "transformer.h"

static const char *const CASES[] = {"post", "pre", "deep", "nonorm", "onehead"};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

/* ------------------------------------------------------------ helpers */

static void fixture(char *buf, size_t len, const char *name, const char *part)
{
    snprintf(buf, len, "tests/fixtures/ch09_%s_%s", name, part);
}

/* ------------------------------------------------- against PyTorch */

START_TEST(matches_pytorch)
{
    const char *c = CASES[_i];
    char path[256];
    fixture(path, sizeof path, c, "model.npz");
    Transformer m = load_model(path);
    fixture(path, sizeof path, c, "src.npy");
    Tensor src = load_tensor(path);
    fixture(path, sizeof path, c, "tgt.npy");
    Tensor tgt = load_tensor(path);
    fixture(path, sizeof path, c, "logits.npy");
    Tensor want = load_tensor(path);
    int B = (int)src.shape[0], S = (int)src.shape[1], T = (int)tgt.shape[1], Vt = m.cfg.Vt;
    ck_assert_int_eq(want.ndim, 3);
    ck_assert_int_eq(want.shape[0], B);
    ck_assert_int_eq(want.shape[1], T);
    ck_assert_int_eq(want.shape[2], Vt);

    Mat logits = mat_new(T, Vt);
    AttentionMaps maps = attention_maps_new(&m.cfg, S, T);
    for (int b = 0; b < B; b++) {
        transformer_forward(logits, b == 0 ? &maps : NULL, &m, src.i + (size_t)b * S, S,
                            tgt.i + (size_t)b * T, T);
        char what[64];
        snprintf(what, sizeof what, "%s logits, batch item %d", c, b);
        assert_torch_close(logits.data, want.f + (size_t)b * T * Vt, (int64_t)T * Vt, what);
    }
    /* Every attention row of item 0 sums to 1 (none is fully blocked here). */
    Mat all[3] = {maps.enc, maps.dec_self, maps.cross};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < all[k].rows; i++) {
            double sum = 0.0;
            for (int j = 0; j < all[k].cols; j++) sum += MAT_AT(all[k], i, j);
            ck_assert_msg(fabs(sum - 1.0) < 1e-5, "%s: attention map %d row %d sums to %g", c, k,
                          i, sum);
        }
    /* The causal mask: decoder self-attention never looks ahead. */
    for (int i = 0; i < maps.dec_self.rows; i++)
        for (int j = i % T + 1; j < T; j++) ck_assert_float_eq(MAT_AT(maps.dec_self, i, j), 0.0f);

    attention_maps_free(&maps);
    mat_free(&logits);
    tensor_free(&src);
    tensor_free(&tgt);
    tensor_free(&want);
    transformer_free(&m);
}
END_TEST

START_TEST(final_norms_follow_the_file)
{
    Transformer with = load_model("tests/fixtures/ch09_post_model.npz");
    Transformer without = load_model("tests/fixtures/ch09_nonorm_model.npz");
    ck_assert_int_eq(with.cfg.enc_norm, 1);
    ck_assert_int_eq(with.cfg.dec_norm, 1);
    ck_assert_int_eq(with.cfg.norm_first, 0);
    ck_assert_int_eq(without.cfg.enc_norm, 0);
    ck_assert_int_eq(without.cfg.dec_norm, 0);
    ck_assert_int_eq(without.cfg.norm_first, 1);
    /* Sizes read off the shapes (see make_ch09_ref.py, case "post"). */
    ck_assert_int_eq(with.cfg.E, 8);
    ck_assert_int_eq(with.cfg.F, 16);
    ck_assert_int_eq(with.cfg.H, 2);
    ck_assert_int_eq(with.cfg.enc_layers, 2);
    ck_assert_int_eq(with.cfg.dec_layers, 2);
    ck_assert_int_eq(with.cfg.Vs, 9);
    ck_assert_int_eq(with.cfg.Vt, 11);
    transformer_free(&with);
    transformer_free(&without);
}
END_TEST

/* ------------------------------------------------- the parameter file */

START_TEST(save_load_round_trip)
{
    char dir[] = "/tmp/ch09-test-XXXXXX", path[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.npz", dir);

    Transformer a = load_model("tests/fixtures/ch09_pre_model.npz");
    Error err;
    ck_assert_msg(transformer_save(&a, path, &err) == 0, "%s", err.msg);
    Transformer b = load_model(path);
    ck_assert_mem_eq(&a.cfg, &b.cfg, sizeof a.cfg);
    ck_assert_uint_eq(a.params.size, b.params.size);
    ck_assert_mem_eq(a.params.data, b.params.data, a.params.size * sizeof(float));

    /* What numpy.load sees: PyTorch's names and shapes, and int64 scalars. */
    Npz z, orig;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    ck_assert_msg(npz_load("tests/fixtures/ch09_pre_model.npz", &orig, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(z.count, orig.count);
    for (int k = 0; k < orig.count; k++) {
        const Tensor *t = npz_get(&z, orig.names[k]);
        ck_assert_msg(t != NULL, "%s missing from the saved file", orig.names[k]);
        char s1[128], s2[128];
        ck_assert_str_eq(tensor_shape_str(t, s1, sizeof s1),
                         tensor_shape_str(&orig.arrays[k], s2, sizeof s2));
    }
    const Tensor *nhead = npz_get(&z, "config.nhead"), *nf = npz_get(&z, "config.norm_first");
    ck_assert_ptr_nonnull(nhead);
    ck_assert_ptr_nonnull(nf);
    ck_assert_int_eq(nhead->ndim, 0);
    ck_assert_str_eq(nhead->file_dtype, "<i8");
    ck_assert_int_eq(nhead->i[0], 4);
    ck_assert_int_eq(nf->ndim, 0);
    ck_assert_int_eq(nf->i[0], 1);
    ck_assert_int_eq(npz_get(&z, "generator.bias")->ndim, 1);

    npz_free(&z);
    npz_free(&orig);
    transformer_free(&a);
    transformer_free(&b);
    remove(path);
    rmdir(dir);
}
END_TEST

/* ------------------------------------------------- parameter counts */

static TransformerConfig paper_config(int E, int F, int H)
{
    TransformerConfig c = {E, F, H, 6, 6, 37000, 37000, 0, 1, 1};
    return c;
}

static void assert_parts_add_up(const ParamCount *p)
{
    int64_t sum = p->src_embed + p->tgt_embed + p->enc_attn + p->enc_ff + p->enc_norm +
                  p->dec_self + p->dec_cross + p->dec_ff + p->dec_norm + p->generator;
    ck_assert_int_eq(sum, p->total);
}

START_TEST(count_matches_the_paper)
{
    /* Table 3 of "Attention Is All You Need": base 65M, big 213M, with one
     * 37000-token matrix shared by both embeddings and the generator. */
    TransformerConfig base = paper_config(512, 2048, 8), big = paper_config(1024, 4096, 16);
    ParamCount b = transformer_count(&base, 1), g = transformer_count(&big, 1);
    assert_parts_add_up(&b);
    assert_parts_add_up(&g);
    ck_assert_msg(fabs((double)b.total / 65e6 - 1.0) <= 0.03, "base: %lld", (long long)b.total);
    ck_assert_msg(fabs((double)g.total / 213e6 - 1.0) <= 0.03, "big: %lld", (long long)g.total);
    /* By hand, base: a layer's attention 4 E^2 + 4 E = 1050624, feed-forward
     * 2 E F + F + E = 2099712; 6 encoder layers of (attention, ff, 2 norms of
     * 2 E), 6 decoder layers of (2 attentions, ff, 3 norms), 2 final norms,
     * 37000 x 512 shared, 37000 generator biases:
     * 18944000 + 6 x 3152384 + 6 x 4204032 + 2048 + 37000 = 63121544. */
    ck_assert_int_eq(b.total, 63121544);
    ck_assert_int_eq(b.enc_attn, 6 * 1050624);
    ck_assert_int_eq(b.dec_cross, 6 * 1050624);
    ck_assert_int_eq(b.enc_ff, 6 * 2099712);
    ck_assert_int_eq(b.enc_norm, 6 * 2048 + 1024);
    ck_assert_int_eq(b.dec_norm, 6 * 3072 + 1024);
    ck_assert_int_eq(b.tgt_embed, 0);
    ck_assert_int_eq(b.generator, 37000);
    /* Without sharing, two more 37000 x 512 matrices. */
    ParamCount unshared = transformer_count(&base, 0);
    ck_assert_int_eq(unshared.total, 63121544 + 2 * 37000 * 512);
}
END_TEST

START_TEST(count_tiny_by_hand)
{
    /* E = 4, F = 6, 1 + 1 layers, Vs = 5, Vt = 7, final norms:
     *   src_embed 5 x 4 = 20, tgt_embed 7 x 4 = 28,
     *   an attention 4 x 16 + 4 x 4 = 80, a feed-forward 6 x 4 + 6 + 4 x 6 + 4 = 58,
     *   a norm 2 x 4 = 8: encoder 2 + 1 final = 24, decoder 3 + 1 final = 32,
     *   generator 7 x 4 + 7 = 35.   Total 495. */
    TransformerConfig c = {4, 6, 2, 1, 1, 5, 7, 0, 1, 1};
    ParamCount p = transformer_count(&c, 0);
    assert_parts_add_up(&p);
    ck_assert_int_eq(p.src_embed, 20);
    ck_assert_int_eq(p.tgt_embed, 28);
    ck_assert_int_eq(p.enc_attn, 80);
    ck_assert_int_eq(p.enc_ff, 58);
    ck_assert_int_eq(p.enc_norm, 24);
    ck_assert_int_eq(p.dec_self, 80);
    ck_assert_int_eq(p.dec_cross, 80);
    ck_assert_int_eq(p.dec_ff, 58);
    ck_assert_int_eq(p.dec_norm, 32);
    ck_assert_int_eq(p.generator, 35);
    ck_assert_int_eq(p.total, 495);
    /* PyTorch's own model of that size (case "onehead") stores 495 numbers. */
    Npz z;
    Error err;
    ck_assert_msg(npz_load("tests/fixtures/ch09_onehead_model.npz", &z, &err) == 0, "%s", err.msg);
    int64_t stored = 0;
    for (int k = 0; k < z.count; k++)
        if (strncmp(z.names[k], "config.", 7) != 0) stored += z.arrays[k].size;
    ck_assert_int_eq(stored, 495);
    npz_free(&z);
    /* Shared, with Vs = Vt = 7: 28 + 80 + 58 + 24 + 80 + 80 + 58 + 32 + 7 = 447. */
    c.Vs = 7;
    p = transformer_count(&c, 1);
    assert_parts_add_up(&p);
    ck_assert_int_eq(p.total, 447);
}
END_TEST

/* ------------------------------------------------- greedy decoding */

static Transformer tiny_model(uint64_t seed)
{
    TransformerConfig c = {8, 12, 2, 1, 2, 6, 9, 0, 1, 1};
    Transformer m;
    Rng r;
    rng_seed(&r, seed);
    transformer_new(&m, &c, &r);
    return m;
}

START_TEST(greedy_stops_at_eos)
{
    /* A generator of zeros with a large bias on EOS (2): EOS comes first. */
    Transformer m = tiny_model(3);
    mat_fill(m.gen_weight, 0.0f);
    mat_fill(m.gen_bias, 0.0f);
    MAT_AT(m.gen_bias, 0, 2) = 5.0f;
    const int64_t src[4] = {3, 4, 5, 0};
    int64_t out[10];
    for (int k = 0; k < 10; k++) out[k] = -1;
    int n = greedy_decode(out, 10, &m, src, 4, 1, 2);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(out[0], 1);
    ck_assert_int_eq(out[1], 2);
    ck_assert_int_eq(out[2], -1);   /* nothing written past the end */
    transformer_free(&m);
}
END_TEST

START_TEST(greedy_stops_at_max_len)
{
    Transformer m = tiny_model(4);
    mat_fill(m.gen_weight, 0.0f);
    mat_fill(m.gen_bias, 0.0f);
    MAT_AT(m.gen_bias, 0, 7) = 5.0f;   /* always token 7, never EOS */
    const int64_t src[3] = {3, 4, 5};
    int64_t out[6];
    int n = greedy_decode(out, 5, &m, src, 3, 1, 2);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(out[0], 1);
    for (int t = 1; t < 5; t++) ck_assert_int_eq(out[t], 7);
    ck_assert_int_eq(greedy_decode(out, 1, &m, src, 3, 1, 2), 1);   /* BOS alone */
    transformer_free(&m);
}
END_TEST

START_TEST(greedy_is_argmax_of_forward)
{
    /* Each decoded token is the argmax of the full forward pass over the
     * decoded sequence at the position before it: the causal mask makes
     * later tokens irrelevant to earlier rows. */
    Transformer m = tiny_model(5);
    const int64_t src[5] = {3, 5, 4, 1, 0};
    int64_t out[8];
    int T = greedy_decode(out, 8, &m, src, 5, 1, 2);
    ck_assert_int_ge(T, 2);
    Mat logits = mat_new(T, m.cfg.Vt);
    transformer_forward(logits, NULL, &m, src, 5, out, T);
    for (int t = 1; t < T; t++) {
        int best = 0;
        for (int v = 1; v < m.cfg.Vt; v++)
            if (MAT_AT(logits, t - 1, v) > MAT_AT(logits, t - 1, best)) best = v;
        ck_assert_int_eq(out[t], best);
    }
    mat_free(&logits);
    transformer_free(&m);
}
END_TEST

/* ------------------------------------------------- the program, ch09 */

/* Runs ch09 on a case's files (src and tgt may be other fixture names) and
 * compares the written logits with PyTorch's. */
static void program_case(const char *c, const char *src_part, const char *tgt_part)
{
    char dir[] = "/tmp/ch09-test-XXXXXX", model[256], src[256], tgt[256], out[256], cmd[2048];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    fixture(model, sizeof model, c, "model.npz");
    fixture(src, sizeof src, c, src_part);
    fixture(tgt, sizeof tgt, c, tgt_part);
    snprintf(out, sizeof out, "%s/logits.npy", dir);
    snprintf(cmd, sizeof cmd, "%s/ch09 --params %s --src %s --tgt %s --logits %s >/dev/null",
             bin_dir(), model, src, tgt, out);
    ck_assert_int_eq(run_shell(cmd), 0);
    Tensor got = load_tensor(out), want;
    char path[256];
    fixture(path, sizeof path, c, "logits.npy");
    want = load_tensor(path);
    ck_assert_int_eq(got.dtype, DT_F32);
    ck_assert_int_eq(got.ndim, 3);
    for (int d = 0; d < 3; d++) ck_assert_int_eq(got.shape[d], want.shape[d]);
    assert_torch_close(got.f, want.f, want.size, cmd);
    tensor_free(&got);
    tensor_free(&want);
    remove(out);
    rmdir(dir);
}

START_TEST(program_matches_pytorch)
{
    program_case(CASES[_i], "src.npy", "tgt.npy");
}
END_TEST

START_TEST(program_reads_other_id_dtypes)
{
    program_case("post", "src_u1.npy", "tgt_i4.npy");
}
END_TEST

/* Runs ch09 with `args`, expects exit `code` and `needle` in its stderr. */
static void expect_failure(const char *args, int code, const char *needle)
{
    expect_program_failure("ch09", args, code, needle, ANY_LINES);
}

/* Writes a copy of the "onehead" model without the array `drop`, with
 * config.nhead set to `nhead` (if > 0) and with an extra array `extra`. */
static void write_variant(const char *path, const char *drop, int64_t nhead, const char *extra)
{
    Npz z;
    Error err;
    ck_assert_msg(npz_load("tests/fixtures/ch09_onehead_model.npz", &z, &err) == 0, "%s", err.msg);
    NpzWriter w;
    npz_writer_init(&w);
    for (int k = 0; k < z.count; k++) {
        const Tensor *t = &z.arrays[k];
        if (drop && strcmp(z.names[k], drop) == 0) continue;
        if (t->dtype == DT_F32) npz_add_f32(&w, z.names[k], t->f, t->ndim, t->shape);
        else if (nhead > 0 && strcmp(z.names[k], "config.nhead") == 0)
            npz_add_i64(&w, z.names[k], &nhead, 0, NULL);
        else npz_add_i64(&w, z.names[k], t->i, t->ndim, t->shape);
    }
    const float one[4] = {1, 2, 3, 4};
    const int64_t shape[1] = {4};
    if (extra) npz_add_f32(&w, extra, one, 1, shape);
    ck_assert_msg(npz_write(&w, path, &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
    npz_free(&z);
}

#define ONE "--params tests/fixtures/ch09_onehead_model.npz "
#define SRC "--src tests/fixtures/ch09_onehead_src.npy "
#define TGT "--tgt tests/fixtures/ch09_onehead_tgt.npy "

START_TEST(program_contract_errors)
{
    char dir[] = "/tmp/ch09-test-XXXXXX", args[1536], a[256], b[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(args, sizeof args, "%s/ch09 --help >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(args), 0);

    /* Usage errors. */
    expect_failure("--no-such-option", 2, "--no-such-option");
    expect_failure("--params", 2, "--params");
    expect_failure(ONE SRC, 2, "--tgt");
    expect_failure(SRC TGT, 2, "--params");
    expect_failure("--d-model 64", 2, "--d-model");
    expect_failure("--count-params --d-model 512 --heads 3", 2, "--heads");
    expect_failure("--count-params --config small", 2, "--config");
    expect_failure("--count-params --vocab 100 --tgt-vocab 90 --shared-embeddings", 2,
                   "--shared-embeddings");
    expect_failure(ONE SRC TGT "--greedy", 2, "--greedy");
    expect_failure(ONE SRC "--greedy --max-len 0", 2, "--max-len");

    /* Files that break the contract. */
    expect_failure("--params /nonexistent/m.npz " SRC TGT, 1, "/nonexistent/m.npz");
    snprintf(a, sizeof a, "%s/nohead.npz", dir);
    write_variant(a, "config.nhead", 0, NULL);
    snprintf(args, sizeof args, "--params %s " SRC TGT, a);
    expect_failure(args, 1, "config.nhead");
    snprintf(a, sizeof a, "%s/heads3.npz", dir);
    write_variant(a, NULL, 3, NULL);   /* 3 heads do not divide d_model 4 */
    snprintf(args, sizeof args, "--params %s " SRC TGT, a);
    expect_failure(args, 1, "does not divide");
    snprintf(a, sizeof a, "%s/missing.npz", dir);
    write_variant(a, "decoder.layers.0.norm3.bias", 0, NULL);
    snprintf(args, sizeof args, "--params %s " SRC TGT, a);
    expect_failure(args, 1, "decoder.layers.0.norm3.bias");
    snprintf(a, sizeof a, "%s/extra.npz", dir);
    write_variant(a, NULL, 0, "decoder.layers.0.norm4.bias");
    snprintf(args, sizeof args, "--params %s " SRC TGT, a);
    expect_failure(args, 1, "unexpected array 'decoder.layers.0.norm4.bias'");

    /* Ids: outside the vocabulary (Vs = 5, Vt = 7), batch sizes (B = 2 here). */
    const int64_t ok_src[8] = {1, 2, 3, 4, 1, 2, 3, 0}, bad_src[8] = {1, 2, 3, 4, 1, 2, 9, 0};
    snprintf(a, sizeof a, "%s/src_bad.npy", dir);
    write_id_rows(a, bad_src, 2, 4);
    snprintf(args, sizeof args, ONE "--src %s " TGT, a);
    expect_failure(args, 1, "src_bad.npy");
    expect_failure(args, 1, "row 1: token id 9 at position 2");
    const int64_t bad_tgt[4] = {1, 2, 1, 7};
    snprintf(b, sizeof b, "%s/tgt_bad.npy", dir);
    write_id_rows(b, bad_tgt, 2, 2);
    snprintf(a, sizeof a, "%s/src_ok.npy", dir);
    write_id_rows(a, ok_src, 2, 4);
    snprintf(args, sizeof args, ONE "--src %s --tgt %s", a, b);
    expect_failure(args, 1, "tgt_bad.npy");
    snprintf(a, sizeof a, "%s/src_b1.npy", dir);
    write_id_rows(a, ok_src, 1, 4);
    snprintf(args, sizeof args, ONE "--src %s " TGT, a);
    expect_failure(args, 1, "batch");
    expect_failure(ONE "--src tests/fixtures/ch09_onehead_logits.npy " TGT, 1, "integer");
    expect_failure(ONE "--src tests/fixtures/ch09_onehead_logits.npy " TGT, 1, "<f4");
    expect_failure(ONE SRC "--greedy --bos 7", 1, "--bos 7 is outside the target vocabulary");
    snprintf(args, sizeof args, ONE SRC TGT "--logits /nonexistent-dir/l.npy");
    expect_failure(args, 1, "/nonexistent-dir/l.npy");

    const char *made[] = {"nohead.npz", "heads3.npz", "missing.npz", "extra.npz", "src_bad.npy",
                          "tgt_bad.npy", "src_ok.npy", "src_b1.npy"};
    for (size_t k = 0; k < sizeof made / sizeof made[0]; k++) {
        snprintf(a, sizeof a, "%s/%s", dir, made[k]);
        remove(a);
    }
    rmdir(dir);
}
END_TEST

/* Runs ch09 and returns its stdout (at most len - 1 bytes). */
static void capture(const char *args, char *buf, size_t len)
{
    capture_stdout("ch09", args, buf, len);
}

/* The number after the word "total" in a --count-params table, or -1. */
static long long total_of(const char *out)
{
    const char *t = strstr(out, "total");
    long long n = -1;
    if (!t || sscanf(t + 5, "%lld", &n) != 1) return -1;
    return n;
}

START_TEST(program_counts_and_decodes)
{
    static char out[8192];
    /* The totals worked out by hand in count_matches_the_paper and
     * count_tiny_by_hand; 63121544 / 65e6 - 1 = -2.89%, 214286472 / 213e6 - 1 = +0.60%. */
    capture("--count-params --config base", out, sizeof out);
    ck_assert_int_eq(total_of(out), 63121544);
    ck_assert_msg(strstr(out, "-2.89%") != NULL, "%s", out);
    capture("--count-params --config big", out, sizeof out);
    ck_assert_int_eq(total_of(out), 214286472);
    ck_assert_msg(strstr(out, "+0.60%") != NULL, "%s", out);
    capture("--count-params --d-model 4 --d-ff 6 --heads 2 --layers 1 --vocab 5 --tgt-vocab 7",
            out, sizeof out);
    ck_assert_int_eq(total_of(out), 495);
    capture("--count-params --d-model 4 --d-ff 6 --heads 2 --layers 1 --vocab 7 "
            "--shared-embeddings", out, sizeof out);
    ck_assert_int_eq(total_of(out), 447);
    capture(ONE "--count-params", out, sizeof out);
    ck_assert_int_eq(total_of(out), 495);

    /* --greedy prints one line of ids per source row, as greedy_decode finds them. */
    capture(ONE SRC "--greedy --bos 3 --eos 4 --max-len 5", out, sizeof out);
    Transformer m = load_model("tests/fixtures/ch09_onehead_model.npz");
    Tensor src = load_tensor("tests/fixtures/ch09_onehead_src.npy");
    int S = (int)src.shape[1];
    for (int b = 0; b < (int)src.shape[0]; b++) {
        int64_t ids[5];
        int n = greedy_decode(ids, 5, &m, src.i + (size_t)b * S, S, 3, 4);
        char want[128];
        int len = snprintf(want, sizeof want, "row %d:", b);
        for (int t = 0; t < n; t++)
            len += snprintf(want + len, sizeof want - (size_t)len, " %lld", (long long)ids[t]);
        ck_assert_msg(strstr(out, want) != NULL, "expected '%s' in: %s", want, out);
    }
    tensor_free(&src);
    transformer_free(&m);
}
END_TEST

START_TEST(program_demo_and_save)
{
    static char out[16384], again[16384];
    char dir[] = "/tmp/ch09-test-XXXXXX", args[512], path[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/demo.npz", dir);
    snprintf(args, sizeof args, "--plot none --seed 7 --save %s", path);
    capture(args, out, sizeof out);
    ck_assert_msg(strstr(out, "Chapter 10") != NULL, "the demo should point to chapter 10: %s", out);
    capture(args, again, sizeof again);
    ck_assert_str_eq(out, again);   /* the same seed, the same output */

    /* The saved random model: the demo's configuration, 44335 parameters
     * (count_tiny_by_hand's formulas with E = 32, F = 64, V = 15: two
     * embeddings of 480, 6 attention blocks of 4224, 4 feed-forwards of
     * 4192, 12 norms of 64 (4 + 1 encoder, 6 + 1 decoder), generator 495:
     * 960 + 25344 + 16768 + 768 + 495). */
    Transformer m = load_model(path);
    ck_assert_int_eq(m.cfg.E, 32);
    ck_assert_int_eq(m.cfg.F, 64);
    ck_assert_int_eq(m.cfg.H, 4);
    ck_assert_int_eq(m.cfg.enc_layers, 2);
    ck_assert_int_eq(m.cfg.dec_layers, 2);
    ck_assert_int_eq(m.cfg.Vs, 15);
    ck_assert_int_eq(m.cfg.Vt, 15);
    ck_assert_uint_eq(m.params.size, 44335);
    transformer_free(&m);
    remove(path);
    rmdir(dir);
}
END_TEST

Suite *transformer_suite(void)
{
    Suite *s = suite_create("transformer (chapter 9)");
    TCase *tc = tcase_create("function");
    tcase_add_loop_test(tc, matches_pytorch, 0, NCASES);
    tcase_add_test(tc, final_norms_follow_the_file);
    tcase_add_test(tc, save_load_round_trip);
    tcase_add_test(tc, count_matches_the_paper);
    tcase_add_test(tc, count_tiny_by_hand);
    tcase_add_test(tc, greedy_stops_at_eos);
    tcase_add_test(tc, greedy_stops_at_max_len);
    tcase_add_test(tc, greedy_is_argmax_of_forward);
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, program_matches_pytorch, 0, NCASES);
    tcase_add_test(tc, program_reads_other_id_dtypes);
    tcase_add_test(tc, program_contract_errors);
    tcase_add_test(tc, program_counts_and_decodes);
    tcase_add_test(tc, program_demo_and_save);
    suite_add_tcase(s, tc);
    return s;
}
