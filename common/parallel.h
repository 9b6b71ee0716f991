/**
 * \file parallel.h
 * \brief OMP(directive): an OpenMP pragma that vanishes in a build without
 * OpenMP (make OMP=0), so the loops it marks stay plain, correct C.
 *
 *     OMP(omp parallel for schedule(static))
 *     for (int i = 0; i < n; i++) ...
 * \ingroup api_common
 */
#ifndef PARALLEL_H
#define PARALLEL_H

#ifdef _OPENMP
#include <omp.h>
/** \brief `_Pragma` of the directive with OpenMP; nothing without it. */
#define OMP(directive) _Pragma(#directive)
#else
/** \brief Without OpenMP: nothing, the loop runs on one thread. */
#define OMP(directive)
#endif

#endif
