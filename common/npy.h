/**
 * \file npy.h
 * \brief Reading and writing NumPy's .npy and .npz files, so every number a
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
 * \ingroup api_common
 */
#ifndef NPY_H
#define NPY_H

#include <stdint.h>
#include "mat.h"
#include "util.h"

/** \addtogroup api_common
 *  @{ */

/** \brief The most dimensions a Tensor can have. */
#define TENSOR_MAX_DIMS 8

/** \brief What a Tensor holds in memory. */
typedef enum {
    DT_F32,    ///< real data: float *f
    DT_I64     ///< ids and masks: int64_t *i
} DType;

/** \brief An n-dimensional array as read from (or written to) a .npy file. */
typedef struct {
    DType dtype;                   ///< what the data pointer holds
    char file_dtype[8];            ///< dtype as it was in the file, e.g. "<f8"
    int ndim;                      ///< 0 (scalar) ... TENSOR_MAX_DIMS
    int64_t shape[TENSOR_MAX_DIMS]; ///< ndim sizes, outermost first
    int64_t size;                  ///< product of shape (1 for a scalar)
    float *f;                      ///< size floats when dtype == DT_F32, else NULL
    int64_t *i;                    ///< size ints when dtype == DT_I64, else NULL
} Tensor;

/**
 * \brief Releases a tensor's data and leaves it empty.
 * \param t the tensor
 */
void tensor_free(Tensor *t);
/**
 * \brief "(2, 3, 4)" into buf.
 * \param t the tensor
 * \param[out] buf room for the text
 * \param len bytes in buf
 * \return buf
 */
char *tensor_shape_str(const Tensor *t, char *buf, size_t len);

/**
 * \brief Reads a .npy file.
 * \param path the file
 * \param[out] t the tensor read, to release with tensor_free
 * \param[out] err on failure, the file and the problem
 *             ("Q.npy: truncated: header promises 24 bytes of data, file has 12")
 * \return 0, or -1 with err set
 */
int npy_load(const char *path, Tensor *t, Error *err);
/**
 * \brief Parses .npy bytes already in memory.
 * \param bytes the file's contents
 * \param len their number
 * \param name names the data in messages
 * \param[out] t the tensor read, to release with tensor_free
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int npy_parse(const unsigned char *bytes, size_t len, const char *name,
              Tensor *t, Error *err);

/**
 * \brief Writes a float32 "<f4" .npy (version 1.0, little-endian, C order) atomically.
 * \param path the file
 * \param data the product of shape floats, C order
 * \param ndim number of dimensions
 * \param shape ndim sizes
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int npy_save_f32(const char *path, const float *data, int ndim,
                 const int64_t *shape, Error *err);
/**
 * \brief Writes an int64 "<i8" .npy (version 1.0, little-endian, C order) atomically.
 * \param path the file
 * \param data the product of shape integers, C order
 * \param ndim number of dimensions
 * \param shape ndim sizes
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int npy_save_i64(const char *path, const int64_t *data, int ndim,
                 const int64_t *shape, Error *err);
/**
 * \brief A matrix (a view too) as a 2-D float32 .npy.
 * \param path the file
 * \param m (R, C)
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int npy_save_mat(const char *path, Mat m, Error *err);

/**
 * \brief Loads a float .npy that must be 2-D, as an owning Mat.
 * \param path the file
 * \param what names the role in messages
 *             (`Q.npy: --query must be 2-D, found shape (2, 3, 4)`)
 * \param[out] m (R, C) as in the file, to release with mat_free
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int npy_load_mat(const char *path, const char *what, Mat *m, Error *err);

/* ------------------------------------------------------------------ npz */

/** \brief The arrays of a .npz file, by name. */
typedef struct {
    int count;        ///< number of arrays
    char **names;     ///< count names, without the ".npy" suffix
    Tensor *arrays;   ///< count tensors
} Npz;

/**
 * \brief Reads every array of a .npz (entries stored or deflated).
 * \param path the file
 * \param[out] z the arrays, to release with npz_free
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int npz_load(const char *path, Npz *z, Error *err);
/**
 * \brief Releases every array and name.
 * \param z the arrays
 */
void npz_free(Npz *z);
/**
 * \brief The array called `name`, or NULL.
 * \param z the arrays
 * \param name an array's name, without ".npy"
 * \return the array, or NULL
 */
const Tensor *npz_get(const Npz *z, const char *name);

/**
 * \brief The array called `name`, checked to hold real numbers of an expected shape.
 *
 * A missing array is reported with the names the file does hold.
 * \param z the arrays
 * \param path the file, for messages
 * \param name the array's name
 * \param ndim the number of dimensions expected
 * \param shape ndim sizes expected; -1 accepts any size there
 * \param[out] err on failure, the file, the array and both shapes:
 *             "m.npz: out_proj.weight must have shape (8, 8), found (8, 9)"
 * \return the array, or NULL with err set
 */
const Tensor *npz_get_f32(const Npz *z, const char *path, const char *name, int ndim,
                          const int64_t *shape, Error *err);

/**
 * \brief An integer scalar of the archive (a model's `config.nhead`), checked in [lo, hi].
 * \param z the arrays
 * \param path the file, for messages
 * \param name the array's name
 * \param lo the smallest value allowed
 * \param hi the largest value allowed
 * \param[out] out the value
 * \param[out] err on failure, the file, the array and what is wrong: missing,
 *             not one integer, or out of range
 * \return 0, or -1 with err set
 */
int npz_get_int(const Npz *z, const char *path, const char *name, long lo, long hi, int *out,
                Error *err);

/**
 * \brief The flat index of the first NaN or infinite entry of t.
 * \param t the tensor
 * \return the index, or -1 if every entry is finite (always -1 for integer tensors)
 */
int64_t tensor_find_nonfinite(const Tensor *t);

/**
 * \brief Writing: collect named arrays (copied), then write them all at once,
 * atomically, as a .npz that numpy.load opens.
 */
typedef struct {
    int count,        ///< arrays collected
        cap;          ///< room for
    char **names;     ///< count names
    Tensor *arrays;   ///< count copies
} NpzWriter;

/**
 * \brief Starts an empty writer.
 * \param[out] w the writer
 */
void npz_writer_init(NpzWriter *w);
/**
 * \brief Adds a copy of a float32 array.
 * \param w the writer
 * \param name the array's name, without ".npy"
 * \param data the product of shape floats, C order
 * \param ndim number of dimensions
 * \param shape ndim sizes
 */
void npz_add_f32(NpzWriter *w, const char *name, const float *data, int ndim,
                 const int64_t *shape);
/**
 * \brief Adds a copy of an int64 array.
 * \param w the writer
 * \param name the array's name, without ".npy"
 * \param data the product of shape integers, C order
 * \param ndim number of dimensions
 * \param shape ndim sizes
 */
void npz_add_i64(NpzWriter *w, const char *name, const int64_t *data, int ndim,
                 const int64_t *shape);
/**
 * \brief Adds a copy of a matrix as a 2-D float32 array.
 * \param w the writer
 * \param name the array's name
 * \param m (R, C)
 */
void npz_add_mat(NpzWriter *w, const char *name, Mat m);
/**
 * \brief Writes every array collected, atomically.
 * \param w the writer
 * \param path the .npz file
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int npz_write(NpzWriter *w, const char *path, Error *err);
/**
 * \brief Releases the copies.
 * \param w the writer
 */
void npz_writer_free(NpzWriter *w);

/** @} */

#endif
