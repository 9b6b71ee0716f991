/*
 * bookpage.c - turns the book's Markdown pages into Doxygen pages, for
 * `make docs`. The pages stay plain Markdown that reads on any Git host;
 * this step adds what only Doxygen can do:
 *
 *   $$ ... $$ and $ ... $       ->  \f[ ... \f] and \f$ ... \f$ (MathJax); both
 *                                   may go on over lines, $ within its paragraph
 *   <!-- snippet: FILE REGION -->
 *   ```c ... ```                ->  \snippet FILE REGION, the real code
 *   "chapter N" in the prose    ->  a link to that chapter's page
 *   [..](chapters/NN-x/README.md) ->  a link to that chapter's page
 *   `name` of a function        ->  `name()`, which Doxygen links to the API
 *   `NAME.png` of a figure      ->  the figure itself, after the paragraph
 *   `NAME.gif` of an animation  ->  the same, the GIF animating in the page
 *   the end of a chapter page   ->  links to the previous and next chapter
 *                                   and to the chapter's API group
 *
 * Usage: bookpage OUTDIR FIGDIR README.md chapters/NN-slug/README.md ...
 * The first page becomes the main page (OUTDIR/index.md); chapter NN's page
 * becomes OUTDIR/chNN.md, labelled chNN, and its figures, FIGDIR/chNN/NAME.png
 * and NAME.gif as the chapter's demo wrote them, are copied to
 * OUTDIR/images/chNN_NAME.png or .gif (one flat folder for Doxygen's IMAGE_PATH,
 * without clashes between chapters). Every chapter given is assumed to have
 * an API group api_chNN (a \defgroup in its header). Function names for the
 * links come from the headers of common/ and the chapters' headers.
 *
 * A page that this step cannot convert (an unmatched $, a snippet marker
 * without its code block) is an error naming the page and the line, so the
 * book never shows a half-converted formula. Exit status 0, or 1 on error.
 * Assumes: C11 and POSIX (glob, dirent); run from the repository's root.
 */
#include <dirent.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_CHAPTERS = 100, MAX_FIGURES = 64, MAX_NAMES = 4096 };

/* ------------------------------------------------------------ small helpers */

static const char *page_path;   /* the page being converted, for messages */
static int page_line;           /* its current line, from 1 */

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bookpage: ");
    if (page_path) fprintf(stderr, "%s:%d: ", page_path, page_line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* The whole file as a string, or NULL if it cannot be read. */
static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 4096, len = 0, got;
    char *s = xmalloc(cap);
    while ((got = fread(s + len, 1, cap - len - 1, fp)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            char *t = realloc(s, cap *= 2);
            if (!t) die("out of memory reading %s", path);
            s = t;
        }
    }
    fclose(fp);
    s[len] = '\0';
    return s;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    if (!in || !out) die("cannot copy %s to %s", from, to);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) die("cannot write %s", to);
    fclose(in);
    if (fclose(out) != 0) die("cannot write %s", to);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* ------------------------------------------------------------ the book */

typedef struct {
    int number;          /* 1, 2, ... */
    char label[16];      /* "ch01": the page's Doxygen label */
    const char *page;    /* chapters/01-dot-product-attention/README.md */
} Chapter;

static Chapter chapters[MAX_CHAPTERS];
static int nchapters;

/* Function names declared in the headers, for `name` -> `name()`. */
static char *function_names[MAX_NAMES];
static int nfunction_names;

static const Chapter *chapter_by_number(int n)
{
    for (int c = 0; c < nchapters; c++)
        if (chapters[c].number == n) return &chapters[c];
    return NULL;
}

/* "chapters/07-encoder/README.md" (or "../07-encoder/README.md") -> 7, or -1. */
static int chapter_of_page(const char *path)
{
    const char *end = strstr(path, "/README.md");
    if (!end || end[10] != '\0') return -1;
    const char *dir = end;
    while (dir > path && dir[-1] != '/') dir--;
    if (!is_digit(dir[0]) || !is_digit(dir[1]) || dir[2] != '-') return -1;
    return (dir[0] - '0') * 10 + (dir[1] - '0');
}

/* Adds the name of every function a header declares: a line at file scope
 * (not indented, not a preprocessor line, outside comments) with a '(' has
 * the function's name just before it. */
