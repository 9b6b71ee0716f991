/*
 * nbrender.c - turns a C notebook (notebooks-c/NN-name.c, see
 * notebooks-c/notebook.h) into a Jupyter notebook and a Markdown page, for
 * `make notebooks`. Two steps, with the notebook's run in between:
 *
 *   nbrender instrument NOTEBOOK.c COPY.c
 *       COPY.c is the notebook with the line `// %%` of every code cell that
 *       sits inside a function replaced by `nb_cell(K);` (K the cell's number),
 *       so the lines stay where they were and compiler messages point at the
 *       notebook itself (#line). Cells at file scope (includes, helper
 *       functions) do not run, so they get no marker and no output.
 *
 *   COPY > OUTPUT.txt          (make runs it, with NB_OUT=FIGDIR)
 *
 *   nbrender render NOTEBOOK.c OUTPUT.txt FIGDIR OUTDIR
 *       splits OUTPUT.txt at the marker lines "%%nb:cell K" into each cell's
 *       output; a line "%%nb:image NAME.png" puts FIGDIR/NAME.png there. It
 *       writes OUTDIR/NAME.ipynb (nbformat 4.5: markdown cells, code cells
 *       with a stream output and the figures as base64 image/png
 *       display_data) and OUTDIR/NAME.md (the prose, the code in ```c
 *       blocks, the output in ```text blocks, the figures as images from
 *       OUTDIR/NAME_files/, where they are copied).
 *
 * Everything written depends only on the notebook and its output: no time,
 * no absolute path, no kernel's execution state, so a second render is
 * byte-for-byte the first and CI can check the committed files are current.
 * Assumes: C11 and POSIX; exit status 0, or 1 with a message on any problem.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ small helpers */

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nbrender: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

/* A whole file; *len gets its size (it may hold NUL bytes: a PNG). */
static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) die("cannot read %s", path);
    size_t cap = 65536, n = 0, got;
    char *s = xrealloc(NULL, cap);
    while ((got = fread(s + n, 1, cap - n - 1, fp)) > 0) {
        n += got;
        if (cap - n - 1 == 0) s = xrealloc(s, cap *= 2);
    }
    fclose(fp);
    s[n] = '\0';
    if (len) *len = n;
    return s;
}

static FILE *open_out(const char *path)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) die("cannot write %s", path);
    return fp;
}

static void close_out(FILE *fp, const char *path)
{
    if (ferror(fp) || fclose(fp) != 0) die("cannot write %s", path);
}

/* Splits text into lines in place (the '\n' become NULs). */
static char **split_lines(char *text, int *count)
{
    int n = 0, cap = 256;
    char **lines = xrealloc(NULL, sizeof *lines * (size_t)cap);
    for (char *s = text; *s;) {
        if (n == cap) lines = xrealloc(lines, sizeof *lines * (size_t)(cap *= 2));
        lines[n++] = s;
        char *eol = strchr(s, '\n');
        if (!eol) break;
        *eol = '\0';
        s = eol + 1;
    }
    *count = n;
    return lines;
}

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

static int is_blank(const char *s) { return *skip_blanks(s) == '\0'; }

/* ------------------------------------------------------------ the cells */

enum { MARKDOWN, CODE };

typedef struct {
    int kind;            /* MARKDOWN or CODE */
    int marker;          /* the index of its `// %%` line */
    int first, end;      /* its lines: [first, end) */
    /* filled by render: */
    char *text;          /* what it printed */
    size_t text_len, text_cap;
    char **images;       /* names of the figures it showed, in order ... */
    size_t *image_at;    /* ... and where in text each one came */
    int nimages;
    int ran;             /* 1 if its marker was in the output */
} Cell;

/* "// %%" or "// %% [markdown]" after any indentation: CODE or MARKDOWN, else -1. */
static int marker_kind(const char *line)
{
    const char *s = skip_blanks(line);
    if (strncmp(s, "// %%", 5) != 0) return -1;
    s = skip_blanks(s + 5);
    if (strncmp(s, "[markdown]", 10) == 0) return MARKDOWN;
    return CODE;
}

