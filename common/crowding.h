/**
 * \file crowding.h
 * \brief Running on one thread while another program holds a core.
 *
 * OpenMP's threads wait for each other at the end of every parallel loop by
 * spinning, on the assumption that each has a core of its own. When another
 * program runs on one of the cores, the last thread may not run until the
 * scheduler's next time slice, and each barrier lasts milliseconds instead
 * of microseconds: a training step of chapter 10's demo model that takes
 * 3 ms on one thread took 1.7 s on two. So a stretch of parallel work (a
 * training step, a decoding step) starts by timing one empty parallel
 * region, and ends by checking that its threads were running (the
 * process's CPU time against the wall time); if either says the cores are
 * busy, the stretches run on one thread for a while: 1 s, twice as long
 * after each try that finds the cores still busy, at most 64 s. The
 * callers' results do not depend on the number of threads, only their speed.
 *
 * Used by chapter 10's batched step and chapter 11's decoder.
 * \ingroup api_common
 */
#ifndef CROWDING_H
#define CROWDING_H

/** \addtogroup api_common
 *  @{ */

/** \brief What the stretches so far found: whether to stay on one thread. */
typedef struct {
    double alone_until;   ///< now_seconds() until which stretches run on one thread
    double alone_for;     ///< how long the last such period was; 0 after a good stretch
} Crowding;

/** \brief A stretch of work under way. */
typedef struct {
    int threads;          ///< OpenMP's number of threads before the stretch
    int use;              ///< the stretch's
    double wall;          ///< when it started (now_seconds())
    double cpu;           ///< the process's CPU time then
} Stretch;

/**
 * \brief Starts a stretch: on one thread if the cores were found busy
 * lately, or if starting the threads takes too long now; else on all.
 * Sets OpenMP's number of threads for the stretch.
 * \param c the record, kept from stretch to stretch
 * \return the stretch, for crowding_end
 */
Stretch crowding_begin(Crowding *c);

/**
 * \brief Ends a stretch: restores the number of threads and, if judge is
 * 1, records whether each thread had a core.
 * \param c the record
 * \param s the stretch crowding_begin returned
 * \param judge 0 for a stretch whose time says nothing (one that filled
 *        freshly allocated memory on one thread, say)
 */
void crowding_end(Crowding *c, const Stretch *s, int judge);

/** @} */

#endif
