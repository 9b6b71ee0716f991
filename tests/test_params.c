/*
 * test_params.c - common/params.{h,c} (introduced with chapter 6): one
 * allocation of named parameter views. Declaring, allocating, looking up,
 * the caller bugs that must stop the program (exit 3), loading from .npz
 * files written by NumPy (shapes checked, unexpected arrays refused unless
 * ignored by prefix), and a save/load round trip through a real .npz file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "npy.h"
#include "params.h"

/* A small set: a (3, 4) weight, a bias of 3, a (2, 2) matrix, a bias of 5. */
static void declare_small(ParamSet *ps)
{
    params_init(ps);
    params_add(ps, "layer.weight", 2, 3, 4);
    params_add(ps, "layer.bias", 1, 1, 3);
    params_add(ps, "other.weight", 2, 2, 2);
    params_add(ps, "other.bias", 1, 1, 5);
}

START_TEST(declare_alloc_views)
{
    ParamSet ps;
    declare_small(&ps);
    ck_assert_int_eq(ps.count, 4);
    ck_assert_ptr_null(ps.data);
    ck_assert_ptr_null(ps.grad);
    /* 12 + 3 + 4 + 5 floats, back to back in declaration order. */
    ck_assert_int_eq((int)ps.size, 24);
    const size_t offsets[4] = {0, 12, 15, 19};
    for (int k = 0; k < 4; k++) ck_assert_int_eq((int)ps.items[k].offset, (int)offsets[k]);
    const Param *p = params_find(&ps, "layer.bias");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->ndim, 1);
    ck_assert_int_eq(p->rows, 1);
    ck_assert_int_eq(p->cols, 3);
    ck_assert_ptr_null(params_find(&ps, "layer.bia"));
    ck_assert_ptr_null(params_find(&ps, "nothing"));

    params_alloc(&ps);
    ck_assert_ptr_nonnull(ps.data);
    for (size_t k = 0; k < ps.size; k++) ck_assert(ps.data[k] == 0.0f);
    Mat w = params_mat(&ps, "layer.weight");
    ck_assert_ptr_eq(w.data, ps.data);
    ck_assert_int_eq(w.rows, 3);
    ck_assert_int_eq(w.cols, 4);
    ck_assert_int_eq(w.stride, 4);
    ck_assert_int_eq(w.owner, 0);
    Mat b = params_matf(&ps, "%s.%s", "other", "bias");
    ck_assert_ptr_eq(b.data, ps.data + 19);
    ck_assert_int_eq(b.rows, 1);
    ck_assert_int_eq(b.cols, 5);
    /* A view writes into the one allocation. */
    MAT_AT(w, 2, 1) = 7.0f;
    MAT_AT(b, 0, 4) = -2.0f;
    ck_assert(ps.data[2 * 4 + 1] == 7.0f);
    ck_assert(ps.data[23] == -2.0f);

    params_alloc_grad(&ps);
    ck_assert_ptr_nonnull(ps.grad);
    Mat g = params_gradf(&ps, "other.%s", "weight");
    ck_assert_ptr_eq(g.data, ps.grad + 15);
    ck_assert_int_eq(g.rows, 2);
    ck_assert_int_eq(g.cols, 2);
    ck_assert_ptr_eq(params_grad(&ps, "layer.weight").data, ps.grad);
    for (size_t k = 0; k < ps.size; k++) ck_assert(ps.grad[k] == 0.0f);

    params_free(&ps);
    ck_assert_int_eq(ps.count, 0);
    ck_assert_ptr_null(ps.data);
    ck_assert_ptr_null(ps.items);
}
END_TEST

START_TEST(many_tensors_grow_the_table)
{
    /* More declarations than the table's first capacity. */
    ParamSet ps;
    params_init(&ps);
    char name[32];
    for (int k = 0; k < 200; k++) {
        snprintf(name, sizeof name, "t%d", k);
        params_add(&ps, name, 1, 1, k + 1);
    }
    params_alloc(&ps);
    ck_assert_int_eq((int)ps.size, 200 * 201 / 2);
    for (int k = 0; k < 200; k++) {
        Mat m = params_matf(&ps, "t%d", k);
        ck_assert_int_eq(m.cols, k + 1);
        ck_assert_ptr_eq(m.data, ps.data + k * (k + 1) / 2);
    }
    params_free(&ps);
}
END_TEST

/* ------------------------------------------------------- caller bugs, exit 3 */

START_TEST(duplicate_name_exits)
{
    ParamSet ps;
    declare_small(&ps);
    params_add(&ps, "other.weight", 2, 2, 2);
}
END_TEST

