/*
 * test_multihead.c - chapter 4's multi-head attention against hand
 * arithmetic, against H single-head computations done here on copied column
 * blocks, and against torch.nn.MultiheadAttention itself
 * (tests/fixtures/make_ch04_ref.py), both as functions and through the
 * program build/bin/ch04 with .npz and .npy files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "masking.h"
#include "multihead.h"
#include "npy.h"
#include "rng.h"

/* torch and this code agree to float rounding; the contract asks for 1e-5. */
#define TORCH_TOL 1e-5

/* ------------------------------------------------------------ helpers */

static int fixture_exists(const char *path) { return access(path, R_OK) == 0; }

static MHA load_mha(const char *path, int heads)
{
    Npz z;
    MHA m;
    Error err;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    ck_assert_msg(mha_load(&m, &z, "", heads, path, &err) == 0, "%s", err.msg);
    npz_free(&z);
    return m;
}

/* ------------------------------------------------------------ the module */

START_TEST(param_count_and_layout)
{
    /* 4 E^2 + 4 E by hand: E = 8: 256 + 32; E = 15: 900 + 60; E = 512: 1048576 + 2048. */
    const int E[3] = {8, 15, 512}, H[3] = {4, 3, 8};
    const long want[3] = {288, 960, 1050624};
    for (int c = 0; c < 3; c++) {
        MHA m = mha_new(E[c], H[c]);
        ck_assert_int_eq(mha_param_count(&m), want[c]);
        size_t e = (size_t)E[c];
        /* One allocation, the four arrays in PyTorch's order, no gaps. */
        ck_assert_ptr_eq(m.in_proj_weight.data, m.storage);
        ck_assert_ptr_eq(m.in_proj_bias.data, m.storage + 3 * e * e);
        ck_assert_ptr_eq(m.out_proj_weight.data, m.storage + 3 * e * e + 3 * e);
        ck_assert_ptr_eq(m.out_proj_bias.data, m.storage + 4 * e * e + 3 * e);
        ck_assert_int_eq(m.in_proj_weight.rows, 3 * E[c]);
        ck_assert_int_eq(m.in_proj_bias.cols, 3 * E[c]);
        /* W_K is rows [E, 2E) of in_proj_weight, b_V entries [2E, 3E) of in_proj_bias. */
        ck_assert_ptr_eq(mha_w(&m, 1).data, m.storage + e * e);
        ck_assert_int_eq(mha_w(&m, 1).rows, E[c]);
        ck_assert_int_eq(mha_w(&m, 1).cols, E[c]);
        ck_assert_ptr_eq(mha_b(&m, 2).data, m.storage + 3 * e * e + 2 * e);
        ck_assert_int_eq(mha_b(&m, 2).cols, E[c]);
        for (long k = 0; k < want[c]; k++) ck_assert(m.storage[k] == 0.0f);
        mha_free(&m);
        ck_assert_ptr_null(m.storage);
    }
}
END_TEST

START_TEST(new_rejects_heads_not_dividing)
{
    mha_new(10, 3);   /* a caller's bug: exits 3 */
}
END_TEST

START_TEST(init_like_pytorch)
{
    enum { E = 12 };
    MHA a = mha_new(E, 4), b = mha_new(E, 4);
    Rng r1, r2;
    rng_seed(&r1, 5);
    rng_seed(&r2, 5);
    mha_init(&a, &r1);
    mha_init(&b, &r2);
    ck_assert(memcmp(a.storage, b.storage, (size_t)mha_param_count(&a) * sizeof(float)) == 0);
    double in_bound = sqrt(6.0 / (E + 3 * E)), out_bound = 1.0 / sqrt(E);
    float in_max = 0.0f, out_max = 0.0f;
    for (int i = 0; i < 3 * E; i++)
        for (int j = 0; j < E; j++) {
            float w = fabsf(MAT_AT(a.in_proj_weight, i, j));
            ck_assert(w <= in_bound);
            if (w > in_max) in_max = w;
        }
    for (int i = 0; i < E; i++)
        for (int j = 0; j < E; j++) {
            float w = fabsf(MAT_AT(a.out_proj_weight, i, j));
            ck_assert(w <= out_bound);
            if (w > out_max) out_max = w;
        }
    /* 432 and 144 uniform draws come close to their bounds. */
    ck_assert(in_max > 0.9 * in_bound);
    ck_assert(out_max > 0.9 * out_bound);
    for (int j = 0; j < 3 * E; j++) ck_assert(MAT_AT(a.in_proj_bias, 0, j) == 0.0f);
    for (int j = 0; j < E; j++) ck_assert(MAT_AT(a.out_proj_bias, 0, j) == 0.0f);
    mha_free(&a);
    mha_free(&b);
}
END_TEST

