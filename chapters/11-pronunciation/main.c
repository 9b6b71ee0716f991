/*
 * main.c - chapter 11's program, build/bin/ch11: a Transformer that learns
 * English pronunciation from the CMU dictionary.
 *
 *   ch11                      the demo, with the model in data/
 *   ch11 train                train one (recipes classroom and full)
 *   ch11 eval                 score one on the 12,000 test words
 *   ch11 predict WORD...      pronounce words (or words on standard input)
 *   ch11 show WORD            draw its attention for one word
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "decode.h"
#include "g2p_train.h"
#include "lexicon.h"
#include "plot.h"
#include "report.h"
#include "score.h"

static const char *const USAGE =
    "usage: ch11 [COMMAND] [options]\n"
    "Chapter 11: a Transformer that learns English pronunciation (letters to\n"
    "phonemes) from the CMU dictionary. With no command, the demo: the model in\n"
    "data/ch11_g2p.npz pronounces a few words, draws its attention for one, and\n"
    "scores the first 1,000 test words.\n"
    "\n"
    "ch11 train [--recipe classroom|full] [--steps N] [--eval-every N] [--resume]\n"
    "  --recipe NAME      classroom (default: 2 + 2 layers, d_model 128, 12,000 steps,\n"
    "                     about 6 minutes) or full (3 + 3 layers, d_model 256,\n"
    "                     25,000 steps, the rate falling to 0 after step 12,000,\n"
    "                     about 70 minutes on 2 cores: the model in data/)\n"
    "  --steps N          stop after step N instead of the recipe's length (the\n"
    "                     full recipe's rate falls to 0 at step N when N > 12,000)\n"
    "  --eval-every N     development WER, best model and checkpoint every N steps\n"
    "  --dev-words N      decode only the first N development words at each measurement\n"
    "  --dict FILE        training dictionary (default data/cmudict/g014b2b.train);\n"
    "                     1 word in 32 is kept apart as the development set\n"
    "  --checkpoint FILE  the run's checkpoint (default OUT/g2p.npz); the best model\n"
    "                     goes beside it as ..._best.npz\n"
    "  --resume           continue the run saved in the checkpoint\n"
    "  --seed N           the run's seed (default 1)\n"
    "ch11 eval [--model M] [--beam K] [--alpha A] [--words N]\n"
    "  greedy and beam-K decoding of the test words, WER and PER beside the\n"
    "  published results\n"
    "  --ref FILE         the test words and references (default data/cmudict/g014b2b.ref)\n"
    "  --words N          only the first N test words\n"
    "ch11 predict [--model M] [--beam K] [WORD...]   (no words: one per line on stdin)\n"
    "ch11 show [--model M] [--beam K] WORD            attention figures for the word\n"
    "\n"
    "  --model M.npz      the model (default data/ch11_g2p.npz)\n"
    "  --beam K           beam width (eval default 5; predict and show default 1: greedy)\n"
    "  --alpha A          length normalisation: a beam's score is log p / length^A (default 1)\n";

static const char *const DEFAULT_MODEL = "data/ch11_g2p.npz";
static const char *const DEFAULT_DICT = "data/cmudict/g014b2b.train";
static const char *const DEFAULT_REF = "data/cmudict/g014b2b.ref";

/** Everything the command line can say. */
typedef struct {
    const char *command;       /* train, eval, predict, show, or NULL: the demo */
    const char *model, *dict, *ref, *checkpoint, *recipe;
    long steps;                /* 0: the recipe's */
    int eval_every, dev_words, resume, words, beam, beam_given;
    float alpha;
    int seed_given, plot_given, recipe_given;
    CommonOpts opts;
    char **args;               /* words of predict and show */
    int n_args;
} Options;

/* ------------------------------------------------------------ loading */

static Lexicon load_lexicon(const char *path, const char *option)
{
    Lexicon lx;
    Error err;
    if (lexicon_load(&lx, path, &err) != 0) data_error("%s: %s", option, err.msg);
    return lx;
}

