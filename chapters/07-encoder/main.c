/*
 * main.c - chapter 7's program, build/bin/ch07.
 *
 * With no arguments: a seeded random encoder (E = 32, H = 4, F = 64, N = 3
 * layers) reads a padded batch of three sentences; the program prints the
 * shape of every step and draws, for each sentence, the self-attention
 * weights of every layer and head in one figure.
 * With --params/--src: the encoder of a whole-model .npz (the contract's
 * names) on a batch of token ids, for checking against PyTorch.
 *
 * Sizes: B sentences, S positions, E model width, F feed-forward width,
 * H heads, N layers, V vocabulary.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "encoder.h"
#include "npy.h"
#include "params.h"
#include "plot.h"
#include "report.h"
#include "rng.h"

static const char *const USAGE =
    "usage: ch07 [options]\n"
    "Chapter 7: the encoder. memory = Encoder(Embed[src] * sqrt(E) + PE), as\n"
    "torch.nn.TransformerEncoder (batch_first) with padding (id 0) blocked as a key.\n"
    "With no file options, runs the demo: a random encoder on a padded batch.\n"
    "\n"
    "  --params MODEL.npz   a whole-model file: src_embed.weight (Vs, E),\n"
    "                       encoder.layers.{i}.*, optional encoder.norm.*,\n"
    "                       config.nhead, config.norm_first (decoder.*, tgt_embed.*\n"
    "                       and generator.* are ignored)\n"
    "  --src SRC.npy        source token ids (B, S), integer, 0 = padding\n"
    "  --output MEMORY.npy  write the memory (B, S, E)\n"
    "  --attn A.npy         write the self-attention weights (B, N, H, S, S)\n"
    "  (with files, figures are drawn only when --plot is given)\n";

/* ===================================================== shared by both modes */

//! [encode_batch]
/* Encodes the sentences of a batch one by one: each has its own padding,
 * hence its own mask.
 *   memory: (B, S, E)  attn: (B, N, H, S, S)  ids: (B, S)  table: (V, E) */
static void encode_batch(float *memory, float *attn, Mat table, const Encoder *enc,
                         const int64_t *ids, int B, int S)
{
    size_t E = (size_t)table.cols, N = (size_t)enc->layers;
    size_t H = (size_t)enc->layer[0].self_attn.H;
    Mat mask = mat_new(S, S);   /* (S, S) */
    for (int b = 0; b < B; b++) {
        const int64_t *src = ids + (size_t)b * S;
        Mat x = mat_wrap(memory + (size_t)b * S * E, S, (int)E);                   /* (S, E) */
        Mat a = mat_wrap(attn + (size_t)b * N * H * S * S, (int)(N * H) * S, S);   /* (N H S, S) */
        embedding_forward(x, table, src);
        mask_from_pad_ids(mask, src);
        encoder_forward(x, a, enc, &mask);   /* x becomes this sentence's memory */
    }
    mat_free(&mask);
}
//! [encode_batch]

/* One sentence's weights as a grid, layers down and heads across; the
 * columns of padding keys are NaN in the copy drawn, so they show as blocked.
 *   attn: (N H S, S)  ids: S  labels: S */
static void plot_layers_heads(const PlotOpts *o, const char *name, const char *title, Mat attn,
                              int N, int H, const int64_t *ids, const char *const *labels)
{
    int S = attn.cols;
    Mat shown = mat_new(attn.rows, S);   /* (N H S, S) */
    mat_copy(shown, attn);
    Mat *maps = xcalloc((size_t)N * H, sizeof *maps, "figure panels");
    char **titles = xcalloc((size_t)N * H, sizeof *titles, "panel titles");
    for (int p = 0; p < N * H; p++) {
        maps[p] = mat_rows(shown, p * S, S);
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++)
                if (ids[j] == PAD_ID) MAT_AT(maps[p], i, j) = NAN;
        titles[p] = xmalloc(48, 1, "a panel title");
        snprintf(titles[p], 48, "layer %d, head %d", p / H + 1, p % H + 1);
    }
    Error err;
    int rc = plot_heatmap_grid(o, name, title, maps, (const char *const *)titles, N, H, labels,
                               labels, "key", "query", &err);
    for (int p = 0; p < N * H; p++) free(titles[p]);
    free(titles);
    free(maps);
    mat_free(&shown);
    if (rc != 0) data_error_from(&err);
    if (o->format == PLOT_PNG || o->format == PLOT_SVG)
        printf("Figure: %s/%s.%s (with %s.dat and %s.gp beside it)\n", o->outdir, name,
               o->format == PLOT_PNG ? "png" : "svg", name, name);
}

