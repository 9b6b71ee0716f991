/*
 * qkv_files.c - attention's inputs and outputs as .npy files, for the
 * programs of chapters 1 to 3 (see qkv_files.h). Introduced with chapter 1.
 */
#include "qkv_files.h"

int qkv_files_handle(QkvFiles *f, int opt, const char *arg)
{
    switch (opt) {
    case QKV_OPT_QUERY: f->query = arg; return 1;
    case QKV_OPT_KEY: f->key = arg; return 1;
    case QKV_OPT_VALUE: f->value = arg; return 1;
    case QKV_OPT_OUTPUT: f->output = arg; return 1;
    case QKV_OPT_ATTN: f->attn = arg; return 1;
    default: return 0;
    }
}

int qkv_files_given(const QkvFiles *f)
{
    int given = (f->query != NULL) + (f->key != NULL) + (f->value != NULL);
    if (given > 0 && given < 3)
        usage_error("%s: --query, --key and --value go together", !f->query ? "--query"
                                                                  : !f->key ? "--key"
                                                                            : "--value");
    return given == 3;
}

void qkv_check_outputs(const QkvFiles *f)
{
    cli_check_output(f->output, "--output");
    cli_check_output(f->attn, "--attn");
}

void qkv_load(Mat *q, Mat *k, Mat *v, const QkvFiles *f)
{
    *q = cli_load_mat(f->query, "--query");   /* (L, D) */
    *k = cli_load_mat(f->key, "--key");       /* (S, D) */
    *v = cli_load_mat(f->value, "--value");   /* (S, Dv) */
    if (q->cols != k->cols)
        data_error("%s and %s: query width %d and key width %d differ (Q is (L, D), K is (S, D))",
                   f->query, f->key, q->cols, k->cols);
    if (k->rows != v->rows)
        data_error("%s and %s: %d keys but %d values (K is (S, D), V is (S, Dv))", f->key,
                   f->value, k->rows, v->rows);
}

void qkv_save(const QkvFiles *f, Mat output, Mat weights)
{
    int i, j;
    if (!mat_all_finite(weights, &i, &j) || !mat_all_finite(output, &i, &j))
        data_error("%s, %s and %s: the result overflows float32 (inputs too large); "
                   "nothing written", f->query, f->key, f->value);
    if (f->output) cli_save_mat(f->output, output);
    if (f->attn) cli_save_mat(f->attn, weights);
}

int qkv_read_options(QkvFiles *f, CommonOpts *c, int argc, char **argv, const char *usage)
{
    static const struct option longopts[] = {
        QKV_LONG_OPTIONS,
        COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    *f = (QkvFiles){0};
    int code;
    while ((code = cli_next_option(argc, argv, longopts, NULL, c, usage)) != -1)
        qkv_files_handle(f, code, optarg);
    if (qkv_files_given(f)) {
        qkv_check_outputs(f);   /* before any work: see cli.h */
        if (c->plot_given) cli_check_outdir(&c->plot);
        return 1;
    }
    if (f->output || f->attn) usage_error("--output and --attn need --query, --key and --value");
    cli_check_outdir(&c->plot);
    return 0;
}