/* The model of --model, with the chapter's vocabularies. */
static Transformer load_model(const char *path)
{
    Transformer m;
    Error err;
    if (transformer_load(&m, path, &err) != 0) data_error("--model: %s", err.msg);
    if (m.cfg.Vs != G2P_LETTERS || m.cfg.Vt != G2P_PHONES)
        data_error("--model: %s has vocabularies of %d and %d tokens; a pronunciation model "
                   "has %d letters and %d phonemes", path, m.cfg.Vs, m.cfg.Vt, G2P_LETTERS,
                   G2P_PHONES);
    return m;
}

static DecodeOpts decode_opts(const Options *o, int beam)
{
    DecodeOpts d = decode_defaults();
    d.beam = beam;
    d.alpha = o->alpha;
    return d;
}

/* ------------------------------------------------------------ eval */

/* Decodes every entry's word and scores it against the entry's references. */
static Score score_all(const Transformer *m, const Lexicon *test, int n, const DecodeOpts *d,
                       double *seconds)
{
    Seq *words = xmalloc((size_t)n, sizeof(Seq), "test words");
    Seq *out = xmalloc((size_t)n, sizeof(Seq), "answers");
    for (int i = 0; i < n; i++) words[i] = test->entries[i].letters;
    double t0 = now_seconds();
    g2p_decode(out, NULL, m, words, n, d);
    *seconds = now_seconds() - t0;
    Score s = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        score_word(&s, out[i], &test->entries[i]);
        seq_free(&out[i]);
    }
    free(words);
    free(out);
    return s;
}

//! [published]
/* The published results on this split (data/cmudict/README.md). */
static const struct {
    const char *system;
    double wer, per;           /* percent; per < 0: not published */
} PUBLISHED[] = {
    {"Phonetisaurus (WFST)", 24.4, -1},
    {"Sequitur (joint n-gram)", 24.5, -1},
    {"bi-LSTM (Yao and Zweig 2015)", 23.6, 5.45},
    {"LSTM + n-gram (Rao et al. 2015)", 21.3, -1},
    {"attention ensemble (Toshniwal and Livescu 2016)", 20.2, -1},
    {"3-layer Transformer d=256 (g2p-seq2seq)", 20.6, -1},
};
//! [published]

static void print_row(const char *system, double wer, double per, const char *note)
{
    char per_text[16] = "     -";
    if (per >= 0) snprintf(per_text, sizeof per_text, "%6.2f", per);
    printf("  %-50s %6.1f  %s%s%s\n", system, wer, per_text, *note ? "  " : "", note);
}

static void run_eval(const Options *o, int n_words)
{
    Lexicon test = load_lexicon(o->ref, "--ref");
    for (int i = 0; i < test.count; i++)
        if (test.entries[i].n_prons == 0)
            data_error("--ref: %s:%d: %s has no reference pronunciation", o->ref,
                       test.entries[i].line, test.entries[i].word);
    Transformer m = load_model(o->model);
    int n = n_words > 0 && n_words < test.count ? n_words : test.count;
    long refs = 0;
    for (int i = 0; i < n; i++) refs += test.entries[i].n_prons;
    printf("%s: %d test words, %ld reference pronunciations%s\n", o->ref, n, refs,
           n < test.count ? " (the first words only)" : "");
    printf("the model %s: %zu parameters, d_model %d, %d heads, d_ff %d, %d + %d layers\n\n",
           o->model, m.params.size, m.cfg.E, m.cfg.H, m.cfg.F, m.cfg.enc_layers,
           m.cfg.dec_layers);
    printf("  %-50s %6s  %6s\n", "system", "WER %", "PER %");
    int beams[2] = {1, o->beam};
    for (int k = 0; k < (o->beam > 1 ? 2 : 1); k++) {
        DecodeOpts d = decode_opts(o, beams[k]);
        double seconds;
        Score s = score_all(&m, &test, n, &d, &seconds);
        char name[80], note[64];
        if (beams[k] == 1) snprintf(name, sizeof name, "this model, greedy");
        else snprintf(name, sizeof name, "this model, beam %d (alpha %g)", beams[k], (double)o->alpha);
        snprintf(note, sizeof note, "(%ld wrong; %.1f s)", s.wrong, seconds);
        print_row(name, score_wer(&s), score_per(&s), note);
    }
    printf("  published on the same split:\n");
    for (size_t i = 0; i < sizeof PUBLISHED / sizeof PUBLISHED[0]; i++)
        print_row(PUBLISHED[i].system, PUBLISHED[i].wer, PUBLISHED[i].per, "");
    transformer_free(&m);
    lexicon_free(&test);
}

