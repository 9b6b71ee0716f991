/**
 * \file params.h
 * \brief The parameters of a whole model: one allocation, and a named
 * view into it for every tensor, under its PyTorch state_dict name
 * ("encoder.layers.0.linear1.weight").
 *
 * Loading and saving .npz files is then a loop over the names, and a
 * gradient buffer with the same layout makes an optimiser step one loop over
 * one array.
 *
 * Use in two phases: declare every tensor (params_add), then allocate
 * (params_alloc) and look the views up by name (params_mat).
 * Introduced with chapter 6.
 * \ingroup api_common
 */
#ifndef PARAMS_H
#define PARAMS_H

#include <stddef.h>
#include "mat.h"
#include "npy.h"
#include "util.h"

/** \addtogroup api_common
 *  @{ */

/** \brief One tensor of a ParamSet: its name, shape and place. */
typedef struct {
    char *name;        ///< PyTorch name, e.g. "decoder.layers.1.norm2.bias"
    int ndim;          ///< 1 (a bias, a norm's weight) or 2, as PyTorch stores it
    int rows,          ///< as a matrix: a 1-D tensor of n is (1, n)
        cols;          ///< as a matrix: n for a 1-D tensor of n
    size_t offset;     ///< where it starts in data, in floats
} Param;

/** \brief Every tensor of a model, back to back in one allocation. */
typedef struct {
    int count,         ///< tensors declared
        cap;           ///< room for
    Param *items;      ///< in declaration order
    size_t size;       ///< total floats
    float *data;       ///< every parameter, back to back (after params_alloc)
    float *grad;       ///< same layout, for gradients; NULL unless params_alloc_grad
} ParamSet;

/**
 * \brief An empty set.
 * \param[out] ps the set
 */
void params_init(ParamSet *ps);
/**
 * \brief Releases the names, data and grad.
 * \param ps the set
 */
void params_free(ParamSet *ps);

/**
 * \brief Declares a tensor before params_alloc.
 *
 * Exits on a duplicate name, on any other ndim and after params_alloc (bugs
 * in the model code, exit 3).
 * \param ps the set
 * \param name its PyTorch name
 * \param ndim 2 for (rows, cols), or 1 for cols entries (then rows = 1)
 * \param rows 1 when ndim is 1
 * \param cols the number of columns
 */
void params_add(ParamSet *ps, const char *name, int ndim, int rows, int cols);

/**
 * \brief Allocates data (zeros) once every tensor is declared.
 * \param ps the set
 */
void params_alloc(ParamSet *ps);
/**
 * \brief Allocates grad (zeros), same layout as data.
 * \param ps the set
 */
void params_alloc_grad(ParamSet *ps);

/**
 * \brief The tensor called name.
 * \param ps the set
 * \param name its PyTorch name
 * \return the tensor, or NULL
 */
const Param *params_find(const ParamSet *ps, const char *name);
/**
 * \brief The tensor's view into data; exits with a message if there is no such
 * tensor (a bug in the model code, not in a file).
 * \param ps the set, allocated
 * \param name its PyTorch name
 * \return (rows, cols), a view
 */
Mat params_mat(const ParamSet *ps, const char *name);
/**
 * \brief The tensor's view into grad; exits with a message if there is no such tensor.
 * \param ps the set, with grad allocated
 * \param name its PyTorch name
 * \return (rows, cols), a view
 */
Mat params_grad(const ParamSet *ps, const char *name);
/**
 * \brief params_mat with the name built printf-style:
 * `params_matf(ps, "%slinear1.weight", prefix)`.
 * \param ps the set, allocated
 * \param fmt printf format of the name
 * \param ... its values
 * \return (rows, cols), a view
 */
Mat params_matf(const ParamSet *ps, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/**
 * \brief params_grad with the name built printf-style.
 * \param ps the set, with grad allocated
 * \param fmt printf format of the name
 * \param ... its values
 * \return (rows, cols), a view
 */
Mat params_gradf(const ParamSet *ps, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/**
 * \brief Copies every declared tensor from an .npz already read, checking
 * the shape of each.
 *
 * Arrays of the file whose names are not declared are an error too, unless
 * they start with one of the `ignore` prefixes.
 * \param ps the set, allocated
 * \param z the arrays
 * \param path the file, for messages
 * \param ignore NULL-terminated list of name prefixes such as "config.", or NULL
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int params_load(ParamSet *ps, const Npz *z, const char *path, const char *const *ignore,
                Error *err);
/**
 * \brief Everything params_load checks, without copying: works before
 * params_alloc.
 *
 * A loader that reads sizes off a file's shapes calls it before allocating,
 * so that a small file (a deflated array of zeros can claim a width of 10000
 * in a few bytes) cannot make it allocate gigabytes for tensors it does not hold.
 * \param ps the set, declared (allocated or not)
 * \param z the arrays
 * \param path the file, for messages
 * \param ignore NULL-terminated list of name prefixes such as "config.", or NULL
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int params_check(const ParamSet *ps, const Npz *z, const char *path, const char *const *ignore,
                 Error *err);

/**
 * \brief Adds every tensor to a writer, under its name and PyTorch shape.
 *
 * Exits (3) if that buffer was never allocated.
 * \param ps the set
 * \param w the writer
 * \param grads 0 for data, 1 for grad
 */
void params_save(const ParamSet *ps, NpzWriter *w, int grads);

/** @} */

#endif