START_TEST(hand_example)
{
    /* E = 2, H = 2 (Dh = 1), every weight the identity, b_Q = (0, 2),
     * b_O = (1, -1); one query (1, 0), keys = values = (1, 0) and (0, 1).
     * Head 1: q = 1, keys 1 and 0, scores (1, 0) (sqrt(1) = 1):
     *   weights (e, 1) / (e + 1) = (0.7310586, 0.2689414); values 1 and 0: 0.7310586.
     * Head 2: q = 0 + 2 = 2, keys 0 and 1, scores (0, 2):
     *   weights (1, e^2) / (1 + e^2) = (0.1192029, 0.8807971); values 0 and 1: 0.8807971.
     * Output = (0.7310586, 0.8807971) + (1, -1) = (1.7310586, -0.1192029). */
    MHA m = mha_new(2, 2);
    for (int p = 0; p < 3; p++) {
        MAT_AT(mha_w(&m, p), 0, 0) = 1.0f;
        MAT_AT(mha_w(&m, p), 1, 1) = 1.0f;
    }
    MAT_AT(m.out_proj_weight, 0, 0) = 1.0f;
    MAT_AT(m.out_proj_weight, 1, 1) = 1.0f;
    MAT_AT(mha_b(&m, 0), 0, 1) = 2.0f;
    MAT_AT(m.out_proj_bias, 0, 0) = 1.0f;
    MAT_AT(m.out_proj_bias, 0, 1) = -1.0f;
    const float qv[] = {1, 0}, kv[] = {1, 0, 0, 1};
    Mat q = mat_from(1, 2, qv), k = mat_from(2, 2, kv);
    Mat out = mat_new(1, 2), attn = mat_new(2, 2);
    mha_forward(out, attn, q, k, k, &m, NULL);
    ck_assert_double_eq_tol(MAT_AT(attn, 0, 0), 0.7310585786, 1e-6);
    ck_assert_double_eq_tol(MAT_AT(attn, 0, 1), 0.2689414214, 1e-6);
    ck_assert_double_eq_tol(MAT_AT(attn, 1, 0), 0.1192029220, 1e-6);
    ck_assert_double_eq_tol(MAT_AT(attn, 1, 1), 0.8807970780, 1e-6);
    ck_assert_double_eq_tol(MAT_AT(out, 0, 0), 1.7310585786, 1e-6);
    ck_assert_double_eq_tol(MAT_AT(out, 0, 1), -0.1192029220, 1e-6);
    mat_free(&q);
    mat_free(&k);
    mat_free(&out);
    mat_free(&attn);
    mha_free(&m);
}
END_TEST

START_TEST(blocked_row_gives_bias)
{
    /* Query 1's keys are all blocked: zero weights in every head, a zero
     * head output, so its output row is out_proj.bias exactly. */
    enum { L = 2, S = 3, E = 6, H = 3 };
    MHA m = mha_new(E, H);
    Rng r;
    rng_seed(&r, 11);
    mha_init(&m, &r);
    mat_rand_uniform(m.in_proj_bias, &r, -1.0f, 1.0f);
    mat_rand_uniform(m.out_proj_bias, &r, -1.0f, 1.0f);
    Mat q = mat_new(L, E), kv = mat_new(S, E), mask = mat_new(L, S);
    mat_rand_normal(q, &r, 0.0f, 1.0f);
    mat_rand_normal(kv, &r, 0.0f, 1.0f);
    mat_fill(mat_rows(mask, 1, 1), 1.0f);
    Mat out = mat_new(L, E), attn = mat_new(H * L, S);
    mha_forward(out, attn, q, kv, kv, &m, &mask);
    for (int h = 0; h < H; h++) {
        float sum = 0.0f;
        for (int j = 0; j < S; j++) {
            ck_assert(MAT_AT(attn, h * L + 1, j) == 0.0f);
            sum += MAT_AT(attn, h * L, j);
        }
        ck_assert_double_eq_tol(sum, 1.0, 1e-6);
    }
    for (int e = 0; e < E; e++) ck_assert(MAT_AT(out, 1, e) == MAT_AT(m.out_proj_bias, 0, e));
    mat_free(&q);
    mat_free(&kv);
    mat_free(&mask);
    mat_free(&out);
    mat_free(&attn);
    mha_free(&m);
}
END_TEST