/* ============================================================ the demo */

enum { VOCAB = 12, BATCH = 3, LEN = 6, WIDTH = 32, HEADS = 4, FF = 64, LAYERS = 3 };
static const char *const WORDS[VOCAB] = {"<pad>", "the", "cat",  "sat",   "on",   "mat",
                                         "a",     "dog", "ran",  "home",  "birds", "sing"};
/* Three sentences of 6, 4 and 2 words, padded to S = 6 with <pad> (id 0). */
static const int64_t SOURCE[BATCH][LEN] = {
    {1, 2, 3, 4, 1, 5},    /* the cat sat on the mat */
    {6, 7, 8, 9, 0, 0},    /* a dog ran home <pad> <pad> */
    {10, 11, 0, 0, 0, 0},  /* birds sing <pad> <pad> <pad> <pad> */
};
static const char *const SENTENCE_NAMES[BATCH] = {"sentence 1", "sentence 2", "sentence 3"};
static const char *const POSITIONS[LEN] = {"pos 0", "pos 1", "pos 2", "pos 3", "pos 4", "pos 5"};
static const char *const COLUMNS[6] = {"e0", "e1", "e2", "e3", "e4", "e5"};

typedef struct {
    ParamSet ps;     /* every tensor, one allocation */
    Mat table;       /* (V, E) src_embed.weight */
    Encoder enc;     /* views into ps */
} Model;

//! [build_model]
/* The names are those of a whole model of the contract, so this encoder
 * could be saved with params_save and read back by --params. */
static void build_model(Model *m, Rng *r)
{
    params_init(&m->ps);
    params_add(&m->ps, "src_embed.weight", 2, VOCAB, WIDTH);
    encoder_declare(&m->ps, "encoder.", LAYERS, WIDTH, FF, 1);
    params_alloc(&m->ps);
    m->table = params_mat(&m->ps, "src_embed.weight");
    m->enc = encoder_bind(&m->ps, "encoder.", LAYERS, HEADS, 0, 1);   /* post-norm, final norm */
    encoder_init(&m->enc, r);
    mat_rand_normal(m->table, r, 0.0f, 1.0f);   /* as torch.nn.Embedding: N(0, 1) */
}
//! [build_model]

static void print_model(const Model *m)
{
    size_t layer = 0;
    for (int i = 0; i < m->ps.count; i++)
        if (strncmp(m->ps.items[i].name, "encoder.layers.0.", 17) == 0)
            layer += (size_t)m->ps.items[i].rows * (size_t)m->ps.items[i].cols;
    printf("The model (seeded random, untrained): E = %d, H = %d heads of Dh = %d, F = %d,\n"
           "N = %d post-norm layers and the final norm, V = %d words.\n"
           "Parameters, %d tensors in one allocation (ParamSet), %zu floats:\n"
           "  src_embed.weight (V, E) = (%d, %d)      %6d\n"
           "  encoder.layers.{0..%d}.*, each           %6zu  (x %d = %zu)\n"
           "  encoder.norm.weight, encoder.norm.bias  %6d\n\n",
           WIDTH, HEADS, WIDTH / HEADS, FF, LAYERS, VOCAB, m->ps.count, m->ps.size, VOCAB, WIDTH,
           VOCAB * WIDTH, LAYERS - 1, layer, LAYERS, layer * LAYERS, 2 * WIDTH);
}

/* The token labels of one sentence.   labels: LEN */
static void sentence_labels(const char **labels, const int64_t *ids)
{
    for (int s = 0; s < LEN; s++) labels[s] = WORDS[ids[s]];
}

/* Sentence 2 encoded alone, without its padding, against its rows of the
 * padded batch: padding blocked as a key must change nothing. */