static Cell *parse_cells(char **lines, int nlines, int *count)
{
    int n = 0;
    Cell *cells = NULL;
    for (int l = 0; l < nlines; l++) {
        int kind = marker_kind(lines[l]);
        if (kind < 0) continue;
        if (n) cells[n - 1].end = l;
        cells = xrealloc(cells, sizeof *cells * (size_t)(n + 1));
        memset(&cells[n], 0, sizeof cells[n]);
        cells[n].kind = kind;
        cells[n].marker = l;
        cells[n].first = l + 1;
        cells[n].end = nlines;
        n++;
    }
    if (n == 0) die("no cells: a notebook's cells start at lines `// %%%%` or `// %%%% [markdown]`");
    *count = n;
    return cells;
}

/* ------------------------------------------------------------ instrument */

/* The brace depth at the start of every line, outside comments, strings and
 * character constants: a code cell whose marker is at depth > 0 is inside a
 * function and runs. */
static int *brace_depths(char **lines, int nlines)
{
    int *depth = xrealloc(NULL, sizeof *depth * (size_t)nlines);
    int d = 0, block_comment = 0;
    for (int l = 0; l < nlines; l++) {
        depth[l] = d;
        for (const char *s = lines[l]; *s; s++) {
            if (block_comment) {
                if (s[0] == '*' && s[1] == '/') block_comment = 0, s++;
            } else if (s[0] == '/' && s[1] == '/') {
                break;
            } else if (s[0] == '/' && s[1] == '*') {
                block_comment = 1;
                s++;
            } else if (*s == '"' || *s == '\'') {
                char q = *s;
                for (s++; *s && *s != q; s++)
                    if (*s == '\\' && s[1]) s++;
                if (!*s) break;
            } else if (*s == '{') {
                d++;
            } else if (*s == '}') {
                d--;
            }
        }
    }
    return depth;
}

static void instrument(const char *notebook, const char *copy)
{
    char *text = read_file(notebook, NULL);
    int nlines, ncells;
    char **lines = split_lines(text, &nlines);
    Cell *cells = parse_cells(lines, nlines, &ncells);
    int *depth = brace_depths(lines, nlines);
    FILE *out = open_out(copy);
    fprintf(out, "#line 1 \"%s\"\n", notebook);
    int c = 0;
    for (int l = 0; l < nlines; l++) {
        while (c < ncells && cells[c].marker < l) c++;
        if (c < ncells && cells[c].marker == l && cells[c].kind == CODE && depth[l] > 0) {
            int indent = (int)(skip_blanks(lines[l]) - lines[l]);
            fprintf(out, "%.*snb_cell(%d);\n", indent, lines[l], c + 1);
        } else {
            fprintf(out, "%s\n", lines[l]);
        }
    }
    close_out(out, copy);
    free(depth);
    free(cells);
    free(lines);
    free(text);
}

/* ------------------------------------------------------------ render */

static void cell_append(Cell *c, const char *s, size_t n)
{
    if (c->text_len + n + 1 > c->text_cap) {
        c->text_cap = (c->text_len + n + 1) * 2;
        c->text = xrealloc(c->text, c->text_cap);
    }
    memcpy(c->text + c->text_len, s, n);
    c->text_len += n;
    c->text[c->text_len] = '\0';
}

