/*
 * test_decode.c - chapter 11's decoding (decode.c): the cached, stacked
 * decoder against chapter 9's transformer_decode on the whole prefix;
 * greedy decoding against chapter 9's greedy_decode; beam search against
 * the plain one-word version and against a beam search written in PyTorch
 * (tests/fixtures/make_decode_ref.py); words of 1 and G2P_MAX_WORD
 * letters, max_len, chunks, and the same bits on 1 and 2 threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "suites.h"
#include "testutil.h"
#include "decode.h"
#include "npy.h"
#include "ops.h"
#include "rng.h"

/* Log-probabilities from the cache against transformer_decode on the whole
 * prefix: the same sums in float32, in other orders, so the error grows
 * with the logits. Allowed: LOGP_TOL (1 + |log p|). The largest measured
 * was 4.6e-6 (1 + |log p|), in the pre-norm model without final norms,
 * whose generator reads unnormalised vectors (log-probs down to -67); the
 * other models stay under 9e-7. */
#define LOGP_TOL 1e-5
/* Normalised scores (sums of up to 65 log-probs, divided by the length).
 * The largest differences measured: 1.3e-6 against chapter 9, 6.2e-6
 * against the plain version, 1.9e-6 against PyTorch (float64). */
#define SCORE_TOL 1e-4

typedef struct {
    const char *name;
    int norm_first, enc_norm, dec_norm;
} Case;

static const Case CASES[] = {
    {"post", 0, 1, 1}, {"pre", 1, 1, 1}, {"post-nonorm", 0, 0, 0}, {"pre-nonorm", 1, 0, 0}};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

/* ------------------------------------------------------------ helpers */

/* A small random model, E 32, H 4, F 64, 2 + 2 layers, the vocabularies of
 * lexicon.h. Biases and norms are randomised (PyTorch leaves them at 0 and
 * 1), the generator's weight tripled and EOS's bias raised, so that the
 * next-token distributions are peaked and the answers end at many lengths
 * (with PyTorch's initialisation nearly every answer runs to max_len). */
static Transformer small_model(const Case *cs, uint64_t seed)
{
    TransformerConfig cfg = {.E = 32, .F = 64, .H = 4, .enc_layers = 2, .dec_layers = 2,
                             .Vs = G2P_LETTERS, .Vt = G2P_PHONES, .norm_first = cs->norm_first,
                             .enc_norm = cs->enc_norm, .dec_norm = cs->dec_norm};
    Transformer m = random_model(&cfg, seed);
    mat_scale(m.gen_weight, 3.0f);
    MAT_AT(m.gen_bias, 0, G2P_EOS) += 1.5f;
    return m;
}

/* Words of the given lengths, of random letters (ids 3 ... 29). */
static Seq *words_of(const int *lengths, int n, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed);
    Seq *w = calloc((size_t)n, sizeof(Seq));
    for (int i = 0; i < n; i++) {
        w[i].len = lengths[i];
        w[i].ids = malloc((size_t)w[i].len * sizeof(int64_t));
        for (int j = 0; j < w[i].len; j++) w[i].ids[j] = G2P_FIRST + rng_below(&r, 27);
    }
    return w;
}

/* n words of random letters, lengths in [lo, hi]. */
static Seq *random_words(int n, int lo, int hi, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed + 1000);
    int *lengths = malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) lengths[i] = lo + (int)rng_below(&r, (uint32_t)(hi - lo + 1));
    Seq *w = words_of(lengths, n, seed);
    free(lengths);
    return w;
}

static void free_seqs(Seq *s, int n)
{
    for (int i = 0; i < n; i++) seq_free(&s[i]);
    free(s);
}

/* Every id may be chosen (phonemes_only 0), as in chapter 9's greedy_decode
 * and the PyTorch reference, which these tests compare with. */
static DecodeOpts opts(int beam, float alpha, int max_len)
{
    DecodeOpts o = {beam, alpha, max_len, 0};
    return o;
}

