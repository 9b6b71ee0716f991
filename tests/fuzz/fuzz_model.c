/*
 * fuzz_model.c - libFuzzer target: chapter 9's model loader,
 * transformer_load, which reads the sizes of a whole Transformer off the
 * shapes of a .npz and checks every array. The input is records
 * (fuzz_file.h), made into a .npz with correct CRCs, so that mutations
 * reach names, shapes, dtypes and values. Seeds in corpus/model/.
 *
 * A model that loads must also run: one forward pass on a short source and
 * target, with ids in its vocabularies.
 */
#include <stdlib.h>
#include <string.h>
#include "fuzz_file.h"
#include "transformer.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *path = fuzz_path(".npz");
    fuzz_write_npz(path, data, size);
    Transformer m;
    Error err;
    int rc = transformer_load(&m, path, &err);
    remove(path);   /* read whole: the file is not needed any more */
    if (rc != 0) {
        if (strncmp(err.msg, path, strlen(path)) != 0) abort();
        return 0;
    }
    /* Small models only: the forward pass of a big one would just be slow. */
    if ((double)m.params.size < 2e5) {
        int64_t src[3] = {1 % m.cfg.Vs, 0, 2 % m.cfg.Vs}, tgt[2] = {1 % m.cfg.Vt, 0};
        Mat logits = mat_new(2, m.cfg.Vt);
        transformer_forward(logits, NULL, &m, src, 3, tgt, 2);
        mat_free(&logits);
    }
    transformer_free(&m);
    return 0;
}
