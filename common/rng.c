/*
 * rng.c - PCG32 and the samplers built on it (see rng.h).
 * Introduced with chapter 1.
 */
#include "rng.h"

#include <math.h>

/* PCG32 ("XSH RR"): a 64-bit linear congruential state, and an output that
 * xorshifts the high bits and rotates them by an amount the state chooses. */
uint32_t rng_u32(Rng *r)
{
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

void rng_seed_stream(Rng *r, uint64_t seed, uint64_t stream)
{
    r->state = 0;
    r->inc = (stream << 1) | 1u;   /* the increment must be odd */
    rng_u32(r);
    r->state += seed;
    rng_u32(r);
}

void rng_seed(Rng *r, uint64_t seed) { rng_seed_stream(r, seed, RNG_DEFAULT_STREAM); }

float rng_uniform(Rng *r)
{
    /* The top 24 bits fill a float32 mantissa exactly: k / 2^24, k < 2^24. */
    return (float)(rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

uint32_t rng_below(Rng *r, uint32_t n)
{
    /* Reject the last partial copy of [0, n) so every value is equally likely. */
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t x = rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

float rng_normal(Rng *r)
{
    /* Box-Muller: two uniforms on (0, 1] give one standard normal. */
    double u1 = ((double)(rng_u32(r) >> 8) + 1.0) / 16777216.0;
    double u2 = (double)(rng_u32(r) >> 8) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void mat_rand_uniform(Mat m, Rng *r, float lo, float hi)
{
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < m.cols; j++) MAT_AT(m, i, j) = lo + (hi - lo) * rng_uniform(r);
}

void mat_rand_normal(Mat m, Rng *r, float mean, float std)
{
    for (int i = 0; i < m.rows; i++)
        for (int j = 0; j < m.cols; j++) MAT_AT(m, i, j) = mean + std * rng_normal(r);
}

void mat_rand_xavier(Mat m, Rng *r, float gain)
{
    /* A weight (fan_out, fan_in) maps fan_in inputs to fan_out outputs. */
    float a = gain * sqrtf(6.0f / (float)(m.rows + m.cols));
    mat_rand_uniform(m, r, -a, a);
}
