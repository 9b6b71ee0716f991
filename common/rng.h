/**
 * \file rng.h
 * \brief A seeded random number generator whose stream is the same on every
 * platform and compiler, so `--seed 7` gives the same numbers everywhere.
 *
 * The integer stream is PCG32 (O'Neill, "PCG: A Family of Simple Fast
 * Space-Efficient Statistically Good Algorithms for Random Number
 * Generation", 2014), which needs only 64-bit integer arithmetic. Floats are
 * made from it by exact bit manipulation; the normal sampler uses the
 * Box-Muller transform, whose log/cos come from the C library and may differ
 * in the last bit between C libraries.
 *
 * Introduced with chapter 1.
 * \ingroup api_common
 */
#ifndef RNG_H
#define RNG_H

#include <stdint.h>
#include "mat.h"

/** \addtogroup api_common
 *  @{ */

/** \brief The generator's state: one PCG32 stream. */
typedef struct {
    uint64_t state;   ///< advances with every draw
    uint64_t inc;     ///< stream selector, always odd
} Rng;

/**
 * \brief Starts a generator; the same seed always gives the same stream.
 * \param[out] r the generator
 * \param seed any 64-bit number
 */
void rng_seed(Rng *r, uint64_t seed);
/** \brief The stream rng_seed uses: rng_seed(r, s) is rng_seed_stream(r, s, RNG_DEFAULT_STREAM). */
#define RNG_DEFAULT_STREAM 0xda3e39cb94b95bdbULL
/**
 * \brief The same, choosing one of 2^63 independent streams too (PCG's initseq).
 * \param[out] r the generator
 * \param seed any 64-bit number
 * \param stream any 64-bit number; streams differing only in the top bit are the same
 */
void rng_seed_stream(Rng *r, uint64_t seed, uint64_t stream);
/**
 * \brief The next 32 random bits.
 * \param r the generator
 * \return 32 random bits
 */
uint32_t rng_u32(Rng *r);
/**
 * \brief Uniform on [0, 1), with 24 random bits (every float32 step is reachable).
 * \param r the generator
 * \return a float in [0, 1)
 */
float rng_uniform(Rng *r);
/**
 * \brief Uniform integer on [0, n), without modulo bias.
 * \param r the generator
 * \param n the number of outcomes, > 0
 * \return an integer in [0, n)
 */
uint32_t rng_below(Rng *r, uint32_t n);
/**
 * \brief Standard normal N(0, 1).
 * \param r the generator
 * \return one sample
 */
float rng_normal(Rng *r);

/**
 * \brief Fills m with uniform numbers on [lo, hi).
 * \param[out] m (R, C)
 * \param r the generator
 * \param lo the lower end, included
 * \param hi the upper end, excluded
 */
void mat_rand_uniform(Mat m, Rng *r, float lo, float hi);
/**
 * \brief Fills m with normal numbers N(mean, std^2).
 * \param[out] m (R, C)
 * \param r the generator
 * \param mean the mean
 * \param std the standard deviation
 */
void mat_rand_normal(Mat m, Rng *r, float mean, float std);
/**
 * \brief Xavier (Glorot) uniform for a weight of shape (fan_out, fan_in):
 * U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
 * \param[out] m (fan_out, fan_in)
 * \param r the generator
 * \param gain the factor in front (1 for PyTorch's default)
 */
void mat_rand_xavier(Mat m, Rng *r, float gain);

/** @} */

#endif
