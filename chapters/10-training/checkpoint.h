/**
 * \file checkpoint.h
 * \brief Chapter 10: a training run saved to one .npz file, and
 * read back to continue it.
 *
 * The file holds the model exactly as transformer_save writes it (the
 * contract's names, config.nhead, config.norm_first), so NumPy and PyTorch
 * read the weights by name, and beside them:
 * - `optim.exp_avg.<name>`, `optim.exp_avg_sq.<name>`: Adam's moments m and v
 *   per parameter (PyTorch's names for them), `optim.step`, `optim.betas`,
 *   `optim.eps`;
 * - `train.*`: the run's settings (`train.model` holds E, F, H, encoder layers,
 *   decoder layers, norm_first, encoder.norm, decoder.norm, xavier),
 *   `train.step`, `train.seed` (the random streams are functions of the
 *   seed and the step: see trainer.h), the loss history and the time.
 *
 * Written atomically (npz_write: a temporary file, flushed to disk, then
 * renamed), so a crash leaves the previous checkpoint, never half a file.
 * \ingroup api_ch10
 */
#ifndef CHECKPOINT_H
#define CHECKPOINT_H

#include "trainer.h"
#include "util.h"

/** \addtogroup api_ch10
 *  @{ */

/**
 * \brief Writes the whole run to one .npz file, atomically.
 * \param path the .npz file
 * \param t the run
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int checkpoint_save(const char *path, const Trainer *t, Error *err);
/**
 * \brief A Trainer exactly as it was saved (Adam's moments, step, history).
 * \param path the .npz file
 * \param[out] t the run, to release with trainer_free
 * \param[out] err the message on any problem: the file and the array
 * \return 0, or -1 with err set
 */
int checkpoint_load(const char *path, Trainer *t, Error *err);
/**
 * \brief Adds n floats laid out as the parameters (Adam's moments, the best
 * parameters) to a writer, each tensor under prefix + its name and shape.
 * \param w the writer
 * \param ps the parameters, for names, shapes and offsets
 * \param prefix e.g. "optim.exp_avg."
 * \param v (ps->size) the floats
 */
void checkpoint_add_per_param(NpzWriter *w, const ParamSet *ps, const char *prefix,
                              const float *v);
/**
 * \brief Reads back what checkpoint_add_per_param wrote: every tensor
 * prefix + name, with its shape, finite.
 * \param[out] v (ps->size) the floats
 * \param ps the parameters, for names, shapes and offsets
 * \param z the file's arrays
 * \param path the file, for messages
 * \param prefix e.g. "optim.exp_avg."
 * \param[out] err the array and the problem
 * \return 0, or -1 with err set
 */
int checkpoint_load_per_param(float *v, const ParamSet *ps, const Npz *z, const char *path,
                              const char *prefix, Error *err);

/** @} */

#endif