START_TEST(build_mask_combines)
{
    /* L = 3, S = 4. attn_mask blocks (0, 0); key 2 is padding; causal
     * blocks j > i. Expected, by hand (1 = blocked):
     *   causal only:      0111 / 0011 / 0001
     *   attn_mask + pad:  1010 / 0010 / 0010
     *   all three:        1111 / 0011 / 0011 */
    const float am_v[12] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, kp_v[4] = {0, 0, 1, 0};
    const float causal_v[12] = {0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1};
    const float two_v[12] = {1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0};
    const float all_v[12] = {1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1};
    Mat am = mat_from(3, 4, am_v), kp = mat_from(1, 4, kp_v), mask = mat_new(3, 4);
    Mat want_causal = mat_from(3, 4, causal_v), want_two = mat_from(3, 4, two_v);
    Mat want_all = mat_from(3, 4, all_v);
    mat_fill(mask, 7.0f);   /* old contents must not matter */
    mha_build_mask(mask, NULL, NULL, 1);
    assert_mat_close(mask, want_causal, 0.0, 0, "causal", "expected");
    mha_build_mask(mask, &am, &kp, 0);
    assert_mat_close(mask, want_two, 0.0, 0, "attn_mask + padding", "expected");
    mha_build_mask(mask, &am, &kp, 1);
    assert_mat_close(mask, want_all, 0.0, 0, "all three", "expected");
    mat_free(&am);
    mat_free(&kp);
    mat_free(&mask);
    mat_free(&want_causal);
    mat_free(&want_two);
    mat_free(&want_all);
}
END_TEST

/* q @ w^T + b by plain loops.  out: (N, E)  x: (N, E)  w: (E, E)  b: (1, E) */
static void linear_by_hand(Mat out, Mat x, Mat w, Mat b)
{
    for (int i = 0; i < x.rows; i++)
        for (int o = 0; o < w.rows; o++) {
            double s = MAT_AT(b, 0, o);
            for (int e = 0; e < x.cols; e++) s += (double)MAT_AT(x, i, e) * MAT_AT(w, o, e);
            MAT_AT(out, i, o) = (float)s;
        }
}

/* A new matrix holding a copy of columns [first, first + n) of m. */
static Mat copy_cols(Mat m, int first, int n)
{
    Mat c = mat_new(m.rows, n);
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < n; j++) MAT_AT(c, i, j) = MAT_AT(m, i, first + j);
    return c;
}

START_TEST(heads_are_views)
{
    /* mha_forward with H heads (column views) equals H single-head
     * attentions run here on separate copies of the column blocks,
     * concatenated and projected by hand. */
    enum { L = 3, S = 5, E = 12, H = 4, DH = E / H };
    MHA m = mha_new(E, H);
    Rng r;
    rng_seed(&r, 2024);
    mha_init(&m, &r);
    mat_rand_uniform(m.in_proj_bias, &r, -0.5f, 0.5f);
    mat_rand_uniform(m.out_proj_bias, &r, -0.5f, 0.5f);
    Mat query = mat_new(L, E), key = mat_new(S, E), value = mat_new(S, E), mask = mat_new(L, S);
    mat_rand_normal(query, &r, 0.0f, 1.0f);
    mat_rand_normal(key, &r, 0.0f, 1.0f);
    mat_rand_normal(value, &r, 0.0f, 1.0f);
    MAT_AT(mask, 0, 1) = 1.0f;
    MAT_AT(mask, 2, 4) = 1.0f;
    Mat query_before = mat_new(L, E);
    mat_copy(query_before, query);

    Mat out = mat_new(L, E), attn = mat_new(H * L, S);
    mha_forward(out, attn, query, key, value, &m, &mask);

    Mat qp = mat_new(L, E), kp = mat_new(S, E), vp = mat_new(S, E);
    linear_by_hand(qp, query, mha_w(&m, 0), mha_b(&m, 0));
    linear_by_hand(kp, key, mha_w(&m, 1), mha_b(&m, 1));
    linear_by_hand(vp, value, mha_w(&m, 2), mha_b(&m, 2));
    Mat concat = mat_new(L, E), want_out = mat_new(L, E);
    for (int h = 0; h < H; h++) {
        Mat qh = copy_cols(qp, h * DH, DH), kh = copy_cols(kp, h * DH, DH);
        Mat vh = copy_cols(vp, h * DH, DH), oh = mat_new(L, DH), wh = mat_new(L, S);
        masked_attention_forward(oh, wh, qh, kh, vh, &mask);
        for (int i = 0; i < L; i++)
            for (int d = 0; d < DH; d++) MAT_AT(concat, i, h * DH + d) = MAT_AT(oh, i, d);
        assert_mat_close(mat_rows(attn, h * L, L), wh, 1e-6, 0, "head weights", "expected");
        mat_free(&qh);
        mat_free(&kh);
        mat_free(&vh);
        mat_free(&oh);
        mat_free(&wh);
    }
    linear_by_hand(want_out, concat, m.out_proj_weight, m.out_proj_bias);
    assert_mat_close(out, want_out, 1e-5, 0, "output", "expected");
    assert_mat_close(query, query_before, 0.0, 0, "query (must not change)", "expected");

    Mat all[] = {query, key, value, mask, query_before, out, attn, qp, kp, vp, concat, want_out};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(&all[k]);
    mha_free(&m);
}
END_TEST