static void padding_check(const Model *m, float *memory, float *attn)
{
    enum { REAL = 4 };   /* "a dog ran home" */
    Mat x = mat_new(REAL, WIDTH);                           /* (4, E) */
    Mat a = mat_new(LAYERS * HEADS * REAL, REAL);           /* (N H 4, 4) */
    embedding_forward(x, m->table, SOURCE[1]);
    encoder_forward(x, a, &m->enc, NULL);                   /* nothing to block */
    Mat batch_x = mat_wrap(memory + (size_t)LEN * WIDTH, LEN, WIDTH);
    float dm = mat_max_abs_diff(x, mat_rows(batch_x, 0, REAL)), da = 0.0f, pad = 0.0f;
    float *a1 = attn + (size_t)LAYERS * HEADS * LEN * LEN;   /* sentence 2's weights */
    for (int p = 0; p < LAYERS * HEADS; p++) {
        Mat batch_a = mat_wrap(a1 + (size_t)p * LEN * LEN, LEN, LEN);
        Mat alone = mat_rows(a, p * REAL, REAL);   /* (4, 4) layer p / H, head p % H */
        da = fmaxf(da, mat_max_abs_diff(alone, mat_block(batch_a, 0, 0, REAL, REAL)));
        for (int i = 0; i < LEN; i++)
            for (int j = REAL; j < LEN; j++) pad = fmaxf(pad, fabsf(MAT_AT(batch_a, i, j)));
    }
    printf("Padding changes nothing. \"a dog ran home\" encoded alone (S = 4, no mask)\n"
           "against its first 4 rows in the padded batch (S = 6, pads blocked):\n"
           "  largest difference of the memory:  %.1e\n"
           "  largest difference of the weights: %.1e (every layer and head)\n"
           "  largest weight on a <pad> key:     %.1e\n\n", dm, da, pad);
    mat_free(&x);
    mat_free(&a);
}

