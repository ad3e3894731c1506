/*
 * The few ggml symbols that ggml-quants.c and ggml-cpu/quants.c call, so that those two files
 * can be compiled and linked as they are, without the rest of ggml (ggml-cpu/arch/x86/quants.c
 * too, for the benchmark crate in benches/llama).
 *
 * Only Q4_K's row size is needed (quantize_q4_K asks for it); any other type aborts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ggml.h"
#include "ggml-impl.h"

/* The f16 -> f32 table that ggml-cpu reads where the CPU has no f16 conversion instruction,
 * and two tables the x86 SIMD code of other formats refers to. */
float ggml_table_f32_f16[1 << 16];
float ggml_table_f32_e8m0_half[1 << 8];
float ggml_table_f32_ue4m3[1 << 8];

/* Fills the tables the way ggml_cpu_init does. Call once before anything else. */
void refshim_init(void) {
    for (int i = 0; i < (1 << 16); ++i) {
        ggml_table_f32_f16[i] = GGML_COMPUTE_FP16_TO_FP32((ggml_fp16_t) i);
    }
    for (int i = 0; i < (1 << 8); ++i) {
        ggml_table_f32_e8m0_half[i] = GGML_E8M0_TO_FP32_HALF(i);
        ggml_table_f32_ue4m3[i] = ggml_ue4m3_to_fp32((uint8_t) i);
    }
}

void ggml_abort(const char * file, int line, const char * fmt, ...) {
    va_list args;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    abort();
}

size_t ggml_type_size(enum ggml_type type) {
    if (type == GGML_TYPE_Q4_K) {
        return 144;
    }
    ggml_abort(__FILE__, __LINE__, "shim: type %d not supported", (int) type);
}

size_t ggml_row_size(enum ggml_type type, int64_t ne) {
    if (type == GGML_TYPE_Q4_K && ne % 256 == 0) {
        return (size_t) (ne / 256) * 144;
    }
    ggml_abort(__FILE__, __LINE__, "shim: row of %lld values of type %d not supported",
               (long long) ne, (int) type);
}

const char * ggml_type_name(enum ggml_type type) {
    return type == GGML_TYPE_Q4_K ? "q4_K" : "unsupported";
}