START_TEST(linear_by_hand_arithmetic)
{
    /* x = (1, 2), W = ((1, 0), (3, -1), (0.5, 0.5)), b = (0, 1, -2):
     * x W^T + b = (1 + 0, 3 - 2 + 1, 0.5 + 1 - 2) = (1, 2, -0.5). */
    const float xv[] = {1, 2}, wv[] = {1, 0, 3, -1, 0.5f, 0.5f}, bv[] = {0, 1, -2};
    Mat x = mat_from(1, 2, xv), w = mat_from(3, 2, wv), b = mat_from(1, 3, bv), out = mat_new(1, 3);
    linear_forward(out, x, w, b);
    ck_assert(MAT_AT(out, 0, 0) == 1.0f);
    ck_assert(MAT_AT(out, 0, 1) == 2.0f);
    ck_assert(MAT_AT(out, 0, 2) == -0.5f);
    /* torch.nn.Linear(16, 3): weight and bias within +-1/sqrt(16) = 0.25. */
    Mat w2 = mat_new(3, 16), b2 = mat_new(1, 3);
    Rng r;
    rng_seed(&r, 9);
    linear_init(w2, b2, &r);
    float mx = 0.0f;
    for (int i = 0; i < 3; i++) {
        ck_assert(fabsf(MAT_AT(b2, 0, i)) <= 0.25f);
        for (int j = 0; j < 16; j++) {
            ck_assert(fabsf(MAT_AT(w2, i, j)) <= 0.25f);
            if (fabsf(MAT_AT(w2, i, j)) > mx) mx = fabsf(MAT_AT(w2, i, j));
        }
    }
    ck_assert(mx > 0.2f);
    Mat all[] = {x, w, b, out, w2, b2};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(&all[k]);
}
END_TEST

