/*
 * report.c - what a chapter prints on the console: a small matrix with row
 * and column labels, aligned, and a progress line for long loops. See
 * report.h.
 *
 * Assumes: POSIX (isatty, clock_gettime) and UTF-8 labels; a label's width
 * is its number of characters, not bytes, so "\xe2\x96\x81the" lines up.
 * Introduced with chapter 1 (printing) and used by training (progress).
 */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util.h"

/* ------------------------------------------------------------ mat_print */

enum {
    LABEL_CHARS = 12,   /* longer labels are cut, so one token cannot widen a column */
    LABEL_BYTES = 4 * LABEL_CHARS + 1,
    NUMBER_BYTES = 64,  /* room for -3.4e38 written out with MAX_DECIMALS */
    MAX_DECIMALS = 12,
};

static int is_continuation_byte(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Width on screen: one per character, however many bytes it takes. */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        if (!is_continuation_byte((unsigned char)*s)) w++;
    return w;
}

/* Appends one visible character (as bytes) to out, if it fits in the label. */
static int append_char(char *out, int *len, int *width, const char *bytes, size_t n)
{
    if (*width >= LABEL_CHARS) return -1;
    memcpy(out + *len, bytes, n);
    *len += (int)n;
    (*width)++;
    return 0;
}

/* The text shown for a label: control characters made visible ("\n" as
 * \n) so a newline token cannot break the table, and at most LABEL_CHARS
 * characters, the last one '~' when the label was cut. */
static void label_text(char out[LABEL_BYTES], const char *const *labels, int i)
{
    char index[16];
    const char *s = labels && labels[i] ? labels[i] : index;
    if (s == index) snprintf(index, sizeof index, "%d", i);

    int len = 0, width = 0, cut = 0;
    while (*s && !cut) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7F) {
            char esc[2] = {'\\', c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : '?'};
            cut = append_char(out, &len, &width, &esc[0], 1) != 0
                  || append_char(out, &len, &width, &esc[1], 1) != 0;
            s++;
            continue;
        }
        size_t n = 1;   /* a whole UTF-8 character: lead byte and continuations */
        while (s[n] && is_continuation_byte((unsigned char)s[n])) n++;
        cut = append_char(out, &len, &width, s, n) != 0;
        if (!cut) s += n;
    }
    if (cut || *s) {
        /* Replace the last character by '~': step back over its bytes. */
        while (len > 0 && is_continuation_byte((unsigned char)out[len - 1])) len--;
        if (len > 0) len--;
        out[len++] = '~';
    }
    out[len] = '\0';
}

/* One number as printed: fixed decimals; NaN as "nan" (printf may say
 * "-nan"), infinities as "inf" and "-inf". */
static void number_text(char out[NUMBER_BYTES], float v, int decimals)
{
    if (isnan(v)) snprintf(out, NUMBER_BYTES, "nan");
    else if (isinf(v)) snprintf(out, NUMBER_BYTES, "%s", v > 0 ? "inf" : "-inf");
    else snprintf(out, NUMBER_BYTES, "%.*f", decimals, (double)v);
}

/* Writes text in a field of `width` characters, on the right or the left. */
static void put_aligned(FILE *fp, const char *text, int width, int right)
{
    int pad = width - text_width(text);
    if (right) fprintf(fp, "%*s%s", pad > 0 ? pad : 0, "", text);
    else fprintf(fp, "%s%*s", text, pad > 0 ? pad : 0, "");
}

/* Each column is as wide as the widest of its label and its numbers. */
static int *column_widths(Mat m, const char *const *col_labels, int decimals)
{
    int *w = xmalloc((size_t)m.cols, sizeof *w, "column widths");
    char text[NUMBER_BYTES > LABEL_BYTES ? NUMBER_BYTES : LABEL_BYTES];
    for (int j = 0; j < m.cols; j++) {
        label_text(text, col_labels, j);
        w[j] = text_width(text);
        for (int i = 0; i < m.rows; i++) {
            number_text(text, MAT_AT(m, i, j), decimals);
            int k = text_width(text);
            if (k > w[j]) w[j] = k;
        }
    }
    return w;
}

static int row_label_width(int rows, const char *const *row_labels)
{
    char text[LABEL_BYTES];
    int w = 0;
    for (int i = 0; i < rows; i++) {
        label_text(text, row_labels, i);
        int k = text_width(text);
        if (k > w) w = k;
    }
    return w;
}

