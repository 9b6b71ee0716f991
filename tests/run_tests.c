/*
 * run_tests.c - the one test runner: adds every suite, prints Check's
 * summary, and exits non-zero if any test failed.
 *
 * Run from the repository root (make test). CK_RUN_SUITE=npy runs one suite.
 */
#include <stdio.h>
#include <stdlib.h>
#include "suites.h"

void silence_stderr(void)
{
    if (!freopen("/dev/null", "w", stderr)) perror("/dev/null");
}

int main(void)
{
    SRunner *sr = srunner_create(mat_suite());
    srunner_add_suite(sr, ops_suite());
    srunner_add_suite(sr, gemm_suite());
    srunner_add_suite(sr, rng_suite());
    srunner_add_suite(sr, npy_suite());
    srunner_add_suite(sr, npz_suite());
    srunner_add_suite(sr, report_suite());
    srunner_add_suite(sr, plot_suite());
    srunner_add_suite(sr, cli_suite());
    srunner_add_suite(sr, attention_suite());
    srunner_add_suite(sr, scaled_attention_suite());
    srunner_add_suite(sr, masking_suite());
    srunner_add_suite(sr, multihead_suite());
    srunner_add_suite(sr, positional_suite());
    srunner_add_suite(sr, params_suite());
    srunner_add_suite(sr, encoder_layer_suite());
    srunner_add_suite(sr, encoder_suite());
    srunner_add_suite(sr, decoder_suite());
    srunner_add_suite(sr, transformer_suite());
    srunner_add_suite(sr, backward_suite());
    srunner_add_suite(sr, train_suite());
    srunner_add_suite(sr, batched_suite());
    srunner_add_suite(sr, survival_suite());
    srunner_add_suite(sr, data_parallel_suite());
    srunner_add_suite(sr, lexicon_suite());
    srunner_add_suite(sr, score_suite());
    srunner_add_suite(sr, decode_suite());
    srunner_add_suite(sr, pronunciation_suite());
    srunner_add_suite(sr, bad_input_suite());
    srunner_add_suite(sr, pages_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