START_TEST(declare_and_bind)
{
    /* In a ParamSet, under a prefix and PyTorch's shapes; the bound module
     * computes what a module of its own computes with the same numbers. */
    enum { E = 6, H = 2, L = 3 };
    ParamSet ps;
    params_init(&ps);
    mha_declare(&ps, "layers.0.self_attn.", E);
    params_alloc(&ps);
    ck_assert_int_eq((long)ps.size, 4 * E * E + 4 * E);
    const Param *p = params_find(&ps, "layers.0.self_attn.in_proj_bias");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->ndim, 1);
    ck_assert_int_eq(p->cols, 3 * E);
    p = params_find(&ps, "layers.0.self_attn.out_proj.weight");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->rows, E);
    ck_assert_int_eq(p->cols, E);

    MHA bound = mha_bind(&ps, "layers.0.self_attn.", H), own = mha_new(E, H);
    ck_assert_int_eq(bound.E, E);
    ck_assert_int_eq(bound.H, H);
    ck_assert_ptr_null(bound.storage);
    ck_assert(bound.in_proj_weight.data >= ps.data && bound.out_proj_bias.data < ps.data + ps.size);
    Rng r;
    rng_seed(&r, 4);
    mha_init(&own, &r);
    mat_rand_uniform(own.in_proj_bias, &r, -1.0f, 1.0f);
    mat_copy(bound.in_proj_weight, own.in_proj_weight);
    mat_copy(bound.in_proj_bias, own.in_proj_bias);
    mat_copy(bound.out_proj_weight, own.out_proj_weight);
    mat_copy(bound.out_proj_bias, own.out_proj_bias);
    Mat x = mat_new(L, E), o1 = mat_new(L, E), o2 = mat_new(L, E);
    Mat a1 = mat_new(H * L, L), a2 = mat_new(H * L, L);
    mat_rand_normal(x, &r, 0.0f, 1.0f);
    mha_forward(o1, a1, x, x, x, &own, NULL);
    mha_forward(o2, a2, x, x, x, &bound, NULL);
    assert_mat_close(o2, o1, 0.0, 0, "bound output", "expected");
    assert_mat_close(a2, a1, 0.0, 0, "bound weights", "expected");
    mha_free(&bound);   /* the set owns the memory: nothing to free */
    Mat all[] = {x, o1, o2, a1, a2};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) mat_free(&all[k]);
    mha_free(&own);
    params_free(&ps);
}
END_TEST

/* ------------------------------------------------------------ against PyTorch */

typedef struct {
    const char *name;
    int heads;
    int causal;   /* the case's attn_mask is the causal mask: use --causal for it */
} TorchCase;

static const TorchCase CASES[] = {
    {"unbatched", 3, 0}, {"kpm", 7, 0}, {"mask", 5, 0},
    {"both", 3, 0},      {"causal", 4, 1}, {"onehead", 1, 0},
};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

static void fixture_path(char *buf, size_t n, const char *name, const char *part)
{
    snprintf(buf, n, "tests/fixtures/ch04_%s_%s", name, part);
}

START_TEST(matches_torch)
{
    const TorchCase *c = &CASES[_i];
    char path[256];
    fixture_path(path, sizeof path, c->name, "params.npz");
    MHA m = load_mha(path, c->heads);
    Tensor t[5];
    const char *parts[5] = {"q.npy", "k.npy", "v.npy", "out.npy", "attn.npy"};
    for (int p = 0; p < 5; p++) {
        fixture_path(path, sizeof path, c->name, parts[p]);
        t[p] = load_tensor(path);
    }
    Tensor kpm = {0}, am = {0};
    fixture_path(path, sizeof path, c->name, "kpm.npy");
    int has_kpm = fixture_exists(path);
    if (has_kpm) kpm = load_tensor(path);
    fixture_path(path, sizeof path, c->name, "mask.npy");
    int has_am = !c->causal && fixture_exists(path);
    if (has_am) am = load_tensor(path);

    int batched = t[0].ndim == 3, B = batched ? (int)t[0].shape[0] : 1;
    int L = (int)t[0].shape[batched], S = (int)t[1].shape[batched], E = m.E, H = m.H;
    Mat out = mat_new(L, E), attn = mat_new(H * L, S), mask = mat_new(L, S);
    Mat am_m = mat_new(L, S), kp_m = mat_new(1, S);
    for (int64_t k = 0; has_am && k < am.size; k++) am_m.data[k] = am.i[k] != 0;
    for (int b = 0; b < B; b++) {
        for (int j = 0; has_kpm && j < S; j++) kp_m.data[j] = kpm.i[b * S + j] != 0;
        mha_build_mask(mask, has_am ? &am_m : NULL, has_kpm ? &kp_m : NULL, c->causal);
        mha_forward(out, attn, mat_wrap(t[0].f + (size_t)b * L * E, L, E),
                    mat_wrap(t[1].f + (size_t)b * S * E, S, E),
                    mat_wrap(t[2].f + (size_t)b * S * E, S, E), &m, &mask);
        assert_floats_close(out.data, t[3].f + (size_t)b * L * E, (int64_t)L * E, TORCH_TOL, 0,
                            "output", "expected");
        assert_floats_close(attn.data, t[4].f + (size_t)b * H * L * S, (int64_t)H * L * S,
                            TORCH_TOL, 0, "weights", "expected");
    }
    for (int p = 0; p < 5; p++) tensor_free(&t[p]);
    tensor_free(&kpm);
    tensor_free(&am);
    mat_free(&out);
    mat_free(&attn);
    mat_free(&mask);
    mat_free(&am_m);
    mat_free(&kp_m);
    mha_free(&m);
}
END_TEST

