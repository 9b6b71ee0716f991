/*
 * main.c - chapter 9's program, build/bin/ch09.
 *
 * With no arguments: a small random Transformer (12 letters plus PAD, BOS
 * and EOS) decodes a copy-task source greedily (nonsense before training:
 * chapter 10 trains it), draws its three kinds of attention for every layer
 * and head, and counts its parameters and those of the paper's models.
 * With --params/--src/--tgt: the logits of a model saved from PyTorch (the
 * .npz of the contract), for checking against PyTorch. --greedy decodes
 * --src; --count-params counts the parameters of a configuration by part.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "masking.h"
#include "npy.h"
#include "plot.h"
#include "report.h"
#include "transformer.h"

static const char *const USAGE =
    "usage: ch09 [options]\n"
    "Chapter 9: the whole encoder-decoder Transformer: embeddings and positions,\n"
    "torch.nn.Transformer's encoder and decoder, and a generator.\n"
    "With no file options, runs the demo: a small random model decodes a copy-task\n"
    "source greedily, and its attention is drawn.\n"
    "\n"
    "  --params MODEL.npz   the model: torch.nn.Transformer's state_dict names plus\n"
    "                       src_embed.weight, tgt_embed.weight, generator.weight,\n"
    "                       generator.bias, and int64 config.nhead, config.norm_first\n"
    "  --src SRC.npy        source ids (B, S), integer; 0 is padding\n"
    "  --tgt TGT.npy        target ids (B, T), integer; 0 is padding\n"
    "  --logits L.npy       write the generator's output before softmax (B, T, Vt)\n"
    "  --greedy             decode every row of --src greedily and print the ids\n"
    "  --bos ID, --eos ID   first and last token of --greedy (default 1 and 2)\n"
    "  --max-len N          --greedy stops after N tokens, BOS included\n"
    "                       (default 2 S + 2)\n"
    "  --save MODEL.npz     write the model (the demo's random one, or --params)\n"
    "  --count-params       print the number of parameters by part, of --params or\n"
    "                       of a configuration (alone: the paper's base and big):\n"
    "    --config base|big  the paper's models, with shared embeddings\n"
    "    --d-model E, --d-ff F, --heads H, --layers N (or --enc-layers N,\n"
    "    --dec-layers N), --vocab V, --tgt-vocab V   sizes (those not given are\n"
    "                       the base model's), --shared-embeddings (one matrix for\n"
    "                       both embeddings and the generator; needs one vocabulary)\n"
    "  (with files, figures are drawn only when --plot is given)\n";

/* ====================================================== parameter counts */

/* The two models of Table 3 of "Attention Is All You Need". */
typedef struct {
    const char *name;
    int E, F, H;
    double millions;   /* the paper's count */
} PaperModel;

static const PaperModel PAPER[2] = {{"base", 512, 2048, 8, 65.0}, {"big", 1024, 4096, 16, 213.0}};
enum { PAPER_LAYERS = 6, PAPER_VOCAB = 37000 };

static TransformerConfig paper_config(const PaperModel *p)
{
    TransformerConfig c = {p->E, p->F, p->H, PAPER_LAYERS, PAPER_LAYERS,
                           PAPER_VOCAB, PAPER_VOCAB, 0, 1, 1};
    return c;
}

/* The paper's model with these sizes, or NULL. */
static const PaperModel *paper_match(const TransformerConfig *c)
{
    for (int k = 0; k < 2; k++)
        if (c->E == PAPER[k].E && c->F == PAPER[k].F && c->enc_layers == PAPER_LAYERS &&
            c->dec_layers == PAPER_LAYERS)
            return &PAPER[k];
    return NULL;
}

static void count_line(const char *part, const char *what, int64_t n, int64_t total)
{
    printf("  %-10s %-40s %12lld  %5.1f%%\n", part, what, (long long)n,
           total > 0 ? 100.0 * (double)n / (double)total : 0.0);
}