/* ------------------------------------------------------------ predict */

/* Pronounces the words; a word that is not one gets its error and the rest
 * still run. Returns the number of bad words. */
static int predict_words(const Transformer *m, char *const *text, int n, const DecodeOpts *d)
{
    Seq *words = xcalloc((size_t)n + 1, sizeof(Seq), "words");
    Seq *out = xcalloc((size_t)n + 1, sizeof(Seq), "answers");
    int *good = xcalloc((size_t)n + 1, sizeof(int), "words");
    int ok = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        Error err;
        Seq w;
        if (word_to_letters(&w, text[i], &err) != 0) {
            char shown[80];
            snprintf(shown, sizeof shown, "%.70s%s", text[i], strlen(text[i]) > 70 ? "..." : "");
            for (char *p = shown; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
            fprintf(stderr, "ch11: '%s': %s\n", shown, err.msg);
            bad++;
            continue;
        }
        good[ok] = i;
        words[ok++] = w;
    }
    if (ok > 0) g2p_decode(out, NULL, m, words, ok, d);
    char phones[G2P_MAX_PRON * 4];
    for (int k = 0; k < ok; k++) {
        for (const char *c = text[good[k]]; *c; c++)
            putchar(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
        printf("\t%s\n", phones_to_text(phones, sizeof phones, out[k]));
        seq_free(&words[k]);
        seq_free(&out[k]);
    }
    fflush(stdout);
    free(words);
    free(out);
    free(good);
    return bad;
}

/* Words from standard input, one per line (spaces around them ignored). */
static char **read_words(int *n)
{
    int cap = 64;
    char **w = xmalloc((size_t)cap, sizeof(char *), "words");
    char line[4096];
    *n = 0;
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        int truncated = len == sizeof line - 1 && line[len - 1] != '\n';
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                           line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        char *start = line;
        while (*start == ' ' || *start == '\t') start++;
        if (*start == '\0' && !truncated) continue;
        if (*n == cap) w = xrealloc(w, (size_t)(cap *= 2), sizeof(char *), "words");
        w[(*n)++] = xstrdup(start);
        if (truncated) {   /* the rest of a very long line is the same bad word */
            int c;
            while ((c = getchar()) != EOF && c != '\n') {
            }
        }
    }
    return w;
}

static int run_predict(const Options *o)
{
    Transformer m = load_model(o->model);
    DecodeOpts d = decode_opts(o, o->beam_given ? o->beam : 1);
    int bad;
    if (o->n_args > 0) {
        bad = predict_words(&m, o->args, o->n_args, &d);
    } else {
        int n;
        char **w = read_words(&n);
        bad = 0;
        for (int first = 0; first < n; first += 1024)   /* in chunks: a long list streams */
            bad += predict_words(&m, w + first, n - first < 1024 ? n - first : 1024, &d);
        for (int i = 0; i < n; i++) free(w[i]);
        free(w);
    }
    transformer_free(&m);
    return bad ? EXIT_DATA : 0;
}

/* ------------------------------------------------------------ show */