START_TEST(save_load_roundtrip)
{
    /* mha_save writes PyTorch's names and shapes (biases 1-D); mha_load reads them back. */
    enum { E = 6 };
    MHA a = mha_new(E, 2), b;
    Rng r;
    rng_seed(&r, 3);
    mha_init(&a, &r);
    mat_rand_uniform(a.in_proj_bias, &r, -1.0f, 1.0f);
    mat_rand_uniform(a.out_proj_bias, &r, -1.0f, 1.0f);
    char path[] = "/tmp/ch04-roundtrip-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    NpzWriter w;
    Error err;
    npz_writer_init(&w);
    mha_save(&a, &w, "self_attn.");
    ck_assert_msg(npz_write(&w, path, &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
    Npz z;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    remove(path);
    const struct { const char *name; int ndim; int64_t d0, d1; } want[4] = {
        {"self_attn.in_proj_weight", 2, 3 * E, E}, {"self_attn.in_proj_bias", 1, 3 * E, 0},
        {"self_attn.out_proj.weight", 2, E, E},    {"self_attn.out_proj.bias", 1, E, 0},
    };
    ck_assert_int_eq(z.count, 4);
    for (int k = 0; k < 4; k++) {
        const Tensor *t = npz_get(&z, want[k].name);
        ck_assert_msg(t != NULL, "no %s", want[k].name);
        ck_assert_int_eq(t->ndim, want[k].ndim);
        ck_assert_int_eq(t->shape[0], want[k].d0);
        if (want[k].ndim == 2) ck_assert_int_eq(t->shape[1], want[k].d1);
    }
    ck_assert_msg(mha_load(&b, &z, "self_attn.", 3, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(b.E, E);
    ck_assert_int_eq(b.H, 3);
    ck_assert(memcmp(a.storage, b.storage, (size_t)mha_param_count(&a) * sizeof(float)) == 0);
    npz_free(&z);
    mha_free(&a);
    mha_free(&b);
}
END_TEST

/* Writes an .npz of the four parameters for E = 3 with one of them changed:
 * `drop` is left out, `reshape` gets shape (4, 4), `nan` holds a NaN. */
static void write_bad_params(const char *path, const char *drop, const char *reshape,
                             const char *nan)
{
    static float data[64];
    const char *names[4] = {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"};
    const int64_t shapes[4][2] = {{9, 3}, {9, 0}, {3, 3}, {3, 0}};
    NpzWriter w;
    Error err;
    npz_writer_init(&w);
    for (int k = 0; k < 4; k++) {
        if (drop && strcmp(names[k], drop) == 0) continue;
        for (int i = 0; i < 64; i++) data[i] = 0.25f;
        if (nan && strcmp(names[k], nan) == 0) data[1] = NAN;
        int64_t square[2] = {4, 4};
        int re = reshape && strcmp(names[k], reshape) == 0;
        npz_add_f32(&w, names[k], data, re ? 2 : shapes[k][1] ? 2 : 1, re ? square : shapes[k]);
    }
    ck_assert_msg(npz_write(&w, path, &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
}

/* mha_load on such a file must fail with every needle in its message. */
static void expect_load_error(const char *path, int heads, const char *n1, const char *n2)
{
    Npz z;
    MHA m;
    Error err;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(mha_load(&m, &z, "", heads, path, &err), -1);
    ck_assert_ptr_null(m.storage);
    ck_assert_msg(strstr(err.msg, path) != NULL, "no file name in: %s", err.msg);
    ck_assert_msg(strstr(err.msg, n1) != NULL, "expected '%s' in: %s", n1, err.msg);
    ck_assert_msg(!n2 || strstr(err.msg, n2) != NULL, "expected '%s' in: %s", n2, err.msg);
    npz_free(&z);
}

START_TEST(load_errors)
{
    char path[] = "/tmp/ch04-bad-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_bad_params(path, "out_proj.bias", NULL, NULL);
    expect_load_error(path, 1, "out_proj.bias", "in_proj_weight, in_proj_bias");
    write_bad_params(path, NULL, "out_proj.weight", NULL);
    expect_load_error(path, 1, "out_proj.weight must have shape (3, 3)", "found (4, 4)");
    write_bad_params(path, NULL, "in_proj_weight", NULL);
    expect_load_error(path, 1, "in_proj_weight", "(3E, E)");
    write_bad_params(path, NULL, "in_proj_bias", NULL);
    expect_load_error(path, 1, "in_proj_bias must have shape (9,)", "found (4, 4)");
    write_bad_params(path, NULL, NULL, "in_proj_bias");
    expect_load_error(path, 1, "in_proj_bias", "finite");
    write_bad_params(path, NULL, NULL, NULL);
    expect_load_error(path, 2, "2 heads do not divide", "E = 3");
    /* Integer parameters are not parameters. */
    NpzWriter w;
    Error err;
    int64_t ids[27] = {0}, shape[2] = {9, 3};
    npz_writer_init(&w);
    npz_add_i64(&w, "in_proj_weight", ids, 2, shape);
    ck_assert_msg(npz_write(&w, path, &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
    expect_load_error(path, 1, "in_proj_weight must hold real numbers", "<i8");
    remove(path);
}
END_TEST

/* ------------------------------------------------------------ the program, ch04 */

/* The file options of case c: --params ... --value, plus its masks. */
static void case_args(char *buf, size_t n, const TorchCase *c)
{
    const char *F = "tests/fixtures/ch04_";
    const char *nm = c->name;
    int len = snprintf(buf, n,
                       "--params %s%s_params.npz --heads %d --query %s%s_q.npy --key %s%s_k.npy "
                       "--value %s%s_v.npy",
                       F, nm, c->heads, F, nm, F, nm, F, nm);
    char path[256];
    fixture_path(path, sizeof path, nm, "kpm.npy");
    if (fixture_exists(path)) len += snprintf(buf + len, n - (size_t)len, " --key-padding-mask %s", path);
    fixture_path(path, sizeof path, nm, "mask.npy");
    if (c->causal) len += snprintf(buf + len, n - (size_t)len, " --causal");
    else if (fixture_exists(path)) snprintf(buf + len, n - (size_t)len, " --mask %s", path);
}

START_TEST(program_matches_torch)
{
    const TorchCase *c = &CASES[_i];
    char dir[] = "/tmp/ch04-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char args[1024], cmd[2048];
    case_args(args, sizeof args, c);
    snprintf(cmd, sizeof cmd, "%s/ch04 %s --output %s/o.npy --attn %s/a.npy >/dev/null",
             bin_dir(), args, dir, dir);
    ck_assert_msg(run_shell(cmd) == 0, "failed: %s", cmd);
    const char *mine[2] = {"o.npy", "a.npy"}, *theirs[2] = {"out.npy", "attn.npy"};
    for (int p = 0; p < 2; p++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, mine[p]);
        Tensor got = load_tensor(path);
        remove(path);
        fixture_path(path, sizeof path, c->name, theirs[p]);
        Tensor want = load_tensor(path);
        assert_same_shape(&got, &want, theirs[p], "expected");
        ck_assert_int_eq(got.dtype, DT_F32);
        assert_floats_close(got.f, want.f, want.size, TORCH_TOL, 0, theirs[p], "expected");
        tensor_free(&got);
        tensor_free(&want);
    }
    rmdir(dir);
}
END_TEST

START_TEST(program_demo_runs)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/ch04 --plot none > /tmp/ch04-demo-stdout.txt", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);
    const char *text = read_text("/tmp/ch04-demo-stdout.txt");
    remove("/tmp/ch04-demo-stdout.txt");
    /* E = 8: 4 x 64 + 4 x 8 = 288. */
    ck_assert_msg(strstr(text, "4 x 64 + 4 x 8 = 288") != NULL, "no parameter count in the demo");
}
END_TEST

/* Runs ch04 with `args`, expects exit `code` and `needle` in its stderr. */
static void expect_failure(const char *args, int code, const char *needle)
{
    expect_program_failure("ch04", args, code, needle, ONE_LINE);
}

#define FX "tests/fixtures/ch04_"
#define PB "--params " FX "both_params.npz "
#define QB "--query " FX "both_q.npy "
#define KB "--key " FX "both_k.npy "
#define VB "--value " FX "both_v.npy "

START_TEST(program_contract_errors)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/ch04 --help >/dev/null", bin_dir());
    ck_assert_int_eq(run_shell(cmd), 0);
    /* usage errors, exit 2 */
    expect_failure("--no-such-option", 2, "--no-such-option");
    expect_failure("--heads", 2, "--heads");
    expect_failure(PB "--heads x " QB KB VB, 2, "--heads");
    expect_failure(PB "--heads 0 " QB KB VB, 2, "--heads");
    expect_failure(PB "--heads 3 " QB KB, 2, "--value");
    expect_failure(QB KB VB "--heads 3", 2, "--params");
    expect_failure("--mask " FX "both_mask.npy", 2, "--mask");
    expect_failure("--plot jpeg", 2, "--plot");
    expect_failure("stray", 2, "stray");

    /* data errors, exit 1 */
    expect_failure("--params /nonexistent/p.npz --heads 3 " QB KB VB, 1, "/nonexistent/p.npz");
    expect_failure(PB "--heads 2 " QB KB VB, 1, "2 heads do not divide");
    expect_failure("--params " FX "kpm_params.npz --heads 7 " QB KB VB, 1, "width");
    expect_failure(PB "--heads 3 " QB KB "--value " FX "both_q.npy", 1, "values");
    expect_failure(PB "--heads 3 " QB "--key " FX "mask_k.npy --value " FX "mask_v.npy", 1,
                   "batch sizes differ");
    expect_failure("--params " FX "unbatched_params.npz --heads 3 --query " FX "unbatched_q.npy "
                   KB VB, 1, "must all be 2-D or all 3-D");
    expect_failure(PB "--heads 3 " QB KB VB "--mask " FX "both_kpm.npy", 1, "(L, S) = (4, 7)");
    expect_failure(PB "--heads 3 " QB KB VB "--key-padding-mask " FX "both_mask.npy", 1,
                   "(B, S) = (2, 7)");
    expect_failure("--params " FX "unbatched_params.npz --heads 3 --query " FX "unbatched_q.npy "
                   "--key " FX "unbatched_k.npy --value " FX "unbatched_v.npy "
                   "--key-padding-mask " FX "both_kpm.npy", 1, "(S) = (6,)");
    expect_failure(PB "--heads 3 " QB KB VB "--mask " FX "both_out.npy", 1, "float");
    expect_failure("--params tests/fixtures/npz_savez.npz --heads 3 " QB KB VB, 1,
                   "no array named 'in_proj_weight'");
    expect_failure(PB "--heads 3 " QB KB VB "--output /nonexistent-dir/o.npy", 1,
                   "/nonexistent-dir/o.npy");
    expect_failure(PB "--heads 3 " QB KB VB "--attn /nonexistent-dir/a.npy", 1,
                   "/nonexistent-dir/a.npy");

    /* a NaN in the query */
    char path[] = "/tmp/ch04-nan-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    float q[2 * 4 * 9];
    for (int k = 0; k < 72; k++) q[k] = 0.5f;
    q[13] = NAN;
    int64_t shape[3] = {2, 4, 9};
    Error err;
    ck_assert_msg(npy_save_f32(path, q, 3, shape, &err) == 0, "%s", err.msg);
    char args[512];
    snprintf(args, sizeof args, PB "--heads 3 --query %s " KB VB, path);
    expect_failure(args, 1, "finite");
    remove(path);
}
END_TEST

Suite *multihead_suite(void)
{
    Suite *s = suite_create("multi-head attention (chapter 4)");
    TCase *tc = tcase_create("function");
    tcase_add_test(tc, param_count_and_layout);
    tcase_add_test(tc, init_like_pytorch);
    tcase_add_test(tc, hand_example);
    tcase_add_test(tc, blocked_row_gives_bias);
    tcase_add_test(tc, build_mask_combines);
    tcase_add_test(tc, heads_are_views);
    tcase_add_test(tc, linear_by_hand_arithmetic);
    tcase_add_test(tc, declare_and_bind);
    tcase_add_loop_test(tc, matches_torch, 0, NCASES);
    tcase_add_test(tc, save_load_roundtrip);
    tcase_add_test(tc, load_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("caller bugs");
    tcase_add_checked_fixture(tc, silence_stderr, NULL);
    tcase_add_exit_test(tc, new_rejects_heads_not_dividing, 3);
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, program_matches_torch, 0, NCASES);
    tcase_add_test(tc, program_demo_runs);
    tcase_add_test(tc, program_contract_errors);
    suite_add_tcase(s, tc);
    return s;
}