static void scan_header(const char *path)
{
    char *text = read_file(path);
    if (!text) die("cannot read %s", path);
    int in_comment = 0;
    for (char *line = text; *line;) {
        char *eol = strchr(line, '\n');
        if (!eol) eol = line + strlen(line);
        if (in_comment) {
            char *close = strstr(line, "*/");
            if (close && close < eol) in_comment = 0;
        } else if (starts_with(line, "/*")) {
            char *close = strstr(line + 2, "*/");
            if (!close || close > eol) in_comment = 1;
        } else if (*line != ' ' && *line != '\t' && *line != '#' && *line != '}' &&
                   !starts_with(line, "//")) {
            char *paren = memchr(line, '(', (size_t)(eol - line));
            char *name_end = paren;
            while (name_end && name_end > line && name_end[-1] == ' ') name_end--;
            char *name = name_end;
            while (name && name > line && is_word_char(name[-1])) name--;
            if (name && name < name_end && nfunction_names < MAX_NAMES)
                function_names[nfunction_names++] = xstrndup(name, (size_t)(name_end - name));
        }
        line = *eol ? eol + 1 : eol;
    }
    free(text);
}

static void scan_headers(const char *pattern)
{
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0) return;
    for (size_t i = 0; i < g.gl_pathc; i++) scan_header(g.gl_pathv[i]);
    globfree(&g);
}

static int is_function_name(const char *s, size_t n)
{
    for (int i = 0; i < nfunction_names; i++)
        if (strlen(function_names[i]) == n && memcmp(function_names[i], s, n) == 0) return 1;
    return 0;
}

/* ------------------------------------------------------------ one page */

typedef struct {
    char name[128];      /* "weights" for weights.png */
    const char *ext;     /* ".png", or ".gif" for an animation */
    int placed;          /* 1 once it is in the page */
    int pending;         /* mentioned: goes in at the end of the paragraph, */
    int order;           /* in the order of the mentions */
} Figure;

typedef struct {
    FILE *out;
    const Chapter *chapter;   /* NULL for the main page */
    Figure figures[MAX_FIGURES];
    int nfigures;
    int in_math;              /* inside a formula that spans lines: 2 for $$ ... $$, */
                              /* 1 for $ ... $ (within its paragraph), else 0 */
    int in_span;              /* inside a code span that spans lines: its backticks */
    int order;                /* figures mentioned so far */
    int linked[MAX_CHAPTERS]; /* chapter c already linked in this paragraph */
} Page;

/* The extension of a figure's file name ("NAME.png" or "NAME.gif", n
 * characters), or NULL if it is not one. */
static const char *figure_ext(const char *file, size_t n)
{
    static const char *const exts[] = {".png", ".gif"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (n > 4 && memcmp(file + n - 4, exts[i], 4) == 0) return exts[i];
    return NULL;
}

/* The chapter's figures as its demo wrote them: FIGDIR/chNN/NAME.png (or
 * .gif), each copied to OUTDIR/images/chNN_NAME.png. */
static void collect_figures(Page *p, const char *figdir, const char *outdir)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", figdir, p->chapter->label);
    DIR *d = opendir(dir);
    if (!d) return;   /* a chapter without figures, or no gnuplot */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        const char *ext = figure_ext(e->d_name, n);
        if (!ext || n - 4 >= sizeof p->figures[0].name) continue;
        if (p->nfigures == MAX_FIGURES) die("more than %d figures in %s", MAX_FIGURES, dir);
        Figure *f = &p->figures[p->nfigures++];
        memcpy(f->name, e->d_name, n - 4);
        f->name[n - 4] = '\0';
        f->ext = ext;
        f->placed = f->pending = 0;
        char from[2048], to[2048];
        snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
        snprintf(to, sizeof to, "%s/images/%s_%s", outdir, p->chapter->label, e->d_name);
        copy_file(from, to);
    }
    closedir(d);
    /* readdir's order is the file system's: sort, so the page is the same everywhere */
    for (int i = 1; i < p->nfigures; i++)
        for (int j = i; j > 0 && strcmp(p->figures[j - 1].name, p->figures[j].name) > 0; j--) {
            Figure t = p->figures[j];
            p->figures[j] = p->figures[j - 1];
            p->figures[j - 1] = t;
        }
}

/* A code span naming "NAME.png" or "out/chNN/NAME.png" (or .gif) of this
 * chapter marks that figure to be shown after the current paragraph. */
static void note_figure(Page *p, const char *span, size_t n)
{
    const char *ext = figure_ext(span, n);
    if (!ext) return;
    const char *base = span + n;
    while (base > span && base[-1] != '/') base--;
    for (int i = 0; i < p->nfigures; i++) {
        Figure *f = &p->figures[i];
        if (!f->placed && f->ext == ext && strlen(f->name) == (size_t)(span + n - 4 - base) &&
            memcmp(f->name, base, strlen(f->name)) == 0 && !f->pending) {
            f->pending = 1;
            f->order = p->order++;
        }
    }
}