static char **labels_of(const int64_t *ids, int n, const char *(*name)(int64_t))
{
    char **s = xmalloc((size_t)n, sizeof(char *), "labels");
    for (int k = 0; k < n; k++) s[k] = xstrdup(name(ids[k]));
    return s;
}

static void free_labels(char **s, int n)
{
    for (int k = 0; k < n; k++) free(s[k]);
    free(s);
}

/* Layers down, heads across: maps (N * H * R, C), panel (n, h) at rows
 * [(n H + h) R, ...); with causal, the cells above the diagonal are grey. */
static void plot_maps(const PlotOpts *o, const char *name, const char *title, Mat maps, int N,
                      int H, int R, char **rows, char **cols, const char *xlabel,
                      const char *ylabel, int causal)
{
    Mat blocked = mat_new(R, maps.cols);   /* (R, C) nonzero = blocked */
    for (int i = 0; i < R; i++)
        for (int j = 0; j < maps.cols; j++) MAT_AT(blocked, i, j) = causal && j > i;
    Error err;
    int rc = plot_attention_layers(o, name, title, maps, N, H, blocked,
                                   (const char *const *)rows, (const char *const *)cols, xlabel,
                                   ylabel, &err);
    mat_free(&blocked);
    if (rc != 0) data_error_from(&err);
    if (o->format == PLOT_PNG || o->format == PLOT_SVG)
        printf("Figure: %s/%s.%s (with %s.dat and %s.gp beside it)\n", o->outdir, name,
               o->format == PLOT_PNG ? "png" : "svg", name, name);
}

/* For each phoneme, the letters the last decoder layer's cross-attention
 * (averaged over heads) looks at most: the alignment the model learned. */
static void print_alignment(const Transformer *m, const AttentionMaps *a, const Seq *w,
                            const Seq *p, const char *word)
{
    int H = m->cfg.H, N = m->cfg.dec_layers, S = w->len, T = p->len + 1;
    printf("\nWhere each phoneme looks (last layer's cross-attention, mean over heads):\n");
    for (int i = 0; i < T; i++) {
        int best = 0;
        float top = -1.0f, row[G2P_MAX_WORD];
        for (int j = 0; j < S; j++) {
            row[j] = 0.0f;
            for (int h = 0; h < H; h++) row[j] += MAT_AT(a->cross, ((N - 1) * H + h) * T + i, j) / H;
            if (row[j] > top) {
                top = row[j];
                best = j;
            }
        }
        printf("  %-4s <- %c (%.2f)   ", i < p->len ? phone_name(p->ids[i]) : "</s>", word[best],
               (double)top);
        for (int j = 0; j < S; j++) putchar(row[j] >= 0.5f ? '#' : row[j] >= 0.2f ? '+' : '.');
        putchar('\n');
    }
}

//! [show_word]
/* Decodes the word, then runs the model once on (letters, <s> phonemes)
 * with chapter 9's forward pass, which hands back every attention map. */