/* Hands every line of the program's output to the cell that printed it. */
static void split_output(Cell *cells, int ncells, char *output, const char *output_path)
{
    Cell *cur = NULL;
    for (char *line = output; *line;) {
        char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) + 1 : strlen(line);
        if (strncmp(line, "%%nb:cell ", 10) == 0) {
            int k = atoi(line + 10);
            if (k < 1 || k > ncells || cells[k - 1].kind != CODE)
                die("%s: a marker names cell %d, which is not a code cell", output_path, k);
            cur = &cells[k - 1];
            cur->ran = 1;
        } else if (strncmp(line, "%%nb:image ", 11) == 0) {
            if (!cur) die("%s: a figure shown before the first cell", output_path);
            cur->images = xrealloc(cur->images, sizeof *cur->images * (size_t)(cur->nimages + 1));
            cur->image_at = xrealloc(cur->image_at, sizeof *cur->image_at * (size_t)(cur->nimages + 1));
            size_t len = n - 11 - (eol ? 1 : 0);
            char *name = xrealloc(NULL, len + 1);
            memcpy(name, line + 11, len);
            name[len] = '\0';
            if (strchr(name, '/') || len < 5) die("%s: bad figure name '%s'", output_path, name);
            cur->images[cur->nimages] = name;
            cur->image_at[cur->nimages++] = cur->text_len;
        } else {
            if (!cur) die("%s: output before the first code cell", output_path);
            cell_append(cur, line, n);
        }
        line += n;
    }
}

/* The lines of a cell as the reader sees them: a code cell without the
 * indentation all its lines share (it sits inside main), a prose cell
 * without its "// ". Leading and trailing blank lines go. *first and *end
 * get the range of lines; each line is then line + cut. */
static void cell_range(const Cell *c, char **lines, int *first, int *end)
{
    int a = c->first, b = c->end;
    while (a < b && is_blank(lines[a])) a++;
    while (b > a && is_blank(lines[b - 1])) b--;
    *first = a;
    *end = b;
}

/* The indentation every line of a code cell shares, not counting a line
 * that only closes a brace: the cell that ends main reads as its body. */
static size_t code_indent(char **lines, int a, int b)
{
    size_t cut = (size_t)-1;
    for (int l = a; l < b; l++) {
        if (is_blank(lines[l]) || strcmp(skip_blanks(lines[l]), "}") == 0) continue;
        size_t in = (size_t)(skip_blanks(lines[l]) - lines[l]);
        if (in < cut) cut = in;
    }
    return cut == (size_t)-1 ? 0 : cut;
}

/* A prose line without "//" and one space; an empty string for a blank line. */
static const char *prose_line(const char *line, const char *notebook, int l)
{
    const char *s = skip_blanks(line);
    if (*s == '\0') return s;
    if (strncmp(s, "//", 2) != 0)
        die("%s:%d: a [markdown] cell holds only // comment lines", notebook, l + 1);
    s += 2;
    return *s == ' ' ? s + 1 : s;
}

static void json_string(FILE *fp, const char *s, size_t n)
{
    fputc('"', fp);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"') fputs("\\\"", fp);
        else if (ch == '\\') fputs("\\\\", fp);
        else if (ch == '\n') fputs("\\n", fp);
        else if (ch == '\t') fputs("\\t", fp);
        else if (ch < 0x20) fprintf(fp, "\\u%04x", ch);
        else fputc(ch, fp);
    }
    fputc('"', fp);
}

/* nbformat's multi-line strings: a list of lines, each but the last ending in \n. */
static void json_lines(FILE *fp, const char *s, size_t n, const char *indent)
{
    fputc('[', fp);
    int first = 1;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - s - i) + 1 : n - i;
        fprintf(fp, "%s\n%s", first ? "" : ",", indent);
        json_string(fp, s + i, len);
        first = 0;
        i += len;
    }
    if (first) fputc(']', fp);
    else fprintf(fp, "\n%.*s]", (int)strlen(indent) - 1, indent);
}

static void base64(FILE *fp, const unsigned char *b, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)b[i] << 16 | (i + 1 < n ? (unsigned)b[i + 1] << 8 : 0u) |
                     (i + 2 < n ? b[i + 2] : 0u);
        fputc(A[v >> 18 & 63], fp);
        fputc(A[v >> 12 & 63], fp);
        fputc(i + 1 < n ? A[v >> 6 & 63] : '=', fp);
        fputc(i + 2 < n ? A[v & 63] : '=', fp);
    }
}

