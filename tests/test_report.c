/*
 * test_report.c - tests of report.c: mat_print's exact layout (labels,
 * alignment, NaN and infinities, views, cut labels) and the progress lines
 * written to a file (the not-a-terminal case) and to a pretend terminal.
 *
 * The expected tables are written out by hand, so a change of layout shows
 * up here as a readable difference. Introduced with chapter 1.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suites.h"
#include "testutil.h"
#include "mat.h"
#include "report.h"

/* Runs mat_print into memory and returns what it printed (free it). */
static char *print_to_string(const char *title, Mat m, const char *const *rows,
                             const char *const *cols, int decimals)
{
    char *text = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(fp);
    mat_print(fp, title, m, rows, cols, decimals);
    fclose(fp);
    return text;
}

/* Everything written to fp since it was opened, as a string (free it). */
static char *file_contents(FILE *fp)
{
    fflush(fp);
    long n = ftell(fp);
    ck_assert_int_ge(n, 0);
    char *text = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(text);
    rewind(fp);
    size_t got = fread(text, 1, (size_t)n, fp);
    text[got] = '\0';
    return text;
}

START_TEST(test_print_labelled)
{
    const float v[] = {0.4223f, 0.2908f, 0.2869f,
                       0.1f, -0.25f, 1.0f};
    Mat m = mat_from(2, 3, v);
    const char *rows[] = {"the", "cat"};
    const char *cols[] = {"the", "cat", "sat"};
    char *got = print_to_string("weights", m, rows, cols, 4);
    const char *expected =
        "weights\n"
        "          the      cat     sat\n"
        "  the  0.4223   0.2908  0.2869\n"
        "  cat  0.1000  -0.2500  1.0000\n";
    ck_assert_str_eq(got, expected);
    free(got);
    mat_free(&m);
}
END_TEST

START_TEST(test_print_nan_inf_view_no_labels)
{
    /* The 2x2 block at (1, 1) of a 3x3 matrix: a view, stride 3. */
    const float v[] = {9, 9, 9,
                       9, NAN, -INFINITY,
                       9, INFINITY, 0.5f};
    Mat m = mat_from(3, 3, v);
    char *got = print_to_string(NULL, mat_block(m, 1, 1, 2, 2), NULL, NULL, 2);
    const char *expected =
        "       0     1\n"
        "  0  nan  -inf\n"
        "  1  inf  0.50\n";
    ck_assert_str_eq(got, expected);
    free(got);
    mat_free(&m);
}
END_TEST

START_TEST(test_print_negative_nan_is_nan)
{
    Mat m = mat_new(1, 1);
    MAT_AT(m, 0, 0) = -NAN;
    char *got = print_to_string(NULL, m, NULL, NULL, 1);
    ck_assert_str_eq(got, "       0\n  0  nan\n");
    free(got);
    mat_free(&m);
}
END_TEST

START_TEST(test_print_long_and_utf8_labels)
{
    const float v[] = {1, 2};
    Mat m = mat_from(2, 1, v);
    /* "\xe2\x96\x81" is U+2581, SentencePiece's word marker: one character
     * wide in three bytes. A newline inside a label is shown as \n. */
    const char *rows[] = {("\xe2\x96\x81" "a"), "b\nc"};
    const char *cols[] = {"internationally"};   /* 15 characters: cut to 12 */
    char *got = print_to_string(NULL, m, rows, cols, 1);
    const char *expected =
        "        internation~\n"
        "  \xe2\x96\x81" "a             1.0\n"
        "  b\\nc           2.0\n";
    ck_assert_str_eq(got, expected);
    free(got);
    mat_free(&m);
}
END_TEST

START_TEST(test_print_empty)
{
    Mat m = {NULL, 0, 3, 3, 0};
    char *got = print_to_string("nothing", m, NULL, NULL, 2);
    ck_assert_str_eq(got, "nothing\n  (empty: 0 x 3)\n");
    free(got);
}
END_TEST

