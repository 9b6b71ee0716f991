/*
 * crowding.c - one thread while the cores are busy (see crowding.h).
 */
#include "crowding.h"

#include <math.h>
#include <time.h>
#include "report.h"

#ifdef _OPENMP
#include <omp.h>

/* Threads share a core with another program when starting and joining
 * them takes longer than CROWDED_START seconds, or when they got less than
 * CROWDED_SHARE of a core each during a stretch. */
#define CROWDED_START 5e-4
#define CROWDED_SHARE 0.75
#define ALONE_MIN 1.0
#define ALONE_MAX 64.0

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);   /* every thread of the process */
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The cores are busy: one thread from now on, for twice as long as the last time. */
static void go_alone(Crowding *c, double now)
{
    c->alone_for = c->alone_for > 0.0 ? fmin(2.0 * c->alone_for, ALONE_MAX) : ALONE_MIN;
    c->alone_until = now + c->alone_for;
}

Stretch crowding_begin(Crowding *c)
{
    Stretch s = {omp_get_max_threads(), 1, now_seconds(), cpu_seconds()};
    if (s.threads > 1 && !omp_in_parallel() && s.wall >= c->alone_until) {
#pragma omp parallel num_threads(s.threads)
        {
            /* nothing: every thread starts, and meets the others at the end */
        }
        if (now_seconds() - s.wall < CROWDED_START) s.use = s.threads;
        else go_alone(c, s.wall);
    }
    if (s.use != s.threads) omp_set_num_threads(s.use);
    return s;
}

void crowding_end(Crowding *c, const Stretch *s, int judge)
{
    if (s->use != s->threads) omp_set_num_threads(s->threads);
    if (s->use > 1 && judge) {   /* did each thread have a core? */
        double now = now_seconds();
        if (cpu_seconds() - s->cpu < CROWDED_SHARE * s->use * (now - s->wall)) go_alone(c, now);
        else c->alone_for = 0.0;
    }
}

#else

Stretch crowding_begin(Crowding *c)
{
    (void)c;
    Stretch s = {1, 1, 0.0, 0.0};
    return s;
}

void crowding_end(Crowding *c, const Stretch *s, int judge)
{
    (void)c;
    (void)s;
    (void)judge;
}

#endif
