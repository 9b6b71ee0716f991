/*
 * allreduce.c - chapter 12: summing a vector across ranks (see allreduce.h).
 */
#include "allreduce.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

/* MPI counts are ints: longer vectors go in pieces of at most this many. */
enum { MPI_PIECE = 1 << 30 };

int allreduce_parse(const char *name, AllreduceKind *k)
{
    if (strcmp(name, "mpi") == 0) *k = ALLREDUCE_MPI;
    else if (strcmp(name, "ring") == 0) *k = ALLREDUCE_RING;
    else return -1;
    return 0;
}

const char *allreduce_name(AllreduceKind k)
{
    return k == ALLREDUCE_MPI ? "MPI_Allreduce" : "ring";
}

void allreduce_sum(float *x, size_t n, AllreduceKind kind, MPI_Comm comm)
{
    if (kind == ALLREDUCE_RING) {
        ring_allreduce(x, n, comm);
        return;
    }
    for (size_t at = 0; at < n; at += MPI_PIECE) {
        int len = (int)(n - at < MPI_PIECE ? n - at : MPI_PIECE);
        MPI_Allreduce(MPI_IN_PLACE, x + at, len, MPI_FLOAT, MPI_SUM, comm);
    }
}

/* Chunk c of N is x[lo, lo + len): N nearly equal pieces, the last ones
 * shorter (or empty, when n < N). */
static size_t chunk_lo(size_t n, int N, int c)
{
    size_t size = (n + (size_t)N - 1) / (size_t)N, lo = size * (size_t)c;
    return lo < n ? lo : n;
}

static int chunk_len(size_t n, int N, int c)
{
    return (int)(chunk_lo(n, N, c + 1) - chunk_lo(n, N, c));
}

//! [ring_allreduce]
void ring_allreduce(float *x, size_t n, MPI_Comm comm)
{
    int rank, N;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &N);
    if (N == 1) return;
    int next = (rank + 1) % N, prev = (rank + N - 1) % N;
    float *in = xmalloc((size_t)chunk_len(n, N, 0) + 1, sizeof *in, "a ring message");

    /* Reduce-scatter. At step s rank r passes chunk r - s on to r + 1 and
     * adds chunk r - s - 1, arriving from r - 1, into its own copy: each
     * chunk travels once round the ring collecting one term per rank, and
     * after N - 1 steps rank r holds the whole sum of chunk r + 1. */
    for (int s = 0; s < N - 1; s++) {
        int send = (rank - s + N) % N, recv = (rank - s - 1 + N) % N;
        MPI_Sendrecv(x + chunk_lo(n, N, send), chunk_len(n, N, send), MPI_FLOAT, next, 0, in,
                     chunk_len(n, N, recv), MPI_FLOAT, prev, 0, comm, MPI_STATUS_IGNORE);
        float *acc = x + chunk_lo(n, N, recv);
        for (int i = 0; i < chunk_len(n, N, recv); i++) acc[i] += in[i];
    }
    /* All-gather. The finished chunks go round once more, copied this time:
     * at step s rank r passes on chunk r + 1 - s and receives chunk r - s. */
    for (int s = 0; s < N - 1; s++) {
        int send = (rank + 1 - s + N) % N, recv = (rank - s + N) % N;
        MPI_Sendrecv(x + chunk_lo(n, N, send), chunk_len(n, N, send), MPI_FLOAT, next, 1,
                     x + chunk_lo(n, N, recv), chunk_len(n, N, recv), MPI_FLOAT, prev, 1, comm,
                     MPI_STATUS_IGNORE);
    }
    free(in);
}
//! [ring_allreduce]

/* FNV-1a, 64 bits: enough to tell two copies of the parameters apart. */
static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

int same_on_all_ranks(const float *x, size_t n, MPI_Comm comm)
{
    uint64_t h = hash_bytes(x, n * sizeof *x), lo, hi;
    MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, comm);
    MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, comm);
    return lo == hi;
}
