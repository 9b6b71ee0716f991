/*
 * make_seeds.c - writes the seed corpora of the fuzz targets that take
 * "records" (fuzz_file.h): corpus/model/ from small models made with
 * transformer_new, corpus/checkpoint/ from a small run's checkpoint_save.
 * The .npy, .npz and command-line seeds are plain files, committed as they
 * are (the .npy and .npz ones are copies of tests/fixtures/npy_* and npz_*).
 *
 * `make fuzz` builds it as build/fuzz/make_seeds; run it from the repository
 * root to rewrite the two folders: build/fuzz/make_seeds tests/fuzz/corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checkpoint.h"
#include "fuzz_file.h"
#include "npy.h"
#include "rng.h"

/* The bytes of one array as a .npy file, through the project's writer. */
static unsigned char *npy_bytes(const Tensor *t, size_t *len)
{
    const char *tmp = fuzz_path(".npy");
    Error err;
    int rc = t->dtype == DT_F32 ? npy_save_f32(tmp, t->f, t->ndim, t->shape, &err)
                                : npy_save_i64(tmp, t->i, t->ndim, t->shape, &err);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    FILE *fp = fopen(tmp, "rb");
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    rewind(fp);
    unsigned char *b = malloc(*len);
    if (fread(b, 1, *len, fp) != *len) exit(1);
    fclose(fp);
    remove(tmp);
    return b;
}

/* The .npz at `from` as records in `to`. */
static void to_records(const char *from, const char *to)
{
    Npz z;
    Error err;
    if (npz_load(from, &z, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    FILE *fp = fopen(to, "wb");
    if (!fp) {
        perror(to);
        exit(1);
    }
    for (int k = 0; k < z.count; k++) {
        size_t len;
        unsigned char *b = npy_bytes(&z.arrays[k], &len);
        if (k > 0) fputs(RECORD_SEP, fp);
        fwrite(z.names[k], 1, strlen(z.names[k]) + 1, fp);   /* with its NUL */
        fwrite(b, 1, len, fp);
        free(b);
    }
    fclose(fp);
    npz_free(&z);
    printf("%s\n", to);
}

static void model_seed(const char *dir, const char *name, TransformerConfig c)
{
    Transformer m;
    Rng r;
    Error err;
    rng_seed(&r, 1);
    transformer_new(&m, &c, &r);
    const char *tmp = fuzz_path(".npz");
    if (transformer_save(&m, tmp, &err) != 0) exit(1);
    char to[512];
    snprintf(to, sizeof to, "%s/model/%s", dir, name);
    to_records(tmp, to);
    remove(tmp);
    transformer_free(&m);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    /* E, F, H, encoder and decoder layers, Vs, Vt, norm_first, final norms. */
    model_seed(dir, "post", (TransformerConfig){4, 8, 2, 1, 1, 5, 6, 0, 1, 1});
    model_seed(dir, "pre_nonorm", (TransformerConfig){4, 4, 1, 1, 1, 5, 5, 1, 0, 0});
    model_seed(dir, "deep", (TransformerConfig){2, 2, 2, 2, 3, 3, 4, 0, 1, 0});

    TrainConfig c;
    memset(&c, 0, sizeof c);
    c.model = (TransformerConfig){4, 4, 2, 1, 1, TASK_VOCAB, TASK_VOCAB, 0, 1, 1};
    c.xavier = 1;
    c.task = TASK_REVERSE;
    c.batch = 2;
    c.seed = 3;
    c.smoothing = 0.1f;
    c.factor = 0.25f;
    c.warmup = 10;
    c.steps = 4;
    Trainer t;
    trainer_new(&t, &c);
    TaskData d;
    task_data_new(&d, c.batch);
    for (int k = 0; k < 2; k++) trainer_step(&t, &d);
    trainer_evaluate(&t);
    const char *tmp = fuzz_path(".npz");
    Error err;
    if (checkpoint_save(tmp, &t, &err) != 0) exit(1);
    char to[512];
    snprintf(to, sizeof to, "%s/checkpoint/small", dir);
    to_records(tmp, to);
    remove(tmp);
    task_data_free(&d);
    trainer_free(&t);
    return 0;
}
