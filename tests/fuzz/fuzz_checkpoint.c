/*
 * fuzz_checkpoint.c - libFuzzer target: chapter 10's checkpoint_load, the
 * reader of --resume: the run's settings (train.*), the model, Adam's state
 * (optim.*) and the history. The input is records (fuzz_file.h), made into
 * a .npz with correct CRCs. Seeds in corpus/checkpoint/.
 */
#include <stdlib.h>
#include <string.h>
#include "checkpoint.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *path = fuzz_path(".npz");
    fuzz_write_npz(path, data, size);
    Trainer t;
    Error err;
    int rc = checkpoint_load(path, &t, &err);
    remove(path);   /* read whole: the file is not needed any more */
    if (rc != 0) {
        if (strncmp(err.msg, path, strlen(path)) != 0) abort();
        return 0;
    }
    if (t.step < 0 || t.step > t.loss_cap || t.points < 0) abort();
    trainer_free(&t);
    return 0;
}
