/*
 * test_mat.c - the Mat type: allocation, views that share memory, fill, copy.
 */
#include <math.h>
#include "suites.h"
#include "mat.h"

START_TEST(new_is_zero_and_owned)
{
    Mat m = mat_new(3, 4);
    ck_assert_int_eq(m.rows, 3);
    ck_assert_int_eq(m.cols, 4);
    ck_assert_int_eq(m.stride, 4);
    ck_assert_int_eq(m.owner, 1);
    for (int k = 0; k < 12; k++) ck_assert_float_eq(m.data[k], 0.0f);
    mat_free(&m);
    ck_assert_ptr_null(m.data);
    Mat empty = mat_new(0, 5);   /* zero rows is a valid shape */
    ck_assert_int_eq(empty.rows, 0);
    mat_free(&empty);
}
END_TEST

START_TEST(views_share_memory)
{
    /* m = [0 1 2 3; 4 5 6 7; 8 9 10 11] */
    Mat m = mat_new(3, 4);
    for (int k = 0; k < 12; k++) m.data[k] = (float)k;
    Mat cols = mat_cols(m, 1, 2);        /* [1 2; 5 6; 9 10] */
    ck_assert_int_eq(cols.rows, 3);
    ck_assert_int_eq(cols.cols, 2);
    ck_assert_int_eq(cols.stride, 4);
    ck_assert_int_eq(cols.owner, 0);
    ck_assert_float_eq(MAT_AT(cols, 2, 1), 10.0f);
    Mat rows = mat_rows(m, 1, 2);        /* [4 5 6 7; 8 9 10 11] */
    ck_assert_float_eq(MAT_AT(rows, 0, 0), 4.0f);
    ck_assert(mat_is_contiguous(rows));
    ck_assert(!mat_is_contiguous(cols));
    Mat block = mat_block(m, 1, 2, 2, 2);  /* [6 7; 10 11] */
    MAT_AT(block, 1, 0) = -1.0f;
    ck_assert_float_eq(MAT_AT(m, 2, 2), -1.0f);   /* written through the view */
    Mat inner = mat_cols(mat_rows(m, 1, 2), 1, 1);   /* a view of a view: [5; 9] */
    ck_assert_float_eq(MAT_AT(inner, 1, 0), 9.0f);
    mat_free(&cols);   /* freeing a view frees nothing */
    ck_assert_float_eq(m.data[11], 11.0f);
    mat_free(&m);
}
END_TEST

START_TEST(view_outside_exits)
{
    Mat m = mat_new(2, 2);
    mat_cols(m, 1, 2);
}
END_TEST

START_TEST(fill_and_copy_through_views)
{
    Mat a = mat_new(4, 6), b = mat_new(2, 3);
    mat_fill(mat_block(a, 1, 2, 2, 3), 2.5f);
    int count = 0;
    for (int k = 0; k < 24; k++) count += a.data[k] == 2.5f;
    ck_assert_int_eq(count, 6);
    mat_copy(b, mat_block(a, 1, 2, 2, 3));
    for (int k = 0; k < 6; k++) ck_assert_float_eq(b.data[k], 2.5f);
    mat_fill(b, -1.0f);
    mat_copy(mat_block(a, 0, 0, 2, 3), b);
    ck_assert_float_eq(MAT_AT(a, 1, 2), -1.0f);
    ck_assert_float_eq(MAT_AT(a, 1, 3), 2.5f);
    mat_free(&a);
    mat_free(&b);
}
END_TEST

START_TEST(copy_shape_mismatch_exits)
{
    Mat a = mat_new(2, 3), b = mat_new(3, 2);
    mat_copy(a, b);
}
END_TEST

START_TEST(all_finite_finds_the_first_bad_entry)
{
    const float v[] = {1, 2, 3, NAN, 5, INFINITY};
    Mat m = mat_from(2, 3, v);
    int i = -1, j = -1;
    ck_assert(!mat_all_finite(m, &i, &j));
    ck_assert_int_eq(i, 1);
    ck_assert_int_eq(j, 0);
    ck_assert(mat_all_finite(mat_rows(m, 0, 1), &i, &j));
    mat_free(&m);
}
END_TEST

Suite *mat_suite(void)
{
    Suite *s = suite_create("mat");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, silence_stderr, NULL);
    tcase_add_test(tc, new_is_zero_and_owned);
    tcase_add_test(tc, views_share_memory);
    tcase_add_exit_test(tc, view_outside_exits, 3);
    tcase_add_test(tc, fill_and_copy_through_views);
    tcase_add_exit_test(tc, copy_shape_mismatch_exits, 3);
    tcase_add_test(tc, all_finite_finds_the_first_bad_entry);
    suite_add_tcase(s, tc);
    return s;
}