/* The count of one configuration, part by part, with the paper beside it. */
static void print_count(const TransformerConfig *c, int shared)
{
    ParamCount p = transformer_count(c, shared);
    printf("d_model %d, d_ff %d, %d head%s, %d encoder + %d decoder layers,\n  ", c->E, c->F,
           c->H, c->H == 1 ? "" : "s", c->enc_layers, c->dec_layers);
    if (c->Vs == c->Vt) printf("vocabulary %d", c->Vs);
    else printf("vocabularies %d (source) and %d (target)", c->Vs, c->Vt);
    printf("%s\n", shared ? ", shared embeddings" : "");
    count_line("embeddings", shared ? "shared (V, E): source, target, generator"
                                    : "source (Vs, E)", p.src_embed, p.total);
    if (!shared) count_line("", "target (Vt, E)", p.tgt_embed, p.total);
    count_line("encoder", "self-attention", p.enc_attn, p.total);
    count_line("", "feed-forward", p.enc_ff, p.total);
    count_line("", c->enc_norm ? "layer norms (+ final norm)" : "layer norms", p.enc_norm,
               p.total);
    count_line("decoder", "self-attention", p.dec_self, p.total);
    count_line("", "cross-attention", p.dec_cross, p.total);
    count_line("", "feed-forward", p.dec_ff, p.total);
    count_line("", c->dec_norm ? "layer norms (+ final norm)" : "layer norms", p.dec_norm,
               p.total);
    count_line("generator",
               shared ? "bias (Vt); its weight is shared" : "weight (Vt, E), bias (Vt)",
               p.generator, p.total);
    printf("  %-51s %12lld", "total", (long long)p.total);
    if (p.total >= 100000) printf("  (%.1fM)", (double)p.total / 1e6);
    putchar('\n');
    const PaperModel *pm = paper_match(c);
    if (pm) {
        double diff = 100.0 * ((double)p.total / (pm->millions * 1e6) - 1.0);
        printf("  the paper (Table 3), %s model: %.0fM; this count differs by %+.2f%%\n",
               pm->name, pm->millions, diff);
        if (!shared)
            printf("  (the paper shares one matrix between both embeddings and the generator:\n"
                   "   add --shared-embeddings)\n");
    }
}

/* The options of --count-params, as given on the command line. */
typedef struct {
    const char *config;            /* --config, or NULL */
    int E, F, H, N, enc, dec;      /* 0 when not given */
    int vocab, tgt_vocab;          /* 0 when not given */
    int shared;                    /* --shared-embeddings */
} CountOpts;

static int count_opts_given(const CountOpts *k)
{
    return k->config || k->E || k->F || k->H || k->N || k->enc || k->dec || k->vocab ||
           k->tgt_vocab || k->shared;
}

static void run_count(const CountOpts *k)
{
    if (!count_opts_given(k)) {
        printf("The paper's two models (Table 3 of \"Attention Is All You Need\"), one\n"
               "%d-token vocabulary shared by both embeddings and the generator:\n\n",
               PAPER_VOCAB);
        for (int m = 0; m < 2; m++) {
            TransformerConfig c = paper_config(&PAPER[m]);
            printf("%s: ", PAPER[m].name);
            print_count(&c, 1);
            putchar('\n');
        }
        return;
    }
    const PaperModel *start = &PAPER[0];
    int shared = k->shared;
    if (k->config) {
        start = strcmp(k->config, "big") == 0 ? &PAPER[1] : &PAPER[0];
        shared = 1;
    }
    TransformerConfig c = paper_config(start);
    if (k->E) c.E = k->E;
    if (k->F) c.F = k->F;
    if (k->H) c.H = k->H;
    if (k->N) c.enc_layers = c.dec_layers = k->N;
    if (k->enc) c.enc_layers = k->enc;
    if (k->dec) c.dec_layers = k->dec;
    if (k->vocab) c.Vs = c.Vt = k->vocab;
    if (k->tgt_vocab) c.Vt = k->tgt_vocab;
    if (c.E % c.H != 0) usage_error("--heads: %d heads do not divide d_model %d", c.H, c.E);
    if (shared && c.Vs != c.Vt)
        usage_error("--shared-embeddings: one matrix needs one vocabulary, found %d (source) and "
                    "%d (target)", c.Vs, c.Vt);
    print_count(&c, shared);
}

/* ============================================================ attention */

/* Token labels for ids: vocab[id], or the id itself when vocab is NULL.
 * Free with free_labels. */
static char **id_labels(const int64_t *ids, int n, const char *const *vocab)
{
    char **s = xcalloc((size_t)n, sizeof *s, "token labels");
    for (int k = 0; k < n; k++) {
        s[k] = xmalloc(24, 1, "a token label");
        if (vocab) snprintf(s[k], 24, "%s", vocab[ids[k]]);
        else snprintf(s[k], 24, "%lld", (long long)ids[k]);
    }
    return s;
}

