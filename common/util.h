/**
 * \file util.h
 * \brief The small things every other file leans on: checked allocation,
 * error messages that carry their place, and writing a file so that a crash
 * or a full disk never leaves half of it behind.
 *
 * Assumes: C11 and POSIX (rename, fsync). Introduced with chapter 1.
 * \ingroup api_common
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdio.h>

/** \addtogroup api_common
 *  @{ */

/**
 * \brief An error message filled in by a function that failed and read by its
 * caller, who decides whether to print it, exit, or try something else.
 *
 * Messages name the file or option first: "Q.npy: truncated: ...".
 */
typedef struct {
    char msg[512];   ///< the message, without a newline
} Error;

/**
 * \brief Sets err->msg with printf formatting; returns -1 so that a failing
 * function can say `return error_set(err, "...")`.
 * \param[out] err the error to fill in; may be NULL
 * \param fmt printf format
 * \param ... its values
 * \return -1
 */
int error_set(Error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/**
 * \name Allocation that never returns NULL
 * On failure they print how many bytes were asked for, by whom, and exit 1.
 * n * size is checked for overflow.
 * @{
 */
/**
 * \brief malloc(n * size), or exit 1 with a message naming `what`.
 * \param n number of elements
 * \param size bytes per element
 * \param what names the allocation in the message
 * \return the memory, never NULL
 */
void *xmalloc(size_t n, size_t size, const char *what);
/**
 * \brief calloc(n, size): zeroed, or exit 1 with a message naming `what`.
 * \param n number of elements
 * \param size bytes per element
 * \param what names the allocation in the message
 * \return the memory, never NULL
 */
void *xcalloc(size_t n, size_t size, const char *what);
/**
 * \brief realloc(p, n * size), or exit 1 with a message naming `what`.
 * \param p the old block, or NULL
 * \param n number of elements
 * \param size bytes per element
 * \param what names the allocation in the message
 * \return the memory, never NULL
 */
void *xrealloc(void *p, size_t n, size_t size, const char *what);
/**
 * \brief A copy of s, or exit 1.
 * \param s a string
 * \return the copy, to free
 */
char *xstrdup(const char *s);
/** @} */

/**
 * \brief Writing a file safely: output goes to `<path>.tmp-<pid>` and only
 * becomes `<path>` (by rename) once every byte is written and flushed.
 *
 * If anything fails, the temporary is removed and the old `<path>`, if any,
 * is untouched.
 * \code
 *   AtomicFile af;
 *   if (atomic_open(&af, path, err) != 0) return -1;
 *   fwrite(..., af.fp); ...
 *   return atomic_commit(&af, err);       // or atomic_abort(&af)
 * \endcode
 */
typedef struct {
    FILE *fp;          ///< write here
    char *path;        ///< final name
    char *tmp;         ///< temporary name, renamed to path on commit
} AtomicFile;

/**
 * \brief Opens the temporary file of path for writing.
 *
 * Temporaries of path left by a process killed while writing it are
 * removed first (quietly; see atomic_remove_stale).
 * \param[out] af the file to write to
 * \param path the final name
 * \param[out] err the message on failure
 * \return 0, or -1 with err set
 */
int atomic_open(AtomicFile *af, const char *path, Error *err);
/**
 * \brief Flushes, syncs and renames the temporary to the final name.
 * \param af a file from atomic_open
 * \param[out] err the message on failure (the temporary is removed then)
 * \return 0, or -1 with err set
 */
int atomic_commit(AtomicFile *af, Error *err);
/**
 * \brief Gives up: closes and removes the temporary; the old file stays.
 * \param af a file from atomic_open
 */
void atomic_abort(AtomicFile *af);
/**
 * \brief Removes the temporaries of path (path.tmp-PID) whose process no
 * longer runs: what a program killed while writing (kill -9, a power cut)
 * left behind. Each removal is said on stdout.
 * \param path the final name of a file written through atomic_open
 */
void atomic_remove_stale(const char *path);

/**
 * \brief Creates a directory and its parents ("mkdir -p").
 * \param path the directory
 * \param[out] err the message on failure
 * \return 0 on success, -1 with err set
 */
int make_dirs(const char *path, Error *err);

/**
 * \brief Joins a directory and a file name into a new string ("out" + "a.png").
 * \param dir a directory
 * \param name a file name
 * \return "dir/name", to free
 */
char *path_join(const char *dir, const char *name);

/** @} */

#endif
