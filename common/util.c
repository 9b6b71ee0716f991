/*
 * util.c - checked allocation, error messages, atomic file writes.
 * See util.h. Introduced with chapter 1.
 */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int error_set(Error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static _Noreturn void out_of_memory(size_t n, size_t size, const char *what)
{
    fprintf(stderr, "out of memory: %s needs %zu x %zu bytes\n",
            what ? what : "an allocation", n, size);
    exit(1);
}

void *xmalloc(size_t n, size_t size, const char *what)
{
    if (size && n > SIZE_MAX / size) out_of_memory(n, size, what);
    size_t bytes = n * size;
    void *p = malloc(bytes > 0 ? bytes : 1);
    if (!p) out_of_memory(n, size, what);
    return p;
}

void *xcalloc(size_t n, size_t size, const char *what)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) out_of_memory(n, size, what);
    return p;
}

void *xrealloc(void *p, size_t n, size_t size, const char *what)
{
    if (size && n > SIZE_MAX / size) out_of_memory(n, size, what);
    size_t bytes = n * size;
    void *q = realloc(p, bytes > 0 ? bytes : 1);
    if (!q) out_of_memory(n, size, what);
    return q;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n, 1, "a string");
    memcpy(d, s, n);
    return d;
}

char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = xmalloc(a + b + 2, 1, "a path");
    memcpy(p, dir, a);
    size_t k = a;
    if (a > 0 && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int make_dirs(const char *path, Error *err)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                error_set(err, "%s: cannot create directory: %s", p, strerror(errno));
                free(p);
                return -1;
            }
            struct stat st;
            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
                error_set(err, "%s: exists and is not a directory", p);
                free(p);
                return -1;
            }
            *s = c;
            if (c == '\0') break;
        }
    }
    free(p);
    return 0;
}

static void remove_stale(const char *path, int loud);

int atomic_open(AtomicFile *af, const char *path, Error *err)
{
    struct stat st;
    af->fp = NULL;
    af->path = af->tmp = NULL;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return error_set(err, "%s: is a directory, not a file", path);
    remove_stale(path, 0);   /* a temporary of this file from a killed run */
    af->path = xstrdup(path);
    af->tmp = xmalloc(strlen(path) + 32, 1, "a path");
    sprintf(af->tmp, "%s.tmp-%ld", path, (long)getpid());
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp) {
        error_set(err, "%s: cannot write: %s", path, strerror(errno));
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return -1;
    }
    return 0;
}

void atomic_abort(AtomicFile *af)
{
    if (af->fp) fclose(af->fp);
    if (af->tmp) remove(af->tmp);
    free(af->path);
    free(af->tmp);
    af->fp = NULL;
    af->path = af->tmp = NULL;
}

int atomic_commit(AtomicFile *af, Error *err)
{
    int bad = ferror(af->fp) || fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0;
    int saved = errno;
    if (fclose(af->fp) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    af->fp = NULL;
    if (!bad && rename(af->tmp, af->path) != 0) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        error_set(err, "%s: write failed: %s", af->path, strerror(saved));
        atomic_abort(af);
        return -1;
    }
    free(af->path);
    free(af->tmp);
    af->path = af->tmp = NULL;
    return 0;
}

/* Removes PATH.tmp-PID files whose process PID is gone; says so if loud. */
static void remove_stale(const char *path, int loud)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    if (slash == dir) {          /* a checkpoint in / */
        dir[1] = '\0';
        base = path + 1;
    } else if (slash) {
        *slash = '\0';
    }
    const char *where = slash ? dir : ".";
    size_t n = strlen(base);
    DIR *d = opendir(where);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, n) != 0 || strncmp(e->d_name + n, ".tmp-", 5) != 0) continue;
        char *end;
        long pid = strtol(e->d_name + n + 5, &end, 10);
        if (*end != '\0' || pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   /* still running */
        char *stale = path_join(where, e->d_name);
        if (remove(stale) == 0 && loud)
            printf("Removed %s, left by a run killed while writing.\n", stale);
        free(stale);
    }
    if (d) closedir(d);
    free(dir);
}

void atomic_remove_stale(const char *path)
{
    remove_stale(path, 1);
}
