/*
 * fuzz_npz.c - libFuzzer target: the .npz reader, npz_load (common/npy.c),
 * on arbitrary bytes: the zip container (directory, local headers, ZIP64,
 * deflate, CRC-32) and the .npy entries inside. Seeds in corpus/npz/.
 */
#include <stdlib.h>
#include <string.h>
#include "fuzz_file.h"
#include "npy.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *path = fuzz_path(".npz");
    fuzz_write(path, data, size);
    Npz z;
    Error err;
    int rc = npz_load(path, &z, &err);
    remove(path);   /* read whole: the file is not needed any more */
    if (rc != 0) {
        if (strncmp(err.msg, path, strlen(path)) != 0) abort();   /* messages name the file */
        return 0;
    }
    for (int k = 0; k < z.count; k++) {                         /* every array is whole */
        const Tensor *t = npz_get(&z, z.names[k]);
        if (t != &z.arrays[k]) abort();                          /* names are unique */
        volatile double sum = 0.0;
        for (int64_t i = 0; i < t->size; i++) sum += t->f ? t->f[i] : (double)t->i[i];
        (void)sum;
    }
    npz_free(&z);
    return 0;
}
