//! Benchmarks of q4k side by side with llama.cpp's own C, in one process.
//!
//! - [`llama`]: safe wrappers over llama.cpp's Q4_K / Q8_K functions, compiled by `build.rs`
//!   from llama.cpp's source with `-O3 -march=native`, as llama.cpp builds them for this CPU.
//! - [`timing`]: a round-robin runner (median, min and max per contender, the CPU named) and
//!   random realistic inputs.
//! - [`pools`]: thread pools timed against each other in blocks of calls, with the cores each
//!   sample had; [`clock`]: the CPU-time clocks. Both are the examples' own files
//!   (`examples/common/`), shared.
//!
//! The wrappers panic on wrong lengths: this is a benchmark harness.

pub mod timing;

#[path = "../../../examples/common/clock.rs"]
pub mod clock;

#[path = "../../../examples/common/pools.rs"]
pub mod pools;

/// llama.cpp's functions, on raw bytes in llama.cpp's block layouts.
///
/// Q4_K blocks are 144 bytes; Q8_K blocks are 292 bytes (`d: f32`, `qs: [i8; 256]`,
/// `bsums: [i16; 16]`). The C reads the `f32` and `i16` fields in place, so Q8_K bytes must be
/// 4-byte aligned and Q4_K bytes 2-byte aligned (any `Vec` buffer is; the wrappers check).
pub mod llama {
    use std::ffi::{c_int, c_void};
    use std::sync::Once;

    /// Values per block.
    pub const QK_K: usize = 256;
    /// Bytes per Q4_K block.
    pub const Q4K_BLOCK_BYTES: usize = 144;
    /// Bytes per Q8_K block.
    pub const Q8K_BLOCK_BYTES: usize = 292;

    mod ffi {
        use std::ffi::{c_int, c_void};

        unsafe extern "C" {
            pub fn refshim_init();
            pub fn ggml_vec_dot_q4_K_q8_K(
                n: c_int,
                s: *mut f32,
                bs: usize,
                vx: *const c_void,
                bx: usize,
                vy: *const c_void,
                by: usize,
                nrc: c_int,
            );
            pub fn ggml_vec_dot_q4_K_q8_K_generic(
                n: c_int,
                s: *mut f32,
                bs: usize,
                vx: *const c_void,
                bx: usize,
                vy: *const c_void,
                by: usize,
                nrc: c_int,
            );
            pub fn quantize_row_q8_K(x: *const f32, y: *mut c_void, k: i64);
            pub fn quantize_row_q4_K_ref(x: *const f32, y: *mut c_void, k: i64);
            pub fn quantize_q4_K(
                src: *const f32,
                dst: *mut c_void,
                nrow: i64,
                n_per_row: i64,
                quant_weights: *const f32,
            ) -> usize;
            pub fn dequantize_row_q4_K(x: *const c_void, y: *mut f32, k: i64);
        }
    }

    /// Fills the f16 table ggml-cpu reads on CPUs without F16C (what `ggml_cpu_init` does).
    fn init() {
        static INIT: Once = Once::new();
        // SAFETY: refshim_init only writes the shim's own static tables, once.
        INIT.call_once(|| unsafe { ffi::refshim_init() });
    }

    /// Checks that `values` is whole blocks and `bytes` is the size of their blocks of
    /// `block_bytes` each; returns `values` as llama.cpp's `int64_t`.
    fn check_blocks(values: usize, bytes: usize, block_bytes: usize) -> i64 {
        assert!(
            values.is_multiple_of(QK_K),
            "{values} values is not whole blocks"
        );
        assert_eq!(
            bytes,
            values / QK_K * block_bytes,
            "{bytes} bytes for {values} values in blocks of {block_bytes} bytes"
        );
        i64::try_from(values).expect("too many values")
    }

    /// Checks one Q4_K row against its Q8_K activations; returns the number of values.
    fn check_row(q4k: &[u8], q8k: &[u8]) -> c_int {
        assert!(
            q4k.len().is_multiple_of(Q4K_BLOCK_BYTES),
            "Q4_K row of {} bytes is not whole 144-byte blocks",
            q4k.len()
        );
        let blocks = q4k.len() / Q4K_BLOCK_BYTES;
        assert_eq!(
            q8k.len(),
            blocks * Q8K_BLOCK_BYTES,
            "Q8_K activations for {blocks} blocks: {} bytes",
            q8k.len()
        );
        check_alignment(q4k, q8k);
        c_int::try_from(blocks * QK_K).expect("row too long for llama.cpp's int length")
    }

    fn check_alignment(q4k: &[u8], q8k: &[u8]) {
        check_q4k_alignment(q4k);
        check_q8k_alignment(q8k);
    }

    fn check_q4k_alignment(q4k: &[u8]) {
        assert!(
            q4k.as_ptr().cast::<u16>().is_aligned(),
            "Q4_K bytes must be 2-byte aligned"
        );
    }

    fn check_q8k_alignment(q8k: &[u8]) {
        assert!(
            q8k.as_ptr().cast::<f32>().is_aligned(),
            "Q8_K bytes must be 4-byte aligned"
        );
    }

    /// The signature of llama.cpp's `ggml_vec_dot_*` functions.
    type VecDot = unsafe extern "C" fn(
        c_int,
        *mut f32,
        usize,
        *const c_void,
        usize,
        *const c_void,
        usize,
        c_int,
    );

    /// One Q4_K row times its Q8_K activations with `dot`.
    fn dot_row(dot: VecDot, q4k: &[u8], q8k: &[u8]) -> f32 {
        init();
        let n = check_row(q4k, q8k);
        let mut s = 0.0f32;
        // SAFETY: lengths and alignment checked above; the C reads n/256 blocks of each and
        // writes one f32 to `s`.
        unsafe {
            dot(
                n,
                &mut s,
                0,
                q4k.as_ptr().cast(),
                0,
                q8k.as_ptr().cast(),
                0,
                1,
            )
        };
        s
    }

