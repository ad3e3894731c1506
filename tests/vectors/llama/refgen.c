/*
 * Writes the llama.cpp reference vectors of q4k: Q8_K quantization, the Q4_K x Q8_K dot
 * product, and the Q4_K encoders with and without importance weights, each computed by
 * llama.cpp's own C (ggml-quants.c and ggml-cpu/quants.c, linked unchanged).
 *
 * Usage: refgen OUTPUT_DIR
 *
 * Inputs come from a fixed-seed splitmix64 generator and use only +, -, *, / and sqrtf (all
 * correctly rounded), never libm's exp/log/sin, so they are the same on every IEEE 754 machine.
 * Every random draw is its own statement, so C's unspecified evaluation order cannot reorder
 * the stream.
 * The file layouts are described in README.md next to this file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "ggml-quants.h"
#include "ggml-impl.h"
#include "quants.h" /* ggml-cpu/quants.h: ggml_vec_dot_q4_K_q8_K_generic */

void refshim_init(void);

#define QK 256
#define Q4K_BYTES 144
#define Q8K_BYTES 292

_Static_assert(sizeof(block_q4_K) == Q4K_BYTES, "block_q4_K size");
_Static_assert(sizeof(block_q8_K) == Q8K_BYTES, "block_q8_K size");

/* ---------------------------------------------------------------- deterministic inputs */

#define SEED UINT64_C(0x51344B5F4C4C414D) /* "Q4K_LLAM" */

static uint64_t rng_state = SEED;

static uint64_t next_u64(void) {
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), a multiple of 2^-24. */
static float uniform(void) { return (float) (next_u64() >> 40) * 0x1.0p-24f; }

static float between(float lo, float hi) { return lo + (hi - lo) * uniform(); }

static int below(int n) { return (int) (next_u64() % (uint64_t) n); }

/* Approximately standard normal: the sum of 12 uniforms, minus 6 (Irwin-Hall). */
static float normal(void) {
    float s = 0.0f;
    for (int i = 0; i < 12; ++i) s += uniform();
    return s - 6.0f;
}

/* Student's t with 3 degrees of freedom. */
static float student_t3(void) {
    float a = normal(), b = normal(), c = normal();
    float chi = (a * a + b * b + c * c) / 3.0f;
    return chi > 0.0f ? normal() / sqrtf(chi) : 0.0f;
}

/* Cauchy-like: a ratio of two normals. */
static float cauchy(void) {
    float den = normal();
    return normal() / (den != 0.0f ? den : 1.0f);
}

static void random_bytes(uint8_t * p, size_t n) {
    for (size_t i = 0; i < n; ++i) p[i] = (uint8_t) next_u64();
}

/* A positive f16 in [2^-10, 2^-3) (about 1e-3 to 1e-1), log-uniform in its exponent. */
static uint16_t realistic_f16(void) {
    uint16_t exponent = (uint16_t) (5 + below(7)); /* biased: 2^-10 .. 2^-4 */
    return (uint16_t) ((exponent << 10) | (next_u64() & 0x3FF));
}

/* ---------------------------------------------------------------- output files */

typedef struct {
    FILE * f;
    const char * path;
    uint32_t count;
} out_t;

static void put(out_t * o, const void * p, size_t n) {
    if (n && fwrite(p, 1, n, o->f) != n) {
        fprintf(stderr, "write to %s failed\n", o->path);
        exit(1);
    }
}