static void show_word(const Transformer *m, const char *text, const DecodeOpts *d,
                      const PlotOpts *o)
{
    Seq w, p;
    Error err;
    if (word_to_letters(&w, text, &err) != 0) data_error("'%s': %s", text, err.msg);
    float score;
    g2p_decode(&p, &score, m, &w, 1, d);
    int S = w.len, T = p.len + 1;                      /* T: <s> p1 ... pn */
    int64_t tgt[G2P_MAX_PRON + 1];
    tgt[0] = G2P_BOS;
    memcpy(tgt + 1, p.ids, (size_t)p.len * sizeof(int64_t));
    AttentionMaps a = attention_maps_new(&m->cfg, S, T);
    Mat logits = mat_new(T, m->cfg.Vt);
    transformer_forward(logits, &a, m, w.ids, S, tgt, T);
//! [show_word]
    char upper[G2P_MAX_WORD + 1], phones[G2P_MAX_PRON * 4];
    for (int j = 0; j <= S; j++) upper[j] = (char)(text[j] >= 'a' && text[j] <= 'z' ? text[j] - 32 : text[j]);
    printf("%s\t%s\t(score %.3f)\n", upper, phones_to_text(phones, sizeof phones, p), (double)score);

    /* rows: what each decoder position predicts (p1 ... pn, </s>) */
    int64_t predicted[G2P_MAX_PRON + 1];
    memcpy(predicted, p.ids, (size_t)p.len * sizeof(int64_t));
    predicted[p.len] = G2P_EOS;
    char **letters = labels_of(w.ids, S, letter_name);
    char **outs = labels_of(predicted, T, phone_name);
    char **ins = labels_of(tgt, T, phone_name);
    char name[G2P_MAX_WORD + 32], title[G2P_MAX_WORD + 200];
    const TransformerConfig *c = &m->cfg;
    snprintf(name, sizeof name, "%s_cross", upper);
    snprintf(title, sizeof title, "%s: cross-attention (each phoneme, as it is predicted, over the letters)", upper);
    plot_maps(o, name, title, a.cross, c->dec_layers, c->H, T, outs, letters, "letters",
              "phoneme predicted", 0);
    snprintf(name, sizeof name, "%s_encoder", upper);
    snprintf(title, sizeof title, "%s: encoder self-attention (letters over letters)", upper);
    plot_maps(o, name, title, a.enc, c->enc_layers, c->H, S, letters, letters, "key letter",
              "query letter", 0);
    snprintf(name, sizeof name, "%s_decoder", upper);
    snprintf(title, sizeof title, "%s: decoder self-attention (causal; grey = blocked)", upper);
    plot_maps(o, name, title, a.dec_self, c->dec_layers, c->H, T, ins, ins, "key (decoder input)",
              "query (decoder input)", 1);
    print_alignment(m, &a, &w, &p, upper);
    free_labels(letters, S);
    free_labels(outs, T);
    free_labels(ins, T);
    mat_free(&logits);
    attention_maps_free(&a);
    seq_free(&w);
    seq_free(&p);
}

static void run_show(const Options *o)
{
    Transformer m = load_model(o->model);
    DecodeOpts d = decode_opts(o, o->beam_given ? o->beam : 1);
    cli_check_outdir(&o->opts.plot);
    for (int i = 0; i < o->n_args; i++) show_word(&m, o->args[i], &d, &o->opts.plot);
    transformer_free(&m);
}

/* ------------------------------------------------------------ train */

static void plot_history(const PlotOpts *o, const G2pRun *r)
{
    if (r->points < 2) return;
    float *x = xmalloc((size_t)r->points, sizeof(float), "history");
    float *wer = xmalloc((size_t)r->points, sizeof(float), "history");
    float *per = xmalloc((size_t)r->points, sizeof(float), "history");
    for (int p = 0; p < r->points; p++) {
        x[p] = r->history[p * 5];
        wer[p] = r->history[p * 5 + 3];
        per[p] = r->history[p * 5 + 4];
    }
    const float *ys[2] = {wer, per};
    const char *labels[2] = {"development WER (%)", "development PER (%)"};
    Error err;
    if (plot_lines(o, "g2p_dev_error", "Chapter 11: development error during training", x, ys,
                   labels, 2, r->points, "step", "error (%)", PLOT_LOGY, &err) != 0)
        data_error_from(&err);
    if (o->format == PLOT_PNG || o->format == PLOT_SVG)
        printf("Figure: %s/g2p_dev_error.%s\n", o->outdir, o->format == PLOT_PNG ? "png" : "svg");
    free(x);
    free(wer);
    free(per);
}

