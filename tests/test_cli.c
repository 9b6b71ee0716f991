/*
 * test_cli.c - the command-line conventions: strict number parsing, usage
 * errors exit 2, data errors exit 1, the shared options.
 */
#include "suites.h"
#include "cli.h"

START_TEST(parse_numbers)
{
    ck_assert_int_eq(parse_long("--heads", "8", 1, 64), 8);
    ck_assert_int_eq(parse_long("--n", "-3", -5, 5), -3);
    ck_assert_float_eq_tol(parse_float("--lr", "1e-3", 0.0f, 1.0f), 1e-3f, 1e-9f);
    ck_assert_uint_eq(parse_seed("--seed", "18446744073709551615"), UINT64_MAX);
}
END_TEST

START_TEST(not_a_number_exits_2) { parse_long("--heads", "8x", 1, 64); }
END_TEST
START_TEST(empty_exits_2) { parse_long("--heads", "", 1, 64); }
END_TEST
START_TEST(out_of_range_exits_2) { parse_long("--heads", "0", 1, 64); }
END_TEST
START_TEST(huge_exits_2) { parse_long("--heads", "99999999999999999999999", 1, 64); }
END_TEST
START_TEST(float_nan_exits_2) { parse_float("--lr", "nan", 0.0f, 1.0f); }
END_TEST
START_TEST(float_range_exits_2) { parse_float("--lr", "2", 0.0f, 1.0f); }
END_TEST
START_TEST(negative_seed_exits_2) { parse_seed("--seed", "-1"); }
END_TEST
START_TEST(seed_overflow_exits_2) { parse_seed("--seed", "18446744073709551616"); }
END_TEST
START_TEST(data_error_exits_1) { data_error("%s: truncated", "x.npy"); }
END_TEST

START_TEST(common_options)
{
    CommonOpts c;
    common_opts_init(&c, "out/ch99");
    ck_assert_uint_eq(c.seed, 1);
    ck_assert_int_eq(c.plot.format, PLOT_PNG);
    ck_assert_str_eq(c.plot.outdir, "out/ch99");
    ck_assert_int_eq(common_opts_handle(&c, OPT_SEED, "42"), 1);
    ck_assert_int_eq(common_opts_handle(&c, OPT_PLOT, "svg"), 1);
    ck_assert_int_eq(common_opts_handle(&c, OPT_OUT, "figs"), 1);
    ck_assert_int_eq(common_opts_handle(&c, 'x', "?"), 0);
    ck_assert_uint_eq(c.seed, 42);
    ck_assert_int_eq(c.plot.format, PLOT_SVG);
    ck_assert_str_eq(c.plot.outdir, "figs");
}
END_TEST

START_TEST(bad_plot_format_exits_2)
{
    CommonOpts c;
    common_opts_init(&c, "out");
    common_opts_handle(&c, OPT_PLOT, "gif");
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, silence_stderr, NULL);
    tcase_add_test(tc, parse_numbers);
    tcase_add_exit_test(tc, not_a_number_exits_2, 2);
    tcase_add_exit_test(tc, empty_exits_2, 2);
    tcase_add_exit_test(tc, out_of_range_exits_2, 2);
    tcase_add_exit_test(tc, huge_exits_2, 2);
    tcase_add_exit_test(tc, float_nan_exits_2, 2);
    tcase_add_exit_test(tc, float_range_exits_2, 2);
    tcase_add_exit_test(tc, negative_seed_exits_2, 2);
    tcase_add_exit_test(tc, seed_overflow_exits_2, 2);
    tcase_add_exit_test(tc, data_error_exits_1, 1);
    tcase_add_test(tc, common_options);
    tcase_add_exit_test(tc, bad_plot_format_exits_2, 2);
    suite_add_tcase(s, tc);
    return s;
}
