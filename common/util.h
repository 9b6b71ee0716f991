/*
 * util.h - the small things every other file leans on: checked allocation,
 * error messages that carry their place, and writing a file so that a crash
 * or a full disk never leaves half of it behind.
 *
 * Assumes: C11 and POSIX (rename, fsync). Introduced with chapter 1.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdio.h>

/* An error message filled in by a function that failed and read by its
 * caller, who decides whether to print it, exit, or try something else.
 * Messages name the file or option first: "Q.npy: truncated: ...". */
typedef struct {
    char msg[512];
} Error;

/* Sets err->msg with printf formatting; returns -1 so that a failing function
 * can say `return error_set(err, "...")`. err may be NULL. */
int error_set(Error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Allocation that never returns NULL: on failure it prints how many bytes
 * were asked for, by whom, and exits 1. n * size is checked for overflow. */
void *xmalloc(size_t n, size_t size, const char *what);
void *xcalloc(size_t n, size_t size, const char *what);
void *xrealloc(void *p, size_t n, size_t size, const char *what);
char *xstrdup(const char *s);

/* Writing a file safely: output goes to "<path>.tmp-<pid>" and only becomes
 * <path> (by rename) once every byte is written and flushed. If anything
 * fails, the temporary is removed and the old <path>, if any, is untouched.
 *
 *   AtomicFile af;
 *   if (atomic_open(&af, path, err) != 0) return -1;
 *   fwrite(..., af.fp); ...
 *   return atomic_commit(&af, err);       // or atomic_abort(&af) */
typedef struct {
    FILE *fp;          /* write here */
    char *path;        /* final name */
    char *tmp;         /* temporary name, renamed to path on commit */
} AtomicFile;

int atomic_open(AtomicFile *af, const char *path, Error *err);
int atomic_commit(AtomicFile *af, Error *err);
void atomic_abort(AtomicFile *af);

/* Creates a directory and its parents ("mkdir -p"); 0 on success. */
int make_dirs(const char *path, Error *err);

/* Joins a directory and a file name into a new string ("out" + "a.png"). */
char *path_join(const char *dir, const char *name);

#endif
