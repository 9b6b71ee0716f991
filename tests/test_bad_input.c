/*
 * test_bad_input.c - every chapter program against hostile input (issue 9):
 * a student's typo, a truncated download, a file of the wrong kind, an
 * output path that cannot be written.
 *
 * One table, one row per bad command line. Each row runs a program
 * (BIN_DIR/chNN, default build/bin) in a child process and requires:
 * - a normal exit with the row's code: 2 for a usage error, 1 for a data
 *   error (never a signal, never a hang: a run is killed after TIMEOUT s);
 * - one line on stderr, starting "chNN: " and naming the problem (the row's
 *   needle: the option or the file);
 * - no output file left behind: every row runs twice, once with no output
 *   files present (none may appear) and once with old ones present (they
 *   must be unchanged), and no temporary "*.tmp-*" file may remain.
 *
 * The bad files are made here, in a temporary directory, with the
 * project's own writers (npy.h, transformer_save) and by hand for what
 * those refuse to write (unsupported dtypes, truncated files).
 *
 * "Cannot be written" has to hold for root too (CI runs as root, and root
 * ignores permission bits), so it is a path under a regular file (ENOTDIR)
 * or in a directory that does not exist (ENOENT). A full disk is a file
 * size limit (RLIMIT_FSIZE) set in the child, with SIGXFSZ ignored so that
 * a write past it fails with EFBIG, as a write to a full disk fails with
 * ENOSPC, instead of killing the process. Every child also gets at most
 * 2 GB of address space, so that a small file that makes a program try to
 * allocate gigabytes fails the row instead of passing unnoticed.
 *
 * Chapter 12's rows run when BIN_DIR/ch12 exists (it needs MPI), alone and
 * under `mpirun -np 2`. A second test case replays the fuzz targets' seeds
 * and past findings (tests/fuzz/corpus) through the targets' own code.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "suites.h"
#include "testutil.h"
#include "npy.h"
#include "rng.h"
#include "checkpoint.h"
#include "lexicon.h"
#include "transformer.h"

enum { TIMEOUT = 60 };

/* The temporary directory of every file below; "@" in a row stands for it. */
static char dir[64];

/* ------------------------------------------------------------ making files */

static const char *in_dir(const char *name)
{
    return at("%s/%s", dir, name);
}

static void save_bytes(const char *name, const void *bytes, size_t n)
{
    write_bytes(in_dir(name), bytes, n);
}

/* A .npy with any dtype text, version 1.0: what the project's writer will
 * not make (|b1 masks, <f2, big-endian, a shape that lies). */
static void write_npy_raw(const char *name, const char *descr, const char *shape,
                          const void *data, size_t n)
{
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                       descr, shape);
    size_t total = 10 + (size_t)len + 1, pad = (64 - total % 64) % 64;
    unsigned char *b = calloc(1, total + pad + n + 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)((total + pad - 10) & 0xff);
    b[9] = (unsigned char)((total + pad - 10) >> 8);
    memcpy(b + 10, dict, (size_t)len);
    memset(b + 10 + len, ' ', pad);
    b[total + pad - 1] = '\n';
    if (n) memcpy(b + total + pad, data, n);
    save_bytes(name, b, total + pad + n);
    free(b);
}

static void save_f32(const char *name, const float *v, int ndim, const int64_t *shape)
{
    Error err;
    ck_assert_msg(npy_save_f32(in_dir(name), v, ndim, shape, &err) == 0, "%s", err.msg);
}

static void save_i64(const char *name, const int64_t *v, int ndim, const int64_t *shape)
{
    Error err;
    ck_assert_msg(npy_save_i64(in_dir(name), v, ndim, shape, &err) == 0, "%s", err.msg);
}

/* rows x cols floats of a fixed pattern, in [-1, 1]. */
static void save_mat(const char *name, int rows, int cols)
{
    float *v = calloc((size_t)(rows * cols) + 1, sizeof *v);
    for (int k = 0; k < rows * cols; k++) v[k] = (float)sin(0.7 * k + 0.3);
    const int64_t shape[2] = {rows, cols};
    save_f32(name, v, 2, shape);
    free(v);
}

/* The first `keep` bytes of file `from`, as file `to`. */
static void save_prefix(const char *from, const char *to, long keep)
{
    FILE *fp = fopen(in_dir(from), "rb");
    ck_assert_ptr_nonnull(fp);
    unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    if (keep < 0) keep += (long)n;
    ck_assert(keep >= 0 && (size_t)keep <= n);
    save_bytes(to, buf, (size_t)keep);
}

/* A copy of the .npz `from` with one array changed. */
enum { DROP, FIRST_NAN, SET_INT, ADD_COLUMN, AS_INT, FILL_HUGE };