static void free_labels(char **s, int n)
{
    for (int k = 0; k < n; k++) free(s[k]);
    free(s);
}

/* One figure for one kind of attention: layers down, heads across, the
 * blocked cells grey.
 *   maps: (N * H * L, K), layer n, head h at rows [(n H + h) L, (n H + h + 1) L)
 *   mask: (L, K), nonzero = blocked */
static void plot_attention(const PlotOpts *o, const char *name, const char *title, Mat maps,
                           int N, int H, Mat mask, char **rows, char **cols, const char *xlabel,
                           const char *ylabel)
{
    Error err;
    int rc = plot_attention_layers(o, name, title, maps, N, H, mask, (const char *const *)rows,
                                   (const char *const *)cols, xlabel, ylabel, &err);
    if (rc != 0) data_error_from(&err);
    if (o->format == PLOT_PNG || o->format == PLOT_SVG)
        printf("Figure: %s/%s.%s (with %s.dat and %s.gp beside it)\n", o->outdir, name,
               o->format == PLOT_PNG ? "png" : "svg", name, name);
}

/* The three figures of one forward pass over src (S ids) and tgt (T ids),
 * with the masks the model used. vocab may be NULL (labels are ids). */
static void plot_all_attention(const PlotOpts *o, const Transformer *m, const int64_t *src, int S,
                               const int64_t *tgt, int T, const char *const *vocab)
{
    AttentionMaps maps = attention_maps_new(&m->cfg, S, T);
    Mat logits = mat_new(T, m->cfg.Vt);
    transformer_forward(logits, &maps, m, src, S, tgt, T);

    Mat enc_mask = mat_new(S, S), self_mask = mat_new(T, T), pad = mat_new(T, T);
    Mat cross_mask = mat_new(T, S);
    mask_from_pad_ids(enc_mask, src);
    mask_causal(self_mask);
    mask_from_pad_ids(pad, tgt);
    mask_combine(self_mask, self_mask, pad);
    mask_from_pad_ids(cross_mask, src);

    char **s = id_labels(src, S, vocab), **t = id_labels(tgt, T, vocab);
    const TransformerConfig *c = &m->cfg;
    plot_attention(o, "encoder_self", "Encoder self-attention (grey: source padding)", maps.enc,
                   c->enc_layers, c->H, enc_mask, s, s, "source key", "source query");
    plot_attention(o, "decoder_self",
                   "Decoder self-attention (grey: the future, and target padding)", maps.dec_self,
                   c->dec_layers, c->H, self_mask, t, t, "target key", "target query");
    plot_attention(o, "cross", "Cross-attention: target rows, source columns (grey: padding)",
                   maps.cross, c->dec_layers, c->H, cross_mask, t, s, "source key",
                   "target query");
    free_labels(s, S);
    free_labels(t, T);
    mat_free(&enc_mask);
    mat_free(&self_mask);
    mat_free(&pad);
    mat_free(&cross_mask);
    mat_free(&logits);
    attention_maps_free(&maps);
}

/* ============================================================ the demo */

/* The copy task's vocabulary: PAD, BOS, EOS and the letters A to L. */
enum { PAD = 0, BOS = 1, EOS = 2, VOCAB = 15 };
static const char *const TOKENS[VOCAB] = {"pad", "<s>", "</s>", "A", "B", "C", "D", "E",
                                          "F", "G", "H", "I", "J", "K", "L"};
/* "B E A D C F", padded to 8 as it would be in a batch. */
enum { SRC_LEN = 8, MAX_LEN = SRC_LEN + 2 };
static const int64_t SOURCE[SRC_LEN] = {4, 7, 3, 6, 5, 8, PAD, PAD};

static void print_tokens(const char *label, const int64_t *ids, int n)
{
    printf("%s", label);
    for (int k = 0; k < n; k++) printf(" %s", TOKENS[ids[k]]);
    putchar('\n');
}

