/*
 * fuzz_npy.c - libFuzzer target: the .npy reader, npy_parse (common/npy.c),
 * on arbitrary bytes. Built and run by `make fuzz` (clang, with
 * AddressSanitizer and UndefinedBehaviorSanitizer); seeds in corpus/npy/.
 *
 * Beyond "no crash", it checks what npy.h promises: either an error
 * message naming the input, or a tensor whose shape, size and data agree.
 */
#include <stdlib.h>
#include <string.h>
#include "npy.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    Tensor t;
    Error err;
    if (npy_parse(data, size, "fuzz.npy", &t, &err) != 0) {
        if (strncmp(err.msg, "fuzz.npy: ", 10) != 0) abort();   /* every message names the file */
        tensor_free(&t);
        return 0;
    }
    int64_t n = 1;   /* a zero anywhere makes it 0; the others may then be huge */
    for (int k = 0; k < t.ndim; k++)
        if (t.shape[k] == 0) n = 0;
    for (int k = 0; k < t.ndim && n != 0; k++) n *= t.shape[k];
    if (t.ndim < 0 || t.ndim > TENSOR_MAX_DIMS || n != t.size) abort();
    if ((t.dtype == DT_F32) != (t.f != NULL) || (t.dtype == DT_I64) != (t.i != NULL)) abort();
    volatile double sum = 0.0;   /* every element is readable */
    for (int64_t k = 0; k < t.size; k++) sum += t.dtype == DT_F32 ? t.f[k] : (double)t.i[k];
    (void)sum;
    tensor_free(&t);
    return 0;
}