static void set_threads(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

static int get_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static void assert_same_ids(Seq got, const int64_t *want, int want_len, const char *what, int i)
{
    ck_assert_msg(got.len == want_len, "%s, word %d: %d phonemes, expected %d", what, i, got.len,
                  want_len);
    for (int j = 0; j < want_len; j++)
        ck_assert_msg(got.ids[j] == want[j], "%s, word %d, phoneme %d: %lld, expected %lld", what,
                      i, j, (long long)got.ids[j], (long long)want[j]);
}

/* The score of an answer, from chapter 9's forward pass on BOS + answer
 * (+ EOS if it has one): sum of log p / |y|^alpha. */
static double chapter9_score(const Transformer *m, Seq word, Seq ans, int eos, float alpha)
{
    int T = ans.len + 1;
    int64_t *tgt = malloc((size_t)(T + 1) * sizeof(int64_t));
    tgt[0] = G2P_BOS;
    memcpy(tgt + 1, ans.ids, (size_t)ans.len * sizeof(int64_t));
    Mat logp = mat_new(T, m->cfg.Vt);
    transformer_forward(logp, NULL, m, word.ids, word.len, tgt, T);
    transformer_log_probs(logp, logp);
    double sum = 0.0;
    for (int t = 0; t < ans.len; t++) sum += MAT_AT(logp, t, ans.ids[t]);
    if (eos) sum += MAT_AT(logp, ans.len, G2P_EOS);
    int scored = ans.len + (eos ? 1 : 0);
    mat_free(&logp);
    free(tgt);
    return scored > 0 ? sum / pow(scored, alpha) : sum;
}

/* Greedy answers of every word against chapter 9's greedy_decode. */
static void check_greedy_against_chapter9(const Transformer *m, const Seq *words, int n,
                                          int max_len)
{
    Seq *out = calloc((size_t)n, sizeof(Seq));
    float *score = calloc((size_t)n, sizeof(float));
    DecodeOpts o = opts(1, 1.0f, max_len);
    g2p_decode(out, score, m, words, n, &o);
    int64_t *ref = malloc((size_t)(max_len + 1) * sizeof(int64_t));
    for (int i = 0; i < n; i++) {
        int T = greedy_decode(ref, max_len + 1, m, words[i].ids, words[i].len, G2P_BOS, G2P_EOS);
        int eos = ref[T - 1] == G2P_EOS;
        assert_same_ids(out[i], ref + 1, T - 1 - eos, "greedy", i);
        double want = chapter9_score(m, words[i], out[i], eos, 1.0f);
        ck_assert_msg(fabs(score[i] - want) <= SCORE_TOL, "greedy, word %d: score %.7g, "
                      "chapter 9 %.7g", i, score[i], want);
    }
    free(ref);
    free(score);
    free_seqs(out, n);
}

/* g2p_decode against g2p_decode_plain, word by word. */
static void check_against_plain(const Transformer *m, const Seq *words, int n,
                                const DecodeOpts *o)
{
    Seq *out = calloc((size_t)n, sizeof(Seq));
    float *score = calloc((size_t)n, sizeof(float));
    g2p_decode(out, score, m, words, n, o);
    for (int i = 0; i < n; i++) {
        Seq want;
        float want_score;
        g2p_decode_plain(&want, &want_score, m, words[i], o);
        assert_same_ids(out[i], want.ids, want.len, "beam against the plain version", i);
        ck_assert_msg(fabs(score[i] - want_score) <= SCORE_TOL,
                      "beam %d alpha %g, word %d: score %.7g, plain %.7g", o->beam, o->alpha, i,
                      score[i], want_score);
        seq_free(&want);
    }
    free(score);
    free_seqs(out, n);
}

/* ------------------------------------------------- the cached decoder */

START_TEST(cached_log_probs_match_full_recompute)
{
    const Case *cs = &CASES[_i];
    Transformer m = small_model(cs, 100 + (uint64_t)_i);
    enum { N = 7, T = 9 };
    static const int lengths[N] = {1, 3, 5, 8, 12, 2, 7};
    Seq *words = words_of(lengths, N, 200);   /* the stack pads the shorter words */
    Rng r;
    rng_seed(&r, 300);
    int64_t tgt[N * T];
    for (int i = 0; i < N; i++) {
        tgt[i * T] = G2P_BOS;
        for (int t = 1; t < T; t++) tgt[i * T + t] = G2P_FIRST + rng_below(&r, 39);
    }
    tgt[2 * T + 5] = G2P_PAD;   /* padding in a prefix is blocked as a key, as in chapter 9 */
    tgt[4 * T + 3] = G2P_EOS;

    Mat got = mat_new(N * T, m.cfg.Vt), want = mat_new(T, m.cfg.Vt);
    g2p_log_probs(got, &m, words, N, tgt, T);
    for (int i = 0; i < N; i++) {
        transformer_forward(want, NULL, &m, words[i].ids, words[i].len, tgt + i * T, T);
        transformer_log_probs(want, want);
        for (int t = 0; t < T; t++)
            for (int v = 0; v < m.cfg.Vt; v++) {
                float g = MAT_AT(got, i * T + t, v), w = MAT_AT(want, t, v);
                ck_assert_msg(fabsf(g - w) <= LOGP_TOL * (1.0f + fabsf(w)),
                              "%s, word %d, step %d, token %d: cached %.8g, chapter 9 %.8g",
                              cs->name, i, t, v, g, w);
            }
    }
    mat_free(&got);
    mat_free(&want);
    free_seqs(words, N);
    transformer_free(&m);
}
END_TEST

/* ------------------------------------------------------------ greedy */

START_TEST(greedy_matches_chapter9)
{
    Transformer m = small_model(&CASES[_i], 110 + (uint64_t)_i);
    enum { N = 50 };
    Seq *words = random_words(N, 1, 22, 210 + (uint64_t)_i);
    check_greedy_against_chapter9(&m, words, N, 20);
    free_seqs(words, N);
    transformer_free(&m);
}
END_TEST

START_TEST(greedy_over_many_chunks)
{
    /* More words than a chunk holds (256 at beam 1), given longest first. */
    Transformer m = small_model(&CASES[1], 120);
    enum { N = 600 };
    Seq *words = random_words(N, 1, 22, 220);
    for (int i = 0; i < N / 2; i++) {   /* reverse the first half: the order must not matter */
        Seq s = words[i];
        words[i] = words[N - 1 - i];
        words[N - 1 - i] = s;
    }
    check_greedy_against_chapter9(&m, words, N, 8);
    free_seqs(words, N);
    transformer_free(&m);
}
END_TEST

/* -------------------------------------------------------- beam search */

/* How many of the n words beam search answers otherwise than greedy. */
static int differ_from_greedy(const Transformer *m, const Seq *words, int n, const DecodeOpts *o)
{
    Seq *greedy = calloc((size_t)n, sizeof(Seq)), *beam = calloc((size_t)n, sizeof(Seq));
    DecodeOpts g = opts(1, o->alpha, o->max_len);
    g2p_decode(greedy, NULL, m, words, n, &g);
    g2p_decode(beam, NULL, m, words, n, o);
    int differ = 0;
    for (int i = 0; i < n; i++)
        differ += greedy[i].len != beam[i].len ||
                  memcmp(greedy[i].ids, beam[i].ids, (size_t)beam[i].len * sizeof(int64_t)) != 0;
    free_seqs(greedy, n);
    free_seqs(beam, n);
    return differ;
}

START_TEST(beam_matches_plain)
{
    Transformer m = small_model(&CASES[_i], 130 + (uint64_t)_i);
    enum { N = 20 };
    Seq *words = random_words(N, 1, 16, 230 + (uint64_t)_i);
    for (int alpha = 0; alpha <= 1; alpha++) {
        DecodeOpts o = opts(3, (float)alpha, 12);
        check_against_plain(&m, words, N, &o);
        /* the beam's own ranking was exercised, not greedy's in disguise */
        ck_assert_int_gt(differ_from_greedy(&m, words, N, &o), 0);
    }
    free_seqs(words, N);
    transformer_free(&m);
}
END_TEST

START_TEST(beam_over_many_chunks)
{
    /* Beam 5: 102 words a chunk, so 130 words take 2. */
    Transformer m = small_model(&CASES[0], 140);
    enum { N = 130 };
    Seq *words = random_words(N, 1, 22, 240);
    DecodeOpts o = opts(5, 1.0f, 8);
    check_against_plain(&m, words, N, &o);
    free_seqs(words, N);
    transformer_free(&m);
}
END_TEST

START_TEST(beam_of_one_is_greedy)
{
    Transformer m = small_model(&CASES[_i], 150 + (uint64_t)_i);
    enum { N = 30 };
    Seq *words = random_words(N, 1, 16, 250 + (uint64_t)_i);
    DecodeOpts o = opts(1, 1.0f, 15);
    /* g2p_decode takes the greedy loop; the plain version, beam_select with k = 1. */
    check_against_plain(&m, words, N, &o);
    free_seqs(words, N);
    transformer_free(&m);
}
END_TEST

/* ------------------------------------------------- against PyTorch */

static const char *const TORCH_CASES[] = {"post", "pre"};
static const struct {
    const char *run;
    int beam;
    float alpha;
} RUNS[] = {{"greedy", 1, 1.0f}, {"beam3a0", 3, 0.0f}, {"beam3a1", 3, 1.0f}};
enum { TORCH_MAX_LEN = 10 };   /* make_decode_ref.py's MAX_LEN */

START_TEST(beam_matches_pytorch)
{
    char path[256];
    Error err;
    Transformer m;
    snprintf(path, sizeof path, "tests/fixtures/decode_%s_model.npz", TORCH_CASES[_i]);
    ck_assert_msg(transformer_load(&m, path, &err) == 0, "%s", err.msg);
    Npz ref;
    snprintf(path, sizeof path, "tests/fixtures/decode_%s_ref.npz", TORCH_CASES[_i]);
    ck_assert_msg(npz_load(path, &ref, &err) == 0, "%s", err.msg);
    const Tensor *w = npz_get(&ref, "words");
    ck_assert(w && w->dtype == DT_I64 && w->ndim == 2);
    int n = (int)w->shape[0], smax = (int)w->shape[1];
    Seq *words = calloc((size_t)n, sizeof(Seq));
    for (int i = 0; i < n; i++) {
        words[i].ids = w->i + (size_t)i * smax;
        while (words[i].len < smax && words[i].ids[words[i].len] != G2P_PAD) words[i].len++;
    }
    Seq *out = calloc((size_t)n, sizeof(Seq));
    float *score = calloc((size_t)n, sizeof(float));
    for (size_t k = 0; k < sizeof RUNS / sizeof RUNS[0]; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s_ids", RUNS[k].run);
        const Tensor *ids = npz_get(&ref, name);
        snprintf(name, sizeof name, "%s_len", RUNS[k].run);
        const Tensor *len = npz_get(&ref, name);
        snprintf(name, sizeof name, "%s_score", RUNS[k].run);
        const Tensor *want = npz_get(&ref, name);
        ck_assert_msg(ids && len && want && ids->shape[1] == TORCH_MAX_LEN, "%s", RUNS[k].run);
        DecodeOpts o = opts(RUNS[k].beam, RUNS[k].alpha, TORCH_MAX_LEN);
        g2p_decode(out, score, &m, words, n, &o);
        for (int i = 0; i < n; i++) {
            assert_same_ids(out[i], ids->i + (size_t)i * TORCH_MAX_LEN, (int)len->i[i],
                            RUNS[k].run, i);
            ck_assert_msg(fabs(score[i] - want->f[i]) <= SCORE_TOL,
                          "%s %s, word %d: score %.7g, PyTorch %.7g", TORCH_CASES[_i],
                          RUNS[k].run, i, score[i], want->f[i]);
            Seq plain;
            float plain_score;
            g2p_decode_plain(&plain, &plain_score, &m, words[i], &o);
            assert_same_ids(plain, ids->i + (size_t)i * TORCH_MAX_LEN, (int)len->i[i],
                            "plain", i);
            ck_assert(fabs(plain_score - want->f[i]) <= SCORE_TOL);
            seq_free(&plain);
            seq_free(&out[i]);
        }
    }
    free(score);
    free(out);
    free(words);
    npz_free(&ref);
    transformer_free(&m);
}
END_TEST

/* ------------------------------------------------- edges and threads */

START_TEST(shortest_and_longest_words)
{
    Transformer m = small_model(&CASES[0], 160);
    enum { N = 6 };
    static const int lengths[N] = {1, G2P_MAX_WORD, 5, 1, G2P_MAX_WORD, 30};
    Seq *words = words_of(lengths, N, 260);
    check_greedy_against_chapter9(&m, words, N, G2P_MAX_PRON);
    DecodeOpts o = opts(3, 1.0f, 12);
    check_against_plain(&m, words, N, &o);
    free_seqs(words, N);
    transformer_free(&m);
}
END_TEST

START_TEST(max_len_is_respected)
{
    Transformer m = small_model(&CASES[2], 170);
    enum { N = 40 };
    Seq *words = random_words(N, 1, 12, 270);
    check_greedy_against_chapter9(&m, words, N, 1);
    check_greedy_against_chapter9(&m, words, N, 3);
    Seq *out = calloc(N, sizeof(Seq));
    int at_limit = 0;
    for (int beam = 1; beam <= 4; beam += 3) {
        DecodeOpts o = opts(beam, 1.0f, 3);
        g2p_decode(out, NULL, &m, words, N, &o);   /* score may be NULL */
        for (int i = 0; i < N; i++) {
            ck_assert_int_le(out[i].len, 3);
            at_limit += out[i].len == 3;
            seq_free(&out[i]);
        }
        check_against_plain(&m, words, N, &o);
    }
    ck_assert_int_gt(at_limit, 0);   /* some answers were cut, so the limit was tested */
    free(out);
    free_seqs(words, N);
    transformer_free(&m);
}
END_TEST

START_TEST(same_bits_on_one_and_two_threads)
{
    Transformer m = small_model(&CASES[1], 180);
    enum { N = 80 };
    Seq *words = random_words(N, 1, 22, 280);
    int threads = get_threads();
    DecodeOpts o = opts(_i == 0 ? 1 : 5, 1.0f, 16);
    Seq *out[2];
    float *score[2];
    for (int k = 0; k < 2; k++) {
        set_threads(k + 1);
        out[k] = calloc(N, sizeof(Seq));
        score[k] = calloc(N, sizeof(float));
        g2p_decode(out[k], score[k], &m, words, N, &o);
    }
    set_threads(threads);
    for (int i = 0; i < N; i++) {
        assert_same_ids(out[1][i], out[0][i].ids, out[0][i].len, "2 threads", i);
        ck_assert_msg(memcmp(&score[0][i], &score[1][i], sizeof(float)) == 0,
                      "word %d: score %.9g on 1 thread, %.9g on 2", i, score[0][i], score[1][i]);
    }
    for (int k = 0; k < 2; k++) {
        free_seqs(out[k], N);
        free(score[k]);
    }
    free_seqs(words, N);
    transformer_free(&m);
}
END_TEST

START_TEST(empty_word_is_a_bug)
{
    /* A caller's bug, as a shape mismatch is: a message, then exit 3. */
    silence_stderr();
    Transformer m = small_model(&CASES[0], 190);
    Seq words[2] = {{(int64_t[]){5, 6}, 2}, {NULL, 0}};
    DecodeOpts o = decode_defaults();
    g2p_decode(NULL, NULL, &m, words, 2, &o);
}
END_TEST

START_TEST(letter_outside_the_vocabulary_is_a_bug)
{
    silence_stderr();
    Transformer m = small_model(&CASES[0], 191);
    Seq word = {(int64_t[]){5, G2P_LETTERS}, 2};
    DecodeOpts o = opts(3, 1.0f, 5);
    g2p_decode_plain(&word, NULL, &m, word, &o);
}
END_TEST

START_TEST(defaults)
{
    DecodeOpts o = decode_defaults();
    ck_assert_int_eq(o.beam, 1);
    ck_assert(o.alpha == 1.0f);
    ck_assert_int_eq(o.max_len, G2P_MAX_PRON);
    ck_assert_int_eq(o.phonemes_only, 1);
}
END_TEST

START_TEST(phonemes_only_never_answers_pad_or_bos)
{
    /* A model whose generator favours PAD, then BOS, by a wide margin (and
     * shuns EOS, which would otherwise end a beam at once): with
     * every id allowed greedy and beam answer them; with phonemes_only they
     * never do, in the fast and in the plain decoder. */
    Transformer m = small_model(&CASES[0], 192);
    MAT_AT(m.gen_bias, 0, G2P_PAD) = 500.0f;
    MAT_AT(m.gen_bias, 0, G2P_BOS) = 400.0f;
    MAT_AT(m.gen_bias, 0, G2P_EOS) = -500.0f;   /* never among a beam's best: no early end */
    Seq words[3] = {{(int64_t[]){5, 6, 7}, 3}, {(int64_t[]){9}, 1}, {(int64_t[]){3, 4, 28, 29}, 4}};
    for (int beam = 1; beam <= 3; beam += 2) {
        Seq out[3];
        DecodeOpts all = opts(beam, 1.0f, 6), only = all;
        only.phonemes_only = 1;
        g2p_decode(out, NULL, &m, words, 3, &all);
        int specials = 0;
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < out[i].len; j++) specials += out[i].ids[j] <= G2P_BOS;
            seq_free(&out[i]);
        }
        ck_assert_msg(specials > 0, "beam %d: the biased model should answer PAD or BOS", beam);
        g2p_decode(out, NULL, &m, words, 3, &only);
        for (int i = 0; i < 3; i++) {
            Seq plain;
            g2p_decode_plain(&plain, NULL, &m, words[i], &only);
            ck_assert_int_eq(plain.len, out[i].len);
            for (int j = 0; j < out[i].len; j++) {
                ck_assert_int_ge(out[i].ids[j], G2P_EOS + 1);
                ck_assert_int_eq(plain.ids[j], out[i].ids[j]);
            }
            seq_free(&plain);
            seq_free(&out[i]);
        }
    }
    transformer_free(&m);
}
END_TEST