static void run_demo(const CommonOpts *opts, const char *save)
{
    printf("Chapter 9: the whole encoder-decoder Transformer\n\n");
    const TransformerConfig cfg = {32, 64, 4, 2, 2, VOCAB, VOCAB, 0, 1, 1};
    printf("A small random model (seed %llu): d_model E = %d, d_ff F = %d, H = %d heads,\n"
           "%d encoder and %d decoder layers, post-norm as in the paper, with the final norms\n"
           "of torch.nn.Transformer. Vocabulary: %d tokens, pad (0), <s> (1), </s> (2) and the\n"
           "letters A to L, the same for source and target. Parameters, by part:\n\n",
           (unsigned long long)opts->seed, cfg.E, cfg.F, cfg.H, cfg.enc_layers, cfg.dec_layers,
           VOCAB);
    print_count(&cfg, 0);
    putchar('\n');

    Rng r;
    rng_seed(&r, opts->seed);
    Transformer m;
    transformer_new(&m, &cfg, &r);

    printf("The copy task: the target is the source itself, between <s> and </s>.\n");
    print_tokens("  source:         ", SOURCE, SRC_LEN);
    printf("  a trained model: <s> B E A D C F </s>\n");
    int64_t out[MAX_LEN];
    int T = greedy_decode(out, MAX_LEN, &m, SOURCE, SRC_LEN, BOS, EOS);
    print_tokens("  this model:     ", out, T);
    printf("Greedy decoding starts from <s> and appends the most likely next token,\n%s.\n"
           "The weights are random, so the output is nonsense: nothing has taught the\n"
           "model to copy. Chapter 10 trains this model on the copy task.\n\n",
           out[T - 1] == EOS ? "until </s>" : "until the length limit (it never chose </s>)");

    /* One forward pass over the decoded sequence: the generator's
     * log-probabilities at every step, and one cross-attention head. */
    Mat logp = mat_new(T, VOCAB);
    AttentionMaps maps = attention_maps_new(&cfg, SRC_LEN, T);
    transformer_forward(logp, &maps, &m, SOURCE, SRC_LEN, out, T);
    transformer_log_probs(logp, logp);
    char **t = id_labels(out, T, TOKENS), **s = id_labels(SOURCE, SRC_LEN, TOKENS);
    mat_show("log p(next token) = log_softmax(generator(decoder output)) (rows: decoder input, "
         "cols: next token)", logp, (const char *const *)t, TOKENS, 2);
    float lo = INFINITY, hi = -INFINITY;
    for (int v = 0; v < VOCAB; v++) {
        if (MAT_AT(logp, 0, v) < lo) lo = MAT_AT(logp, 0, v);
        if (MAT_AT(logp, 0, v) > hi) hi = MAT_AT(logp, 0, v);
    }
    printf("After <s>, log p ranges from %.2f to %.2f; a uniform guess over %d tokens is\n"
           "log(1/%d) = %.2f. A trained model would give B a log p near 0.\n\n", lo, hi, VOCAB,
           VOCAB, log(1.0 / VOCAB));

    Mat head = mat_rows(maps.cross, (cfg.dec_layers - 1) * cfg.H * T, T);   /* last layer, head 1 */
    mat_show("Cross-attention, last layer, head 1 (rows: target, cols: source)", head,
         (const char *const *)t, (const char *const *)s, 2);
    printf("No weight falls on the two pad columns (the source padding mask), and the\n"
           "rest is spread without a pattern: nothing has been learned yet.\n\n");
    free_labels(t, T);
    free_labels(s, SRC_LEN);
    mat_free(&logp);
    attention_maps_free(&maps);

    plot_all_attention(&opts->plot, &m, SOURCE, SRC_LEN, out, T, TOKENS);

    printf("\nThe paper's models (build/bin/ch09 --count-params shows every part):\n");
    for (int k = 0; k < 2; k++) {
        TransformerConfig c = paper_config(&PAPER[k]);
        ParamCount p = transformer_count(&c, 1);
        printf("  %-4s d_model %4d, d_ff %4d, %2d heads, 6 + 6 layers, shared %d-token "
               "vocabulary:\n       %lld parameters (%.1fM); the paper says %.0fM (%+.2f%%)\n",
               PAPER[k].name, c.E, c.F, c.H, PAPER_VOCAB, (long long)p.total,
               (double)p.total / 1e6, PAPER[k].millions,
               100.0 * ((double)p.total / (PAPER[k].millions * 1e6) - 1.0));
    }

    if (save) {
        Error err;
        if (transformer_save(&m, save, &err) != 0) data_error_from(&err);
        printf("\nSaved the random model to %s (numpy.load reads it; the chapter page\n"
               "shows how to load it into PyTorch).\n", save);
    }
    transformer_free(&m);
}