static void npz_variant(const char *from, const char *to, const char *name, int how, int64_t value)
{
    Npz z;
    Error err;
    ck_assert_msg(npz_load(in_dir(from), &z, &err) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(npz_get(&z, name));
    NpzWriter w;
    npz_writer_init(&w);
    for (int k = 0; k < z.count; k++) {
        Tensor *t = &z.arrays[k];
        int changed = strcmp(z.names[k], name) == 0;
        if (changed && how == DROP) continue;
        if (changed && how == FIRST_NAN) t->f[0] = NAN;
        if (changed && how == SET_INT) t->i[0] = value;
        for (int64_t i = 0; changed && how == FILL_HUGE && i < t->size; i++) t->f[i] = 3e38f;
        if (changed && how == ADD_COLUMN) {
            int64_t shape[2] = {t->ndim == 2 ? t->shape[0] : 1, t->shape[t->ndim - 1] + 1};
            float *wide = calloc((size_t)(shape[0] * shape[1]), sizeof *wide);
            npz_add_f32(&w, z.names[k], wide, 2, shape);
            free(wide);
            continue;
        }
        if (changed && how == AS_INT) {
            int64_t *ints = calloc((size_t)t->size, sizeof *ints);
            npz_add_i64(&w, z.names[k], ints, t->ndim, t->shape);
            free(ints);
            continue;
        }
        if (t->dtype == DT_F32) npz_add_f32(&w, z.names[k], t->f, t->ndim, t->shape);
        else npz_add_i64(&w, z.names[k], t->i, t->ndim, t->shape);
    }
    ck_assert_msg(npz_write(&w, in_dir(to), &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
    npz_free(&z);
}

/* Multi-head attention of chapter 4 with E = 4: in_proj (12, 4), out_proj (4, 4). */
static void make_mha(void)
{
    float w[48], b[12], o[16], ob[4];
    for (int k = 0; k < 48; k++) w[k] = (float)cos(0.37 * k);
    for (int k = 0; k < 12; k++) b[k] = 0.01f * (float)k;
    for (int k = 0; k < 16; k++) o[k] = (float)sin(0.5 * k);
    for (int k = 0; k < 4; k++) ob[k] = 0.1f;
    const int64_t s_w[2] = {12, 4}, s_b[1] = {12}, s_o[2] = {4, 4}, s_ob[1] = {4};
    NpzWriter wr;
    Error err;
    npz_writer_init(&wr);
    npz_add_f32(&wr, "in_proj_weight", w, 2, s_w);
    npz_add_f32(&wr, "in_proj_bias", b, 1, s_b);
    npz_add_f32(&wr, "out_proj.weight", o, 2, s_o);
    npz_add_f32(&wr, "out_proj.bias", ob, 1, s_ob);
    ck_assert_msg(npz_write(&wr, in_dir("mha.npz"), &err) == 0, "%s", err.msg);
    npz_writer_free(&wr);
}

/* One encoder layer of chapter 6, E = 4, F = 8: the whole model's first
 * encoder layer with its prefix taken off. */
static void make_layer(const Transformer *m)
{
    NpzWriter w;
    Error err;
    npz_writer_init(&w);
    const char *prefix = "encoder.layers.0.";
    for (int i = 0; i < m->params.count; i++) {
        const Param *p = &m->params.items[i];
        if (strncmp(p->name, prefix, strlen(prefix)) != 0) continue;
        int64_t shape[2] = {p->rows, p->cols};
        npz_add_f32(&w, p->name + strlen(prefix), m->params.data + p->offset, p->ndim,
                    p->ndim == 1 ? shape + 1 : shape);
    }
    ck_assert_msg(npz_write(&w, in_dir("layer.npz"), &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
}

/* Files whose few real numbers give sizes that need gigabytes (found while
 * fuzzing, tests/fuzz/corpus/model/huge_width_no_weights): a model of width
 * 16000 holding only its embeddings and the first linear1 of each stack
 * (a deflated .npz of zeros holds that in 2 KB; here it is stored, 256 KB),
 * and a checkpoint whose train.model asks for the largest model ch10 allows.
 * The loaders must refuse them before allocating. */
static void make_bombs(void)
{
    enum { WIDE = 16000 };
    float *zeros = calloc(WIDE, sizeof *zeros);
    const int64_t row[2] = {1, WIDE}, one = 1, zero = 0;
    NpzWriter w;
    Error err;
    npz_writer_init(&w);
    npz_add_f32(&w, "src_embed.weight", zeros, 2, row);
    npz_add_f32(&w, "tgt_embed.weight", zeros, 2, row);
    npz_add_f32(&w, "encoder.layers.0.linear1.weight", zeros, 2, row);
    npz_add_f32(&w, "decoder.layers.0.linear1.weight", zeros, 2, row);
    npz_add_i64(&w, "config.nhead", &one, 0, NULL);
    npz_add_i64(&w, "config.norm_first", &zero, 0, NULL);
    ck_assert_msg(npz_write(&w, in_dir("model_bomb.npz"), &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
    free(zeros);

    TrainConfig c;
    memset(&c, 0, sizeof c);
    c.model = (TransformerConfig){8, 16, 2, 1, 1, TASK_VOCAB, TASK_VOCAB, 0, 1, 1};
    c.task = TASK_COPY;
    c.batch = 2;
    c.factor = 0.25f;
    c.warmup = 10;
    c.steps = 4;
    Trainer t;
    trainer_new(&t, &c);
    ck_assert_msg(checkpoint_save(in_dir("ckpt.npz"), &t, &err) == 0, "%s", err.msg);
    trainer_free(&t);
    Npz z;
    ck_assert_msg(npz_load(in_dir("ckpt.npz"), &z, &err) == 0, "%s", err.msg);
    npz_writer_init(&w);
    for (int k = 0; k < z.count; k++) {
        Tensor *a = &z.arrays[k];
        if (strcmp(z.names[k], "train.model") == 0) {
            const int64_t largest[9] = {4096, 16384, 64, 64, 64, 0, 1, 1, 1};
            memcpy(a->i, largest, sizeof largest);
        }
        if (a->dtype == DT_F32) npz_add_f32(&w, z.names[k], a->f, a->ndim, a->shape);
        else npz_add_i64(&w, z.names[k], a->i, a->ndim, a->shape);
    }
    ck_assert_msg(npz_write(&w, in_dir("ckpt_bomb.npz"), &err) == 0, "%s", err.msg);
    npz_writer_free(&w);
    npz_free(&z);
}

/* Chapter 11: a pronunciation model (the chapter's vocabularies, E = 8),
 * broken copies of it, and dictionaries good and bad. */
static void make_g2p_files(void)
{
    TransformerConfig c = {8, 16, 2, 1, 1, G2P_LETTERS, G2P_PHONES, 1, 1, 1};
    Transformer m;
    Rng r;
    rng_seed(&r, 11);
    transformer_new(&m, &c, &r);
    Error err;
    ck_assert_msg(transformer_save(&m, in_dir("g2p.npz"), &err) == 0, "%s", err.msg);
    transformer_free(&m);
    npz_variant("g2p.npz", "g2p_nan.npz", "decoder.layers.0.linear2.weight", FIRST_NAN, 0);
    save_prefix("g2p.npz", "g2p_trunc.npz", -100);
    static const char dict[] = "CAT\tK AE T\nDOG\tD AO G\nFISH\tF IH SH\nSHOE\tSH UW\n"
                               "COAT\tK OW T\n";
    save_bytes("dict.txt", dict, sizeof dict - 1);
    static const char bad[] = "CAT\tK AE T\nDOG\tD AO G\nFISH\tF IH XX\n";   /* line 3 */
    save_bytes("dict_bad.txt", bad, sizeof bad - 1);
    save_bytes("words.txt", "CAT\nDOG\n", 8);                                  /* no pronunciations */
    static const char ref[] = "EITHER\tAY DH ER\tIY DH ER\nPECAN\tP IH K AE N\tP IY K AA N\n";
    save_bytes("ref.txt", ref, sizeof ref - 1);
}

/* Every file the rows name. */
static void make_files(void)
{
    /* Chapters 1-3: Q (3, 4), K (5, 4), V (5, 2), a mask (3, 5). */
    save_mat("q.npy", 3, 4);
    save_mat("k.npy", 5, 4);
    save_mat("v.npy", 5, 2);
    save_mat("k_narrow.npy", 5, 3);     /* key width 3 against query width 4 */
    save_mat("v_short.npy", 4, 2);      /* 4 values for 5 keys */
    save_mat("zero_rows.npy", 0, 4);
    save_mat("zero_cols.npy", 3, 0);
    save_mat("q_long.npy", 256, 4);     /* outputs larger than FULL_DISK's 4 KB */
    save_mat("v_wide.npy", 5, 16);
    const unsigned char mask[15] = {0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
    write_npy_raw("mask.npy", "|b1", "(3, 5)", mask, 15);
    write_npy_raw("mask_shape.npy", "|b1", "(5, 3)", mask, 15);
    save_mat("mask_float.npy", 3, 5);
    float bad[12];
    for (int k = 0; k < 12; k++) bad[k] = 0.5f;
    const int64_t s34[2] = {3, 4};
    bad[6] = NAN;
    save_f32("nan.npy", bad, 2, s34);
    bad[6] = -INFINITY;
    save_f32("inf.npy", bad, 2, s34);
    float huge[20];
    for (int k = 0; k < 20; k++) huge[k] = 1e38f;   /* finite, but Q K^T is not */
    const int64_t s54[2] = {5, 4};
    save_f32("huge_values.npy", huge, 2, s34);
    save_f32("huge_keys.npy", huge, 2, s54);
    const int64_t s234[3] = {2, 3, 4}, s4[1] = {4};
    float x[24];
    for (int k = 0; k < 24; k++) x[k] = (float)cos(0.3 * k);
    save_f32("rank3.npy", x, 3, s234);
    save_f32("rank1.npy", x, 1, s4);
    write_npy_raw("half.npy", "<f2", "(3, 4)", x, 24);                  /* float16 */
    write_npy_raw("big_endian.npy", ">f4", "(3, 4)", x, 48);
    write_npy_raw("complex.npy", "<c8", "(3, 2)", x, 48);
    write_npy_raw("huge.npy", "<f4", "(1000000000, 1000000000)", x, 16);   /* a lying header */
    save_prefix("q.npy", "trunc.npy", -5);                             /* data cut short */
    save_prefix("q.npy", "trunc_header.npy", 30);                      /* header cut short */
    save_bytes("empty.npy", "", 0);
    save_bytes("text.npy", "not a numpy file\n", 17);
    save_bytes("blocker", "a regular file, not a directory\n", 32);
    ck_assert_int_eq(mkdir(in_dir("adir"), 0777), 0);
    ck_assert_int_eq(mkdir(in_dir("out"), 0777), 0);

    /* Chapter 4: E = 4. */
    make_mha();
    npz_variant("mha.npz", "mha_nan.npz", "out_proj.weight", FIRST_NAN, 0);
    npz_variant("mha.npz", "mha_missing.npz", "out_proj.bias", DROP, 0);
    npz_variant("mha.npz", "mha_shape.npz", "out_proj.weight", ADD_COLUMN, 0);
    npz_variant("mha.npz", "mha_int.npz", "in_proj_bias", AS_INT, 0);
    save_prefix("mha.npz", "mha_trunc.npz", -40);
    const unsigned char kpm[5] = {0, 0, 0, 0, 1};
    write_npy_raw("kpm.npy", "|b1", "(5,)", kpm, 5);
    write_npy_raw("kpm_shape.npy", "|b1", "(4,)", kpm, 4);

    /* Chapters 6-10: a whole model, E = 8, F = 16, 2 heads, 1 + 1 layers,
     * vocabularies of 7; its first encoder layer for chapter 6 (E = 8). */
    TransformerConfig c = {8, 16, 2, 1, 1, 7, 7, 0, 1, 1};
    Transformer m;
    Rng r;
    rng_seed(&r, 9);
    transformer_new(&m, &c, &r);
    Error err;
    ck_assert_msg(transformer_save(&m, in_dir("model.npz"), &err) == 0, "%s", err.msg);
    make_layer(&m);
    transformer_free(&m);
    npz_variant("model.npz", "model_heads3.npz", "config.nhead", SET_INT, 3);
    npz_variant("model.npz", "model_heads0.npz", "config.nhead", SET_INT, 0);
    npz_variant("model.npz", "model_nan.npz", "encoder.layers.0.linear1.weight", FIRST_NAN, 0);
    npz_variant("model.npz", "model_missing.npz", "encoder.layers.0.norm1.bias", DROP, 0);
    npz_variant("model.npz", "model_shape.npz", "encoder.layers.0.linear2.weight", ADD_COLUMN, 0);
    npz_variant("model.npz", "model_int.npz", "src_embed.weight", AS_INT, 0);
    /* Finite, but times sqrt(d_model) beyond float32: every output overflows. */
    npz_variant("model.npz", "model_huge.npz", "src_embed.weight", FILL_HUGE, 0);
    save_prefix("model.npz", "model_trunc.npz", -100);
    npz_variant("layer.npz", "layer_nan.npz", "norm1.weight", FIRST_NAN, 0);
    npz_variant("layer.npz", "layer_missing.npz", "linear2.bias", DROP, 0);
    npz_variant("layer.npz", "layer_huge.npz", "linear1.bias", FILL_HUGE, 0);
    float xl[2 * 3 * 8];
    for (int k = 0; k < 48; k++) xl[k] = (float)sin(0.2 * k);
    const int64_t s238[3] = {2, 3, 8}, s237[3] = {2, 3, 7};
    save_f32("x.npy", xl, 3, s238);
    save_f32("x_narrow.npy", xl, 3, s237);
    float xlong[4 * 64 * 8];
    for (int k = 0; k < 4 * 64 * 8; k++) xlong[k] = (float)cos(0.1 * k);
    const int64_t s4648[3] = {4, 64, 8};
    save_f32("x_long.npy", xlong, 3, s4648);
    xl[5] = INFINITY;
    save_f32("x_inf.npy", xl, 3, s238);

    const unsigned char kpm6[6] = {0, 0, 1, 0, 0, 0};
    write_npy_raw("kpm6.npy", "|b1", "(2, 3)", kpm6, 6);
    write_npy_raw("kpm6_shape.npy", "|b1", "(3, 2)", kpm6, 6);

    const int64_t src[10] = {1, 3, 4, 5, 2, 1, 6, 2, 0, 0}, tgt[8] = {1, 3, 4, 5, 1, 6, 2, 0};
    const int64_t tgt_out[8] = {3, 4, 5, 2, 6, 2, 0, 0};
    const int64_t s25[2] = {2, 5}, s24[2] = {2, 4}, s34i[2] = {3, 4}, s23i[2] = {2, 3};
    const int64_t s10[1] = {10};
    save_i64("src.npy", src, 2, s25);
    save_i64("tgt.npy", tgt, 2, s24);
    save_i64("tgt_out.npy", tgt_out, 2, s24);
    int64_t ids[12];
    memcpy(ids, src, sizeof src);
    ids[3] = 7;                                         /* the vocabulary is [0, 7) */
    save_i64("src_oov.npy", ids, 2, s25);
    ids[3] = -1;
    save_i64("src_negative.npy", ids, 2, s25);
    save_i64("src_rank1.npy", src, 1, s10);
    for (int k = 0; k < 12; k++) ids[k] = 1 + k % 5;
    save_i64("tgt_batch3.npy", ids, 2, s34i);           /* 3 rows against 2 */
    save_i64("tgt_out_short.npy", ids, 2, s23i);
    memset(ids, 0, sizeof ids);
    save_i64("tgt_out_pad.npy", ids, 2, s24);           /* every position ignored */
    save_mat("src_float.npy", 2, 5);
    const int64_t s20[2] = {2, 0};
    save_i64("src_empty.npy", ids, 2, s20);
    int64_t many[8 * 40];
    for (int k = 0; k < 8 * 40; k++) many[k] = 1 + k % 6;
    const int64_t s840[2] = {8, 40};
    save_i64("src_long.npy", many, 2, s840);

    make_bombs();
    make_g2p_files();
}

static void setup(void)
{
    make_temp_dir(dir, sizeof dir, "bad-input");
    make_files();
}

static void teardown(void)
{
    remove_tree(dir);
}

/* ------------------------------------------------------------ the table */

/* FULL_DISK: run with a file size limit; PROGRESS: a training run, whose
 * progress lines on stderr come before the message; MPI2: under
 * `mpirun -np 2` (chapter 12). There the message may be missing: when
 * another rank exits first, mpirun ends the job and may drop the lines of
 * rank 0 not yet passed on; the rows of one rank check the messages. (No
 * FULL_DISK row for chapter 12: with the limit, Open MPI cannot write its
 * own session files and MPI_Init fails before the program starts.) */
enum { FULL_DISK = 1, PROGRESS = 2, MPI2 = 4 };

typedef struct {
    const char *prog;     /* "ch01" */
    const char *args;     /* words separated by spaces; "@" is the temporary directory */
    int code;             /* 1 data error, 2 usage error */
    const char *needle;   /* the message must contain it ("@" expands too) */
    int flags;            /* FULL_DISK, PROGRESS, MPI2 */
} Case;

/* Words that several rows share. */
#define QKV "--query @/q.npy --key @/k.npy --value @/v.npy "
#define LONG_QKV "--query @/q_long.npy --key @/k.npy --value @/v_wide.npy "
#define MHA "--params @/mha.npz --heads 2 --query @/q.npy --key @/k.npy --value @/k.npy "
#define LAYER "--params @/layer.npz --heads 2 --input @/x.npy "
#define ENC "--params @/model.npz --src @/src.npy "
#define DEC "--params @/model.npz --src @/src.npy --tgt @/tgt.npy "
#define LOSS "--params @/model.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out.npy "

static const Case CASES[] = {
    /* --- chapters 1-3: Q, K, V (ch03 adds --mask and --causal) */
    {"ch01", "--query", 2, "--query", 0},
    {"ch01", QKV "--output @/out/o.npy --attn @/blocker/a.npy", 1, "@/blocker/a.npy", 0},
    {"ch01", QKV "--output @/nodir/o.npy --attn @/out/a.npy", 1, "@/nodir/o.npy", 0},
    {"ch01", QKV "--output @/adir", 1, "@/adir", 0},
    {"ch01", LONG_QKV "--output @/out/o.npy --attn @/out/a.npy", 1, "@/out/", FULL_DISK},
    {"ch01", QKV "--output @/out/o.npy --plot png --out @/blocker/figs", 1, "@/blocker", 0},
    {"ch01", "--query @/nope.npy --key @/k.npy --value @/v.npy --output @/out/o.npy", 1,
     "@/nope.npy", 0},
    {"ch01", "--query @/adir --key @/k.npy --value @/v.npy", 1, "@/adir", 0},
    {"ch01", "--query @/empty.npy --key @/k.npy --value @/v.npy", 1, "@/empty.npy", 0},
    {"ch01", "--query @/text.npy --key @/k.npy --value @/v.npy", 1, "@/text.npy", 0},
    {"ch01", "--query @/trunc.npy --key @/k.npy --value @/v.npy", 1, "truncated", 0},
    {"ch01", "--query @/trunc_header.npy --key @/k.npy --value @/v.npy", 1, "@/trunc_header.npy",
     0},
    {"ch01", "--query @/huge.npy --key @/k.npy --value @/v.npy", 1, "@/huge.npy", 0},
    {"ch01", "--query @/half.npy --key @/k.npy --value @/v.npy", 1, "<f2", 0},
    {"ch01", "--query @/big_endian.npy --key @/k.npy --value @/v.npy", 1, ">f4", 0},
    {"ch01", "--query @/complex.npy --key @/k.npy --value @/v.npy", 1, "<c8", 0},
    {"ch01", "--query @/src.npy --key @/k.npy --value @/v.npy", 1, "@/src.npy", 0},
    {"ch01", "--query @/rank3.npy --key @/k.npy --value @/v.npy", 1, "2-D", 0},
    {"ch01", "--query @/rank1.npy --key @/k.npy --value @/v.npy", 1, "2-D", 0},
    {"ch01", "--query @/q.npy --key @/k_narrow.npy --value @/v.npy --output @/out/o.npy", 1,
     "width", 0},
    {"ch01", "--query @/q.npy --key @/k.npy --value @/v_short.npy --output @/out/o.npy", 1,
     "@/v_short.npy", 0},
    {"ch01", "--query @/nan.npy --key @/k.npy --value @/v.npy --output @/out/o.npy", 1,
     "@/nan.npy", 0},
    {"ch01", "--query @/q.npy --key @/inf.npy --value @/v.npy", 1, "@/inf.npy", 0},
    {"ch01", "--query @/huge_values.npy --key @/huge_keys.npy --value @/v.npy --output @/out/o.npy "
     "--attn @/out/a.npy", 1, "overflows", 0},
    {"ch01", "--query @/zero_cols.npy --key @/zero_cols.npy --value @/v.npy --output @/out/o.npy",
     1, "@/zero_cols.npy", 0},

    {"ch02", QKV "--output @/out/o.npy --attn @/nodir/a.npy", 1, "@/nodir/a.npy", 0},
    {"ch02", QKV "--output @/blocker/o.npy", 1, "@/blocker/o.npy", 0},
    {"ch02", LONG_QKV "--output @/out/o.npy", 1, "@/out/o.npy", FULL_DISK},
    {"ch02", "--query @/trunc.npy --key @/k.npy --value @/v.npy", 1, "@/trunc.npy", 0},
    {"ch02", "--query @/q.npy --key @/adir --value @/v.npy", 1, "@/adir", 0},
    {"ch02", "--query @/q.npy --key @/k_narrow.npy --value @/v.npy", 1, "width", 0},
    {"ch02", "--query @/q.npy --key @/k.npy --value @/nan.npy", 1, "@/nan.npy", 0},
    {"ch02", "--query @/zero_cols.npy --key @/zero_cols.npy --value @/v.npy --output @/out/o.npy",
     1, "@/zero_cols.npy", 0},
    {"ch02", "--query @/q.npy --key @/k.npy --value @/half.npy", 1, "<f2", 0},
    {"ch02", "--query @/huge_values.npy --key @/huge_keys.npy --value @/v.npy --output @/out/o.npy "
     "--attn @/out/a.npy", 1, "overflows", 0},

    {"ch03", QKV "--mask @/mask.npy --output @/out/o.npy --attn @/blocker/a.npy", 1, "@/blocker",
     0},
    {"ch03", LONG_QKV "--causal --output @/out/o.npy", 1, "@/out/o.npy", FULL_DISK},
    {"ch03", QKV "--mask @/mask_shape.npy --output @/out/o.npy", 1, "@/mask_shape.npy", 0},
    {"ch03", QKV "--mask @/mask_float.npy", 1, "@/mask_float.npy", 0},
    {"ch03", QKV "--mask @/nope.npy", 1, "@/nope.npy", 0},
    {"ch03", QKV "--mask @/empty.npy", 1, "@/empty.npy", 0},
    {"ch03", QKV "--mask @/rank3.npy", 1, "@/rank3.npy", 0},
    {"ch03", "--mask @/mask.npy", 2, "--mask", 0},
    {"ch03", "--causal --query @/q.npy --key @/k_narrow.npy --value @/v.npy", 1, "width", 0},
    {"ch03", "--query @/inf.npy --key @/k.npy --value @/v.npy --causal", 1, "@/inf.npy", 0},
    {"ch03", "--query @/huge_values.npy --key @/huge_keys.npy --value @/v.npy --causal "
     "--output @/out/o.npy --attn @/out/a.npy", 1, "overflows", 0},

    /* --- chapter 4: multi-head attention */
    {"ch04", MHA "--output @/out/o.npy --attn @/nodir/a.npy", 1, "@/nodir/a.npy", 0},
    {"ch04", "--params @/mha.npz --heads 2 --query @/q_long.npy --key @/k.npy --value @/k.npy "
     "--output @/out/o.npy --attn @/out/a.npy", 1, "@/out/", FULL_DISK},
    {"ch04", "--params @/mha.npz --heads 3 --query @/q.npy --key @/k.npy --value @/k.npy "
     "--output @/out/o.npy", 1, "3 heads", 0},
    {"ch04", "--params @/mha.npz --heads 0 --query @/q.npy --key @/k.npy --value @/k.npy", 2,
     "--heads", 0},
    {"ch04", "--params @/mha.npz --heads -2 --query @/q.npy --key @/k.npy --value @/k.npy", 2,
     "--heads", 0},
    {"ch04", "--params @/mha.npz --heads 99999999999999999999 --query @/q.npy --key @/k.npy "
     "--value @/k.npy", 2, "--heads", 0},
    {"ch04", "--params @/mha.npz --heads two --query @/q.npy --key @/k.npy --value @/k.npy", 2,
     "--heads", 0},
    {"ch04", "--params @/mha.npz --query @/q.npy --key @/k.npy --value @/k.npy", 2, "--heads", 0},
    {"ch04", "--params @/mha_nan.npz --heads 2 --query @/q.npy --key @/k.npy --value @/k.npy", 1,
     "@/mha_nan.npz", 0},
    {"ch04", "--params @/mha_missing.npz --heads 2 --query @/q.npy --key @/k.npy --value @/k.npy",
     1, "out_proj.bias", 0},
    {"ch04", "--params @/mha_shape.npz --heads 2 --query @/q.npy --key @/k.npy --value @/k.npy", 1,
     "out_proj.weight", 0},
    {"ch04", "--params @/mha_int.npz --heads 2 --query @/q.npy --key @/k.npy --value @/k.npy", 1,
     "in_proj_bias", 0},
    {"ch04", "--params @/mha_trunc.npz --heads 2 --query @/q.npy --key @/k.npy --value @/k.npy", 1,
     "@/mha_trunc.npz", 0},
    {"ch04", "--params @/q.npy --heads 2 --query @/q.npy --key @/k.npy --value @/k.npy", 1,
     "@/q.npy", 0},
    {"ch04", "--params @/adir --heads 2 --query @/q.npy --key @/k.npy --value @/k.npy", 1,
     "@/adir", 0},
    {"ch04", "--params @/empty.npy --heads 2 --query @/q.npy --key @/k.npy --value @/k.npy", 1,
     "@/empty.npy", 0},
    {"ch04", "--params @/mha.npz --heads 2 --query @/q.npy --key @/k_narrow.npy --value @/k.npy",
     1, "@/k_narrow.npy", 0},
    {"ch04", "--params @/mha.npz --heads 2 --query @/q.npy --key @/k.npy --value @/v.npy", 1,
     "@/v.npy", 0},
    {"ch04", "--params @/mha.npz --heads 2 --query @/rank3.npy --key @/k.npy --value @/k.npy", 1,
     "@/rank3.npy", 0},
    {"ch04", "--params @/mha.npz --heads 2 --query @/nan.npy --key @/k.npy --value @/k.npy", 1,
     "@/nan.npy", 0},
    {"ch04", "--params @/mha.npz --heads 2 --query @/zero_rows.npy --key @/k.npy --value @/k.npy "
     "--output @/out/o.npy", 1, "@/zero_rows.npy", 0},
    {"ch04", MHA "--key-padding-mask @/kpm_shape.npy", 1, "@/kpm_shape.npy", 0},
    {"ch04", MHA "--mask @/mask_float.npy", 1, "@/mask_float.npy", 0},
    {"ch04", MHA "--mask @/mask_shape.npy", 1, "@/mask_shape.npy", 0},
    {"ch04", "--params @/mha.npz --heads 2 --query @/huge_values.npy --key @/huge_keys.npy "
     "--value @/huge_keys.npy --output @/out/o.npy --attn @/out/a.npy", 1, "overflows", 0},

    /* --- chapter 5: sizes */
    {"ch05", "--positions 0 --dim 8", 2, "--positions", 0},
    {"ch05", "--positions -5 --dim 8", 2, "--positions", 0},
    {"ch05", "--positions 8 --dim 0", 2, "--dim", 0},
    {"ch05", "--positions 8 --dim 1e3", 2, "--dim", 0},
    {"ch05", "--positions 8 --dim ''", 2, "--dim", 0},
    {"ch05", "--positions 99999999999999999999 --dim 8", 2, "--positions", 0},
    {"ch05", "--positions 1000000 --dim 1000000 --output @/out/pe.npy", 2, "--positions", 0},
    {"ch05", "--positions 8", 2, "--dim", 0},
    {"ch05", "--positions 8 --dim 8 --output @/nodir/pe.npy", 1, "@/nodir/pe.npy", 0},
    {"ch05", "--positions 8 --dim 8 --output @/blocker/pe.npy", 1, "@/blocker/pe.npy", 0},
    {"ch05", "--positions 8 --dim 8 --output @/adir", 1, "@/adir", 0},
    {"ch05", "--positions 64 --dim 64 --output @/out/pe.npy", 1, "@/out/pe.npy", FULL_DISK},
    {"ch05", "--positions 8 --dim 8 --output @/out/pe.npy --plot png --out @/blocker/f", 1,
     "@/blocker", 0},

    /* --- chapter 6: one encoder layer, E = 8 */
    {"ch06", LAYER "--output @/nodir/o.npy", 1, "@/nodir/o.npy", 0},
    {"ch06", "--params @/layer.npz --heads 2 --input @/x_long.npy --output @/out/o.npy", 1,
     "@/out/o.npy", FULL_DISK},
    {"ch06", "--params @/layer.npz --heads 3 --input @/x.npy --output @/out/o.npy", 1, "heads", 0},
    {"ch06", "--params @/layer.npz --heads 0 --input @/x.npy", 2, "--heads", 0},
    {"ch06", "--params @/layer_nan.npz --heads 2 --input @/x.npy", 1, "norm1.weight", 0},
    {"ch06", "--params @/layer_missing.npz --heads 2 --input @/x.npy", 1, "linear2.bias", 0},
    {"ch06", "--params @/model.npz --heads 2 --input @/x.npy", 1, "@/model.npz", 0},
    {"ch06", "--params @/layer.npz --heads 2 --input @/x_narrow.npy --output @/out/o.npy", 1,
     "@/x_narrow.npy", 0},
    {"ch06", "--params @/layer.npz --heads 2 --input @/q.npy", 1, "@/q.npy", 0},
    {"ch06", "--params @/layer.npz --heads 2 --input @/x_inf.npy", 1, "@/x_inf.npy", 0},
    {"ch06", "--params @/layer.npz --heads 2 --input @/trunc.npy", 1, "@/trunc.npy", 0},
    {"ch06", LAYER "--key-padding-mask @/kpm6_shape.npy", 1, "@/kpm6_shape.npy", 0},
    {"ch06", LAYER "--key-padding-mask @/x.npy", 1, "@/x.npy", 0},
    {"ch06", "--params @/layer_huge.npz --heads 2 --input @/x.npy --output @/out/o.npy", 1,
     "overflows", 0},

    /* --- chapter 7: the encoder of a whole model */
    {"ch07", ENC "--output @/out/m.npy --attn @/blocker/a.npy", 1, "@/blocker/a.npy", 0},
    {"ch07", "--params @/model.npz --src @/src_long.npy --output @/out/m.npy --attn @/out/a.npy", 1,
     "@/out/", FULL_DISK},
    {"ch07", "--params @/model.npz --src @/src_oov.npy --output @/out/m.npy", 1, "@/src_oov.npy",
     0},
    {"ch07", "--params @/model.npz --src @/src_negative.npy", 1, "@/src_negative.npy", 0},
    {"ch07", "--params @/model.npz --src @/src_float.npy", 1, "@/src_float.npy", 0},
    {"ch07", "--params @/model.npz --src @/src_rank1.npy", 1, "@/src_rank1.npy", 0},
    {"ch07", "--params @/model.npz --src @/src_empty.npy", 1, "@/src_empty.npy", 0},
    {"ch07", "--params @/model_heads3.npz --src @/src.npy --output @/out/m.npy", 1,
     "config.nhead", 0},
    {"ch07", "--params @/model_heads0.npz --src @/src.npy", 1, "config.nhead", 0},
    {"ch07", "--params @/model_nan.npz --src @/src.npy", 1, "linear1.weight", 0},
    {"ch07", "--params @/model_missing.npz --src @/src.npy", 1, "norm1.bias", 0},
    {"ch07", "--params @/model_shape.npz --src @/src.npy", 1, "linear2.weight", 0},
    {"ch07", "--params @/model_int.npz --src @/src.npy", 1, "src_embed.weight", 0},
    {"ch07", "--params @/model_trunc.npz --src @/src.npy", 1, "@/model_trunc.npz", 0},
    {"ch07", "--params @/layer.npz --src @/src.npy", 1, "@/layer.npz", 0},
    {"ch07", "--params @/model.npz", 2, "--src", 0},
    {"ch07", "--params @/model_bomb.npz --src @/src.npy", 1, "in_proj_weight", 0},
    {"ch07", "--params @/model_huge.npz --src @/src.npy --output @/out/m.npy --attn @/out/a.npy", 1,
     "overflows", 0},

    /* --- chapter 8: the decoder */
    {"ch08", DEC "--output @/out/y.npy --self-attn @/out/s.npy --cross-attn @/nodir/c.npy", 1,
     "@/nodir/c.npy", 0},
    {"ch08", "--params @/model.npz --src @/src_long.npy --tgt @/src_long.npy --output @/out/y.npy", 1,
     "@/out/y.npy", FULL_DISK},
    {"ch08", "--params @/model.npz --src @/src.npy --tgt @/tgt_batch3.npy --output @/out/y.npy", 1,
     "@/tgt_batch3.npy", 0},
    {"ch08", "--params @/model.npz --src @/src.npy --tgt @/src_oov.npy", 1, "@/src_oov.npy", 0},
    {"ch08", "--params @/model.npz --src @/src_oov.npy --tgt @/tgt.npy", 1, "@/src_oov.npy", 0},
    {"ch08", "--params @/model.npz --src @/src.npy --tgt @/src_float.npy", 1, "@/src_float.npy",
     0},
    {"ch08", "--params @/model_heads3.npz --src @/src.npy --tgt @/tgt.npy", 1, "config.nhead", 0},
    {"ch08", "--params @/model_nan.npz --src @/src.npy --tgt @/tgt.npy", 1, "linear1.weight", 0},
    {"ch08", "--params @/model_trunc.npz --src @/src.npy --tgt @/tgt.npy", 1, "@/model_trunc.npz",
     0},
    {"ch08", "--params @/nope.npz --src @/src.npy --tgt @/tgt.npy", 1, "@/nope.npz", 0},
    {"ch08", "--params @/model.npz --src @/src.npy", 2, "--tgt", 0},
    {"ch08", "--params @/model_bomb.npz --src @/src.npy --tgt @/tgt.npy", 1, "in_proj_weight", 0},
    {"ch08", "--params @/model_huge.npz --src @/src.npy --tgt @/tgt.npy --output @/out/y.npy", 1,
     "overflows", 0},

    /* --- chapter 9: the whole model */
    {"ch09", DEC "--logits @/nodir/l.npy", 1, "@/nodir/l.npy", 0},
    {"ch09", DEC "--logits @/out/l.npy --save @/blocker/m.npz", 1, "@/blocker/m.npz", 0},
    {"ch09", "--params @/model.npz --src @/src_long.npy --tgt @/src_long.npy --logits @/out/l.npy", 1,
     "@/out/l.npy", FULL_DISK},
    {"ch09", "--params @/model.npz --src @/src_negative.npy --tgt @/tgt.npy --logits @/out/l.npy",
     1, "@/src_negative.npy", 0},
    {"ch09", "--params @/model.npz --src @/src.npy --tgt @/tgt_batch3.npy", 1, "@/tgt_batch3.npy",
     0},
    {"ch09", "--params @/model_heads3.npz --src @/src.npy --tgt @/tgt.npy", 1, "config.nhead", 0},
    {"ch09", "--params @/model_missing.npz --src @/src.npy --tgt @/tgt.npy", 1, "norm1.bias", 0},
    {"ch09", "--params @/model_int.npz --src @/src.npy --tgt @/tgt.npy", 1, "src_embed.weight", 0},
    {"ch09", "--params @/text.npy --src @/src.npy --tgt @/tgt.npy", 1, "@/text.npy", 0},
    {"ch09", "--params @/model.npz --src @/src.npy --greedy --bos 7", 1, "--bos", 0},
    {"ch09", "--params @/model.npz --src @/src.npy --greedy --max-len 0", 2, "--max-len", 0},
    {"ch09", "--params @/model.npz --src @/src.npy --greedy --eos -1", 2, "--eos", 0},
    {"ch09", "--params @/model.npz --src @/src.npy --greedy --tgt @/tgt.npy", 2, "--greedy", 0},
    {"ch09", "--count-params --d-model 0", 2, "--d-model", 0},
    {"ch09", "--count-params --heads 3 --d-model 8", 2, "--heads", 0},
    {"ch09", "--count-params --vocab 99999999999", 2, "--vocab", 0},
    {"ch09", "--save @/blocker/m.npz --plot none", 1, "@/blocker/m.npz", 0},
    {"ch09", "--params @/model_bomb.npz --src @/src.npy --tgt @/tgt.npy", 1, "in_proj_weight", 0},
    {"ch09", "--params @/model_bomb.npz --count-params", 1, "in_proj_weight", 0},
    {"ch09", "--params @/model_huge.npz --src @/src.npy --tgt @/tgt.npy --logits @/out/l.npy", 1,
     "overflows", 0},

    /* --- chapter 10: loss, gradients and steps of the contract; training runs */
    {"ch10", LOSS "--grads @/nodir/g.npz", 1, "@/nodir/g.npz", 0},
    {"ch10", LOSS "--grads @/out/g.npz", 1, "@/out/g.npz", FULL_DISK},
    {"ch10", LOSS "--steps 2 --lr 0.01 --grads @/out/g.npz --params-out @/blocker/p.npz", 1,
     "@/blocker/p.npz", 0},
    {"ch10", LOSS "--steps 2 --lr 0.01 --params-out @/out/p.npz --plot png --out @/blocker/f", 1,
     "@/blocker", 0},
    {"ch10", LOSS "--steps 0 --lr 0.01", 2, "--steps", 0},
    {"ch10", LOSS "--steps -3 --lr 0.01", 2, "--steps", 0},
    {"ch10", LOSS "--steps 3", 2, "--lr", 0},
    {"ch10", LOSS "--steps 3 --lr nan", 2, "--lr", 0},
    {"ch10", LOSS "--steps 3 --lr inf", 2, "--lr", 0},
    {"ch10", LOSS "--steps 3 --lr 0", 2, "--lr", 0},
    {"ch10", LOSS "--steps 3 --lr 1e400", 2, "--lr", 0},
    {"ch10", LOSS "--label-smoothing 1.5", 2, "--label-smoothing", 0},
    {"ch10", LOSS "--label-smoothing -0.1", 2, "--label-smoothing", 0},
    {"ch10", "--params @/model.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out_short.npy", 1,
     "@/tgt_out_short.npy", 0},
    {"ch10", "--params @/model.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out_pad.npy", 1,
     "@/tgt_out_pad.npy", 0},
    {"ch10", "--params @/model.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/src_oov.npy", 1,
     "@/src_oov.npy", 0},
    {"ch10", "--params @/model_nan.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out.npy", 1,
     "linear1.weight", 0},
    {"ch10", "--params @/model_heads3.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out.npy",
     1, "config.nhead", 0},
    {"ch10", "--params @/model.npz --src @/src.npy --tgt @/tgt.npy", 2, "--tgt-out", 0},
    {"ch10", LOSS "--task copy", 2, "--task", 0},
    {"ch10", "--task copy --batch 0", 2, "--batch", 0},
    {"ch10", "--task copy --heads 3", 2, "--heads", 0},
    {"ch10", "--task copy --d-model 0", 2, "--d-model", 0},
    {"ch10", "--task copy --d-model 99999999", 2, "--d-model", 0},
    {"ch10", "--task copy --dropout 1", 2, "--dropout", 0},
    {"ch10", "--task copy --eval-every x", 2, "--eval-every", 0},
    {"ch10", "--task translate", 2, "--task", 0},
    {"ch10", "--task copy --init zeros", 2, "--init", 0},
    {"ch10", "--steps 5", 2, "--steps", 0},
    {"ch10", "--resume --checkpoint @/nope.npz", 1, "@/nope.npz", 0},
    {"ch10", "--resume --checkpoint ''", 2, "--checkpoint: the path is empty", 0},
    {"ch10", "--task copy --checkpoint '' --steps 1", 2, "--checkpoint: the path is empty", 0},
    {"ch10", "--resume --checkpoint @/model.npz", 1, "@/model.npz", 0},
    {"ch10", "--resume --checkpoint @/empty.npy", 1, "@/empty.npy", 0},
    {"ch10", "--resume --checkpoint @/adir", 2, "@/adir", 0},
    {"ch10", "--resume --checkpoint @/ckpt_bomb.npz", 1, "src_embed.weight", 0},
    {"ch10", "--params @/model_bomb.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out.npy", 1,
     "in_proj_weight", 0},
    {"ch10", "--params @/model_huge.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out.npy "
     "--grads @/out/g.npz", 1, "overflow", 0},
    {"ch10", "--params @/model_huge.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out.npy "
     "--steps 2 --lr 0.01 --params-out @/out/p.npz", 1, "overflow", 0},
    {"ch10", "--resume --task copy --checkpoint @/adir --batch 4", 2, "--batch", 0},
    {"ch10", "--task copy --steps 2 --checkpoint @/blocker/c.npz --plot none", 1, "@/blocker", 0},
    {"ch10", "--task copy --steps 2 --batch 2 --test 1 --checkpoint @/out/c.npz --plot none", 1,
     "@/out/c.npz", FULL_DISK | PROGRESS},

    /* --- chapter 12: chapter 10's options, data-parallel; one rank, and two
     * under mpirun (where a rank that fails must not leave the other waiting).
     * Skipped when ch12 is not built (no MPI). */
    {"ch12", LOSS "--grads @/nodir/g.npz", 1, "@/nodir/g.npz", 0},
    {"ch12", LOSS "--steps 2 --lr 0.01 --grads @/out/g.npz --params-out @/blocker/p.npz", 1,
     "@/blocker/p.npz", 0},
    {"ch12", LOSS "--steps 0 --lr 0.01", 2, "--steps", 0},
    {"ch12", LOSS "--steps 3 --lr nan", 2, "--lr", 0},
    {"ch12", "--params @/model.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/src_oov.npy", 1,
     "@/src_oov.npy", 0},
    {"ch12", "--params @/model.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out_pad.npy", 1,
     "@/tgt_out_pad.npy", 0},
    {"ch12", "--params @/model_bomb.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out.npy", 1,
     "in_proj_weight", 0},
    {"ch12", "--params @/model_huge.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out.npy "
     "--grads @/out/g.npz", 1, "overflow", 0},
    {"ch12", "--params @/trunc.npy --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out.npy", 1,
     "@/trunc.npy", 0},
    {"ch12", "--task translate", 2, "--task", 0},
    {"ch12", "--task copy --heads 3", 2, "--heads", 0},
    {"ch12", "--resume --checkpoint @/nope.npz", 1, "@/nope.npz", 0},
    {"ch12", "--resume --checkpoint ''", 2, "--checkpoint: the path is empty", 0},
    {"ch12", "--bench --dropout 0.1 --batch 8", 2, "--dropout: not with --bench", 0},
    {"ch12", "--resume --checkpoint @/ckpt_bomb.npz", 1, "src_embed.weight", 0},
    {"ch12", LOSS "--grads @/nodir/g.npz", 1, "@/nodir/g.npz", MPI2},
    {"ch12", "--params @/model_bomb.npz --src @/src.npy --tgt @/tgt.npy --tgt-out @/tgt_out.npy", 1,
     "in_proj_weight", MPI2},
    {"ch12", "--resume --checkpoint @/ckpt_bomb.npz", 1, "src_embed.weight", MPI2},
    {"ch12", "--no-such-option", 2, "--no-such-option", MPI2},

    /* --- chapter 11: train, eval, predict, show, the demo */
    {"ch11", "fly", 2, "fly", 0},
    {"ch11", "tr\nain", 2, "tr?ain", 0},
    {"ch11", "eval --no-such", 2, "--no-such", 0},
    {"ch11", "predict --model @/g2p.npz -q cat", 2, "-q", 0},
    {"ch11", "eval --recipe full", 2, "--recipe", 0},
    {"ch11", "predict --model @/g2p.npz --steps 3 cat", 2, "--steps", 0},
    {"ch11", "--beam 3", 2, "--beam", 0},
    {"ch11", "train --steps", 2, "--steps", 0},
    {"ch11", "eval --model @/g2p.npz --ref @/ref.txt --beam", 2, "--beam", 0},
    {"ch11", "predict --model @/g2p.npz --beam 0 cat", 2, "--beam", 0},
    {"ch11", "predict --model @/g2p.npz --beam -1 cat", 2, "--beam", 0},
    {"ch11", "eval --model @/g2p.npz --ref @/ref.txt --beam 65", 2, "--beam", 0},
    {"ch11", "show --model @/g2p.npz --beam x --out @/out/f cat", 2, "--beam", 0},
    {"ch11", "predict --model @/g2p.npz --alpha nan cat", 2, "--alpha", 0},
    {"ch11", "eval --model @/g2p.npz --ref @/ref.txt --alpha -1", 2, "--alpha", 0},
    {"ch11", "eval --model @/g2p.npz --ref @/ref.txt --words 0", 2, "--words", 0},
    {"ch11", "train --steps 0", 2, "--steps", 0},
    {"ch11", "train --steps -5", 2, "--steps", 0},
    {"ch11", "train --eval-every 0", 2, "--eval-every", 0},
    {"ch11", "train --recipe tiny --dict @/dict.txt --checkpoint @/out/c.npz --plot none", 2,
     "--recipe", 0},
    {"ch11", "train --resume --seed 3 --checkpoint @/out/c.npz", 2, "--seed", 0},
    {"ch11", "train --resume --checkpoint ''", 2, "--checkpoint: the path is empty", 0},
    {"ch11", "train --resume --recipe full --checkpoint @/out/c.npz", 2, "--recipe", 0},
    {"ch11", "eval --model @/g2p.npz --ref @/ref.txt extra", 2, "extra", 0},
    {"ch11", "show --model @/g2p.npz", 2, "show", 0},
    {"ch11", "predict --model @/nope.npz cat", 1, "@/nope.npz", 0},
    {"ch11", "eval --model @/adir --ref @/ref.txt", 1, "@/adir", 0},
    {"ch11", "show --model @/empty.npy --out @/out/f cat", 1, "@/empty.npy", 0},
    {"ch11", "predict --model @/g2p_trunc.npz cat", 1, "@/g2p_trunc.npz", 0},
    {"ch11", "predict --model tests/fixtures/ch10_post_model.npz cat", 1,
     "tests/fixtures/ch10_post_model.npz", 0},
    {"ch11", "eval --model @/model.npz --ref @/ref.txt", 1, "@/model.npz", 0},
    {"ch11", "predict --model @/g2p_nan.npz cat", 1, "decoder.layers.0.linear2.weight", 0},
    {"ch11", "show --model @/model_bomb.npz --out @/out/f cat", 1, "in_proj_weight", 0},
    {"ch11", "--model @/g2p_trunc.npz --plot none", 1, "@/g2p_trunc.npz", 0},
    {"ch11", "--model @/nope.npz --plot none", 1, "@/nope.npz", 0},
    {"ch11", "show --model @/g2p.npz --plot none c4t", 1, "'c4t'", 0},
    {"ch11", "train --dict @/dict_bad.txt --steps 1 --checkpoint @/out/c.npz --plot none", 1,
     "@/dict_bad.txt:3:", 0},
    {"ch11", "train --dict @/words.txt --steps 1 --checkpoint @/out/c.npz --plot none", 1,
     "@/words.txt:1:", 0},
    {"ch11", "train --dict @/adir --steps 1 --checkpoint @/out/c.npz --plot none", 1, "@/adir", 0},
    {"ch11", "train --dict @/nope.txt --steps 1 --checkpoint @/out/c.npz --plot none", 1,
     "@/nope.txt", 0},
    {"ch11", "train --dict @/g2p.npz --steps 1 --checkpoint @/out/c.npz --plot none", 1,
     "@/g2p.npz", 0},
    {"ch11", "eval --model @/g2p.npz --ref @/nope.ref", 1, "@/nope.ref", 0},
    {"ch11", "eval --model @/g2p.npz --ref @/words.txt", 1, "@/words.txt:1:", 0},
    {"ch11", "eval --model @/g2p.npz --ref @/dict_bad.txt", 1, "@/dict_bad.txt:3:", 0},
    {"ch11", "train --resume --checkpoint @/nope.npz", 1, "@/nope.npz", 0},
    {"ch11", "train --resume --checkpoint @/g2p.npz --dict @/dict.txt", 1, "@/g2p.npz", 0},
    {"ch11", "train --resume --checkpoint @/ckpt.npz --dict @/dict.txt", 1, "@/ckpt.npz", 0},
    {"ch11", "train --resume --checkpoint @/adir --dict @/dict.txt", 1, "@/adir", 0},
    {"ch11", "train --dict @/dict.txt --steps 1 --out @/blocker/o", 1, "@/blocker", 0},
    {"ch11", "show --model @/g2p.npz --plot png --out @/blocker/f cat", 1, "@/blocker", 0},
    {"ch11", "train --dict @/dict.txt --steps 1 --checkpoint @/blocker/sub/c.npz --plot none", 1,
     "@/blocker", 0},
    {"ch11", "train --dict @/dict.txt --steps 1 --checkpoint @/adir --plot none", 1, "@/adir", 0},
    {"ch11", "train --dict @/dict.txt --steps 1 --eval-every 1 --dev-words 2 --checkpoint "
     "@/out/c.npz --plot none", 1, "@/out/c.npz", FULL_DISK | PROGRESS},
};
enum { N_CASES = sizeof CASES / sizeof CASES[0] };

/* Options every program shares: one row each, for every program. */
static const struct {
    const char *args;
    const char *needle;
} COMMON[] = {
    {"--no-such-option", "--no-such-option"},
    {"--seed", "--seed"},                       /* a missing value */
    {"--seed -1", "--seed"},
    {"--seed 12x", "--seed"},
    {"--seed 99999999999999999999999", "--seed"},
    {"--plot jpeg", "--plot"},
    {"--out ''", "--out"},
    {"stray-word", "stray-word"},
    {"-x", "-x"},
    /* A newline or an escape in a word is shown as '?': the message stays one
     * line (found by fuzzing, tests/fuzz/corpus/cli/newline_in_value). */
    {"--plot=svg\nx", "--plot: 'svg?x'"},
    {"--seed 1\n2", "--seed: '1?2'"},
    {"--\033[31mred", "--?[31mred"},
};
enum { N_COMMON = sizeof COMMON / sizeof COMMON[0] };
static const char *const PROGRAMS[] = {"ch01", "ch02", "ch03", "ch04", "ch05", "ch06",
                                       "ch07", "ch08", "ch09", "ch10", "ch12", "ch11"};
enum { N_PROGRAMS = sizeof PROGRAMS / sizeof PROGRAMS[0] };

/* ------------------------------------------------------------ running one */

/* s with every "@" replaced by the temporary directory. */
static char *expand(const char *s)
{
    size_t n = strlen(s) + 1, d = strlen(dir);
    for (const char *p = s; *p; p++) n += *p == '@' ? d : 0;
    char *out = malloc(n), *o = out;
    for (const char *p = s; *p; p++) {
        if (*p == '@') {
            memcpy(o, dir, d);
            o += d;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* The words of args (expanded), after the program; '' is an empty word. */
static int split(char *args, char **argv, int cap)
{
    int n = 0;
    for (char *w = strtok(args, " "); w && n < cap - 1; w = strtok(NULL, " "))
        argv[n++] = strcmp(w, "''") == 0 ? w + 2 : w;
    argv[n] = NULL;
    return n;
}

/* At most 2 GB of address space, far more than any row needs: a program
 * that tries to allocate gigabytes because a small file said so fails
 * ("out of memory") instead of passing unnoticed. Not with AddressSanitizer,
 * which reserves terabytes of address space for itself. */
static void limit_memory(void)
{
#if !UNDER_ASAN
    struct rlimit r = {(rlim_t)2 << 30, (rlim_t)2 << 30};
    setrlimit(RLIMIT_AS, &r);
#endif
}

#define LSAN_SUPP "tests/data_parallel_lsan.supp"

/* Runs prog with args and collects its stderr in msg (through a pipe: a
 * file would fall under the FULL_DISK limit too). Returns the wait status,
 * or -1 if it did not finish within TIMEOUT seconds (it is killed then). */
static int run(const char *prog, const char *args, int flags, char *msg, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", bin_dir(), prog);
    char *words = expand(args);
    char *argv[72];
    int first = 0;
    if (flags & MPI2) {   /* --allow-run-as-root: CI runs as root */
        static char *mpirun[] = {"mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2"};
        for (; first < 5; first++) argv[first] = mpirun[first];
    }
    argv[first] = path;
    split(words, argv + first + 1, 63);
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int out = open("/dev/null", O_WRONLY);
        if (out < 0 || dup2(out, 1) < 0 || dup2(fd[1], 2) < 0) _exit(127);
        close(fd[0]);
        if (flags & FULL_DISK) {
            /* The disk is "full" after 4 KB: the outputs of these rows are
             * larger. (Not less: clang's OpenMP runtime writes a 1 KB file
             * in /dev/shm at start-up, and dies by SIGBUS if it cannot.) */
            struct rlimit r = {4096, 4096};
            signal(SIGXFSZ, SIG_IGN);
            if (setrlimit(RLIMIT_FSIZE, &r) != 0) _exit(127);
        }
        limit_memory();
        if (strcmp(prog, "ch12") == 0 && access(LSAN_SUPP, R_OK) == 0) {
            /* Open MPI keeps memory to the end, which LeakSanitizer would
             * report (and turn the exit status into 1): as test_data_parallel.c. */
            const char *asan = getenv("ASAN_OPTIONS");
            char opts[512];
            snprintf(opts, sizeof opts, "%s%sfast_unwind_on_malloc=0", asan ? asan : "",
                     asan ? ":" : "");
            setenv("ASAN_OPTIONS", opts, 1);
            setenv("LSAN_OPTIONS", "suppressions=" LSAN_SUPP ":print_suppressions=0", 1);
        }
        setenv("OMP_NUM_THREADS", "1", 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    free(words);
    close(fd[1]);
    fcntl(fd[0], F_SETFL, O_NONBLOCK);
    size_t used = 0;
    int status = -1;
    for (int waited = 0; waited < TIMEOUT * 100; waited++) {
        ssize_t n;
        while ((n = read(fd[0], msg + used, cap - 1 - used)) > 0) used += (size_t)n;
        pid_t done = waitpid(pid, &status, WNOHANG);
        ck_assert_int_ge(done, 0);
        if (done == pid) break;
        status = -1;
        sleep_ms(10);
    }
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    ssize_t n;
    while ((n = read(fd[0], msg + used, cap - 1 - used)) > 0) used += (size_t)n;
    msg[used] = '\0';
    close(fd[0]);
    return status;
}

/* The file's text, at most cap - 1 bytes. */
static void slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *fp = fopen(path, "rb");
    if (!fp) return;
    size_t n = fread(buf, 1, cap - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

/* The output files a row names: the words under @/out/. */
static int outputs(const char *args, char names[][512], int cap)
{
    char *words = expand(args), *argv[64];
    int n = split(words, argv, 64), k = 0;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/out/", dir);
    for (int i = 0; i < n && k < cap; i++)
        if (strncmp(argv[i], prefix, strlen(prefix)) == 0) snprintf(names[k++], 512, "%s", argv[i]);
    free(words);
    return k;
}

static const char OLD[] = "an old output file, which a failed run must leave alone\n";

/* Empties @/out; with `old`, puts an old file at each of the row's outputs. */
static void prepare_outputs(char names[][512], int n, int old)
{
    remove_tree(in_dir("out"));
    ck_assert_int_eq(mkdir(in_dir("out"), 0777), 0);
    for (int i = 0; old && i < n; i++) {
        FILE *fp = fopen(names[i], "w");
        ck_assert_ptr_nonnull(fp);
        fputs(OLD, fp);
        fclose(fp);
    }
}

/* A name in d (or below) holding ".tmp-": a temporary file left behind. */
static int find_temporary(const char *d, char *found, size_t cap)
{
    DIR *dd = opendir(d);
    if (!dd) return 0;
    struct dirent *e;
    int hit = 0;
    while (!hit && (e = readdir(dd)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char child[1024];
        snprintf(child, sizeof child, "%s/%s", d, e->d_name);
        if (strstr(e->d_name, ".tmp-")) {
            snprintf(found, cap, "%s", child);
            hit = 1;
        } else {
            hit = find_temporary(child, found, cap);
        }
    }
    closedir(dd);
    return hit;
}

/* After a failed run: each output absent (fresh) or unchanged (old), @/out
 * holding nothing else, no temporary file anywhere in the directory. */
static void check_outputs(const Case *c, char names[][512], int n, int old)
{
    DIR *d = opendir(in_dir("out"));
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        files++;
        ck_assert_msg(old, "%s %s: left %s/out/%s behind", c->prog, c->args, dir, e->d_name);
    }
    closedir(d);
    ck_assert_int_eq(files, old ? n : 0);
    for (int i = 0; old && i < n; i++) {
        char text[256];
        slurp(names[i], text, sizeof text);
        ck_assert_msg(strcmp(text, OLD) == 0, "%s %s: changed %s", c->prog, c->args, names[i]);
    }
    char tmp[1024];
    ck_assert_msg(!find_temporary(dir, tmp, sizeof tmp), "%s %s: left %s behind", c->prog, c->args,
                  tmp);
}

/* mpirun on the PATH (chapter 12's rows under two ranks need it). */
static int have_mpirun(void)
{
    return system("command -v mpirun >/dev/null 2>&1") == 0;
}

/* One run of a row and every requirement on it. */
static void check_case(const Case *c, int old)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", bin_dir(), c->prog);
    if (access(path, X_OK) != 0 && strcmp(c->prog, "ch12") == 0) return;   /* no MPI: not built */
    if (access(path, X_OK) != 0) ck_abort_msg("%s: not built (make %s)", path, path);
    if ((c->flags & MPI2) && !have_mpirun()) return;
    char names[8][512];
    int n = outputs(c->args, names, 8);
    prepare_outputs(names, n, old);

    char msg[4096];
    int status = run(c->prog, c->args, c->flags, msg, sizeof msg);
    ck_assert_msg(status != -1, "%s %s: still running after %d s (killed)", c->prog, c->args,
                  TIMEOUT);
    ck_assert_msg(!WIFSIGNALED(status), "%s %s: killed by signal %d; stderr: %s", c->prog, c->args,
                  WTERMSIG(status), msg);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == c->code,
                  "%s %s: exit %d, expected %d; stderr: %s", c->prog, c->args,
                  WEXITSTATUS(status), c->code, msg);

    /* Under mpirun: each line of a rank that says anything names the problem. */
    char *needle = expand(c->needle), start[16];
    snprintf(start, sizeof start, "%s: ", c->prog);
    if (c->flags & MPI2) {
        for (const char *at = msg; at && *at; at = strchr(at, '\n') ? strchr(at, '\n') + 1 : NULL) {
            const char *end = strchr(at, '\n'), *hit = strstr(at, needle);
            if (strncmp(at, start, strlen(start)) == 0)
                ck_assert_msg(hit && (!end || hit < end), "%s %s: expected '%s' in: %s", c->prog,
                              c->args, needle, at);
        }
        free(needle);
        check_outputs(c, names, n, old);
        return;
    }

    /* The message: the only line, or the last one after a training run's progress. */
    size_t len = strlen(msg);
    ck_assert_msg(len > 0 && msg[len - 1] == '\n', "%s %s: expected a message ending in a "
                  "newline on stderr: '%s'", c->prog, c->args, msg);
    msg[len - 1] = '\0';
    char *line = strrchr(msg, '\n');
    ck_assert_msg(!line || (c->flags & PROGRESS), "%s %s: expected one line on stderr: %s",
                  c->prog, c->args, msg);
    line = line ? line + 1 : msg;
    ck_assert_msg(strncmp(line, start, strlen(start)) == 0, "%s %s: message should start with "
                  "'%s': %s", c->prog, c->args, start, line);
    ck_assert_msg(strstr(line, needle), "%s %s: expected '%s' in: %s", c->prog, c->args, needle,
                  line);
    free(needle);
    check_outputs(c, names, n, old);
}

START_TEST(bad_input)
{
    check_case(&CASES[_i / 2], _i % 2);
}
END_TEST

START_TEST(common_options)
{
    Case c = {PROGRAMS[_i / N_COMMON], COMMON[_i % N_COMMON].args, 2,
              COMMON[_i % N_COMMON].needle, 0};
    check_case(&c, 0);
}
END_TEST

/* The good command lines the rows start from: each must succeed and write
 * every output, so that a row fails because of its one bad part alone. */
static const Case GOOD[] = {
    {"ch01", QKV "--output @/out/o.npy --attn @/out/a.npy", 0, "", 0},
    {"ch02", QKV "--output @/out/o.npy --attn @/out/a.npy", 0, "", 0},
    {"ch03", QKV "--mask @/mask.npy --causal --output @/out/o.npy --attn @/out/a.npy", 0, "", 0},
    {"ch04", MHA "--key-padding-mask @/kpm.npy --output @/out/o.npy --attn @/out/a.npy", 0, "", 0},
    {"ch05", "--positions 8 --dim 8 --output @/out/pe.npy", 0, "", 0},
    {"ch06", LAYER "--key-padding-mask @/kpm6.npy --output @/out/o.npy", 0, "", 0},
    {"ch07", ENC "--output @/out/m.npy --attn @/out/a.npy", 0, "", 0},
    {"ch08", DEC "--output @/out/y.npy --self-attn @/out/s.npy --cross-attn @/out/c.npy", 0, "", 0},
    {"ch09", DEC "--logits @/out/l.npy --save @/out/m.npz", 0, "", 0},
    {"ch10", LOSS "--steps 2 --lr 0.01 --grads @/out/g.npz --params-out @/out/p.npz", 0, "", 0},
    {"ch11", "train --dict @/dict.txt --steps 2 --eval-every 1 --dev-words 2 --checkpoint "
     "@/out/c.npz --plot none", 0, "", 0},
    {"ch11", "predict --model @/g2p.npz cat", 0, "", 0},
    {"ch11", "eval --model @/g2p.npz --ref @/ref.txt --beam 2", 0, "", 0},
    {"ch11", "show --model @/g2p.npz --plot none cat", 0, "", 0},
};
enum { N_GOOD = sizeof GOOD / sizeof GOOD[0] };

START_TEST(good_input)
{
    const Case *c = &GOOD[_i];
    char names[8][512], msg[4096];
    int n = outputs(c->args, names, 8);
    prepare_outputs(names, n, 0);
    int status = run(c->prog, c->args, 0, msg, sizeof msg);
    ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "%s %s: failed; stderr: %s", c->prog, c->args, msg);
    for (int i = 0; i < n; i++) {
        Tensor t;
        Error err;
        int rc = strstr(names[i], ".npz") ? 0 : npy_load(names[i], &t, &err);
        if (strstr(names[i], ".npz")) {
            Npz z;
            rc = npz_load(names[i], &z, &err);
            if (rc == 0) npz_free(&z);
        } else if (rc == 0) {
            tensor_free(&t);
        }
        ck_assert_msg(rc == 0, "%s %s: %s", c->prog, c->args, err.msg);
    }
    char tmp[1024];
    ck_assert_msg(!find_temporary(dir, tmp, sizeof tmp), "%s: left %s behind", c->prog, tmp);
}
END_TEST

/* ------------------------------------------------------------ fuzz corpora */

/* The fuzz targets' own code (tests/fuzz/), each entry point renamed, so that
 * every committed seed and every input that once crashed one (a regression)
 * goes through exactly the checks of its target at each `make test`. The
 * command-line target needs cli.c built apart (see the Makefile); its
 * regressions are the rows of COMMON above. */
#define LLVMFuzzerTestOneInput fuzz_npy_input
#include "fuzz/fuzz_npy.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_npz_input
#include "fuzz/fuzz_npz.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_model_input
#include "fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_checkpoint_input
#include "fuzz/fuzz_checkpoint.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_lexicon_input
#include "fuzz/fuzz_lexicon.c"
#undef LLVMFuzzerTestOneInput

static const struct {
    const char *dir;
    int (*one)(const unsigned char *, size_t);
} TARGETS[] = {
    {"tests/fuzz/corpus/npy", fuzz_npy_input},
    {"tests/fuzz/corpus/npz", fuzz_npz_input},
    {"tests/fuzz/corpus/model", fuzz_model_input},
    {"tests/fuzz/corpus/checkpoint", fuzz_checkpoint_input},
    {"tests/fuzz/corpus/lexicon", fuzz_lexicon_input},
};

/* Every file of one corpus, in a child with 2 GB of address space (see
 * limit_memory): an abort, a sanitizer's report or an allocation of
 * gigabytes ends the child, and the test fails naming the file. */
START_TEST(fuzz_corpus)
{
    DIR *d = opendir(TARGETS[_i].dir);
    ck_assert_msg(d != NULL, "%s: %s", TARGETS[_i].dir, strerror(errno));
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", TARGETS[_i].dir, e->d_name);
        FILE *fp = fopen(path, "rb");
        ck_assert_ptr_nonnull(fp);
        static unsigned char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        fflush(stdout);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            limit_memory();
            silence_stderr();   /* "out of memory" is reported below */
            _exit(TARGETS[_i].one(buf, n));
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "%s: the fuzz target failed on it (status %d)", path, status);
        files++;
    }
    closedir(d);
    ck_assert_int_gt(files, 0);
}
END_TEST

Suite *bad_input_suite(void)
{
    Suite *s = suite_create("bad input (issue 9)");
    TCase *tc = tcase_create("every program");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 2 * TIMEOUT + 10);
    tcase_add_loop_test(tc, good_input, 0, N_GOOD);
    tcase_add_loop_test(tc, bad_input, 0, 2 * N_CASES);
    tcase_add_loop_test(tc, common_options, 0, N_PROGRAMS * N_COMMON);
    suite_add_tcase(s, tc);
    tc = tcase_create("fuzz corpora");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, fuzz_corpus, 0, sizeof TARGETS / sizeof TARGETS[0]);
    suite_add_tcase(s, tc);
    return s;
}