static int run_train(const Options *o)
{
    char *checkpoint = o->checkpoint ? xstrdup(o->checkpoint) : path_join(o->opts.plot.outdir, "g2p.npz");
    char *best = g2p_best_path(checkpoint);
    G2pRun r;
    Error err;
    if (o->resume) {
        if (g2p_checkpoint_load(checkpoint, &r, &err) != 0) data_error("--resume: %s", err.msg);
        if (o->steps) r.rc.steps = o->steps;
        if (o->eval_every) r.rc.eval_every = o->eval_every;
        printf("Resuming %s at step %ld of %ld (recipe %s)\n", checkpoint, r.step, r.rc.steps,
               r.rc.name);
    } else {
        Recipe rc;
        if (recipe_find(&rc, o->recipe) != 0)
            usage_error("--recipe: '%s' is not classroom or full", o->recipe);
        if (o->steps) rc.steps = o->steps;
        if (o->eval_every) rc.eval_every = o->eval_every;
        rc.seed = o->opts.seed;
        g2p_run_new(&r, &rc);
    }
    Lexicon all = load_lexicon(o->dict, "--dict"), train, dev;
    for (int i = 0; i < all.count; i++)
        if (all.entries[i].n_prons == 0)
            data_error("--dict: %s:%d: %s has no pronunciation", o->dict, all.entries[i].line,
                       all.entries[i].word);
    cli_check_outdir(&o->opts.plot);
    char *slash = strrchr(checkpoint, '/');
    if (slash && slash != checkpoint) {   /* the checkpoint's folder */
        *slash = '\0';
        if (make_dirs(checkpoint, &err) != 0) data_error("--checkpoint: %s", err.msg);
        *slash = '/';
    }
    cli_check_output(checkpoint, "--checkpoint");
    cli_check_output(best, "--checkpoint (its _best.npz)");
    atomic_remove_stale(checkpoint);   /* left by a run killed while writing */
    atomic_remove_stale(best);
    lexicon_split(&train, &dev, &all);
    const TransformerConfig *c = &r.rc.model;
    printf("Chapter 11: training (recipe %s, seed %llu)\n", r.rc.name,
           (unsigned long long)r.rc.seed);
    printf("  %s: %d words, %ld pronunciations; %d words (%ld pronunciations) kept apart "
           "for development\n", o->dict, all.count, all.n_prons, dev.count, dev.n_prons);
    printf("  model: d_model %d, %d heads, d_ff %d, %d + %d layers, %s, %zu parameters\n", c->E,
           c->H, c->F, c->enc_layers, c->dec_layers, c->norm_first ? "pre-norm" : "post-norm",
           r.m.params.size);
    printf("  %ld steps of %d pairs (an epoch is %ld steps); Adam, warm-up %d, factor %g; "
           "dropout %g, label smoothing %g\n", r.rc.steps, r.rc.batch,
           (train.n_prons + r.rc.batch - 1) / r.rc.batch, r.rc.warmup, (double)r.rc.factor,
           (double)r.rc.dropout, (double)r.rc.smoothing);
    if (r.rc.cool_from > 0 && r.rc.steps > r.rc.cool_from)
        printf("  after step %ld the rate falls linearly to 0 at step %ld\n", r.rc.cool_from,
               r.rc.steps);
    printf("  checkpoint %s, best model %s\n\n", checkpoint, best);
    fflush(stdout);
    RunFiles f = {checkpoint, best, o->dev_words, 0};
    int rc = g2p_train(&r, &train, &dev, &f, &err);
    if (rc < 0) data_error("%s", err.msg);
    printf("\n%s after step %ld (%.0f s of training in all)", rc == 1 ? "Stopped" : "Done", r.step,
           r.seconds);
    if (r.best_step > 0)
        printf("; best development WER %.2f%% at step %ld, in %s\n", (double)r.best_wer,
               r.best_step, best);
    else
        printf("; no development measurement has got a word right yet, so no %s\n", best);
    if (rc == 1) {   /* the whole command: the same data and measurement */
        printf("To continue: ch11 train --resume --checkpoint %s", checkpoint);
        if (strcmp(o->dict, DEFAULT_DICT) != 0) printf(" --dict %s", o->dict);
        if (o->dev_words) printf(" --dev-words %d", o->dev_words);
        printf(" --out %s\n", o->opts.plot.outdir);
    }
    plot_history(&o->opts.plot, &r);
    g2p_run_free(&r);
    lexicon_free_part(&train);
    lexicon_free_part(&dev);
    lexicon_free(&all);
    free(best);
    free(checkpoint);
    return rc == 1 ? 128 + g2p_stop_signal() : 0;   /* as a shell reports a signal */
}