/* ============================================================ with files */

typedef struct {
    const char *params, *src, *tgt;   /* input files */
    const char *logits, *save;        /* output files, may be NULL */
    int greedy;                       /* --greedy */
    long bos, eos, max_len;           /* for --greedy; max_len 0 = 2 S + 2 */
} Files;

/* Token ids (B, L) from an .npy file (load_token_ids), or a data error. */
static Tensor load_ids(const char *path, const char *option)
{
    Tensor t;
    Error err;
    if (load_token_ids(&t, path, option, &err) != 0) data_error_from(&err);
    return t;
}

/* Every id of every row in [0, V), else a data error naming the place. */
static void check_vocab(const Tensor *ids, int V, const char *path, const char *option,
                        const char *which, const char *params)
{
    Error err;
    if (check_token_vocab(ids, V, path, option, which, params, &err) != 0) data_error_from(&err);
}

static Transformer load_model(const char *path)
{
    Transformer m;
    Error err;
    if (transformer_load(&m, path, &err) != 0) data_error_from(&err);
    return m;
}

static void describe(const char *path, const Transformer *m)
{
    const TransformerConfig *c = &m->cfg;
    printf("%s: d_model %d, d_ff %d, %d head%s,\n  %d encoder + %d decoder layers, vocabularies %d "
           "and %d, %s, %s, %zu parameters\n", path, c->E, c->F, c->H, c->H == 1 ? "" : "s",
           c->enc_layers,
           c->dec_layers, c->Vs, c->Vt, c->norm_first ? "pre-norm" : "post-norm",
           c->enc_norm && c->dec_norm   ? "final norms"
           : c->enc_norm || c->dec_norm ? "one final norm"
                                        : "no final norms",
           m->params.size);
}

static void run_logits(const Files *f, const CommonOpts *opts, const Transformer *m)
{
    Tensor src = load_ids(f->src, "--src");   /* (B, S) */
    Tensor tgt = load_ids(f->tgt, "--tgt");   /* (B, T) */
    char ss[128], st[128];
    tensor_shape_str(&src, ss, sizeof ss);
    tensor_shape_str(&tgt, st, sizeof st);
    if (src.shape[0] != tgt.shape[0])
        data_error("%s and %s: batch sizes differ: --src %s, --tgt %s", f->src, f->tgt, ss, st);
    check_vocab(&src, m->cfg.Vs, f->src, "--src", "source", f->params);
    check_vocab(&tgt, m->cfg.Vt, f->tgt, "--tgt", "target", f->params);
    int B = (int)src.shape[0], S = (int)src.shape[1], T = (int)tgt.shape[1], Vt = m->cfg.Vt;
    if ((double)B * T * Vt > (double)(SIZE_MAX / sizeof(float)) / 2)
        data_error("%s: %d x %d x %d logits do not fit in memory", f->tgt, B, T, Vt);

    size_t tv = (size_t)T * (size_t)Vt;
    float *logits = xcalloc((size_t)B * tv, sizeof *logits, "the logits");   /* (B, T, Vt) */
    for (int b = 0; b < B; b++)
        transformer_forward(mat_wrap(logits + b * tv, T, Vt), NULL, m,
                            src.i + (size_t)b * (size_t)S, S, tgt.i + (size_t)b * (size_t)T, T);
    cli_check_finite(logits, (size_t)B * tv, f->params);   /* no NaN in a file: cli.h */
    if (f->logits) {
        const int64_t shape[3] = {B, T, Vt};
        Error err;
        if (npy_save_f32(f->logits, logits, 3, shape, &err) != 0) data_error_from(&err);
    }
    printf("src %s, tgt %s -> logits (%d, %d, %d)%s%s\n", ss, st, B, T, Vt,
           f->logits ? " written to " : "", f->logits ? f->logits : "");
    if (opts->plot_given) {
        printf("Figures: batch item 0, labels are token ids.\n");
        plot_all_attention(&opts->plot, m, src.i, S, tgt.i, T, NULL);
    }
    free(logits);
    tensor_free(&src);
    tensor_free(&tgt);
}

