/*
 * positional.c - chapter 5: the sinusoidal positional encoding (see
 * positional.h and the chapter page, README.md, which walks through this
 * code).
 *
 * Columns come in pairs: pair i is columns 2i (a sine) and 2i + 1 (a cosine)
 * of one angle, pos * w_i. With an odd D the last pair is cut short and the
 * last column is a sine alone.
 */
#include "positional.h"

#include <math.h>
#include "ops.h"

//! [positional_frequency]
double positional_frequency(int pair, int d)
{
    return 1.0 / pow(10000.0, 2.0 * pair / d);   /* w_i = 1 / 10000^(2i / D) */
}
//! [positional_frequency]

//! [positional_encoding]
void positional_encoding(Mat pe)
{
    int n = pe.rows, d = pe.cols;
    for (int i = 0; 2 * i < d; i++) {            /* pair i: columns 2i and 2i + 1 */
        double w = positional_frequency(i, d);
        for (int pos = 0; pos < n; pos++) {
            /* The angle in double: at pos = 100000 a float32 angle would be
             * off by about 0.004 before sin ever saw it. */
            double angle = pos * w;
            MAT_AT(pe, pos, 2 * i) = (float)sin(angle);
            if (2 * i + 1 < d) MAT_AT(pe, pos, 2 * i + 1) = (float)cos(angle);
        }
    }
}
//! [positional_encoding]

//! [positional_add]
void positional_add(Mat x)
{
    Mat pe = mat_new(x.rows, x.cols);   /* (L, D) */
    positional_encoding(pe);
    mat_add(x, x, pe);
    mat_free(&pe);
}
//! [positional_add]

//! [positional_shift_matrix]
void positional_shift_matrix(Mat m, int k)
{
    int d = m.cols;
    mat_check_shape(m, d, d, "positional_shift_matrix: m");
    mat_fill(m, 0.0f);
    for (int i = 0; 2 * i + 1 < d; i++) {   /* whole pairs only */
        double b = k * positional_frequency(i, d);
        /* (sin(a + b), cos(a + b)) from (sin a, cos a): the angle-sum rules. */
        MAT_AT(m, 2 * i, 2 * i) = (float)cos(b);
        MAT_AT(m, 2 * i, 2 * i + 1) = (float)sin(b);
        MAT_AT(m, 2 * i + 1, 2 * i) = (float)-sin(b);
        MAT_AT(m, 2 * i + 1, 2 * i + 1) = (float)cos(b);
    }
}
//! [positional_shift_matrix]