static void put_u32(out_t * o, uint32_t v) {
    uint8_t b[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
    put(o, b, 4);
}

/* Every case starts with its name: u16 length, then ASCII bytes. */
static void put_name(out_t * o, const char * name) {
    size_t n = strlen(name);
    uint8_t b[2] = { (uint8_t) n, (uint8_t) (n >> 8) };
    put(o, b, 2);
    put(o, name, n);
    o->count++;
}

static out_t open_out(const char * dir, const char * file) {
    static char paths[8][1024];
    static int next = 0;
    out_t o = { 0 };
    snprintf(paths[next], sizeof paths[next], "%s/%s", dir, file);
    o.path = paths[next++];
    o.f = fopen(o.path, "wb");
    if (!o.f) {
        perror(o.path);
        exit(1);
    }
    put_u32(&o, 0); /* case count, patched by close_out */
    return o;
}

static void close_out(out_t * o) {
    if (fseek(o->f, 0, SEEK_SET) != 0) exit(1);
    put_u32(o, o->count);
    if (fclose(o->f) != 0) exit(1);
    printf("%-22s %3u cases\n", strrchr(o->path, '/') + 1, o->count);
}

static void * zalloc(size_t n) {
    void * p = calloc(1, n ? n : 1);
    if (!p) exit(1);
    return p;
}

/* ---------------------------------------------------------------- Q8_K */

/* Quantizes `blocks` blocks into zeroed memory: llama.cpp leaves bsums unwritten for an
 * all-zero block, so they read 0 there. */
static block_q8_K * q8k(const float * x, int blocks) {
    block_q8_K * y = zalloc((size_t) blocks * sizeof *y);
    quantize_row_q8_K_ref(x, y, (int64_t) blocks * QK);
    return y;
}

static void q8k_case(out_t * o, const char * name, const float * x, int blocks) {
    block_q8_K * y = q8k(x, blocks);
    put_name(o, name);
    put_u32(o, (uint32_t) blocks);
    put(o, x, sizeof(float) * QK * blocks);
    put(o, y, sizeof *y * blocks);
    free(y);
}

static void fill_normal(float * x, int n, float scale) {
    for (int i = 0; i < n; ++i) x[i] = normal() * scale;
}

static void write_q8k(const char * dir) {
    out_t o = open_out(dir, "q8k.bin");
    float x[8 * QK];

    memset(x, 0, sizeof(float) * QK);
    q8k_case(&o, "zeros", x, 1);

    for (int i = 0; i < QK; ++i) x[i] = -0.0f;
    q8k_case(&o, "negative_zeros", x, 1);

    fill_normal(x, 3 * QK, 1.0f);
    memset(x + QK, 0, sizeof(float) * QK);
    q8k_case(&o, "zero_block_in_middle", x, 3);

    fill_normal(x, 2 * QK, 0.1f);
    for (int k = 0; k < 6; ++k) {
        int at = below(2 * QK);
        x[at] = (k & 1 ? -1.0f : 1.0f) * between(20.0f, 80.0f);
    }
    q8k_case(&o, "outliers", x, 2);

    fill_normal(x, QK, 0.5f);
    x[17] = 3.0f; x[200] = -3.0f;
    q8k_case(&o, "tie_positive_first", x, 1);

    fill_normal(x, QK, 0.5f);
    x[17] = -3.0f; x[200] = 3.0f;
    q8k_case(&o, "tie_negative_first", x, 1);

    fill_normal(x, 2 * QK, 0.5f);
    x[0] = -4.5f; x[255] = 4.5f;       /* block 0: ends, negative first */
    x[QK + 0] = 4.5f; x[QK + 255] = -4.5f; /* block 1: ends, positive first */
    q8k_case(&o, "tie_at_ends", x, 2);

    fill_normal(x, 2 * QK, 1.0f);
    x[100] = -7.0f;
    x[QK + 3] = -0.5f;
    for (int i = QK; i < 2 * QK; ++i) x[i] = x[i] > 0.0f ? x[i] * 0.01f : x[i];
    x[QK + 40] = -6.0f;
    q8k_case(&o, "negative_max", x, 2);

    {
        static const float tiny[5] = { 1e-30f, 1e-24f, 1e-18f, 1e-12f, 1e-6f };
        for (int b = 0; b < 5; ++b) fill_normal(x + b * QK, QK, tiny[b]);
        q8k_case(&o, "tiny", x, 5);
    }
    {
        static const float huge[4] = { 1e4f, 1e10f, 1e20f, 1e30f };
        for (int b = 0; b < 4; ++b) fill_normal(x + b * QK, QK, huge[b]);
        q8k_case(&o, "huge", x, 4);
    }

    /* iscale is exactly -1, +1 and -2 in the three blocks, so every k + 0.5 is a rounding tie */
    for (int i = 0; i < QK; ++i) x[i] = (float) (below(254) - 127) + 0.5f;
    x[9] = 127.0f;
    for (int i = QK; i < 2 * QK; ++i) x[i] = (float) (below(254) - 127) + 0.5f;
    x[QK] = -127.0f;
    for (int i = 2 * QK; i < 3 * QK; ++i) x[i] = ((float) (below(126) - 63) + 0.5f) * 0.5f;
    x[2 * QK + 77] = 63.5f;
    q8k_case(&o, "rounding_ties", x, 3);

    for (int i = 0; i < QK; ++i) x[i] = 0.3f;
    for (int i = QK; i < 2 * QK; ++i) x[i] = -1e-3f;
    q8k_case(&o, "constant", x, 2);

    memset(x, 0, sizeof(float) * 2 * QK);
    x[123] = -2.5f;
    x[QK + 255] = 1e-20f;
    q8k_case(&o, "single_value", x, 2);

    fill_normal(x, QK, 1.0f);
    for (int k = 0; k < 16; ++k) x[below(QK)] = (k & 1 ? -1.0f : 1.0f) * 1e-40f;
    q8k_case(&o, "with_subnormals", x, 1);

    for (int i = 0; i < 2 * QK; ++i) x[i] = between(-1.0f, 1.0f);
    q8k_case(&o, "uniform", x, 2);

    fill_normal(x, 8 * QK, 1.0f);
    q8k_case(&o, "random_normal", x, 8);

    close_out(&o);
}

/* ---------------------------------------------------------------- dot product */

static const uint16_t F16_SPECIAL[] = {
    0x0000, 0x8000,                 /* +0, -0 */
    0x0001, 0x03FF, 0x8155,         /* subnormals */
    0x7BFF, 0xFBFF,                 /* +-65504 */
    0x7C00, 0xFC00,                 /* +-inf */
    0x7E00, 0x7C01, 0xFFFF,         /* NaNs: quiet, signalling, negative with all payload bits */
};
#define N_SPECIAL (sizeof F16_SPECIAL / sizeof F16_SPECIAL[0])

enum block_kind { REALISTIC, RANDOM_BITS, SPECIAL_D, SPECIAL_DMIN, MIXED };

static void set_f16(uint8_t * b, int offset, uint16_t v) {
    b[offset] = (uint8_t) v;
    b[offset + 1] = (uint8_t) (v >> 8);
}

static void make_block(uint8_t * b, enum block_kind kind) {
    if (kind == MIXED) kind = (enum block_kind) below(4);
    random_bytes(b, Q4K_BYTES);
    if (kind == RANDOM_BITS) return;
    set_f16(b, 0, realistic_f16());
    set_f16(b, 2, realistic_f16());
    if (kind == SPECIAL_D) set_f16(b, 0, F16_SPECIAL[below(N_SPECIAL)]);
    if (kind == SPECIAL_DMIN) set_f16(b, 2, F16_SPECIAL[below(N_SPECIAL)]);
}

enum act_kind { ACT_NORMAL, ACT_OUTLIERS, ACT_TINY, ACT_HUGE, ACT_ZERO, ACT_MIXED };

static void make_activations(float * x, int blocks, enum act_kind kind) {
    for (int b = 0; b < blocks; ++b) {
        float * xb = x + b * QK;
        enum act_kind k = kind == ACT_MIXED ? (enum act_kind) below(5) : kind;
        switch (k) {
            case ACT_NORMAL: fill_normal(xb, QK, 1.0f); break;
            case ACT_OUTLIERS:
                fill_normal(xb, QK, 0.2f);
                for (int j = 0; j < 3; ++j) {
                    int at = below(QK);
                    xb[at] = between(-60.0f, 60.0f);
                }
                break;
            case ACT_TINY: fill_normal(xb, QK, 1e-6f); break;
            case ACT_HUGE: fill_normal(xb, QK, 1e30f); break;
            default: memset(xb, 0, sizeof(float) * QK); break;
        }
    }
}

static void dot_case(out_t * o, const char * name, const uint8_t * q4, const float * act, int blocks) {
    block_q8_K * y = q8k(act, blocks);
    float s = 0.0f;
    ggml_vec_dot_q4_K_q8_K_generic(blocks * QK, &s, 0, q4, 0, y, 0, 1);
    uint32_t bits;
    memcpy(&bits, &s, 4);
    put_name(o, name);
    put_u32(o, (uint32_t) blocks);
    put(o, q4, (size_t) Q4K_BYTES * blocks);
    put(o, y, sizeof *y * blocks);
    put_u32(o, bits);
    free(y);
}

static void dot_row(out_t * o, const char * name, enum block_kind bk, enum act_kind ak, int blocks) {
    uint8_t * q4 = zalloc((size_t) Q4K_BYTES * blocks);
    float * act = zalloc(sizeof(float) * QK * blocks);
    for (int b = 0; b < blocks; ++b) make_block(q4 + b * Q4K_BYTES, bk);
    make_activations(act, blocks, ak);
    dot_case(o, name, q4, act, blocks);
    free(q4);
    free(act);
}

static void write_dot(const char * dir) {
    out_t o = open_out(dir, "dot.bin");
    char name[64];
    static const int lengths[4] = { 1, 2, 3, 16 };

    for (int li = 0; li < 4; ++li) {
        int n = lengths[li];
        int copies = n == 16 ? 1 : 3; /* fewer long rows, to keep the file small */
        for (int k = 0; k < copies; ++k) {
            snprintf(name, sizeof name, "realistic_%d_%d", n, k);
            dot_row(&o, name, REALISTIC, ACT_NORMAL, n);
        }
        snprintf(name, sizeof name, "realistic_outliers_%d", n);
        dot_row(&o, name, REALISTIC, ACT_OUTLIERS, n);
        if (n == 16) {
            snprintf(name, sizeof name, "random_bits_%d_0", n);
            dot_row(&o, name, RANDOM_BITS, ACT_NORMAL, n);
            snprintf(name, sizeof name, "mixed_%d_0", n);
            dot_row(&o, name, MIXED, ACT_MIXED, n);
            continue;
        }
        snprintf(name, sizeof name, "realistic_tiny_%d", n);
        dot_row(&o, name, REALISTIC, ACT_TINY, n);
        snprintf(name, sizeof name, "realistic_huge_%d", n);
        dot_row(&o, name, REALISTIC, ACT_HUGE, n);
        for (int k = 0; k < 2; ++k) {
            snprintf(name, sizeof name, "random_bits_%d_%d", n, k);
            dot_row(&o, name, RANDOM_BITS, ACT_NORMAL, n);
        }
        for (int k = 0; k < 3; ++k) {
            snprintf(name, sizeof name, "mixed_%d_%d", n, k);
            dot_row(&o, name, MIXED, ACT_MIXED, n);
        }
    }

    /* one block for every special d and every special dmin */
    uint8_t q4[Q4K_BYTES];
    float act[QK];
    for (size_t s = 0; s < N_SPECIAL; ++s) {
        for (int which = 0; which < 2; ++which) {
            make_block(q4, REALISTIC);
            set_f16(q4, which ? 2 : 0, F16_SPECIAL[s]);
            make_activations(act, 1, ACT_NORMAL);
            snprintf(name, sizeof name, "%s_%04x", which ? "dmin" : "d", F16_SPECIAL[s]);
            dot_case(&o, name, q4, act, 1);
        }
    }
    /* zero activations (Q8_K d = 0) against finite, NaN and infinite scales */
    static const uint16_t d_for_zero[3] = { 0x2C00, 0x7E00, 0x7C00 };
    for (int k = 0; k < 3; ++k) {
        make_block(q4, REALISTIC);
        set_f16(q4, 0, d_for_zero[k]);
        make_activations(act, 1, ACT_ZERO);
        snprintf(name, sizeof name, "zero_activations_d_%04x", d_for_zero[k]);
        dot_case(&o, name, q4, act, 1);
    }
    /* the largest scales and quants against the largest activations: overflow to inf */
    memset(q4, 0xFF, Q4K_BYTES);
    set_f16(q4, 0, 0x7BFF);
    set_f16(q4, 2, 0x0000);
    for (int i = 0; i < QK; ++i) act[i] = 1e30f;
    dot_case(&o, "overflow", q4, act, 1);

    close_out(&o);
}

/* ---------------------------------------------------------------- encoders */

enum enc_kind {
    GAUSSIAN_OUTLIERS, HEAVY_T3, CAUCHY, ZEROS, CONSTANT_POS, CONSTANT_NEG, CONSTANT_PER_SUB,
    TINY, TINY_1E20, SUBNORMAL, HUGE, ALL_POSITIVE, ALL_NEGATIVE, HALFWAY, HALFWAY_FROM_ZERO,
    REALISTIC_WEIGHTS, SPARSE, SINGLE_OUTLIER, ALTERNATING_SIGN, N_ENC_KINDS
};

static const char * ENC_NAMES[N_ENC_KINDS] = {
    "gaussian_outliers", "heavy_tails_t3", "cauchy", "zeros", "constant_positive",
    "constant_negative", "constant_per_sub_block", "tiny_1e-6", "tiny_1e-20", "subnormal",
    "huge_1e4", "all_positive", "all_negative", "halfway", "halfway_from_zero",
    "realistic_weights", "sparse", "single_outlier", "alternating_sign_sub_blocks",
};

/* Values exactly halfway between the 16 levels of a sub-block spanning [a, a + 15 s], with
 * the two ends present so that the first fit uses exactly that range. */
static void fill_halfway(float * x, float a) {
    float s = (float) (1 << below(4)) * 0.0625f;
    for (int l = 0; l < 32; ++l) x[l] = a * s + ((float) below(15) + 0.5f) * s;
    x[below(16)] = a * s;
    x[16 + below(16)] = a * s + 15.0f * s;
}

static void fill_kind(float * x, int n, enum enc_kind kind) {
    switch (kind) {
        case GAUSSIAN_OUTLIERS:
            fill_normal(x, n, 0.02f);
            for (int k = 0; k < n / 128; ++k) {
                int at = below(n);
                x[at] = (k & 1 ? -1.0f : 1.0f) * between(0.2f, 1.0f);
            }
            break;
        case HEAVY_T3: for (int i = 0; i < n; ++i) x[i] = student_t3() * 0.02f; break;
        case CAUCHY: for (int i = 0; i < n; ++i) x[i] = cauchy() * 0.01f; break;
        case ZEROS: memset(x, 0, sizeof(float) * n); break;
        case CONSTANT_POS: for (int i = 0; i < n; ++i) x[i] = 0.37f; break;
        case CONSTANT_NEG: for (int i = 0; i < n; ++i) x[i] = -1.25f; break;
        case CONSTANT_PER_SUB:
            for (int j = 0; j < n / 32; ++j) {
                float c = j % 5 == 3 ? 0.0f : between(-2.0f, 2.0f);
                for (int l = 0; l < 32; ++l) x[32 * j + l] = c;
            }
            break;
        case TINY: fill_normal(x, n, 1e-6f); break;
        case TINY_1E20: fill_normal(x, n, 1e-20f); break;
        case SUBNORMAL: fill_normal(x, n, 1e-39f); break;
        case HUGE: fill_normal(x, n, 1e4f); break;
        case ALL_POSITIVE: for (int i = 0; i < n; ++i) x[i] = fabsf(normal()) * 0.05f + 0.001f; break;
        case ALL_NEGATIVE: for (int i = 0; i < n; ++i) x[i] = -(fabsf(normal()) * 0.05f + 0.001f); break;
        case HALFWAY: for (int j = 0; j < n / 32; ++j) fill_halfway(x + 32 * j, -(float) below(8)); break;
        case HALFWAY_FROM_ZERO: for (int j = 0; j < n / 32; ++j) fill_halfway(x + 32 * j, 0.0f); break;
        case REALISTIC_WEIGHTS:
            for (int j = 0; j < n / 32; ++j) fill_normal(x + 32 * j, 32, between(0.005f, 0.05f));
            break;
        case SPARSE:
            memset(x, 0, sizeof(float) * n);
            for (int k = 0; k < n / 16; ++k) {
                int at = below(n);
                x[at] = normal() * 0.03f;
            }
            break;
        case SINGLE_OUTLIER:
            fill_normal(x, n, 0.01f);
            x[below(n)] = 10.0f;
            break;
        case ALTERNATING_SIGN:
            for (int i = 0; i < n; ++i) {
                float v = fabsf(normal()) * 0.04f;
                x[i] = (i / 32) % 2 ? -v : v;
            }
            break;
        default: exit(1);
    }
}

static void enc_case(out_t * o, const char * name, const float * x, int n) {
    int blocks = n / QK;
    block_q4_K * y = zalloc(sizeof *y * blocks);
    block_q4_K * y2 = zalloc(sizeof *y2 * blocks);
    float * dec = zalloc(sizeof(float) * n);
    quantize_row_q4_K_ref(x, y, n);
    size_t written = quantize_q4_K(x, y2, 1, n, NULL);
    if (written != sizeof *y * blocks || memcmp(y, y2, written) != 0) {
        fprintf(stderr, "%s: quantize_q4_K(NULL) differs from quantize_row_q4_K_ref\n", name);
        exit(1);
    }
    dequantize_row_q4_K(y, dec, n);
    put_name(o, name);
    put_u32(o, (uint32_t) n);
    put(o, x, sizeof(float) * n);
    put(o, y, sizeof *y * blocks);
    put(o, dec, sizeof(float) * n);
    free(y);
    free(y2);
    free(dec);
}

enum weight_kind { W_RANDOM, W_WITH_ZEROS, W_ONES, W_ALL_ZERO, N_WEIGHT_KINDS };
static const char * WEIGHT_NAMES[N_WEIGHT_KINDS] = { "random", "with_zeros", "ones", "all_zero" };

static void fill_weights(float * w, int n, enum weight_kind kind) {
    for (int i = 0; i < n; ++i) {
        float u = uniform();
        w[i] = kind == W_ONES ? 1.0f : kind == W_ALL_ZERO ? 0.0f : 0.001f + (u * u) * (u * u) * 50.0f;
        if (kind == W_WITH_ZEROS && below(4) == 0) w[i] = 0.0f;
    }
    if (kind == W_WITH_ZEROS && n >= 128) memset(w + 96, 0, sizeof(float) * 32); /* a whole sub-block */
}

static void enc_weighted_case(out_t * o, const char * name, const float * x, const float * w,
                              int nrow, int n_per_row) {
    int n = nrow * n_per_row;
    int blocks = n / QK;
    block_q4_K * y = zalloc(sizeof *y * blocks);
    float * dec = zalloc(sizeof(float) * n);
    size_t written = quantize_q4_K(x, y, nrow, n_per_row, w);
    if (written != sizeof *y * blocks) exit(1);
    dequantize_row_q4_K(y, dec, n);
    put_name(o, name);
    put_u32(o, (uint32_t) nrow);
    put_u32(o, (uint32_t) n_per_row);
    put(o, x, sizeof(float) * n);
    put(o, w, sizeof(float) * n_per_row);
    put(o, y, sizeof *y * blocks);
    put(o, dec, sizeof(float) * n);
    free(y);
    free(dec);
}

static void write_encode(const char * dir) {
    out_t o = open_out(dir, "encode.bin");
    static float x[16 * QK];
    for (int k = 0; k < N_ENC_KINDS; ++k) {
        fill_kind(x, 2 * QK, (enum enc_kind) k);
        enc_case(&o, ENC_NAMES[k], x, 2 * QK);
    }
    fill_normal(x, 16 * QK, 0.02f);
    enc_case(&o, "gaussian_16_blocks", x, 16 * QK);
    close_out(&o);
}

static void write_encode_weighted(const char * dir) {
    out_t o = open_out(dir, "encode_weighted.bin");
    static float x[3 * 1024];
    static float w[1024];
    char name[96];
    for (int k = 0; k < N_ENC_KINDS; ++k) {
        enum weight_kind wk = k % 2 ? W_WITH_ZEROS : W_RANDOM;
        fill_kind(x, 2 * QK, (enum enc_kind) k);
        fill_weights(w, QK, wk);
        snprintf(name, sizeof name, "%s_w_%s", ENC_NAMES[k], WEIGHT_NAMES[wk]);
        enc_weighted_case(&o, name, x, w, 2, QK);
    }
    for (int wk = 0; wk < N_WEIGHT_KINDS; ++wk) {
        fill_kind(x, 3 * 512, GAUSSIAN_OUTLIERS);
        fill_weights(w, 512, (enum weight_kind) wk);
        snprintf(name, sizeof name, "gaussian_outliers_3x512_w_%s", WEIGHT_NAMES[wk]);
        enc_weighted_case(&o, name, x, w, 3, 512);
    }
    fill_kind(x, 2 * 1024, REALISTIC_WEIGHTS);
    fill_weights(w, 1024, W_RANDOM);
    enc_weighted_case(&o, "realistic_weights_2x1024_w_random", x, w, 2, 1024);
    close_out(&o);
}

int main(int argc, char ** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    const uint16_t probe = 1;
    if (*(const uint8_t *) &probe != 1) {
        fprintf(stderr, "the vector files are little-endian: run this on a little-endian machine\n");
        return 1;
    }
    refshim_init();
    write_q8k(argv[1]);
    write_dot(argv[1]);
    write_encode(argv[1]);
    write_encode_weighted(argv[1]);
    return 0;
}