    /// `ggml_vec_dot_q4_K_q8_K`: llama.cpp's dot product for this CPU (the AVX2 code of
    /// `ggml-cpu/arch/x86/quants.c` when built where AVX2 is available).
    pub fn vec_dot_q4k_q8k(q4k: &[u8], q8k: &[u8]) -> f32 {
        dot_row(ffi::ggml_vec_dot_q4_K_q8_K, q4k, q8k)
    }

    /// `ggml_vec_dot_q4_K_q8_K_generic`: the portable C dot product (here compiled
    /// `-O3 -march=native`, so GNU C fuses its multiplies and adds).
    pub fn vec_dot_q4k_q8k_generic(q4k: &[u8], q8k: &[u8]) -> f32 {
        dot_row(ffi::ggml_vec_dot_q4_K_q8_K_generic, q4k, q8k)
    }

    /// A matrix-vector product as llama.cpp computes it: [`vec_dot_q4k_q8k`] per row.
    /// `weights` holds `out.len()` rows of `q8k.len() / 292` blocks each.
    pub fn matvec_q4k_q8k(weights: &[u8], q8k: &[u8], out: &mut [f32]) {
        assert!(
            q8k.len().is_multiple_of(Q8K_BLOCK_BYTES),
            "Q8_K length {}",
            q8k.len()
        );
        let row_bytes = q8k.len() / Q8K_BLOCK_BYTES * Q4K_BLOCK_BYTES;
        assert_eq!(
            weights.len(),
            row_bytes * out.len(),
            "{} rows of {row_bytes} bytes",
            out.len()
        );
        if out.is_empty() {
            return;
        }
        if row_bytes == 0 {
            out.fill(0.0); // an empty row: llama.cpp's sum of nothing
            return;
        }
        init();
        let n = check_row(&weights[..row_bytes], q8k);
        for (row, s) in weights.chunks_exact(row_bytes).zip(out.iter_mut()) {
            // SAFETY: every row has the checked length of the first, and its alignment (rows
            // start at multiples of 144 bytes from it).
            unsafe {
                ffi::ggml_vec_dot_q4_K_q8_K(
                    n,
                    s,
                    0,
                    row.as_ptr().cast(),
                    0,
                    q8k.as_ptr().cast(),
                    0,
                    1,
                );
            }
        }
    }

    /// `quantize_row_q8_K` (on x86, `quantize_row_q8_K_ref`). `out` gets `x.len() / 256`
    /// blocks. For an all-zero block llama.cpp leaves the 32 bytes of block sums as they were.
    pub fn quantize_row_q8k(x: &[f32], out: &mut [u8]) {
        init();
        let k = check_blocks(x.len(), out.len(), Q8K_BLOCK_BYTES);
        check_q8k_alignment(out);
        // SAFETY: out holds x.len() / 256 aligned Q8_K blocks.
        unsafe { ffi::quantize_row_q8_K(x.as_ptr(), out.as_mut_ptr().cast(), k) }
    }

    /// `quantize_row_q4_K_ref`: the reference Q4_K encoder (no importance weights).
    pub fn quantize_row_q4k_ref(x: &[f32], out: &mut [u8]) {
        init();
        let k = check_blocks(x.len(), out.len(), Q4K_BLOCK_BYTES);
        check_q4k_alignment(out);
        // SAFETY: out holds x.len() / 256 aligned Q4_K blocks.
        unsafe { ffi::quantize_row_q4_K_ref(x.as_ptr(), out.as_mut_ptr().cast(), k) }
    }

    /// `quantize_q4_K`: rows of `n_per_row` values, with an importance vector of `n_per_row`
    /// values (`quantize_row_q4_K_impl` per row), or without (`quantize_row_q4_K_ref`).
    pub fn quantize_q4k(x: &[f32], out: &mut [u8], n_per_row: usize, imatrix: Option<&[f32]>) {
        init();
        check_blocks(x.len(), out.len(), Q4K_BLOCK_BYTES);
        let row = check_blocks(
            n_per_row,
            n_per_row / QK_K * Q4K_BLOCK_BYTES,
            Q4K_BLOCK_BYTES,
        );
        assert!(
            n_per_row > 0 && x.len().is_multiple_of(n_per_row),
            "{} values is not whole rows of {n_per_row}",
            x.len()
        );
        if let Some(w) = imatrix {
            assert_eq!(w.len(), n_per_row, "importance vector length");
        }
        check_q4k_alignment(out);
        let nrow = i64::try_from(x.len() / n_per_row).expect("too many rows");
        let weights = imatrix.map_or(std::ptr::null(), <[f32]>::as_ptr);
        // SAFETY: x holds nrow rows, out their Q4_K blocks, weights is null or n_per_row values.
        let written = unsafe {
            ffi::quantize_q4_K(
                x.as_ptr(),
                out.as_mut_ptr().cast::<c_void>(),
                nrow,
                row,
                weights,
            )
        };
        assert_eq!(written, out.len(), "quantize_q4_K wrote {written} bytes");
    }

    /// `dequantize_row_q4_K`: decodes `x.len() / 144` blocks.
    pub fn dequantize_row_q4k(x: &[u8], out: &mut [f32]) {
        init();
        let k = check_blocks(out.len(), x.len(), Q4K_BLOCK_BYTES);
        check_q4k_alignment(x);
        // SAFETY: x holds whole aligned blocks and out their values.
        unsafe { ffi::dequantize_row_q4_K(x.as_ptr().cast(), out.as_mut_ptr(), k) }
    }
}
