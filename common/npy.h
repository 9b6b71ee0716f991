/*
 * npy.h - reading and writing NumPy's .npy and .npz files, so every number a
 * chapter computes can be handed to (and checked against) NumPy and PyTorch.
 *
 * In memory a Tensor holds either float32 (from <f4, or <f8 converted) or
 * int64 (from <i8, <i4, |u1, |b1: token ids and masks). A header is never
 * trusted: the declared shape is checked for overflow and against the bytes
 * actually present, and every error names the file and the problem.
 *
 * Format references: NumPy's NEP 1 (".npy format", versions 1.0 and 2.0) and
 * the PKWARE APPNOTE for the zip container of .npz.
 * Introduced with chapter 1.
 */
#ifndef NPY_H
#define NPY_H

#include <stdint.h>
#include "mat.h"
#include "util.h"

#define TENSOR_MAX_DIMS 8

typedef enum {
    DT_F32,    /* real data: float *f */
    DT_I64     /* ids and masks: int64_t *i */
} DType;

typedef struct {
    DType dtype;                   /* what the data pointer holds */
    char file_dtype[8];            /* dtype as it was in the file, e.g. "<f8" */
    int ndim;                      /* 0 (scalar) ... TENSOR_MAX_DIMS */
    int64_t shape[TENSOR_MAX_DIMS];
    int64_t size;                  /* product of shape (1 for a scalar) */
    float *f;                      /* size floats when dtype == DT_F32, else NULL */
    int64_t *i;                    /* size ints when dtype == DT_I64, else NULL */
} Tensor;

void tensor_free(Tensor *t);
/* "(2, 3, 4)" into buf; returns buf. */
char *tensor_shape_str(const Tensor *t, char *buf, size_t len);

/* Reads a .npy file. On failure returns -1 and err names the file and the
 * problem ("Q.npy: truncated: header promises 24 bytes of data, file has 12"). */
int npy_load(const char *path, Tensor *t, Error *err);
/* Parses .npy bytes already in memory; `name` is used in messages. */
int npy_parse(const unsigned char *bytes, size_t len, const char *name,
              Tensor *t, Error *err);

/* Writes a .npy (version 1.0, little-endian, C order) atomically:
 * float32 "<f4" or int64 "<i8". */
int npy_save_f32(const char *path, const float *data, int ndim,
                 const int64_t *shape, Error *err);
int npy_save_i64(const char *path, const int64_t *data, int ndim,
                 const int64_t *shape, Error *err);
/* A matrix (a view too) as a 2-D float32 .npy. */
int npy_save_mat(const char *path, Mat m, Error *err);

/* Loads a float .npy that must be 2-D, as an owning Mat. `what` names the
 * role in messages ("Q.npy: --query must be 2-D, found shape (2, 3, 4)"). */
int npy_load_mat(const char *path, const char *what, Mat *m, Error *err);

/* ------------------------------------------------------------------ npz */

typedef struct {
    int count;        /* number of arrays */
    char **names;     /* count names, without the ".npy" suffix */
    Tensor *arrays;   /* count tensors */
} Npz;

/* Reads every array of a .npz (entries stored or deflated). */
int npz_load(const char *path, Npz *z, Error *err);
void npz_free(Npz *z);
/* The array called `name`, or NULL. */
const Tensor *npz_get(const Npz *z, const char *name);

/* The array called `name`, checked to hold real numbers of an expected shape
 * (ndim dimensions; -1 in shape accepts any size there). On failure returns
 * NULL and err names the file (`path`, for messages), the array and both
 * shapes: "m.npz: out_proj.weight must have shape (8, 8), found (8, 9)". A
 * missing array is reported with the names the file does hold. */
const Tensor *npz_get_f32(const Npz *z, const char *path, const char *name, int ndim,
                          const int64_t *shape, Error *err);

/* The flat index of the first NaN or infinite entry of t, or -1 if every
 * entry is finite (always -1 for integer tensors). */
int64_t tensor_find_nonfinite(const Tensor *t);

/* Writing: collect named arrays (copied), then write them all at once,
 * atomically, as a .npz that numpy.load opens. */
typedef struct {
    int count, cap;
    char **names;
    Tensor *arrays;
} NpzWriter;

void npz_writer_init(NpzWriter *w);
void npz_add_f32(NpzWriter *w, const char *name, const float *data, int ndim,
                 const int64_t *shape);
void npz_add_i64(NpzWriter *w, const char *name, const int64_t *data, int ndim,
                 const int64_t *shape);
void npz_add_mat(NpzWriter *w, const char *name, Mat m);
int npz_write(NpzWriter *w, const char *path, Error *err);
void npz_writer_free(NpzWriter *w);

#endif
