/*
 * params.c - one allocation of named parameter tensors (see params.h).
 * Introduced with chapter 6.
 */
#include "params.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void params_init(ParamSet *ps) { memset(ps, 0, sizeof *ps); }

void params_free(ParamSet *ps)
{
    for (int i = 0; i < ps->count; i++) free(ps->items[i].name);
    free(ps->items);
    free(ps->data);
    free(ps->grad);
    memset(ps, 0, sizeof *ps);
}

const Param *params_find(const ParamSet *ps, const char *name)
{
    for (int i = 0; i < ps->count; i++)
        if (strcmp(ps->items[i].name, name) == 0) return &ps->items[i];
    return NULL;
}

void params_add(ParamSet *ps, const char *name, int ndim, int rows, int cols)
{
    if (ps->data || params_find(ps, name) || rows < 0 || cols < 0 || (ndim != 1 && ndim != 2) ||
        (ndim == 1 && rows != 1)) {
        fprintf(stderr, "params_add: cannot declare '%s' (%s)\n", name,
                ps->data ? "already allocated" : params_find(ps, name) ? "duplicate" : "bad shape");
        exit(3);
    }
    if (ps->count == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 64;
        ps->items = xrealloc(ps->items, (size_t)ps->cap, sizeof(Param), "the parameter table");
    }
    Param p = {xstrdup(name), ndim, rows, cols, ps->size};
    ps->items[ps->count++] = p;
    ps->size += (size_t)rows * (size_t)cols;
}

void params_alloc(ParamSet *ps)
{
    ps->data = xcalloc(ps->size, sizeof(float), "the model's parameters");
}

void params_alloc_grad(ParamSet *ps)
{
    ps->grad = xcalloc(ps->size, sizeof(float), "the model's gradients");
}

static Mat view_of(const ParamSet *ps, float *base, const char *name)
{
    const Param *p = params_find(ps, name);
    if (!p || !base) {
        fprintf(stderr, "params: no %s for '%s'\n", p ? "buffer" : "tensor", name);
        exit(3);
    }
    return mat_wrap(base + p->offset, p->rows, p->cols);
}

Mat params_mat(const ParamSet *ps, const char *name) { return view_of(ps, ps->data, name); }
Mat params_grad(const ParamSet *ps, const char *name) { return view_of(ps, ps->grad, name); }

Mat params_matf(const ParamSet *ps, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return params_mat(ps, name);
}

Mat params_gradf(const ParamSet *ps, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return params_grad(ps, name);
}

static int ignored(const char *name, const char *const *ignore)
{
    for (; ignore && *ignore; ignore++)
        if (strncmp(name, *ignore, strlen(*ignore)) == 0) return 1;
    return 0;
}

int params_check(const ParamSet *ps, const Npz *z, const char *path, const char *const *ignore,
                 Error *err)
{
    for (int i = 0; i < ps->count; i++) {
        const Param *p = &ps->items[i];
        int64_t shape[2] = {p->rows, p->cols};
        const int64_t *want = p->ndim == 1 ? shape + 1 : shape;
        const Tensor *t = npz_get_f32(z, path, p->name, p->ndim, want, err);
        if (!t) return -1;
        int64_t bad = tensor_find_nonfinite(t);
        if (bad >= 0)
            return error_set(err, "%s: %s holds %g at flat index %lld; parameters must be finite",
                             path, p->name, (double)t->f[bad], (long long)bad);
    }
    for (int i = 0; i < z->count; i++)
        if (!params_find(ps, z->names[i]) && !ignored(z->names[i], ignore))
            return error_set(err, "%s: unexpected array '%s' (a name this model does not have)",
                             path, z->names[i]);
    return 0;
}

int params_load(ParamSet *ps, const Npz *z, const char *path, const char *const *ignore,
                Error *err)
{
    if (params_check(ps, z, path, ignore, err) != 0) return -1;
    for (int i = 0; i < ps->count; i++) {
        const Param *p = &ps->items[i];
        const Tensor *t = npz_get(z, p->name);
        memcpy(ps->data + p->offset, t->f, (size_t)t->size * sizeof(float));
    }
    return 0;
}

void params_save(const ParamSet *ps, NpzWriter *w, int grads)
{
    const float *base = grads ? ps->grad : ps->data;
    if (!base) {
        fprintf(stderr, "params_save: no %s to save (params_alloc%s was not called)\n",
                grads ? "gradients" : "parameters", grads ? "_grad" : "");
        exit(3);
    }
    for (int i = 0; i < ps->count; i++) {
        const Param *p = &ps->items[i];
        int64_t shape[2] = {p->rows, p->cols};
        npz_add_f32(w, p->name, base + p->offset, p->ndim, p->ndim == 1 ? shape + 1 : shape);
    }
}
