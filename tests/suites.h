/*
 * suites.h - every test suite of the project, one per module; run_tests.c
 * adds them all. A new module adds its `Suite *<module>_suite(void)` here
 * and in run_tests.c.
 */
#ifndef SUITES_H
#define SUITES_H

#include <check.h>

/* Test data committed beside the tests, made by tests/fixtures/make_fixtures.py.
 * Paths are relative to the repository root, where `make test` runs. */
#define FIXTURE(name) ("tests/fixtures/" name)

/* A checked fixture for test cases that exercise error exits: the expected
 * messages go to /dev/null so the test output stays readable. */
void silence_stderr(void);

Suite *mat_suite(void);
Suite *ops_suite(void);
Suite *rng_suite(void);
Suite *npy_suite(void);
Suite *npz_suite(void);
Suite *report_suite(void);
Suite *plot_suite(void);
Suite *cli_suite(void);
Suite *attention_suite(void);
Suite *pages_suite(void);
Suite *scaled_attention_suite(void);
Suite *masking_suite(void);
Suite *multihead_suite(void);
Suite *positional_suite(void);
Suite *params_suite(void);
Suite *encoder_layer_suite(void);
Suite *encoder_suite(void);
Suite *decoder_suite(void);
Suite *transformer_suite(void);
Suite *backward_suite(void);
Suite *train_suite(void);
Suite *gemm_suite(void);
Suite *batched_suite(void);
Suite *bad_input_suite(void);
Suite *survival_suite(void);
Suite *data_parallel_suite(void);
Suite *lexicon_suite(void);
Suite *score_suite(void);
Suite *decode_suite(void);
Suite *pronunciation_suite(void);

#endif