/* A cell's source as one string, the way the reader sees it. */
static char *cell_source(const Cell *c, char **lines, const char *notebook, size_t *len)
{
    int a, b;
    cell_range(c, lines, &a, &b);
    size_t cut = c->kind == CODE ? code_indent(lines, a, b) : 0;
    char *s = NULL;
    size_t n = 0;
    for (int l = a; l < b; l++) {
        const char *t;
        if (c->kind == MARKDOWN) t = prose_line(lines[l], notebook, l);
        else if ((size_t)(skip_blanks(lines[l]) - lines[l]) < cut) t = skip_blanks(lines[l]);
        else t = lines[l] + cut;   /* (a blank line or a closing brace above) */
        size_t tl = strlen(t);
        s = xrealloc(s, n + tl + 2);
        memcpy(s + n, t, tl);
        n += tl;
        if (l + 1 < b) s[n++] = '\n';
    }
    s = xrealloc(s, n + 1);
    s[n] = '\0';
    *len = n;
    return s;
}

static void write_stream(FILE *fp, const char *text, size_t n, int *first)
{
    if (n == 0) return;
    fprintf(fp, "%s\n    {\n     \"name\": \"stdout\",\n     \"output_type\": \"stream\",\n"
                "     \"text\": ", *first ? "" : ",");
    json_lines(fp, text, n, "      ");
    fputs("\n    }", fp);
    *first = 0;
}

static void write_ipynb(const char *path, Cell *cells, int ncells, char **lines,
                        const char *notebook, const char *figdir)
{
    FILE *fp = open_out(path);
    fputs("{\n \"cells\": [", fp);
    int count = 0;
    for (int c = 0; c < ncells; c++) {
        Cell *cell = &cells[c];
        size_t n;
        char *src = cell_source(cell, lines, notebook, &n);
        fprintf(fp, "%s\n  {\n   \"cell_type\": \"%s\",\n", c ? "," : "",
                cell->kind == CODE ? "code" : "markdown");
        if (cell->kind == CODE) {
            if (cell->ran) fprintf(fp, "   \"execution_count\": %d,\n", ++count);
            else fputs("   \"execution_count\": null,\n", fp);
        }
        fprintf(fp, "   \"id\": \"cell-%d\",\n   \"metadata\": {},\n", c + 1);
        if (cell->kind == CODE) {
            fputs("   \"outputs\": [", fp);
            int first = 1;
            size_t done = 0;
            for (int i = 0; i < cell->nimages; i++) {
                write_stream(fp, cell->text + done, cell->image_at[i] - done, &first);
                done = cell->image_at[i];
                char file[2048];
                snprintf(file, sizeof file, "%s/%s", figdir, cell->images[i]);
                size_t len;
                char *png = read_file(file, &len);
                fprintf(fp, "%s\n    {\n     \"data\": {\n      \"image/png\": \"", first ? "" : ",");
                base64(fp, (const unsigned char *)png, len);
                fprintf(fp, "\",\n      \"text/plain\": [\n       \"[figure: %s]\"\n      ]\n"
                            "     },\n     \"metadata\": {},\n     \"output_type\": \"display_data\"\n"
                            "    }", cell->images[i]);
                first = 0;
                free(png);
            }
            write_stream(fp, cell->text + done, cell->text_len - done, &first);
            fputs(first ? "],\n" : "\n   ],\n", fp);
        }
        fputs("   \"source\": ", fp);
        json_lines(fp, src, n, "    ");
        fputs("\n  }", fp);
        free(src);
    }
    fputs("\n ],\n \"metadata\": {\n  \"language_info\": {\n   \"file_extension\": \".c\",\n"
          "   \"mimetype\": \"text/x-csrc\",\n   \"name\": \"c\"\n  }\n },\n"
          " \"nbformat\": 4,\n \"nbformat_minor\": 5\n}\n", fp);
    close_out(fp, path);
}

