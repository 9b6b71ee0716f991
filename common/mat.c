/*
 * mat.c - allocation, views, fill and copy for the Mat type (see mat.h).
 * Introduced with chapter 1.
 */
#include "mat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

Mat mat_new(int rows, int cols)
{
    if (rows < 0 || cols < 0) {
        fprintf(stderr, "mat_new: negative shape (%d, %d)\n", rows, cols);
        exit(3);
    }
    Mat m = {NULL, rows, cols, cols, 1};
    m.data = xcalloc((size_t)rows * (size_t)cols, sizeof(float), "a matrix");
    return m;
}

Mat mat_from(int rows, int cols, const float *values)
{
    Mat m = mat_new(rows, cols);
    memcpy(m.data, values, (size_t)rows * (size_t)cols * sizeof(float));
    return m;
}

void mat_free(Mat *m)
{
    if (m->owner) free(m->data);
    m->data = NULL;
    m->rows = m->cols = m->stride = 0;
    m->owner = 0;
}

Mat mat_block(Mat m, int row, int col, int rows, int cols)
{
    if (row < 0 || col < 0 || rows < 0 || cols < 0 || row + rows > m.rows ||
        col + cols > m.cols) {
        fprintf(stderr, "mat_block: block (%d, %d) of size (%d, %d) is outside a (%d, %d) matrix\n",
                row, col, rows, cols, m.rows, m.cols);
        exit(3);
    }
    Mat v = {m.data + (size_t)row * (size_t)m.stride + (size_t)col, rows, cols, m.stride, 0};
    return v;
}

Mat mat_rows(Mat m, int first, int count) { return mat_block(m, first, 0, count, m.cols); }
Mat mat_cols(Mat m, int first, int count) { return mat_block(m, 0, first, m.rows, count); }

Mat mat_wrap(float *data, int rows, int cols)
{
    Mat m = {data, rows, cols, cols, 0};
    return m;
}

int mat_is_contiguous(Mat m) { return m.stride == m.cols || m.rows <= 1; }

void mat_fill(Mat m, float value)
{
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < m.cols; j++) MAT_AT(m, i, j) = value;
}

int mat_all_finite(Mat m, int *row, int *col)
{
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < m.cols; j++)
            if (!isfinite(MAT_AT(m, i, j))) {
                *row = i;
                *col = j;
                return 0;
            }
    return 1;
}

float mat_max_abs_diff(Mat a, Mat b)
{
    float worst = 0.0f;
    for (int i = 0; i < a.rows; i++)
        for (int j = 0; j < a.cols; j++) {
            float e = fabsf(MAT_AT(a, i, j) - MAT_AT(b, i, j));
            if (e > worst) worst = e;
        }
    return worst;
}

void mat_check_shape(Mat m, int rows, int cols, const char *what)
{
    if ((rows >= 0 && m.rows != rows) || (cols >= 0 && m.cols != cols)) {
        fprintf(stderr, "%s: expected shape (%d, %d), found (%d, %d)\n", what, rows,
                cols, m.rows, m.cols);
        exit(3);
    }
}

void mat_copy(Mat dst, Mat src)
{
    mat_check_shape(dst, src.rows, src.cols, "mat_copy destination");
    for (int i = 0; i < src.rows; i++)
        memmove(&MAT_AT(dst, i, 0), &MAT_AT(src, i, 0), (size_t)src.cols * sizeof(float));
}