/* ------------------------------------------------------------ the demo */

static void run_demo(const Options *o)
{
    printf("Chapter 11: a Transformer that pronounces English words\n\n");
    struct stat st;
    if (stat(o->model, &st) != 0)
        data_error("--model: %s is missing; make it with `make g2p-model` (the full "
                   "recipe) or train one with `ch11 train`", o->model);
    Transformer m = load_model(o->model);
    printf("The model %s: %zu parameters (d_model %d, %d heads, d_ff %d, %d + %d layers).\n",
           o->model, m.params.size, m.cfg.E, m.cfg.H, m.cfg.F, m.cfg.enc_layers,
           m.cfg.dec_layers);
    printf("A few words, decoded greedily:\n\n");
    static char *const words[] = {"PHONEME", "TRANSFORMER", "ATTENTION", "THROUGH", "THOUGH",
                                  "TOUGH", "KNIGHT", "QUEUE", "CHARACTER", "PSYCHOLOGY"};
    DecodeOpts greedy = decode_defaults();
    predict_words(&m, words, (int)(sizeof words / sizeof words[0]), &greedy);
    printf("\n");
    cli_check_outdir(&o->opts.plot);
    show_word(&m, "PHOTOGRAPH", &greedy, &o->opts.plot);
    transformer_free(&m);
    printf("\nThe first 1,000 test words:\n");
    Options e = *o;
    e.beam = 1;
    run_eval(&e, 1000);
}

/* ------------------------------------------------------------ options */

enum {
    OPT_MODEL = 1, OPT_DICT, OPT_REF, OPT_CHECKPOINT, OPT_RECIPE, OPT_STEPS, OPT_EVAL_EVERY,
    OPT_DEV_WORDS, OPT_RESUME, OPT_WORDS, OPT_BEAM, OPT_ALPHA
};

/* The options a command accepts, by code; 0 ends. */
static int allowed(const char *command, int c)
{
    static const int train[] = {OPT_DICT, OPT_CHECKPOINT, OPT_RECIPE, OPT_STEPS, OPT_EVAL_EVERY,
                                OPT_DEV_WORDS, OPT_RESUME, 0};
    static const int eval[] = {OPT_MODEL, OPT_REF, OPT_WORDS, OPT_BEAM, OPT_ALPHA, 0};
    static const int use[] = {OPT_MODEL, OPT_BEAM, OPT_ALPHA, 0};
    static const int demo[] = {OPT_MODEL, 0};
    const int *list = !command                       ? demo
                      : strcmp(command, "train") == 0 ? train
                      : strcmp(command, "eval") == 0  ? eval
                                                      : use;
    for (int k = 0; list[k]; k++)
        if (list[k] == c) return 1;
    return 0;
}