void mat_print(FILE *fp, const char *title, Mat m, const char *const *row_labels,
               const char *const *col_labels, int decimals)
{
    if (title) fprintf(fp, "%s\n", title);
    if (m.rows <= 0 || m.cols <= 0) {
        fprintf(fp, "  (empty: %d x %d)\n", m.rows, m.cols);
        return;
    }
    decimals = decimals < 0 ? 0 : decimals > MAX_DECIMALS ? MAX_DECIMALS : decimals;
    int *width = column_widths(m, col_labels, decimals);
    int label_width = row_label_width(m.rows, row_labels);
    char text[NUMBER_BYTES > LABEL_BYTES ? NUMBER_BYTES : LABEL_BYTES];

    fprintf(fp, "  %*s", label_width, "");
    for (int j = 0; j < m.cols; j++) {
        label_text(text, col_labels, j);
        fputs("  ", fp);
        put_aligned(fp, text, width[j], 1);
    }
    fputc('\n', fp);
    for (int i = 0; i < m.rows; i++) {
        label_text(text, row_labels, i);
        fputs("  ", fp);
        put_aligned(fp, text, label_width, 0);
        for (int j = 0; j < m.cols; j++) {
            number_text(text, MAT_AT(m, i, j), decimals);
            fputs("  ", fp);
            put_aligned(fp, text, width[j], 1);
        }
        fputc('\n', fp);
    }
    free(width);
}

/* ------------------------------------------------------------- progress */

enum { BAR_WIDTH = 20 };

/* A terminal line is redrawn at most this often: printing is slow next to a
 * fast loop step, and the eye cannot follow faster anyway. */
static const double REDRAW_SECONDS = 0.1;

double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void progress_start(Progress *p, FILE *fp, const char *label, long total)
{
    p->fp = fp;
    p->label = label ? label : "";
    p->total = total;
    p->done = 0;
    p->tty = isatty(fileno(fp));
    p->start = now_seconds();
    p->last_print = p->start;
    p->interval = 10.0;
}

/* "0:04" below an hour, "1:02:03" above. */
static void format_clock(char out[32], double seconds)
{
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600) snprintf(out, 32, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else snprintf(out, 32, "%ld:%02ld", s / 60, s % 60);
}

/* Slow steps read better as seconds per step than as 0.02 steps a second. */
static void format_rate(char out[32], long done, double elapsed)
{
    if (done <= 0 || elapsed <= 0) snprintf(out, 32, "- it/s");
    else if (done >= elapsed) snprintf(out, 32, "%.1f it/s", done / elapsed);
    else snprintf(out, 32, "%.2f s/it", elapsed / done);
}

static double fraction_done(const Progress *p)
{
    if (p->total <= 0) return 0;
    double f = (double)p->done / (double)p->total;
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

/* The count and percentage, padded to the width of the total so that the
 * line does not jump about as the numbers grow. */
static void put_count(const Progress *p)
{
    char digits[32];
    int width = snprintf(digits, sizeof digits, "%ld", p->total);
    fprintf(p->fp, "%*ld/%ld %5.1f%%", width, p->done, p->total, 100 * fraction_done(p));
}

static void put_bar(const Progress *p)
{
    int filled = (int)(fraction_done(p) * BAR_WIDTH);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    fprintf(p->fp, "[%s] ", bar);
}

/* One report. While running it ends with the time left (ETA); at the end
 * with the total time taken. On a terminal it starts with '\r' to draw over
 * the previous line, and "\033[K" clears what a longer line left behind. */
static void put_line(Progress *p, const char *extra, int final)
{
    double now = now_seconds(), elapsed = now - p->start;
    char rate[32], clock[32];
    format_rate(rate, p->done, elapsed);

    if (p->tty) fputc('\r', p->fp);
    fprintf(p->fp, "%s ", p->label);
    if (p->tty) put_bar(p);
    put_count(p);
    fprintf(p->fp, "  %s", rate);
    if (final) {
        if (elapsed < 60) fprintf(p->fp, "  took %.1f s", elapsed);
        else {
            format_clock(clock, elapsed);
            fprintf(p->fp, "  took %s", clock);
        }
    } else if (p->done > 0 && p->total > 0 && elapsed > 0) {
        format_clock(clock, elapsed / p->done * (double)(p->total - p->done));
        fprintf(p->fp, "  ETA %s", clock);
    } else {
        fputs("  ETA -:--", p->fp);
    }
    if (extra && extra[0]) fprintf(p->fp, "  %s", extra);
    if (p->tty) fputs("\033[K", p->fp);
    if (!p->tty || final) fputc('\n', p->fp);
    fflush(p->fp);
    p->last_print = now;
}

void progress_update(Progress *p, long done, const char *extra)
{
    p->done = done;
    double wait = p->tty ? REDRAW_SECONDS : p->interval;
    if (now_seconds() - p->last_print >= wait) put_line(p, extra, 0);
}

void progress_end(Progress *p, const char *extra)
{
    put_line(p, extra, 1);
}

void mat_show(const char *title, Mat m, const char *const *row_labels,
              const char *const *col_labels, int decimals)
{
    mat_print(stdout, title, m, row_labels, col_labels, decimals);
    putchar('\n');
}