static void emit_figure(Page *p, Figure *f)
{
    fprintf(p->out, "\\image html %s_%s%s \"out/%s/%s%s\"\n\n", p->chapter->label, f->name,
            f->ext, p->chapter->label, f->name, f->ext);
    f->placed = 1;
    f->pending = 0;
}

static void flush_figures(Page *p)
{
    for (;;) {
        Figure *first = NULL;
        for (int i = 0; i < p->nfigures; i++)
            if (p->figures[i].pending && (!first || p->figures[i].order < first->order))
                first = &p->figures[i];
        if (!first) break;
        emit_figure(p, first);
    }
}

/* A new paragraph: chapters are linked again, once each. */
static void end_paragraph(Page *p)
{
    memset(p->linked, 0, sizeof p->linked);
}

/* Copies text, linking "chapter N" / "Chapter N" to chapter N's page when
 * it is in the book and is not this page, once a paragraph. */
static void emit_prose(Page *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int cap = s[i] == 'C';
        if ((s[i] == 'c' || cap) && n - i > 9 && memcmp(s + i + 1, "hapter ", 7) == 0 &&
            is_digit(s[i + 8]) && (i == 0 || !is_word_char(s[i - 1]))) {
            size_t j = i + 8;
            int number = 0;
            while (j < n && is_digit(s[j])) number = number * 10 + (s[j++] - '0');
            const Chapter *c = chapter_by_number(number);
            int range = j < n && (s[j] == '-' || is_word_char(s[j]));
            if (c && c != p->chapter && !range && !p->linked[c - chapters]) {
                p->linked[c - chapters] = 1;
                fprintf(p->out, "[%.*s](@ref %s)", (int)(j - i), s + i, c->label);
                i = j;
                continue;
            }
        }
        fputc(s[i++], p->out);
    }
}

/* A Markdown link [text](target): a chapter page becomes a link to its
 * Doxygen page, or plain text when that chapter is not in the book. Returns
 * the length consumed, 0 if s does not start a link. */
static size_t emit_link(Page *p, const char *s, size_t n)
{
    const char *close = memchr(s, ']', n);
    if (!close || (size_t)(close - s) + 1 >= n || close[1] != '(') return 0;
    const char *end = memchr(close, ')', n - (size_t)(close - s));
    if (!end) return 0;
    char *target = xstrndup(close + 2, (size_t)(end - close - 2));
    int number = chapter_of_page(target);
    free(target);
    if (number < 0) {
        fwrite(s, 1, (size_t)(end - s) + 1, p->out);
    } else if (chapter_by_number(number)) {
        fprintf(p->out, "%.*s](@ref %s)", (int)(close - s), s, chapter_by_number(number)->label);
    } else {
        fwrite(s + 1, 1, (size_t)(close - s) - 1, p->out);
    }
    return (size_t)(end - s) + 1;
}