START_TEST(test_progress_plain_lines)
{
    FILE *fp = tmpfile();
    ck_assert_ptr_nonnull(fp);
    Progress p;
    progress_start(&p, fp, "job", 4);
    ck_assert_int_eq(p.tty, 0);
    p.interval = 0;   /* a line for every update */
    for (long i = 1; i <= 4; i++) progress_update(&p, i, "loss 1.50");
    progress_end(&p, "loss 1.25");
    char *out = file_contents(fp);
    ck_assert_int_eq(count_lines(out), 5);
    ck_assert_ptr_null(strchr(out, '\r'));
    ck_assert_ptr_null(strchr(out, '\033'));
    ck_assert_ptr_nonnull(strstr(out, "job 1/4  25.0%  "));
    ck_assert_ptr_nonnull(strstr(out, "ETA "));
    ck_assert_ptr_nonnull(strstr(out, "  loss 1.50\n"));
    /* The last line: everything done, the time taken, the final extra. */
    char *last = out + strlen(out) - 1;
    while (last > out && last[-1] != '\n') last--;
    ck_assert_ptr_nonnull(strstr(last, "job 4/4 100.0%  "));
    ck_assert_ptr_nonnull(strstr(last, "  took "));
    ck_assert_ptr_nonnull(strstr(last, " s  loss 1.25\n"));
    free(out);
    fclose(fp);
}
END_TEST

START_TEST(test_progress_quiet_between_intervals)
{
    FILE *fp = tmpfile();
    ck_assert_ptr_nonnull(fp);
    Progress p;
    progress_start(&p, fp, "fast", 1000);
    ck_assert(p.interval > 1);   /* the default: seconds, not every step */
    for (long i = 1; i <= 1000; i++) progress_update(&p, i, NULL);
    progress_end(&p, NULL);
    char *out = file_contents(fp);
    ck_assert_int_eq(count_lines(out), 1);
    ck_assert_ptr_nonnull(strstr(out, "fast 1000/1000 100.0%  "));
    free(out);
    fclose(fp);
}
END_TEST

START_TEST(test_progress_long_eta_and_rate)
{
    FILE *fp = tmpfile();
    ck_assert_ptr_nonnull(fp);
    Progress p;
    progress_start(&p, fp, "slow", 2);
    p.start -= 7200;   /* pretend the first step took two hours */
    p.interval = 0;
    progress_update(&p, 1, NULL);
    progress_end(&p, NULL);
    char *out = file_contents(fp);
    ck_assert_ptr_nonnull(strstr(out, "slow 1/2  50.0%  7200.00 s/it  ETA 2:00:00\n"));
    ck_assert_ptr_nonnull(strstr(out, "took 2:00:00\n"));
    free(out);
    fclose(fp);
}
END_TEST

START_TEST(test_progress_terminal_redraws)
{
    FILE *fp = tmpfile();
    ck_assert_ptr_nonnull(fp);
    Progress p;
    progress_start(&p, fp, "train", 10);
    p.tty = 1;                /* pretend: draw as on a terminal */
    p.last_print -= 1;        /* so that the first update draws at once */
    progress_update(&p, 5, "loss 2.31");
    progress_end(&p, NULL);
    char *out = file_contents(fp);
    ck_assert_ptr_nonnull(strstr(out, "\rtrain [##########..........]  5/10  50.0%  "));
    ck_assert_ptr_nonnull(strstr(out, "  loss 2.31\033[K\r"));
    ck_assert_ptr_nonnull(strstr(out, "\rtrain [##########..........]  5/10  50.0%  "));
    ck_assert_ptr_nonnull(strstr(out, "  took "));
    ck_assert_int_eq(count_lines(out), 1);   /* one line, redrawn; a newline only at the end */
    ck_assert_int_eq(out[strlen(out) - 1], '\n');
    free(out);
    fclose(fp);
}
END_TEST

START_TEST(test_now_seconds_moves_forward)
{
    double a = now_seconds();
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    nanosleep(&ten_ms, NULL);
    double b = now_seconds();
    ck_assert(b - a >= 0.009);
    ck_assert(b - a < 5);
}
END_TEST

Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *print = tcase_create("mat_print");
    tcase_add_test(print, test_print_labelled);
    tcase_add_test(print, test_print_nan_inf_view_no_labels);
    tcase_add_test(print, test_print_negative_nan_is_nan);
    tcase_add_test(print, test_print_long_and_utf8_labels);
    tcase_add_test(print, test_print_empty);
    suite_add_tcase(s, print);

    TCase *progress = tcase_create("progress");
    tcase_add_test(progress, test_progress_plain_lines);
    tcase_add_test(progress, test_progress_quiet_between_intervals);
    tcase_add_test(progress, test_progress_long_eta_and_rate);
    tcase_add_test(progress, test_progress_terminal_redraws);
    tcase_add_test(progress, test_now_seconds_moves_forward);
    suite_add_tcase(s, progress);
    return s;
}
