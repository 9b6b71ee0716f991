/**
 * \file multihead.h
 * \brief Chapter 4: multi-head attention.
 * \verbatim
   Q' = query W_Q^T + b_Q     K' = key W_K^T + b_K     V' = value W_V^T + b_V
   head h = masked scaled attention of the h-th column block of Q', K', V'
   output = concat(head 1 ... head H) W_O^T + b_O
   \endverbatim
 * A head is a column *view* of the projections (mat_cols): Dh = E / H columns
 * of Q', K', V', never a copy. The parameters are laid out exactly as in
 * torch.nn.MultiheadAttention, so a PyTorch module's state_dict loads as it is:
 * \verbatim
   in_proj_weight (3E, E)  rows [0, E) W_Q, [E, 2E) W_K, [2E, 3E) W_V
   in_proj_bias   (3E)     b_Q, b_K, b_V
   out_proj.weight (E, E)  W_O
   out_proj.bias   (E)     b_O
   \endverbatim
 * All four live in one allocation, with named views into it.
 *
 * Sizes: L queries, S keys/values, E model width, H heads, Dh = E / H.
 * \ingroup api_ch04
 */
#ifndef MULTIHEAD_H
#define MULTIHEAD_H

#include "mat.h"
#include "npy.h"
#include "params.h"
#include "rng.h"
#include "util.h"

/**
 * \defgroup api_ch04 Chapter 4: multi-head attention
 * \brief Projections W_Q, W_K, W_V, W_O; heads as column views; PyTorch's
 * parameter layout. The chapter: \ref ch04.
 * @{
 */

/** \brief A multi-head attention module, as torch.nn.MultiheadAttention. */
typedef struct {
    int E;                  ///< model width (embed_dim)
    int H;                  ///< number of heads; H divides E
    float *storage;         ///< the one allocation: 4 E^2 + 4 E floats
    Mat in_proj_weight;     ///< (3E, E)  W_Q, W_K, W_V stacked
    Mat in_proj_bias;       ///< (1, 3E)  b_Q, b_K, b_V
    Mat out_proj_weight;    ///< (E, E)   W_O
    Mat out_proj_bias;      ///< (1, E)   b_O
} MHA;

/**
 * \brief A new module of width E with H heads, parameters zero.
 *
 * Exits with a message if H does not divide E (a caller's bug; files are
 * checked by mha_load).
 * \param E the model width
 * \param H the number of heads
 * \return the module, to release with mha_free
 */
MHA mha_new(int E, int H);
/**
 * \brief Releases the module's storage (nothing for a bound module).
 * \param m the module
 */
void mha_free(MHA *m);

/**
 * \brief Number of parameters: 4 E^2 + 4 E.
 * \param m the module
 * \return the count
 */
long mha_param_count(const MHA *m);

/**
 * \brief Initialises like torch.nn.MultiheadAttention: Xavier-uniform
 * in_proj_weight, zero biases, out_proj.weight uniform in +-1/sqrt(E).
 * \param m the module
 * \param r the random generator
 */
void mha_init(MHA *m, Rng *r);

/**
 * \brief Declares the four arrays in a ParamSet under prefix + PyTorch's names.
 *
 * Inside a whole model (chapter 6 on) the parameters live in a ParamSet:
 * mha_declare declares them and, after params_alloc, mha_bind returns a
 * module whose views point into the set.
 * \param ps the set, before params_alloc
 * \param prefix e.g. "encoder.layers.0.self_attn."
 * \param E the model width
 */
void mha_declare(ParamSet *ps, const char *prefix, int E);
/**
 * \brief A module whose views point into the set (storage is NULL: the set
 * owns the memory; mha_free is harmless).
 *
 * Exits with a message if H does not divide E (a caller's bug).
 * \param ps the set, allocated
 * \param prefix as given to mha_declare
 * \param heads the number of heads H
 * \return the module
 */
MHA mha_bind(const ParamSet *ps, const char *prefix, int heads);

/**
 * \brief A linear map, as torch.nn.Linear: out = x W^T + b, row by row.
 *
 * The projections of this chapter are four of them; later chapters use more.
 * \param[out] out (N, O)
 * \param[in] x (N, I)
 * \param[in] w (O, I)
 * \param[in] b (1, O)
 */
void linear_forward(Mat out, Mat x, Mat w, Mat b);
/**
 * \brief torch.nn.Linear's initialisation: w and b uniform in +-1/sqrt(I).
 * \param[out] w (O, I)
 * \param[out] b (1, O)
 * \param r the random generator
 */
void linear_init(Mat w, Mat b, Rng *r);

/**
 * \brief The weight of one projection, a view.
 * \param m the module
 * \param which 0 (Q), 1 (K), 2 (V)
 * \return (E, E)
 */
Mat mha_w(const MHA *m, int which);
/**
 * \brief The bias of one projection, a view.
 * \param m the module
 * \param which 0 (Q), 1 (K), 2 (V)
 * \return (1, E)
 */
Mat mha_b(const MHA *m, int which);

/**
 * \brief Loads prefix + "in_proj_weight", "in_proj_bias", "out_proj.weight",
 * "out_proj.bias" from a .npz already read, with H heads.
 *
 * Checks every name is present and every shape fits.
 * \param[out] m the module, to release with mha_free
 * \param z the arrays
 * \param prefix put before each name ("" for a module alone)
 * \param heads the number of heads H
 * \param path the file, for messages
 * \param[out] err on failure, the file, the array and the shapes
 * \return 0, or -1 with err set
 */
int mha_load(MHA *m, const Npz *z, const char *prefix, int heads, const char *path, Error *err);

/**
 * \brief Adds the four arrays, under prefix + PyTorch's names, to an .npz writer.
 * \param m the module
 * \param w the writer
 * \param prefix put before each name
 */
void mha_save(const MHA *m, NpzWriter *w, const char *prefix);

/**
 * \brief The mask of one sequence, combined as torch.nn.MultiheadAttention
 * combines its masks.
 *
 * Query i may not look at key j if attn_mask (i, j) is nonzero, or
 * key_padding (0, j) is nonzero, or causal and j > i.
 * \param[out] mask (L, S)
 * \param[in] attn_mask (L, S), or NULL
 * \param[in] key_padding (1, S), or NULL
 * \param causal 1 to block the future too
 */
void mha_build_mask(Mat mask, const Mat *attn_mask, const Mat *key_padding, int causal);

/**
 * \brief Multi-head attention for one sequence.
 * \param[out] out (L, E) the output
 * \param[out] attn (H * L, S) the weights; head h is rows [h L, (h + 1) L)
 * \param[in] query (L, E)
 * \param[in] key (S, E)
 * \param[in] value (S, E)
 * \param m the module
 * \param[in] mask (L, S) or NULL; nonzero = blocked (chapter 3). A query whose
 *            keys are all blocked gets zero weights and a zero head output.
 */
void mha_forward(Mat out, Mat attn, Mat query, Mat key, Mat value, const MHA *m,
                 const Mat *mask);

/** @} */

#endif
