/*
 * rng.h - a seeded random number generator whose stream is the same on every
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
 */
#ifndef RNG_H
#define RNG_H

#include <stdint.h>
#include "mat.h"

typedef struct {
    uint64_t state;   /* advances with every draw */
    uint64_t inc;     /* stream selector, always odd */
} Rng;

/* Starts a generator; the same seed always gives the same stream. */
void rng_seed(Rng *r, uint64_t seed);
/* The same, choosing one of 2^63 independent streams too (PCG's initseq);
 * rng_seed(r, s) is rng_seed_stream(r, s, RNG_DEFAULT_STREAM). */
#define RNG_DEFAULT_STREAM 0xda3e39cb94b95bdbULL
void rng_seed_stream(Rng *r, uint64_t seed, uint64_t stream);
/* The next 32 random bits. */
uint32_t rng_u32(Rng *r);
/* Uniform on [0, 1), with 24 random bits (every float32 step is reachable). */
float rng_uniform(Rng *r);
/* Uniform integer on [0, n), without modulo bias. n > 0. */
uint32_t rng_below(Rng *r, uint32_t n);
/* Standard normal N(0, 1). */
float rng_normal(Rng *r);

/* Fill a matrix: uniform on [lo, hi), normal N(mean, std^2), or Xavier
 * (Glorot) uniform for a weight of shape (fan_out, fan_in):
 *   U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)). */
void mat_rand_uniform(Mat m, Rng *r, float lo, float hi);
void mat_rand_normal(Mat m, Rng *r, float mean, float std);
void mat_rand_xavier(Mat m, Rng *r, float gain);

#endif