static void parse(Options *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->model = DEFAULT_MODEL;
    o->dict = DEFAULT_DICT;
    o->ref = DEFAULT_REF;
    o->recipe = "classroom";
    o->beam = 5;
    o->alpha = 1.0f;
    common_opts_init(&o->opts, "out/ch11");
    int first = 1;
    if (argc > 1 && argv[1][0] != '-') {
        static const char *const commands[] = {"train", "eval", "predict", "show"};
        for (int k = 0; k < 4; k++)
            if (strcmp(argv[1], commands[k]) == 0) o->command = commands[k];
        if (!o->command)
            usage_error("%s: not a command (train, eval, predict or show; try --help)", argv[1]);
        first = 2;
    }
    static const struct option longopts[] = {
        {"model", required_argument, NULL, OPT_MODEL},
        {"dict", required_argument, NULL, OPT_DICT},
        {"ref", required_argument, NULL, OPT_REF},
        {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
        {"recipe", required_argument, NULL, OPT_RECIPE},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"eval-every", required_argument, NULL, OPT_EVAL_EVERY},
        {"dev-words", required_argument, NULL, OPT_DEV_WORDS},
        {"resume", no_argument, NULL, OPT_RESUME},
        {"words", required_argument, NULL, OPT_WORDS},
        {"beam", required_argument, NULL, OPT_BEAM},
        {"alpha", required_argument, NULL, OPT_ALPHA},
        COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = first;
    int c, idx = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, &idx)) != -1) {
        if (c >= OPT_MODEL && c <= OPT_ALPHA && !allowed(o->command, c))
            usage_error("--%s: not an option of %s (try --help)", longopts[idx].name,
                        o->command ? o->command : "the demo");
        switch (c) {
        case OPT_MODEL: o->model = optarg; break;
        case OPT_DICT: o->dict = optarg; break;
        case OPT_REF: o->ref = optarg; break;
        case OPT_CHECKPOINT:
            if (!optarg[0]) usage_error("--checkpoint: the path is empty");
            o->checkpoint = optarg;
            break;
        case OPT_RECIPE:
            o->recipe = optarg;
            o->recipe_given = 1;
            break;
        case OPT_STEPS: o->steps = parse_long("--steps", optarg, 1, 100000000L); break;
        case OPT_EVAL_EVERY: o->eval_every = (int)parse_long("--eval-every", optarg, 1, 1000000L); break;
        case OPT_DEV_WORDS: o->dev_words = (int)parse_long("--dev-words", optarg, 1, 1000000L); break;
        case OPT_RESUME: o->resume = 1; break;
        case OPT_WORDS: o->words = (int)parse_long("--words", optarg, 1, 1000000L); break;
        case OPT_BEAM:
            o->beam = (int)parse_long("--beam", optarg, 1, 64);
            o->beam_given = 1;
            break;
        case OPT_ALPHA: o->alpha = parse_float("--alpha", optarg, 0.0f, 10.0f); break;
        case OPT_HELP: printf("%s%s", USAGE, COMMON_HELP); exit(0);
        case OPT_SEED:
            o->seed_given = 1;
            common_opts_handle(&o->opts, c, optarg);
            break;
        case OPT_PLOT:
            o->plot_given = 1;
            common_opts_handle(&o->opts, c, optarg);
            break;
        default:
            if (!common_opts_handle(&o->opts, c, optarg)) cli_bad_option(c, argc, argv);
        }
    }
    o->args = argv + optind;
    o->n_args = argc - optind;
    int takes_words = o->command && (strcmp(o->command, "predict") == 0 ||
                                     strcmp(o->command, "show") == 0);
    if (!takes_words && o->n_args > 0)
        usage_error("%s: unexpected argument (try --help)", o->args[0]);
    if (o->command && strcmp(o->command, "show") == 0 && o->n_args == 0)
        usage_error("show: which word? (ch11 show WORD)");
    if (o->resume && o->seed_given) usage_error("--seed: a resumed run keeps its checkpoint's seed");
    if (o->resume && o->recipe_given)
        usage_error("--recipe: a resumed run keeps its checkpoint's recipe");
}

int main(int argc, char **argv)
{
    cli_init("ch11");
    Options o;
    parse(&o, argc, argv);
    if (!o.command) {
        run_demo(&o);
        return 0;
    }
    if (strcmp(o.command, "train") == 0) return run_train(&o);
    if (strcmp(o.command, "eval") == 0) {
        run_eval(&o, o.words);
        return 0;
    }
    if (strcmp(o.command, "predict") == 0) return run_predict(&o);
    run_show(&o);
    return 0;
}