static void run_demo(const CommonOpts *opts)
{
    printf("Chapter 7: the encoder\n\n");
    printf("A batch of B = %d sentences, padded with <pad> (id 0) to S = %d:\n", BATCH, LEN);
    const char *labels[BATCH][LEN];
    for (int b = 0; b < BATCH; b++) {
        sentence_labels(labels[b], SOURCE[b]);
        printf("  %s:", SENTENCE_NAMES[b]);
        for (int s = 0; s < LEN; s++) printf(" %s", labels[b][s]);
        putchar('\n');
    }
    putchar('\n');
    Mat ids = mat_new(BATCH, LEN);   /* (B, S) the ids, as floats for printing */
    for (int b = 0; b < BATCH; b++)
        for (int s = 0; s < LEN; s++) MAT_AT(ids, b, s) = (float)SOURCE[b][s];
    mat_show("src, the token ids (B, S) = (3, 6)", ids, SENTENCE_NAMES, POSITIONS, 0);
    mat_free(&ids);

    Rng r;
    rng_seed(&r, opts->seed);
    Model m;
    build_model(&m, &r);
    print_model(&m);

    size_t per_sentence = (size_t)LAYERS * HEADS * LEN * LEN;
    float *memory = xcalloc((size_t)BATCH * LEN * WIDTH, sizeof *memory, "the memory");
    float *attn = xcalloc((size_t)BATCH * per_sentence, sizeof *attn, "the weights");

    /* The steps of encode_batch, shown for sentence 2 (its padding is visible). */
    const int64_t *src = SOURCE[1];
    Mat x = mat_new(LEN, WIDTH), mask = mat_new(LEN, LEN);   /* (S, E), (S, S) */
    printf("Step 1, embedding: x = src_embed.weight[src] * sqrt(E) + PE, sqrt(%d) = %.3f.\n"
           "  src (B, S) = (%d, %d) -> x (B, S, E) = (%d, %d, %d)\n", WIDTH, sqrtf(WIDTH), BATCH,
           LEN, BATCH, LEN, WIDTH);
    embedding_forward(x, m.table, src);
    mat_show("  x of sentence 2, the first 6 of its 32 columns", mat_cols(x, 0, 6), labels[1], COLUMNS,
         3);
    printf("Step 2, the padding mask: key j is blocked (1) where src[j] = <pad>.\n"
           "  one (S, S) = (%d, %d) mask per sentence\n", LEN, LEN);
    mask_from_pad_ids(mask, src);
    mat_show("  mask of sentence 2 (rows: queries, cols: keys)", mask, labels[1], labels[1], 0);
    mat_free(&x);
    mat_free(&mask);

    encode_batch(memory, attn, m.table, &m.enc, &SOURCE[0][0], BATCH, LEN);
    printf("Step 3, N = %d encoder layers (chapter 6), each x (S, E) -> x (S, E), then the\n"
           "final norm. Every layer writes its H = %d heads' weights (H, S, S):\n"
           "  x (B, S, E) = (%d, %d, %d) -> memory (B, S, E) = (%d, %d, %d)\n"
           "  attention weights (B, N, H, S, S) = (%d, %d, %d, %d, %d)\n\n", LAYERS, HEADS, BATCH,
           LEN, WIDTH, BATCH, LEN, WIDTH, BATCH, LAYERS, HEADS, LEN, LEN);
    mat_show("Sentence 2, layer 1, head 1: the <pad> columns are exactly 0",
         mat_wrap(attn + per_sentence, LEN, LEN), labels[1], labels[1], 4);
    mat_show("Sentence 1, layer 3, head 4 (no padding)",
         mat_wrap(attn + (size_t)(LAYERS * HEADS - 1) * LEN * LEN, LEN, LEN), labels[0],
         labels[0], 4);

    size_t floats = (size_t)BATCH * LEN * WIDTH;
    printf("The memory: (B, S, E) = (%d, %d, %d), %zu floats = %zu bytes, one vector of E = %d\n"
           "per source position, which the decoder (chapter 8) will attend to.\n", BATCH, LEN,
           WIDTH, floats, floats * sizeof(float), WIDTH);
    mat_show("  memory of sentence 2, the first 6 of its 32 columns",
         mat_cols(mat_wrap(memory + (size_t)LEN * WIDTH, LEN, WIDTH), 0, 6), labels[1], COLUMNS,
         3);

    padding_check(&m, memory, attn);
    printf("The weights look random because the model is: nothing has been learned\n"
           "yet (chapter 10 trains it). What already holds is the structure: every row\n"
           "sums to 1, and no query ever looks at a <pad> key.\n\n");

    for (int b = 0; b < BATCH; b++) {
        char name[32], title[160];
        snprintf(name, sizeof name, "attn_sentence%d", b + 1);
        snprintf(title, sizeof title,
                 "Encoder self-attention, %s (random, untrained; grey: <pad> key blocked)",
                 SENTENCE_NAMES[b]);
        plot_layers_heads(&opts->plot, name, title,
                          mat_wrap(attn + b * per_sentence, LAYERS * HEADS * LEN, LEN), LAYERS,
                          HEADS, SOURCE[b], labels[b]);
    }

    free(memory);
    free(attn);
    encoder_free(&m.enc);
    params_free(&m.ps);
}

/* ============================================================ with files */

typedef struct {
    const char *params, *src;     /* input files */
    const char *output, *attn;    /* output files, may be NULL */
} Files;

typedef struct {
    int E, F, H, N, V;     /* sizes read off the file */
    int norm_first;        /* config.norm_first */
    int has_norm;          /* 1 if encoder.norm.* is in the file */
} Config;