static void run_greedy(const Files *f, const CommonOpts *opts, const Transformer *m)
{
    Tensor src = load_ids(f->src, "--src");   /* (B, S) */
    check_vocab(&src, m->cfg.Vs, f->src, "--src", "source", f->params);
    if (f->bos >= m->cfg.Vt || f->eos >= m->cfg.Vt)
        data_error("%s %ld is outside the target vocabulary [0, %d) of %s",
                   f->bos >= m->cfg.Vt ? "--bos" : "--eos", f->bos >= m->cfg.Vt ? f->bos : f->eos,
                   m->cfg.Vt, f->params);
    int B = (int)src.shape[0], S = (int)src.shape[1];
    int max_len = f->max_len > 0 ? (int)f->max_len : 2 * S + 2;
    int64_t *out = xcalloc((size_t)max_len, sizeof *out, "the decoded ids");
    printf("greedy decoding, <s> = %ld, </s> = %ld, at most %d tokens:\n", f->bos, f->eos,
           max_len);
    for (int b = 0; b < B; b++) {
        const int64_t *row = src.i + (size_t)b * (size_t)S;
        int T = greedy_decode(out, max_len, m, row, S, f->bos, f->eos);
        printf("row %d:", b);
        for (int t = 0; t < T; t++) printf(" %lld", (long long)out[t]);
        printf("%s\n", out[T - 1] == f->eos && T > 1 ? "" : "   (no </s>: length limit)");
        if (b == 0 && opts->plot_given) plot_all_attention(&opts->plot, m, row, S, out, T, NULL);
    }
    free(out);
    tensor_free(&src);
}

/* ============================================================ main */