/* One line of prose: code spans, formulas, links. */
static void emit_inline(Page *p, const char *s, size_t n, int heading)
{
    size_t i = 0, plain = 0;   /* s[plain, i) is prose not yet written */
#define FLUSH()                                                   \
    do {                                                          \
        if (heading) fwrite(s + plain, 1, i - plain, p->out);     \
        else emit_prose(p, s + plain, i - plain);                 \
    } while (0)
    if (p->in_span) {   /* the rest of a code span that spans lines */
        size_t j = 0;
        for (;;) {
            while (j < n && s[j] != '`') j++;
            if (j >= n) {
                fwrite(s, 1, n, p->out);
                return;
            }
            size_t run = 0;
            while (j + run < n && s[j + run] == '`') run++;
            j += run;
            if ((int)run == p->in_span) break;
        }
        fwrite(s, 1, j, p->out);
        p->in_span = 0;
        i = plain = j;
    }
    if (p->in_math == 2) {   /* the rest of a $$ formula that spans lines */
        const char *close = strstr(s, "$$");
        if (!close || (size_t)(close - s) >= n) {
            fwrite(s, 1, n, p->out);
            return;
        }
        fwrite(s, 1, (size_t)(close - s), p->out);
        fputs("\\f]", p->out);
        p->in_math = 0;
        i = plain = (size_t)(close - s) + 2;
    } else if (p->in_math == 1) {   /* the rest of a $ formula that spans lines */
        size_t j = 0;
        while (j < n && !(s[j] == '$' && (j == 0 || s[j - 1] != '\\'))) j++;
        if (j >= n) {
            fwrite(s, 1, n, p->out);
            return;
        }
        fwrite(s, 1, j, p->out);
        fputs("\\f$", p->out);
        p->in_math = 0;
        i = plain = j + 1;
    }
    while (i < n) {
        if (s[i] == '\\' && i + 1 < n) {   /* an escaped character: \$ stays a dollar */
            i += 2;
        } else if (s[i] == '`') {
            FLUSH();
            size_t ticks = 0;
            while (i + ticks < n && s[i + ticks] == '`') ticks++;
            size_t j = i + ticks;
            while (j < n) {
                size_t run = 0;
                while (j + run < n && s[j + run] == '`') run++;
                if (run == ticks) break;
                j += run ? run : 1;
            }
            if (j >= n) {   /* it goes on on the next line */
                fwrite(s + i, 1, n - i, p->out);
                p->in_span = (int)ticks;
                return;
            }
            const char *span = s + i + ticks;
            size_t len = j - i - ticks;
            note_figure(p, span, len);
            fwrite(s + i, 1, ticks, p->out);
            fwrite(span, 1, len, p->out);
            if (is_function_name(span, len)) fputs("()", p->out);
            fwrite(s + j, 1, ticks, p->out);
            i = plain = j + ticks;
        } else if (s[i] == '$' && i + 1 < n && s[i + 1] == '$') {
            FLUSH();
            const char *close = strstr(s + i + 2, "$$");
            if (!close || (size_t)(close - s) >= n) {
                fputs("\\f[", p->out);
                fwrite(s + i + 2, 1, n - i - 2, p->out);
                p->in_math = 2;
                return;
            }
            fprintf(p->out, "\\f[%.*s\\f]", (int)(close - s - i - 2), s + i + 2);
            i = plain = (size_t)(close - s) + 2;
        } else if (s[i] == '$') {
            FLUSH();
            size_t j = i + 1;
            while (j < n && !(s[j] == '$' && s[j - 1] != '\\')) j++;
            if (j >= n) {   /* it goes on on the next line of the paragraph */
                fputs("\\f$", p->out);
                fwrite(s + i + 1, 1, n - i - 1, p->out);
                p->in_math = 1;
                return;
            }
            fprintf(p->out, "\\f$%.*s\\f$", (int)(j - i - 1), s + i + 1);
            i = plain = j + 1;
        } else if (s[i] == '[' && !heading) {
            FLUSH();
            size_t used = emit_link(p, s + i, n - i);
            if (used) {
                i = plain = i + used;
            } else {
                plain = i;
                i++;
            }
        } else {
            i++;
        }
    }
    FLUSH();
#undef FLUSH
}

/* A line that continues a list item (or is one), so figures wait for the
 * end of the whole list. */
static int continues_block(const char *line)
{
    if (line[0] == ' ' || starts_with(line, "- ") || starts_with(line, "* ")) return 1;
    size_t d = 0;
    while (is_digit(line[d])) d++;
    return d > 0 && line[d] == '.' && line[d + 1] == ' ';
}

static void emit_nav(Page *p)
{
    const Chapter *c = p->chapter;
    fputs("\n<hr>\n\n", p->out);
    if (c > chapters) fprintf(p->out, "Previous: \\ref %s &nbsp;&middot;&nbsp; ", c[-1].label);
    if (c + 1 < chapters + nchapters)
        fprintf(p->out, "Next: \\ref %s &nbsp;&middot;&nbsp; ", c[1].label);
    fprintf(p->out, "The code of this chapter: \\ref api_%s &nbsp;&middot;&nbsp; "
                    "\\ref index \"Contents\"\n", c->label);
}

