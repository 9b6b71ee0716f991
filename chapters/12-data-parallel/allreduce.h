/*
 * allreduce.h - chapter 12: all-reduce, the one collective operation that
 * data-parallel training needs.
 *
 * N processes (MPI "ranks") each hold a vector x_r of n floats; afterwards
 * every rank holds the same vector, the sum x_0 + x_1 + ... + x_{N-1}.
 * Two ways to do it:
 *   - MPI_Allreduce, the library's, which picks an algorithm by the message
 *     size and the number of ranks (and may use shared memory or the
 *     network's hardware);
 *   - ring_allreduce, the ring algorithm written out with point-to-point
 *     messages: a reduce-scatter, then an all-gather, each N - 1 steps
 *     round the ring r -> r + 1. Every rank sends and receives
 *     2 (N - 1) / N * n floats in all, whatever N is: the least any
 *     all-reduce can send, which is why it scales.
 * Both leave bit-identical results on every rank (each sum is made once,
 * then copied), which keeps the ranks' parameters identical (chapter page).
 * Assumes MPI is initialised. Introduced with chapter 12.
 */
#ifndef ALLREDUCE_H
#define ALLREDUCE_H

#include <stddef.h>
#include <mpi.h>

typedef enum { ALLREDUCE_MPI, ALLREDUCE_RING } AllreduceKind;

/* "mpi" or "ring" -> 0 and *k; -1 if it is neither. */
int allreduce_parse(const char *name, AllreduceKind *k);
const char *allreduce_name(AllreduceKind k);

/* In place: x (n) becomes the sum over the ranks of comm of their x. */
void allreduce_sum(float *x, size_t n, AllreduceKind kind, MPI_Comm comm);

/* The same with the ring algorithm, from MPI_Sendrecv alone. */
void ring_allreduce(float *x, size_t n, MPI_Comm comm);

/* 1 if x (n floats) is the same, bit for bit, on every rank of comm
 * (a 64-bit hash of the bytes, compared by one small all-reduce). */
int same_on_all_ranks(const float *x, size_t n, MPI_Comm comm);

#endif
