/*
 * params.h - the parameters of a whole model: one allocation, and a named
 * view into it for every tensor, under its PyTorch state_dict name
 * ("encoder.layers.0.linear1.weight"). Loading and saving .npz files is then
 * a loop over the names, and a gradient buffer with the same layout makes
 * an optimiser step one loop over one array.
 *
 * Use in two phases: declare every tensor (params_add), then allocate
 * (params_alloc) and look the views up by name (params_mat).
 * Introduced with chapter 6.
 */
#ifndef PARAMS_H
#define PARAMS_H

#include <stddef.h>
#include "mat.h"
#include "npy.h"
#include "util.h"

typedef struct {
    char *name;        /* PyTorch name, e.g. "decoder.layers.1.norm2.bias" */
    int ndim;          /* 1 (a bias, a norm's weight) or 2, as PyTorch stores it */
    int rows, cols;    /* as a matrix: a 1-D tensor of n is (1, n) */
    size_t offset;     /* where it starts in data, in floats */
} Param;

typedef struct {
    int count, cap;    /* tensors declared, room for */
    Param *items;      /* in declaration order */
    size_t size;       /* total floats */
    float *data;       /* every parameter, back to back (after params_alloc) */
    float *grad;       /* same layout, for gradients; NULL unless params_alloc_grad */
} ParamSet;

void params_init(ParamSet *ps);
void params_free(ParamSet *ps);

/* Declares a tensor before params_alloc: 2-D (rows, cols), or 1-D of cols
 * entries with rows = 1 and ndim = 1. Exits on a duplicate name, on any other
 * ndim and after params_alloc (bugs in the model code, exit 3). */
void params_add(ParamSet *ps, const char *name, int ndim, int rows, int cols);

/* Allocates data (zeros) once every tensor is declared. */
void params_alloc(ParamSet *ps);
/* Allocates grad (zeros), same layout as data. */
void params_alloc_grad(ParamSet *ps);

/* The tensor called name, or NULL. */
const Param *params_find(const ParamSet *ps, const char *name);
/* Its view into data (or grad); exits with a message if there is no such
 * tensor (a bug in the model code, not in a file). */
Mat params_mat(const ParamSet *ps, const char *name);
Mat params_grad(const ParamSet *ps, const char *name);
/* The same with the name built printf-style: params_matf(ps, "%slinear1.weight", prefix). */
Mat params_matf(const ParamSet *ps, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
Mat params_gradf(const ParamSet *ps, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Copies every declared tensor from an .npz already read (path is for
 * messages), checking the shape of each. Arrays of the file whose names are
 * not declared are an error too, unless they start with one of the `ignore`
 * prefixes (NULL-terminated list, may be NULL), such as "config.". */
int params_load(ParamSet *ps, const Npz *z, const char *path, const char *const *ignore,
                Error *err);

/* Adds every tensor (from data, or from grad when grads is 1) to a writer,
 * under its name and PyTorch shape. Exits (3) if that buffer was never
 * allocated. */
void params_save(const ParamSet *ps, NpzWriter *w, int grads);

#endif