START_TEST(declare_after_alloc_exits)
{
    ParamSet ps;
    declare_small(&ps);
    params_alloc(&ps);
    params_add(&ps, "late", 1, 1, 2);
}
END_TEST

START_TEST(bad_shape_exits)
{
    ParamSet ps;
    params_init(&ps);
    params_add(&ps, "bias", 1, 2, 3);   /* a 1-D tensor has one row */
}
END_TEST

START_TEST(bad_rank_exits)
{
    ParamSet ps;
    params_init(&ps);
    params_add(&ps, "conv.weight", 3, 2, 3);   /* only 1-D and 2-D tensors */
}
END_TEST

START_TEST(unknown_name_exits)
{
    ParamSet ps;
    declare_small(&ps);
    params_alloc(&ps);
    params_mat(&ps, "layer.weights");
}
END_TEST

START_TEST(view_before_alloc_exits)
{
    ParamSet ps;
    declare_small(&ps);
    params_mat(&ps, "layer.weight");
}
END_TEST

START_TEST(grad_without_alloc_exits)
{
    ParamSet ps;
    declare_small(&ps);
    params_alloc(&ps);
    params_grad(&ps, "layer.weight");
}
END_TEST

START_TEST(save_grads_without_alloc_exits)
{
    ParamSet ps;
    declare_small(&ps);
    params_alloc(&ps);
    NpzWriter w;
    npz_writer_init(&w);
    params_save(&ps, &w, 1);
}
END_TEST

/* ------------------------------------------------------------------ loading */

static char tmp_path[64];

