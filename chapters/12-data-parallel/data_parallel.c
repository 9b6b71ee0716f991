/*
 * data_parallel.c - chapter 12: one batch's gradient from N ranks (see
 * data_parallel.h and the chapter page).
 */
#include "data_parallel.h"

#include "loss.h"

Shard shard_rows(int B, int rank, int size)
{
    int base = B / size, extra = B % size;   /* the first `extra` ranks take one row more */
    Shard s = {rank * base + (rank < extra ? rank : extra), base + (rank < extra ? 1 : 0)};
    return s;
}

Batch batch_rows(const Batch *b, Shard s)
{
    Batch r = {s.n, b->S, b->T, b->src + (size_t)s.lo * (size_t)b->S,
               b->tgt + (size_t)s.lo * (size_t)b->T, b->tgt_out + (size_t)s.lo * (size_t)b->T};
    return r;
}

//! [rng_skip]
void rng_skip(Rng *r, uint64_t n)
{
    /* One draw maps the state s to a s + c (rng_u32: a is PCG32's multiplier,
     * c the stream's increment). n draws are again one such map, A s + C,
     * found by squaring: the map of 2^k draws composed with itself is the
     * map of 2^(k+1) draws. */
    uint64_t a = 6364136223846793005ULL, c = r->inc;   /* the map of 2^k draws */
    uint64_t A = 1, C = 0;                              /* the map of the draws so far */
    for (; n > 0; n >>= 1) {
        if (n & 1) {
            A *= a;
            C = C * a + c;
        }
        c *= a + 1;   /* (a s + c) twice: a^2 s + (a + 1) c */
        a *= a;
    }
    r->state = A * r->state + C;
}
//! [rng_skip]

uint64_t dropout_draws(const TransformerConfig *c, int S, int T)
{
    /* After the source embeddings and each of the two sublayers of every
     * encoder layer (S x E each); after the target embeddings and each of
     * the three sublayers of every decoder layer (T x E each). */
    return (uint64_t)c->E * ((uint64_t)S * (1 + 2 * (uint64_t)c->enc_layers) +
                             (uint64_t)T * (1 + 3 * (uint64_t)c->dec_layers));
}

void dp_init(DataParallel *dp, MPI_Comm comm, AllreduceKind kind)
{
    dp->comm = comm;
    MPI_Comm_rank(comm, &dp->rank);
    MPI_Comm_size(comm, &dp->size);
    dp->kind = kind;
    dp->compute = dp->exchange = 0.0;
}

/* The target tokens of my rows, and of the whole batch (collective). */
static long count_tokens(const DataParallel *dp, const Batch *mine, long *total)
{
    long count = loss_count(mine->tgt_out, mine->B * mine->T);
    MPI_Allreduce(&count, total, 1, MPI_LONG, MPI_SUM, dp->comm);
    return count;
}

//! [dp_backward]
double dp_backward(DataParallel *dp, Transformer *m, const Batch *mine, float smoothing,
                   float dropout, Rng *drop)
{
    double t0 = MPI_Wtime();
    long total, count = count_tokens(dp, mine, &total);   /* c_r, and C = sum of c_r */
    double t1 = MPI_Wtime();

    /* The mean over my rows (chapter 10), then my share of the batch's
     * mean: (1 / c_r) sum over my tokens, times c_r / C. */
    double loss = transformer_backward(m, mine, smoothing, dropout, drop);
    float share = total > 0 ? (float)count / (float)total : 0.0f;   /* exactly 1 on one rank */
    for (size_t i = 0; i < m->params.size; i++) m->params.grad[i] *= share;
    loss *= total > 0 ? (double)count / (double)total : 0.0;
    double t2 = MPI_Wtime();

    /* The sum of the shares: the whole batch's gradient, on every rank. */
    allreduce_sum(m->params.grad, m->params.size, dp->kind, dp->comm);
    MPI_Allreduce(MPI_IN_PLACE, &loss, 1, MPI_DOUBLE, MPI_SUM, dp->comm);
    dp->compute += t2 - t1;
    dp->exchange += (t1 - t0) + (MPI_Wtime() - t2);
    return loss;
}
//! [dp_backward]

double dp_loss(DataParallel *dp, const Transformer *m, const Batch *mine, float smoothing)
{
    long total, count = count_tokens(dp, mine, &total);
    double loss = transformer_loss(m, mine, smoothing);
    loss *= total > 0 ? (double)count / (double)total : 0.0;
    MPI_Allreduce(MPI_IN_PLACE, &loss, 1, MPI_DOUBLE, MPI_SUM, dp->comm);
    return loss;
}
