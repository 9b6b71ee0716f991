/*
 * multihead.h - chapter 4: multi-head attention.
 *
 *   Q' = query W_Q^T + b_Q     K' = key W_K^T + b_K     V' = value W_V^T + b_V
 *   head h = masked scaled attention of the h-th column block of Q', K', V'
 *   output = concat(head 1 ... head H) W_O^T + b_O
 *
 * A head is a column *view* of the projections (mat_cols): Dh = E / H columns
 * of Q', K', V', never a copy. The parameters are laid out exactly as in
 * torch.nn.MultiheadAttention, so a PyTorch module's state_dict loads as it is:
 *   in_proj_weight (3E, E)  rows [0, E) W_Q, [E, 2E) W_K, [2E, 3E) W_V
 *   in_proj_bias   (3E)     b_Q, b_K, b_V
 *   out_proj.weight (E, E)  W_O
 *   out_proj.bias   (E)     b_O
 * All four live in one allocation, with named views into it.
 *
 * Sizes: L queries, S keys/values, E model width, H heads, Dh = E / H.
 */
#ifndef MULTIHEAD_H
#define MULTIHEAD_H

#include "mat.h"
#include "npy.h"
#include "params.h"
#include "rng.h"
#include "util.h"

typedef struct {
    int E;                  /* model width (embed_dim) */
    int H;                  /* number of heads; H divides E */
    float *storage;         /* the one allocation: 4 E^2 + 4 E floats */
    Mat in_proj_weight;     /* (3E, E)  W_Q, W_K, W_V stacked */
    Mat in_proj_bias;       /* (1, 3E)  b_Q, b_K, b_V */
    Mat out_proj_weight;    /* (E, E)   W_O */
    Mat out_proj_bias;      /* (1, E)   b_O */
} MHA;

/* A new module of width E with H heads, parameters zero. Exits with a message
 * if H does not divide E (a caller's bug; files are checked by mha_load). */
MHA mha_new(int E, int H);
void mha_free(MHA *m);

/* Number of parameters: 4 E^2 + 4 E. */
long mha_param_count(const MHA *m);

/* Initialises like torch.nn.MultiheadAttention: Xavier-uniform in_proj_weight,
 * zero biases, out_proj.weight uniform in +-1/sqrt(E). */
void mha_init(MHA *m, Rng *r);

/* Inside a whole model (chapter 6 on) the parameters live in a ParamSet:
 * mha_declare declares the four arrays under prefix + PyTorch's names, and,
 * after params_alloc, mha_bind returns a module whose views point into the
 * set (storage is NULL: the set owns the memory; mha_free is harmless).
 * mha_bind exits with a message if H does not divide E (a caller's bug). */
void mha_declare(ParamSet *ps, const char *prefix, int E);
MHA mha_bind(const ParamSet *ps, const char *prefix, int heads);

/* A linear map, as torch.nn.Linear: out = x W^T + b, row by row. The
 * projections of this chapter are four of them; later chapters use more.
 *   out: (N, O)  x: (N, I)  w: (O, I)  b: (1, O) */
void linear_forward(Mat out, Mat x, Mat w, Mat b);
/* torch.nn.Linear's initialisation: w and b uniform in +-1/sqrt(I). */
void linear_init(Mat w, Mat b, Rng *r);

/* Views of one projection: which = 0 (Q), 1 (K), 2 (V).
 *   mha_w: (E, E)   mha_b: (1, E) */
Mat mha_w(const MHA *m, int which);
Mat mha_b(const MHA *m, int which);

/* Loads prefix + "in_proj_weight", "in_proj_bias", "out_proj.weight",
 * "out_proj.bias" from a .npz already read (path is for messages), with H
 * heads. Checks every name is present and every shape fits; on failure
 * returns -1 and err names the file, the array and the shapes. */
int mha_load(MHA *m, const Npz *z, const char *prefix, int heads, const char *path, Error *err);

/* Adds the four arrays, under prefix + PyTorch's names, to an .npz writer. */
void mha_save(const MHA *m, NpzWriter *w, const char *prefix);

/* The (L, S) mask of one sequence, combined as torch.nn.MultiheadAttention
 * combines its masks: query i may not look at key j if attn_mask (i, j) is
 * nonzero, or key_padding (0, j) is nonzero, or causal and j > i.
 *   mask: (L, S)  attn_mask: (L, S) or NULL  key_padding: (1, S) or NULL */
void mha_build_mask(Mat mask, const Mat *attn_mask, const Mat *key_padding, int causal);

/* Multi-head attention for one sequence.
 *   out:   (L, E)        the output
 *   attn:  (H * L, S)    the weights; head h is rows [h L, (h + 1) L)
 *   query: (L, E)  key: (S, E)  value: (S, E)
 *   mask:  (L, S) or NULL; nonzero = blocked (chapter 3). A query whose keys
 *          are all blocked gets zero weights and a zero head output. */
void mha_forward(Mat out, Mat attn, Mat query, Mat key, Mat value, const MHA *m,
                 const Mat *mask);

#endif