int main(int argc, char **argv)
{
    cli_init("ch09");
    CommonOpts opts;
    common_opts_init(&opts, "out/ch09");
    Files f = {0};
    f.bos = BOS;
    f.eos = EOS;
    CountOpts k = {0};
    int count = 0;
    const char *count_opt = NULL;     /* a --count-params option that was given */
    const char *greedy_opt = NULL;    /* a --greedy option that was given */

    enum {
        OPT_PARAMS = 1, OPT_SRC, OPT_TGT, OPT_LOGITS, OPT_GREEDY, OPT_BOS, OPT_EOS, OPT_MAX_LEN,
        OPT_SAVE, OPT_COUNT, OPT_CONFIG, OPT_D_MODEL, OPT_D_FF, OPT_HEADS, OPT_LAYERS,
        OPT_ENC_LAYERS, OPT_DEC_LAYERS, OPT_VOCAB, OPT_TGT_VOCAB, OPT_SHARED
    };
    static const struct option longopts[] = {
        {"params", required_argument, NULL, OPT_PARAMS},
        {"src", required_argument, NULL, OPT_SRC},
        {"tgt", required_argument, NULL, OPT_TGT},
        {"logits", required_argument, NULL, OPT_LOGITS},
        {"greedy", no_argument, NULL, OPT_GREEDY},
        {"bos", required_argument, NULL, OPT_BOS},
        {"eos", required_argument, NULL, OPT_EOS},
        {"max-len", required_argument, NULL, OPT_MAX_LEN},
        {"save", required_argument, NULL, OPT_SAVE},
        {"count-params", no_argument, NULL, OPT_COUNT},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"d-model", required_argument, NULL, OPT_D_MODEL},
        {"d-ff", required_argument, NULL, OPT_D_FF},
        {"heads", required_argument, NULL, OPT_HEADS},
        {"layers", required_argument, NULL, OPT_LAYERS},
        {"enc-layers", required_argument, NULL, OPT_ENC_LAYERS},
        {"dec-layers", required_argument, NULL, OPT_DEC_LAYERS},
        {"vocab", required_argument, NULL, OPT_VOCAB},
        {"tgt-vocab", required_argument, NULL, OPT_TGT_VOCAB},
        {"shared-embeddings", no_argument, NULL, OPT_SHARED},
        COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_next_option(argc, argv, longopts, NULL, &opts, USAGE)) != -1) {
        switch (c) {
        case OPT_PARAMS: f.params = optarg; break;
        case OPT_SRC: f.src = optarg; break;
        case OPT_TGT: f.tgt = optarg; break;
        case OPT_LOGITS: f.logits = optarg; break;
        case OPT_GREEDY: f.greedy = 1; break;
        case OPT_BOS:
            f.bos = parse_long("--bos", optarg, 0, INT_MAX);
            greedy_opt = "--bos";
            break;
        case OPT_EOS:
            f.eos = parse_long("--eos", optarg, 0, INT_MAX);
            greedy_opt = "--eos";
            break;
        case OPT_MAX_LEN:
            f.max_len = parse_long("--max-len", optarg, 1, 1 << 16);
            greedy_opt = "--max-len";
            break;
        case OPT_SAVE: f.save = optarg; break;
        case OPT_COUNT: count = 1; break;
        case OPT_CONFIG:
            if (strcmp(optarg, "base") != 0 && strcmp(optarg, "big") != 0)
                usage_error("--config: '%s' is not base or big", optarg);
            k.config = optarg;
            count_opt = "--config";
            break;
        case OPT_D_MODEL:
            k.E = (int)parse_long("--d-model", optarg, 1, 1 << 16);
            count_opt = "--d-model";
            break;
        case OPT_D_FF:
            k.F = (int)parse_long("--d-ff", optarg, 1, 1 << 20);
            count_opt = "--d-ff";
            break;
        case OPT_HEADS:
            k.H = (int)parse_long("--heads", optarg, 1, 1 << 16);
            count_opt = "--heads";
            break;
        case OPT_LAYERS:
            k.N = (int)parse_long("--layers", optarg, 1, 1000);
            count_opt = "--layers";
            break;
        case OPT_ENC_LAYERS:
            k.enc = (int)parse_long("--enc-layers", optarg, 1, 1000);
            count_opt = "--enc-layers";
            break;
        case OPT_DEC_LAYERS:
            k.dec = (int)parse_long("--dec-layers", optarg, 1, 1000);
            count_opt = "--dec-layers";
            break;
        case OPT_VOCAB:
            k.vocab = (int)parse_long("--vocab", optarg, 1, 1 << 24);
            count_opt = "--vocab";
            break;
        case OPT_TGT_VOCAB:
            k.tgt_vocab = (int)parse_long("--tgt-vocab", optarg, 1, 1 << 24);
            count_opt = "--tgt-vocab";
            break;
        case OPT_SHARED: k.shared = 1; count_opt = "--shared-embeddings"; break;
        }
    }

    if (count_opt && !count) usage_error("%s: only with --count-params", count_opt);
    if (greedy_opt && !f.greedy) usage_error("%s: only with --greedy", greedy_opt);
    if (count) {
        const char *other = f.src ? "--src" : f.tgt ? "--tgt" : f.logits ? "--logits"
                          : f.greedy ? "--greedy" : f.save ? "--save" : NULL;
        if (other) usage_error("%s: not with --count-params", other);
        if (f.params && count_opt)
            usage_error("%s: --count-params counts either --params or a configuration", count_opt);
        if (f.params) {
            Transformer m = load_model(f.params);
            printf("%s: ", f.params);
            print_count(&m.cfg, 0);
            transformer_free(&m);
        } else {
            run_count(&k);
        }
        return 0;
    }
    if (!f.params) {
        const char *extra = f.src ? "--src" : f.tgt ? "--tgt" : f.logits ? "--logits"
                          : f.greedy ? "--greedy" : NULL;
        if (extra) usage_error("%s: needs --params", extra);
        cli_check_output(f.save, "--save");   /* before any work: see cli.h */
        cli_check_outdir(&opts.plot);
        run_demo(&opts, f.save);
        return 0;
    }
    if (f.greedy) {
        if (f.tgt || f.logits)
            usage_error("--greedy: decodes --src alone, not with %s", f.tgt ? "--tgt" : "--logits");
        if (!f.src) usage_error("--src: missing; --greedy decodes it");
    } else if (!f.src || !f.tgt) {
        usage_error("%s: missing; --params, --src and --tgt go together",
                    !f.src ? "--src" : "--tgt");
    }
    cli_check_output(f.logits, "--logits");   /* before any work: see cli.h */
    cli_check_output(f.save, "--save");
    if (opts.plot_given) cli_check_outdir(&opts.plot);
    Transformer m = load_model(f.params);
    describe(f.params, &m);
    if (f.greedy) run_greedy(&f, &opts, &m);
    else run_logits(&f, &opts, &m);
    if (f.save) {
        Error err;
        if (transformer_save(&m, f.save, &err) != 0) data_error_from(&err);
        printf("model saved to %s\n", f.save);
    }
    transformer_free(&m);
    return 0;
}
