/*
 * test_pages.c - the chapter pages quote the real code, never a stale copy.
 *
 * A page marks each quotation with a comment naming a source file and a
 * snippet region, then the code block:
 *
 *   <!-- snippet: chapters/01-dot-product-attention/attention.c attention_forward -->
 *   ```c
 *   ...
 *   ```
 *
 * The region is the text between two `//! [name]` lines in that file (the
 * markers Doxygen's \snippet command uses for the generated book). This test
 * fails when a block differs from its region, so the page and the code can
 * never drift apart.
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "suites.h"
#include "testutil.h"

/* The lines between the two "//! [region]" markers of file, or NULL. */
static char *region_of(const char *file, const char *region)
{
    char *text = read_file(file, NULL);
    if (!text) return NULL;
    char marker[128];
    snprintf(marker, sizeof marker, "//! [%s]\n", region);
    char *a = strstr(text, marker);
    char *b = a ? strstr(a + strlen(marker), marker) : NULL;
    char *out = NULL;
    if (a && b) {
        a += strlen(marker);
        out = malloc((size_t)(b - a) + 1);
        memcpy(out, a, (size_t)(b - a));
        out[b - a] = '\0';
    }
    free(text);
    return out;
}

START_TEST(page_snippets_match_the_code)
{
    glob_t g;
    ck_assert_int_eq(glob("chapters/*/README.md", 0, NULL, &g), 0);
    int checked = 0;
    for (size_t p = 0; p < g.gl_pathc; p++) {
        char *page = read_file(g.gl_pathv[p], NULL);
        ck_assert_ptr_nonnull(page);
        for (char *at = strstr(page, "<!-- snippet: "); at; at = strstr(at + 1, "<!-- snippet: ")) {
            char file[256], region[64];
            ck_assert_msg(sscanf(at, "<!-- snippet: %255s %63s -->", file, region) == 2,
                          "%s: malformed snippet marker", g.gl_pathv[p]);
            char *open = strstr(at, "```c\n");
            ck_assert_msg(open != NULL, "%s: no ```c block after the %s marker", g.gl_pathv[p], region);
            open += 5;
            char *close = strstr(open, "```\n");
            ck_assert_ptr_nonnull(close);
            char *code = region_of(file, region);
            ck_assert_msg(code != NULL, "%s: no region [%s] in %s", g.gl_pathv[p], region, file);
            size_t n = (size_t)(close - open);
            ck_assert_msg(strlen(code) == n && memcmp(code, open, n) == 0,
                          "%s: the quoted %s differs from region [%s] of %s", g.gl_pathv[p],
                          region, region, file);
            free(code);
            checked++;
        }
        free(page);
    }
    globfree(&g);
    ck_assert_int_gt(checked, 0);
}
END_TEST

Suite *pages_suite(void)
{
    Suite *s = suite_create("pages");
    TCase *tc = tcase_create("snippets");
    tcase_add_test(tc, page_snippets_match_the_code);
    suite_add_tcase(s, tc);
    return s;
}