/* Converts one page. lines is the page split at '\n' (modified in place). */
static void convert(Page *p, char **lines, int nlines)
{
    int fence = 0, titled = 0;
    for (int l = 0; l < nlines; l++) {
        char *line = lines[l];
        page_line = l + 1;
        if (fence) {
            fprintf(p->out, "%s\n", line);
            if (starts_with(line, "```")) fence = 0;
            continue;
        }
        if (!p->in_math && starts_with(line, "<!-- snippet: ")) {
            char file[512], region[128];
            if (sscanf(line, "<!-- snippet: %511s %127s -->", file, region) != 2)
                die("malformed snippet marker");
            if (l + 1 >= nlines || strcmp(lines[l + 1], "```c") != 0)
                die("no ```c block after the snippet marker of [%s]", region);
            l += 2;
            while (l < nlines && strcmp(lines[l], "```") != 0) l++;
            if (l >= nlines) die("the code block of [%s] never closes", region);
            fprintf(p->out, "\\snippet %s %s\n", file, region);
            continue;
        }
        if (!p->in_math && starts_with(line, "```")) {
            fence = 1;
            fprintf(p->out, "%s\n", line);
            continue;
        }
        if (p->in_math == 1 && line[0] == '\0') die("a $ formula does not close in its paragraph");
        if (!p->in_math && line[0] == '\0') {
            end_paragraph(p);
            int k = l + 1;
            while (k < nlines && lines[k][0] == '\0') k++;
            if (k >= nlines || !continues_block(lines[k])) {
                fputc('\n', p->out);
                flush_figures(p);
                continue;
            }
        }
        if (!p->in_math && !titled && starts_with(line, "# ")) {
            titled = 1;
            if (p->chapter) {   /* the page's title, with the label links use */
                fputs("# ", p->out);
                emit_inline(p, line + 2, strlen(line + 2), 1);
                fprintf(p->out, " {#%s}\n", p->chapter->label);
            } else {
                fprintf(p->out, "\\mainpage %s\n", line + 2);
            }
            continue;
        }
        emit_inline(p, line, strlen(line), line[0] == '#');
        fputc('\n', p->out);
    }
    page_line = nlines;
    if (fence) die("a ``` code block never closes");
    if (p->in_math == 2) die("a $$ formula never closes");
    if (p->in_math == 1) die("a $ formula never closes");
    if (p->in_span) die("a code span never closes");
    fputc('\n', p->out);
    flush_figures(p);
    int others = 0;
    for (int i = 0; i < p->nfigures; i++) others += !p->figures[i].placed;
    if (others) {
        fputs("## The other figures of this chapter\n\n", p->out);
        for (int i = 0; i < p->nfigures; i++)
            if (!p->figures[i].placed) emit_figure(p, &p->figures[i]);
    }
}

static void convert_page(const char *in, const char *outdir, const char *figdir,
                         const Chapter *chapter)
{
    page_path = in;
    page_line = 0;
    char *text = read_file(in);
    if (!text) die("cannot read the page");
    int nlines = 0, cap = 256;
    char **lines = xmalloc(sizeof *lines * (size_t)cap);
    for (char *s = text; *s;) {
        if (nlines == cap) {
            char **t = realloc(lines, sizeof *lines * (size_t)(cap *= 2));
            if (!t) die("out of memory");
            lines = t;
        }
        lines[nlines++] = s;
        char *eol = strchr(s, '\n');
        if (!eol) break;
        *eol = '\0';
        s = eol + 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.md", outdir, chapter ? chapter->label : "index");
    Page p = {.out = fopen(path, "w"), .chapter = chapter};
    if (!p.out) die("cannot write %s", path);
    if (chapter) collect_figures(&p, figdir, outdir);
    convert(&p, lines, nlines);
    if (chapter) {
        emit_nav(&p);
    } else {   /* the main page: the chapters as its sub-pages, for the tree */
        fputs("\n## The pages of this book\n\n", p.out);
        for (int c = 0; c < nchapters; c++) fprintf(p.out, "- \\subpage %s\n", chapters[c].label);
        fputs("\nThe code, chapter by chapter, is under [Modules](modules.html); "
              "every file of `common/` and of the chapters is under [Files](files.html).\n",
              p.out);
    }
    if (fclose(p.out) != 0) die("cannot write %s", path);
    free(lines);
    free(text);
    page_path = NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bookpage OUTDIR FIGDIR README.md chapters/NN-slug/README.md ...\n");
        return 2;
    }
    const char *outdir = argv[1], *figdir = argv[2];
    scan_headers("common/*.h");
    for (int a = 4; a < argc; a++) {
        int number = chapter_of_page(argv[a]);
        if (number < 0) die("%s is not a chapter page (chapters/NN-slug/README.md)", argv[a]);
        if (nchapters == MAX_CHAPTERS) die("more than %d chapters", MAX_CHAPTERS);
        Chapter *c = &chapters[nchapters++];
        c->number = number;
        snprintf(c->label, sizeof c->label, "ch%02d", number);
        c->page = argv[a];
        char pattern[1024];
        snprintf(pattern, sizeof pattern, "%.*s*.h", (int)(strlen(argv[a]) - strlen("README.md")),
                 argv[a]);
        scan_headers(pattern);
    }
    convert_page(argv[3], outdir, figdir, NULL);
    for (int c = 0; c < nchapters; c++) convert_page(chapters[c].page, outdir, figdir, &chapters[c]);
    return 0;
}
