/**
 * \file mat.h
 * \brief The matrix type every chapter computes with: float32, row-major,
 * and able to be a *view* into another matrix without copying.
 *
 * A view is what lets multi-head attention (chapter 4) treat head h as the
 * column block [h*Dh, (h+1)*Dh) of the projected queries: same memory, a
 * different window onto it. The `stride` field makes that work: element
 * (i, j) lives at data[i * stride + j], and stride may be wider than cols.
 *
 * Introduced with chapter 1; every chapter uses it.
 * \ingroup api_common
 */
#ifndef MAT_H
#define MAT_H

#include <stddef.h>

/**
 * \defgroup api_common common/: the shared library
 * \brief The math every chapter shares: the Mat type with views, matrix
 * multiply and the other kernels, a seeded random generator, NumPy .npy and
 * .npz files, console printing, gnuplot figures and the command line.
 *
 * Shapes are written (rows, cols), with the size letters of the chapters:
 * L queries, S keys and values, D query and key width, Dv value width,
 * E model width, F feed-forward width, H heads, T target length, V vocabulary.
 * @{
 */

/** \brief A (rows, cols) matrix of floats, or a view into one. */
typedef struct {
    float *data;   ///< element (0, 0)
    int rows;      ///< number of rows
    int cols;      ///< number of columns
    int stride;    ///< floats from the start of one row to the next (>= cols)
    int owner;     ///< 1 if mat_free must release data, 0 for a view
} Mat;

/**
 * \brief Element (i, j), for reading and writing: `MAT_AT(m, i, j) = 1.0f;`
 * \param m a Mat (or a view)
 * \param i the row, in [0, rows)
 * \param j the column, in [0, cols)
 */
#define MAT_AT(m, i, j) ((m).data[(size_t)(i) * (size_t)(m).stride + (size_t)(j)])

/**
 * \brief A new (rows, cols) matrix of zeros; exits with a message if memory runs out.
 * \param rows number of rows
 * \param cols number of columns
 * \return an owning matrix, to release with mat_free
 */
Mat mat_new(int rows, int cols);
/**
 * \brief A new matrix holding a copy of `values`.
 * \param rows number of rows
 * \param cols number of columns
 * \param values rows * cols floats, row-major
 * \return an owning matrix, to release with mat_free
 */
Mat mat_from(int rows, int cols, const float *values);
/**
 * \brief Releases an owning matrix; does nothing for a view. Leaves m empty.
 * \param m the matrix to release
 */
void mat_free(Mat *m);

/**
 * \name Views
 * No copy, no free needed: they share memory with `m`.
 * @{
 */
/**
 * \brief Rows [first, first+count) of m, as a view.
 * \param m (R, C)
 * \param first the first row
 * \param count how many rows
 * \return a (count, C) view
 */
Mat mat_rows(Mat m, int first, int count);
/**
 * \brief Columns [first, first+count) of m, as a view.
 * \param m (R, C)
 * \param first the first column
 * \param count how many columns
 * \return an (R, count) view
 */
Mat mat_cols(Mat m, int first, int count);
/**
 * \brief The block of m that starts at (row, col), as a view.
 * \param m (R, C)
 * \param row the block's first row
 * \param col the block's first column
 * \param rows the block's number of rows
 * \param cols the block's number of columns
 * \return a (rows, cols) view
 */
Mat mat_block(Mat m, int row, int col, int rows, int cols);
/**
 * \brief A view of a contiguous buffer as a (rows, cols) matrix.
 * \param data rows * cols floats, row-major; stays the caller's
 * \param rows number of rows
 * \param cols number of columns
 * \return a view (mat_free does nothing to it)
 */
Mat mat_wrap(float *data, int rows, int cols);
/** @} */

/**
 * \brief 1 if m's rows follow each other with no gap (stride == cols).
 * \param m (R, C)
 * \return 1 or 0
 */
int mat_is_contiguous(Mat m);

/**
 * \brief Sets every entry of m to value.
 * \param[out] m (R, C)
 * \param value the value
 */
void mat_fill(Mat m, float value);
/**
 * \brief dst <- src; shapes must match (checked: exits with a message if not).
 * \param[out] dst (R, C)
 * \param[in] src (R, C)
 */
void mat_copy(Mat dst, Mat src);

/**
 * \brief 1 if every entry is a finite number.
 * \param m (R, C)
 * \param[out] row the row of the first entry that is NaN or infinite
 * \param[out] col its column
 * \return 1, or 0 and (*row, *col) is the first entry that is NaN or infinite
 */
int mat_all_finite(Mat m, int *row, int *col);

/**
 * \brief The largest |a - b| over the entries: how far apart two
 * computations of the same matrix are (0 when they agree to the bit).
 * \param a (R, C)
 * \param b (R, C)
 * \return max over (i, j) of |a(i, j) - b(i, j)|; a NaN entry counts for nothing
 */
float mat_max_abs_diff(Mat a, Mat b);

/**
 * \brief Stops the program with "what: expected (r, c), found (r', c')" when
 * m's shape is not (rows, cols).
 *
 * A shape mismatch inside the library is a bug in the caller, so it is
 * reported and the program exits (code 3).
 * \param m the matrix to check
 * \param rows the rows expected, or -1 to accept any number
 * \param cols the columns expected, or -1 to accept any number
 * \param what names the matrix in the message
 */
void mat_check_shape(Mat m, int rows, int cols, const char *what);

/** @} */

#endif