Suite *decode_suite(void)
{
    Suite *s = suite_create("decoding (chapter 11)");
    TCase *tc = tcase_create("the cached decoder");
    tcase_add_loop_test(tc, cached_log_probs_match_full_recompute, 0, NCASES);
    suite_add_tcase(s, tc);
    tc = tcase_create("greedy");
    tcase_add_loop_test(tc, greedy_matches_chapter9, 0, NCASES);
    tcase_add_test(tc, greedy_over_many_chunks);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("beam search");
    tcase_add_loop_test(tc, beam_matches_plain, 0, NCASES);
    tcase_add_test(tc, beam_over_many_chunks);
    tcase_add_loop_test(tc, beam_of_one_is_greedy, 0, NCASES);
    tcase_add_loop_test(tc, beam_matches_pytorch, 0, 2);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("edges and threads");
    tcase_add_test(tc, shortest_and_longest_words);
    tcase_add_test(tc, max_len_is_respected);
    tcase_add_loop_test(tc, same_bits_on_one_and_two_threads, 0, 2);
    tcase_add_exit_test(tc, empty_word_is_a_bug, 3);
    tcase_add_exit_test(tc, letter_outside_the_vocabulary_is_a_bug, 3);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, phonemes_only_never_answers_pad_or_bos);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