static void md_output(FILE *fp, const char *text, size_t n)
{
    if (n == 0) return;
    fputs("\n```text\n", fp);
    fwrite(text, 1, n, fp);
    if (text[n - 1] != '\n') fputc('\n', fp);
    fputs("```\n", fp);
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *b = read_file(from, &n);
    FILE *fp = open_out(to);
    fwrite(b, 1, n, fp);
    close_out(fp, to);
    free(b);
}

static void write_md(const char *path, const char *name, Cell *cells, int ncells, char **lines,
                     const char *notebook, const char *figdir, const char *outdir)
{
    FILE *fp = open_out(path);
    fprintf(fp, "<!-- Rendered from %s by make notebooks: edit that file, not this one. -->\n",
            notebook);
    for (int c = 0; c < ncells; c++) {
        Cell *cell = &cells[c];
        size_t n;
        char *src = cell_source(cell, lines, notebook, &n);
        fputc('\n', fp);
        if (cell->kind == MARKDOWN) {
            fwrite(src, 1, n, fp);
            fputc('\n', fp);
        } else {
            fputs("```c\n", fp);
            fwrite(src, 1, n, fp);
            fputs("\n```\n", fp);
            size_t done = 0;
            for (int i = 0; i < cell->nimages; i++) {
                md_output(fp, cell->text + done, cell->image_at[i] - done);
                done = cell->image_at[i];
                char from[2048], to[2048];
                snprintf(from, sizeof from, "%s/%s", figdir, cell->images[i]);
                snprintf(to, sizeof to, "%s/%s_files/%s", outdir, name, cell->images[i]);
                copy_file(from, to);
                fprintf(fp, "\n![%s](%s_files/%s)\n", cell->images[i], name, cell->images[i]);
            }
            md_output(fp, cell->text + done, cell->text_len - done);
        }
        free(src);
    }
    close_out(fp, path);
}

static void render(const char *notebook, const char *output_path, const char *figdir,
                   const char *outdir)
{
    char *text = read_file(notebook, NULL);
    int nlines, ncells;
    char **lines = split_lines(text, &nlines);
    Cell *cells = parse_cells(lines, nlines, &ncells);
    char *output = read_file(output_path, NULL);
    split_output(cells, ncells, output, output_path);

    /* NAME: the notebook's file name without folder and ".c" */
    const char *base = strrchr(notebook, '/') ? strrchr(notebook, '/') + 1 : notebook;
    size_t len = strlen(base);
    if (len < 3 || strcmp(base + len - 2, ".c") != 0) die("%s: not a .c file", notebook);
    char name[512], path[2048];
    snprintf(name, sizeof name, "%.*s", (int)(len - 2), base);

    snprintf(path, sizeof path, "%s/%s.ipynb", outdir, name);
    write_ipynb(path, cells, ncells, lines, notebook, figdir);
    snprintf(path, sizeof path, "%s/%s.md", outdir, name);
    write_md(path, name, cells, ncells, lines, notebook, figdir, outdir);

    for (int c = 0; c < ncells; c++) {
        for (int i = 0; i < cells[c].nimages; i++) free(cells[c].images[i]);
        free(cells[c].images);
        free(cells[c].image_at);
        free(cells[c].text);
    }
    free(cells);
    free(output);
    free(lines);
    free(text);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "instrument") == 0) {
        instrument(argv[2], argv[3]);
    } else if (argc == 6 && strcmp(argv[1], "render") == 0) {
        render(argv[2], argv[3], argv[4], argv[5]);
    } else {
        fprintf(stderr, "usage: nbrender instrument NOTEBOOK.c COPY.c\n"
                        "       nbrender render NOTEBOOK.c OUTPUT.txt FIGDIR OUTDIR\n");
        return 2;
    }
    return 0;
}
