//! Everything a program does with GGUF **Q4_K** quantized weights, bit-exact and `#![no_std]`:
//! decode them, multiply by them, encode them, and find them in a model file.
//!
//! Q4_K stores 256 weights in a 144-byte super-block (see [`BlockQ4K`]). Each operation has
//! hand-written SIMD kernels where the CPU has them (SSE2, AVX2, AVX-512, NEON) and a portable
//! scalar kernel everywhere else, and every kernel produces the same bits as llama.cpp's C:
//! [`decode`] as `dequantize_row_q4_K`, [`matvec_q8k`] as `ggml_vec_dot_q4_K_q8_K`, [`encode`]
//! as `quantize_row_q4_K_ref`.
//!
//! `#![no_std]`, no allocation, no panics: bad lengths come back as [`Error`] and leave the
//! output untouched.
//!
//! ```
//! let input = vec![0u8; 2 * q4k::BLOCK_BYTES];          // two blocks, e.g. from an mmap
//! let mut output = vec![0f32; q4k::output_len(input.len())];
//! q4k::decode(&input, &mut output)?;                    // best kernel for this CPU
//! assert_eq!(output.len(), 512);
//! # Ok::<(), q4k::Error>(())
//! ```
//!
//! [`decode_f16`] and [`decode_bf16`] write IEEE binary16 or bfloat16 bits instead (`&mut [u16]`;
//! with the `half` feature, `decode_half` takes `&mut [half::f16]` or `&mut [half::bf16]`):
//! each value is decode's `f32` rounded to nearest, ties to even, as llama.cpp rounds, with half
//! the bytes written.
//!
//! Matrix-vector products take llama.cpp's two phases: [`quantize_q8k`] turns the activations
//! into [`BlockQ8K`] blocks once, then [`matvec_q8k`] (or [`dot_q8k`] for one row) multiplies
//! the Q4_K rows by them with integer arithmetic, bit for bit as llama.cpp's
//! `ggml_vec_dot_q4_K_q8_K_generic`.
//!
//! ```
//! let (rows, cols) = (2, 512);
//! let weights = vec![0u8; rows * q4k::input_len(cols).unwrap()]; // row-major Q4_K
//! let mut activations = vec![q4k::BlockQ8K::ZERO; cols / 256];
//! q4k::quantize_q8k(&vec![0.25f32; cols], &mut activations)?;
//! let mut y = vec![0f32; rows];
//! q4k::matvec_q8k(&weights, &activations, &mut y)?;
//! # Ok::<(), q4k::Error>(())
//! ```
//!
//! [`matvec_f32`] and [`dot_f32`] multiply by `f32` activations without quantizing them, in one
//! documented summation order that every kernel reproduces.
//!
//! Input that arrives in pieces (flash pages, UART frames, socket reads) goes through
//! [`ChunkedDecoder`], which holds at most one partial block between chunks.
//!
//! The other direction, [`encode`], quantizes `f32` (or, through [`Encoder`], f16 and bf16)
//! weights to Q4_K byte for byte as llama.cpp's `quantize_row_q4_K_ref`, with SIMD kernels that
//! search eight or sixteen sub-blocks at once, one per vector lane.
//! [`encode_weighted`] does the same with an importance vector (llama.cpp's `quantize_q4_K`
//! with an importance matrix), from `f32`, f16 or bf16 rows.
//!
//! Model files are read in place by [`gguf`]: a zero-copy, allocation-free GGUF reader that
//! finds a tensor by name and hands its Q4_K blocks to the decoder.
//!
//! # Features
//!
//! - `std` (default): runtime CPU detection. Without it the kernel is chosen from the build's
//!   target features, so `-C target-cpu=...` builds for bare metal still get SIMD.
//! - `parallel`: `decode_parallel`, `encode_parallel`, `encode_weighted_parallel` (and its
//!   f16, bf16 and `half` forms), `matvec_q8k_parallel`, `matvec_f32_parallel` and their
//!   variants, multi-threaded over whole tensors with rayon.
//! - `defmt`: [`defmt::Format`](https://docs.rs/defmt) for [`Error`], [`Kernel`] and [`Stores`].
//! - `half`: `decode_half` and friends, which write the `half` crate's `f16` and `bf16`
//!   types (the ones candle and burn use) directly, and `encode_half` and
//!   `encode_weighted_half`, which read them.
//! - `bytemuck`, `zerocopy`: their marker traits for [`BlockQ4K`] and [`BlockQ8K`], for
//!   callers who cast with those crates.
//!
//! # Layout of the source
//!
//! One file per operation (`decode.rs`, ...) holds the public functions, their length checks and
//! the one dispatch from a [`Kernel`] to a kernel; `scalar/` holds the portable kernels, which
//! are also the oracle of the tests; `arch/<arch>/<isa>/<operation>.rs` holds the
//! `#[target_feature]` kernels, with the helpers an instruction set's kernels share in
//! `arch/<arch>/mod.rs`. The encoder's SIMD kernels are one lane-parallel algorithm
//! (`arch/encode.rs`) written over a small trait of elementwise vector operations
//! (`arch/lanes.rs`) that each instruction set implements.
//! The weighted encoder does the same over its own vocabulary (`arch/weighted_lanes.rs`).
//!
//! [`decode`]: fn@decode
//! [`dot_f32`]: fn@dot_f32
//! [`encode`]: fn@encode
//! [`encode_weighted`]: fn@encode_weighted
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(any(feature = "std", test))]
extern crate std;