/* The sizes, from the shapes of src_embed.weight and the first layer. */
static Config read_config(const Npz *z, const char *path)
{
    Config c;
    Error err;
    const int64_t any2[2] = {-1, -1};
    const Tensor *t = npz_get_f32(z, path, "src_embed.weight", 2, any2, &err);
    if (!t) data_error_from(&err);
    if (t->shape[0] < 1 || t->shape[0] > 1 << 24 || t->shape[1] < 1 || t->shape[1] > 1 << 16)
        data_error("%s: src_embed.weight is (%lld, %lld); Vs must be in [1, 2^24] and E in "
                   "[1, 65536]", path, (long long)t->shape[0], (long long)t->shape[1]);
    c.V = (int)t->shape[0];
    c.E = (int)t->shape[1];
    c.N = count_layers(z, "encoder.");
    if (c.N == 0)
        data_error("%s: no encoder layer (encoder.layers.0.linear1.weight is missing)", path);
    if (c.N > MAX_LAYERS) data_error("%s: more than %d encoder layers", path, MAX_LAYERS);
    const int64_t any_f[2] = {-1, c.E};
    t = npz_get_f32(z, path, "encoder.layers.0.linear1.weight", 2, any_f, &err);
    if (!t) data_error_from(&err);
    if (t->shape[0] < 1 || t->shape[0] > 1 << 20)
        data_error("%s: encoder.layers.0.linear1.weight has F = %lld rows, must be in [1, 2^20]",
                   path, (long long)t->shape[0]);
    c.F = (int)t->shape[0];
    /* Either half of the final norm makes it expected: params_load then
     * reports the other half if it is missing. */
    c.has_norm = npz_get(z, "encoder.norm.weight") != NULL ||
                 npz_get(z, "encoder.norm.bias") != NULL;
    if (npz_get_int(z, path, "config.nhead", 1, c.E, &c.H, &err) != 0) data_error_from(&err);
    if (c.E % c.H != 0)
        data_error("%s: config.nhead = %d does not divide E = %d", path, c.H, c.E);
    if (npz_get_int(z, path, "config.norm_first", 0, 1, &c.norm_first, &err) != 0)
        data_error_from(&err);
    return c;
}

/* Loads the embedding table and the encoder of a whole-model file. */
static Config load_model(Model *m, const char *path)
{
    Npz z;
    Error err;
    if (npz_load(path, &z, &err) != 0) data_error_from(&err);
    Config c = read_config(&z, path);
    params_init(&m->ps);
    params_add(&m->ps, "src_embed.weight", 2, c.V, c.E);
    encoder_declare(&m->ps, "encoder.", c.N, c.E, c.F, c.has_norm);
    /* The rest of a whole model belongs to the decoder (chapters 8 and 9). */
    static const char *const ignore[] = {"config.", "decoder.", "tgt_embed.", "generator.", NULL};
    /* Every array there before memory is set aside: the sizes came from the file. */
    if (params_check(&m->ps, &z, path, ignore, &err) != 0) data_error_from(&err);
    params_alloc(&m->ps);
    if (params_load(&m->ps, &z, path, ignore, &err) != 0) data_error_from(&err);
    npz_free(&z);
    m->table = params_mat(&m->ps, "src_embed.weight");
    m->enc = encoder_bind(&m->ps, "encoder.", c.N, c.H, c.norm_first, c.has_norm);
    return c;
}

/* The source ids (B, S): integers in [0, V). */
static Tensor load_src(const char *path, int V, const char *model_path)
{
    Tensor t;
    Error err;
    char s[128];
    if (npy_load(path, &t, &err) != 0) data_error_from(&err);
    tensor_shape_str(&t, s, sizeof s);
    if (t.dtype != DT_I64)
        data_error("%s: --src must hold integer token ids (<i8, <i4, |u1), found %s", path,
                   t.file_dtype);
    if (t.ndim != 2)
        data_error("%s: --src must be 2-D (B, S), found shape %s", path, s);
    if (t.shape[0] < 1 || t.shape[1] < 1 || t.shape[0] > INT_MAX || t.shape[1] > 1 << 16)
        data_error("%s: --src has shape %s; B must be in [1, %d] and S in [1, 65536]", path, s,
                   INT_MAX);
    for (int64_t k = 0; k < t.size; k++)
        if (t.i[k] < 0 || t.i[k] >= V)
            data_error("%s: --src holds id %lld at (%lld, %lld), outside the vocabulary [0, %d) "
                       "of %s", path, (long long)t.i[k], (long long)(k / t.shape[1]),
                       (long long)(k % t.shape[1]), V, model_path);
    return t;
}