static void make_tmp(void)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/params-test-XXXXXX");
    int fd = mkstemp(tmp_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static float fill_value(int k) { return 0.5f * (float)k - 3.0f; }

/* Writes the small set's four arrays with values fill_value(0, 1, ...), in
 * PyTorch's shapes (biases 1-D), changing one: `drop` is left out, `reshape`
 * gets shape (4,) or (3, 3), `nan` holds a NaN, `ints` is stored as int64;
 * `extra` names an additional array. */
static void write_small(const char *drop, const char *reshape, const char *nan, const char *ints,
                        const char *extra)
{
    const char *names[4] = {"layer.weight", "layer.bias", "other.weight", "other.bias"};
    const int64_t shapes[4][2] = {{3, 4}, {3, 0}, {2, 2}, {5, 0}};
    const int ndims[4] = {2, 1, 2, 1};
    float data[32];
    int64_t idata[32];
    int start = 0;
    NpzWriter w;
    Error err;
    npz_writer_init(&w);
    for (int k = 0; k < 4; k++) {
        int64_t n = shapes[k][0] * (ndims[k] == 2 ? shapes[k][1] : 1);
        for (int j = 0; j < 32; j++) {
            data[j] = fill_value(start + j);
            idata[j] = start + j;
        }
        start += (int)n;
        if (drop && strcmp(drop, names[k]) == 0) continue;
        if (nan && strcmp(nan, names[k]) == 0) data[1] = NAN;
        int64_t other[2] = {ndims[k] == 1 ? 4 : 3, 3};
        int re = reshape && strcmp(reshape, names[k]) == 0;
        if (ints && strcmp(ints, names[k]) == 0)
            npz_add_i64(&w, names[k], idata, ndims[k], shapes[k]);
        else
            npz_add_f32(&w, names[k], data, ndims[k], re ? other : shapes[k]);
    }
    if (extra) {
        int64_t one[1] = {1};
        npz_add_i64(&w, extra, idata, 1, one);
    }
    ck_assert_msg(npz_write(&w, tmp_path, &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
}

/* params_load of tmp_path into the small set; returns its result, err set. */
static int load_small(ParamSet *ps, const char *const *ignore, Error *err)
{
    Npz z;
    ck_assert_msg(npz_load(tmp_path, &z, err) == 0, "%s", err->msg);
    declare_small(ps);
    params_alloc(ps);
    int rc = params_load(ps, &z, tmp_path, ignore, err);
    npz_free(&z);
    return rc;
}

static void expect_load_error(const char *const *ignore, const char *n1, const char *n2)
{
    ParamSet ps;
    Error err;
    ck_assert_int_eq(load_small(&ps, ignore, &err), -1);
    ck_assert_msg(strstr(err.msg, tmp_path) != NULL, "no file name in: %s", err.msg);
    ck_assert_msg(strstr(err.msg, n1) != NULL, "expected '%s' in: %s", n1, err.msg);
    ck_assert_msg(!n2 || strstr(err.msg, n2) != NULL, "expected '%s' in: %s", n2, err.msg);
    params_free(&ps);
}

START_TEST(load_copies_every_array)
{
    make_tmp();
    write_small(NULL, NULL, NULL, NULL, NULL);
    ParamSet ps;
    Error err;
    ck_assert_msg(load_small(&ps, NULL, &err) == 0, "%s", err.msg);
    /* Declared in the same order as written, so the set is fill_value(0 ... 23). */
    for (size_t k = 0; k < ps.size; k++) ck_assert(ps.data[k] == fill_value((int)k));
    ck_assert(MAT_AT(params_mat(&ps, "layer.weight"), 1, 2) == fill_value(6));
    ck_assert(MAT_AT(params_mat(&ps, "other.bias"), 0, 4) == fill_value(23));
    params_free(&ps);
    remove(tmp_path);
}
END_TEST

START_TEST(load_errors)
{
    make_tmp();
    write_small("other.weight", NULL, NULL, NULL, NULL);
    expect_load_error(NULL, "no array named 'other.weight'", "layer.weight, layer.bias");
    write_small(NULL, "layer.weight", NULL, NULL, NULL);
    expect_load_error(NULL, "layer.weight must have shape (3, 4)", "found (3, 3)");
    write_small(NULL, "other.bias", NULL, NULL, NULL);
    expect_load_error(NULL, "other.bias must have shape (5,)", "found (4,)");
    write_small(NULL, NULL, "layer.bias", NULL, NULL);
    expect_load_error(NULL, "layer.bias holds nan at flat index 1", "finite");
    write_small(NULL, NULL, NULL, "other.weight", NULL);
    expect_load_error(NULL, "other.weight must hold real numbers", "<i8");
    write_small(NULL, NULL, NULL, NULL, "config.nhead");
    expect_load_error(NULL, "unexpected array 'config.nhead'", NULL);
    /* An ignored prefix must match the start of the name, not just any part. */
    static const char *const OTHER[] = {"nhead", "layer.", NULL};
    expect_load_error(OTHER, "unexpected array 'config.nhead'", NULL);
    remove(tmp_path);
}
END_TEST

START_TEST(load_ignores_prefixes)
{
    make_tmp();
    write_small(NULL, NULL, NULL, NULL, "config.nhead");
    static const char *const IGNORE[] = {"generator.", "config.", NULL};
    ParamSet ps;
    Error err;
    ck_assert_msg(load_small(&ps, IGNORE, &err) == 0, "%s", err.msg);
    for (size_t k = 0; k < ps.size; k++) ck_assert(ps.data[k] == fill_value((int)k));
    params_free(&ps);
    remove(tmp_path);
}
END_TEST

/* Every declared view equals the array of the same name in the file. */
static void assert_views_match_file(const ParamSet *ps, const Npz *z)
{
    for (int k = 0; k < ps->count; k++) {
        const Param *p = &ps->items[k];
        const Tensor *t = npz_get(z, p->name);
        ck_assert_msg(t != NULL, "no %s in the file", p->name);
        ck_assert_int_eq(t->ndim, p->ndim);
        ck_assert_int_eq((int)t->size, p->rows * p->cols);
        Mat m = params_mat(ps, p->name);
        for (int i = 0; i < m.rows; i++)
            for (int j = 0; j < m.cols; j++)
                ck_assert_msg(MAT_AT(m, i, j) == t->f[i * m.cols + j], "%s[%d, %d]", p->name, i,
                              j);
    }
}

START_TEST(load_numpy_files)
{
    /* A PyTorch state_dict saved by numpy.savez (make_ch06_ref.py), and the
     * numpy.savez_compressed file of make_fixtures.py with its integer
     * arrays ignored and its float64 array converted. */
    const char *path = "tests/fixtures/ch06_post_odd_params.npz";
    enum { E = 9, F = 7 };
    const struct { const char *name; int ndim, rows, cols; } layer[12] = {
        {"self_attn.in_proj_weight", 2, 3 * E, E}, {"self_attn.in_proj_bias", 1, 1, 3 * E},
        {"self_attn.out_proj.weight", 2, E, E},    {"self_attn.out_proj.bias", 1, 1, E},
        {"linear1.weight", 2, F, E},               {"linear1.bias", 1, 1, F},
        {"linear2.weight", 2, E, F},               {"linear2.bias", 1, 1, E},
        {"norm1.weight", 1, 1, E},                 {"norm1.bias", 1, 1, E},
        {"norm2.weight", 1, 1, E},                 {"norm2.bias", 1, 1, E},
    };
    Npz z;
    Error err;
    ParamSet ps;
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    params_init(&ps);
    for (int k = 0; k < 12; k++)
        params_add(&ps, layer[k].name, layer[k].ndim, layer[k].rows, layer[k].cols);
    params_alloc(&ps);
    ck_assert_msg(params_load(&ps, &z, path, NULL, &err) == 0, "%s", err.msg);
    assert_views_match_file(&ps, &z);
    ck_assert_int_eq((int)ps.size, 4 * E * E + 4 * E + 2 * E * F + F + E + 4 * E);
    params_free(&ps);
    npz_free(&z);

    path = "tests/fixtures/npz_compressed.npz";
    ck_assert_msg(npz_load(path, &z, &err) == 0, "%s", err.msg);
    params_init(&ps);
    params_add(&ps, "x", 2, 3, 4);
    params_add(&ps, "y", 1, 1, 5);
    params_add(&ps, "zeros", 2, 16, 16);
    params_alloc(&ps);
    for (size_t k = 0; k < ps.size; k++) ps.data[k] = 9.0f;
    ck_assert_int_eq(params_load(&ps, &z, path, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "unexpected array 'ids'") != NULL, "%s", err.msg);
    static const char *const IGNORE[] = {"ids", "mask", NULL};
    ck_assert_msg(params_load(&ps, &z, path, IGNORE, &err) == 0, "%s", err.msg);
    assert_views_match_file(&ps, &z);
    ck_assert(MAT_AT(params_mat(&ps, "zeros"), 15, 15) == 0.0f);
    params_free(&ps);
    npz_free(&z);
}
END_TEST

/* -------------------------------------------------------- saving, round trip */

START_TEST(save_load_roundtrip)
{
    ParamSet a, b;
    declare_small(&a);
    params_alloc(&a);
    params_alloc_grad(&a);
    for (size_t k = 0; k < a.size; k++) {
        a.data[k] = sinf((float)k) * 3.0f;
        a.grad[k] = (float)k * 0.25f - 1.0f;
    }
    make_tmp();
    char grad_path[80];
    snprintf(grad_path, sizeof grad_path, "%s-grads", tmp_path);
    const char *paths[2] = {tmp_path, grad_path};
    Error err;
    for (int grads = 0; grads < 2; grads++) {
        NpzWriter w;
        npz_writer_init(&w);
        params_save(&a, &w, grads);
        ck_assert_msg(npz_write(&w, paths[grads], &err) == 0, "%s", err.msg);
        npz_writer_free(&w);
    }
    for (int grads = 0; grads < 2; grads++) {
        Npz z;
        ck_assert_msg(npz_load(paths[grads], &z, &err) == 0, "%s", err.msg);
        remove(paths[grads]);
        /* PyTorch's shapes: weights 2-D, biases 1-D; every array float32. */
        ck_assert_int_eq(z.count, 4);
        const Tensor *t = npz_get(&z, "layer.bias");
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(t->ndim, 1);
        ck_assert_int_eq((int)t->shape[0], 3);
        ck_assert_str_eq(t->file_dtype, "<f4");
        t = npz_get(&z, "layer.weight");
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(t->ndim, 2);
        ck_assert_int_eq((int)t->shape[0], 3);
        ck_assert_int_eq((int)t->shape[1], 4);
        declare_small(&b);
        params_alloc(&b);
        ck_assert_msg(params_load(&b, &z, paths[grads], NULL, &err) == 0, "%s", err.msg);
        ck_assert(memcmp(b.data, grads ? a.grad : a.data, a.size * sizeof(float)) == 0);
        params_free(&b);
        npz_free(&z);
    }
    params_free(&a);
}
END_TEST

Suite *params_suite(void)
{
    Suite *s = suite_create("params (chapter 6)");
    TCase *tc = tcase_create("set");
    tcase_add_test(tc, declare_alloc_views);
    tcase_add_test(tc, many_tensors_grow_the_table);
    tcase_add_test(tc, load_copies_every_array);
    tcase_add_test(tc, load_errors);
    tcase_add_test(tc, load_ignores_prefixes);
    tcase_add_test(tc, load_numpy_files);
    tcase_add_test(tc, save_load_roundtrip);
    suite_add_tcase(s, tc);
    tc = tcase_create("caller bugs");
    tcase_add_checked_fixture(tc, silence_stderr, NULL);
    tcase_add_exit_test(tc, duplicate_name_exits, 3);
    tcase_add_exit_test(tc, declare_after_alloc_exits, 3);
    tcase_add_exit_test(tc, bad_shape_exits, 3);
    tcase_add_exit_test(tc, bad_rank_exits, 3);
    tcase_add_exit_test(tc, unknown_name_exits, 3);
    tcase_add_exit_test(tc, view_before_alloc_exits, 3);
    tcase_add_exit_test(tc, grad_without_alloc_exits, 3);
    tcase_add_exit_test(tc, save_grads_without_alloc_exits, 3);
    suite_add_tcase(s, tc);
    return s;
}