mod arch;
mod block;
mod chunked;
mod decode;
mod decode_half;
mod dot;
mod dot_f32;
mod encode;
mod encode_weighted;
mod error;
mod f16;
pub mod gguf;
mod kernel;
#[cfg(feature = "parallel")]
mod parallel;
mod q8k;
mod scalar;
#[cfg(test)]
mod test_rng;

pub use block::{BlockQ4K, as_bytes, blocks};
pub use chunked::ChunkedDecoder;
pub use decode::{Decoder, STREAMING_THRESHOLD_BYTES, Stores, decode, decode_with};
#[cfg(feature = "half")]
#[cfg_attr(docsrs, doc(cfg(feature = "half")))]
pub use decode_half::{HalfFloat, decode_half};
pub use decode_half::{decode_bf16, decode_bf16_with, decode_f16, decode_f16_with};
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub use dot::{
    MATVEC_PARALLEL_TASKS_PER_THREAD, MATVEC_PARALLEL_THRESHOLD_BYTES, matvec_q8k_parallel,
    matvec_q8k_parallel_with,
};
pub use dot::{dot_q8k, dot_q8k_with, matvec_q8k, matvec_q8k_with};
pub use dot_f32::{dot_f32, dot_f32_with, matvec_f32, matvec_f32_with};
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub use dot_f32::{matvec_f32_parallel, matvec_f32_parallel_with};
#[cfg(feature = "half")]
#[cfg_attr(docsrs, doc(cfg(feature = "half")))]
pub use encode::encode_half;
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub use encode::encode_parallel;
pub use encode::{Encoder, encode, encode_bf16, encode_f16, encode_with};
#[cfg(feature = "half")]
#[cfg_attr(docsrs, doc(cfg(feature = "half")))]
pub use encode_weighted::encode_weighted_half;
#[cfg(all(feature = "parallel", feature = "half"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "parallel", feature = "half"))))]
pub use encode_weighted::encode_weighted_half_parallel;
pub use encode_weighted::{
    encode_weighted, encode_weighted_bf16, encode_weighted_f16, encode_weighted_with,
};
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub use encode_weighted::{
    encode_weighted_bf16_parallel, encode_weighted_f16_parallel, encode_weighted_parallel,
    encode_weighted_parallel_with,
};
pub use error::Error;
pub use f16::f16_to_f32;
pub use kernel::Kernel;
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub use parallel::{
    PARALLEL_CHUNK_BLOCKS, PARALLEL_THRESHOLD_BLOCKS, decode_bf16_parallel, decode_f16_parallel,
    decode_parallel, decode_parallel_with,
};
pub use q8k::{BlockQ8K, Q8K_BLOCK_BYTES, q8k_as_bytes, q8k_blocks, quantize_q8k};

/// Bytes in one Q4_K block.
pub const BLOCK_BYTES: usize = 144;

/// Values (weights) in one Q4_K block.
pub const BLOCK_VALUES: usize = 256;

/// The number of `f32` values that `input_len` bytes of whole blocks decode to
/// (`input_len / 144 * 256`, saturating; a trailing partial block counts for nothing).
///
/// ```
/// assert_eq!(q4k::output_len(144 * 10), 2560);
/// ```
#[must_use]
pub const fn output_len(input_len: usize) -> usize {
    (input_len / BLOCK_BYTES).saturating_mul(BLOCK_VALUES)
}

/// The number of input bytes that hold `values` weights, or `None` if `values` is not a
/// multiple of 256 (or the byte count would overflow).
///
/// ```
/// assert_eq!(q4k::input_len(4096), Some(16 * 144));
/// assert_eq!(q4k::input_len(100), None);
/// ```
#[must_use]
pub const fn input_len(values: usize) -> Option<usize> {
    if !values.is_multiple_of(BLOCK_VALUES) {
        return None;
    }
    (values / BLOCK_VALUES).checked_mul(BLOCK_BYTES)
}