static void run_files(const Files *f, const CommonOpts *opts)
{
    Model m;
    Config c = load_model(&m, f->params);
    Tensor src = load_src(f->src, c.V, f->params);
    int B = (int)src.shape[0], S = (int)src.shape[1];
    double attn_floats = (double)B * c.N * c.H * S * S;
    if (attn_floats + (double)B * S * c.E > (double)(SIZE_MAX / sizeof(float)) / 2)
        data_error("%s: %d x %d x %d x %d x %d attention weights do not fit in memory", f->src, B,
                   c.N, c.H, S, S);

    float *memory = xcalloc((size_t)B * S * c.E, sizeof *memory, "the memory");   /* (B, S, E) */
    float *attn = xcalloc((size_t)attn_floats, sizeof *attn, "the weights");   /* (B, N, H, S, S) */
    encode_batch(memory, attn, m.table, &m.enc, src.i, B, S);

    int64_t mem_shape[3] = {B, S, c.E}, attn_shape[5] = {B, c.N, c.H, S, S};
    cli_check_finite(memory, (size_t)B * S * c.E, f->params);   /* no NaN in a file: cli.h */
    cli_check_finite(attn, (size_t)attn_floats, f->params);
    if (f->output) cli_save_f32(f->output, memory, 3, mem_shape);
    if (f->attn) cli_save_f32(f->attn, attn, 5, attn_shape);

    int empty = 0;   /* sources that are padding only: every key blocked */
    for (int b = 0; b < B; b++) {
        int real = 0;
        for (int s = 0; s < S; s++) real += src.i[(size_t)b * S + s] != PAD_ID;
        empty += real == 0;
    }
    printf("encoder: E = %d, F = %d, H = %d, N = %d layer%s, %s, %s final norm, Vs = %d, "
           "%zu parameters\n", c.E, c.F, c.H, c.N, c.N == 1 ? "" : "s",
           c.norm_first ? "pre-norm" : "post-norm", c.has_norm ? "with" : "no", c.V, m.ps.size);
    printf("src (%d, %d) -> memory (%d, %d, %d), weights (%d, %d, %d, %d, %d)\n", B, S, B, S, c.E,
           B, c.N, c.H, S, S);
    if (empty > 0)
        printf("%d source(s) hold padding only: their weights are all zero\n", empty);
    if (opts->plot_given) {
        char **labels = xcalloc((size_t)S, sizeof *labels, "token labels");
        for (int s = 0; s < S; s++) {
            labels[s] = xmalloc(24, 1, "a token label");
            if (src.i[s] == PAD_ID) snprintf(labels[s], 24, "<pad>");
            else snprintf(labels[s], 24, "%lld", (long long)src.i[s]);
        }
        plot_layers_heads(&opts->plot, "attn", "Encoder self-attention, batch element 0",
                          mat_wrap(attn, c.N * c.H * S, S), c.N, c.H, src.i,
                          (const char *const *)labels);
        for (int s = 0; s < S; s++) free(labels[s]);
        free(labels);
    }

    free(memory);
    free(attn);
    tensor_free(&src);
    encoder_free(&m.enc);
    params_free(&m.ps);
}

/* ============================================================ main */

int main(int argc, char **argv)
{
    cli_init("ch07");
    CommonOpts opts;
    common_opts_init(&opts, "out/ch07");
    Files f = {0};

    enum { OPT_PARAMS = 1, OPT_SRC, OPT_OUTPUT, OPT_ATTN };
    static const struct option longopts[] = {
        {"params", required_argument, NULL, OPT_PARAMS},
        {"src", required_argument, NULL, OPT_SRC},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"attn", required_argument, NULL, OPT_ATTN},
        COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_next_option(argc, argv, longopts, NULL, &opts, USAGE)) != -1) {
        switch (c) {
        case OPT_PARAMS: f.params = optarg; break;
        case OPT_SRC: f.src = optarg; break;
        case OPT_OUTPUT: f.output = optarg; break;
        case OPT_ATTN: f.attn = optarg; break;
        }
    }

    int given = (f.params != NULL) + (f.src != NULL);
    if (given == 0 && (f.output || f.attn))
        usage_error("%s: needs --params and --src", f.output ? "--output" : "--attn");
    if (given == 1)
        usage_error("%s: missing; --params and --src go together", f.params ? "--src" : "--params");
    if (given == 0) {
        cli_check_outdir(&opts.plot);
        run_demo(&opts);
    } else {
        cli_check_output(f.output, "--output");   /* before any work: see cli.h */
        cli_check_output(f.attn, "--attn");
        if (opts.plot_given) cli_check_outdir(&opts.plot);
        run_files(&f, &opts);
    }
    return 0;
}
