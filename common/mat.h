/*
 * mat.h - the matrix type every chapter computes with: float32, row-major,
 * and able to be a *view* into another matrix without copying.
 *
 * A view is what lets multi-head attention (chapter 4) treat head h as the
 * column block [h*Dh, (h+1)*Dh) of the projected queries: same memory, a
 * different window onto it. The `stride` field makes that work: element
 * (i, j) lives at data[i * stride + j], and stride may be wider than cols.
 *
 * Introduced with chapter 1; every chapter uses it.
 */
#ifndef MAT_H
#define MAT_H

#include <stddef.h>

typedef struct {
    float *data;   /* element (0, 0) */
    int rows;      /* number of rows */
    int cols;      /* number of columns */
    int stride;    /* floats from the start of one row to the next (>= cols) */
    int owner;     /* 1 if mat_free must release data, 0 for a view */
} Mat;

/* Element (i, j), for reading and writing: MAT_AT(m, i, j) = 1.0f; */
#define MAT_AT(m, i, j) ((m).data[(size_t)(i) * (size_t)(m).stride + (size_t)(j)])

/* A new (rows, cols) matrix of zeros; exits with a message if memory runs out. */
Mat mat_new(int rows, int cols);
/* A new matrix holding a copy of `values` (rows * cols floats, row-major). */
Mat mat_from(int rows, int cols, const float *values);
/* Releases an owning matrix; does nothing for a view. Leaves m empty. */
void mat_free(Mat *m);

/* Views: no copy, no free needed. They share memory with `m`. */
Mat mat_rows(Mat m, int first, int count);   /* rows [first, first+count) */
Mat mat_cols(Mat m, int first, int count);   /* cols [first, first+count) */
Mat mat_block(Mat m, int row, int col, int rows, int cols);
/* A view of a contiguous buffer as a (rows, cols) matrix. */
Mat mat_wrap(float *data, int rows, int cols);

/* 1 if m's rows follow each other with no gap (stride == cols). */
int mat_is_contiguous(Mat m);

void mat_fill(Mat m, float value);
/* dst <- src; shapes must match (checked: exits with a message if not). */
void mat_copy(Mat dst, Mat src);

/* 1 if every entry is a finite number. Otherwise 0, and (*row, *col) is the
 * first entry that is NaN or infinite. */
int mat_all_finite(Mat m, int *row, int *col);

/* Stops the program with "what: expected (r, c), found (r', c')" when m's
 * shape is not (rows, cols). A shape mismatch inside the library is a bug in
 * the caller, so it is reported and the program exits (code 3). Pass -1 to
 * accept any number of rows or columns. */
void mat_check_shape(Mat m, int rows, int cols, const char *what);

#endif
