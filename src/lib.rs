//! Fast, bit-exact decoding of GGUF **Q4_K** quantized weights into `f32`.
//!
//! Q4_K stores 256 weights in a 144-byte super-block (see [`BlockQ4K`]). This crate turns a byte
//! slice of such blocks into a slice of `f32`, with hand-written SIMD kernels where the CPU has
//! them and a portable scalar kernel everywhere else. Every kernel produces the same bits as
//! llama.cpp's reference `dequantize_row_q4_K`.
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
//! Input that arrives in pieces (flash pages, UART frames, socket reads) goes through
//! [`ChunkedDecoder`], which holds at most one partial block between chunks.
//!
//! Model files are read in place by [`gguf`]: a zero-copy, allocation-free GGUF reader that
//! finds a tensor by name and hands its Q4_K blocks to the decoder.
//!
//! # Features
//!
//! - `std` (default): runtime CPU detection. Without it the kernel is chosen from the build's
//!   target features, so `-C target-cpu=...` builds for bare metal still get SIMD.
//! - `parallel`: [`decode_parallel`], multi-threaded decoding of whole tensors with rayon.
//! - `defmt`: [`defmt::Format`](https://docs.rs/defmt) for [`Error`] and [`Kernel`].
#![no_std]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(any(feature = "std", test))]
extern crate std;

mod arch;
mod block;
mod chunked;
mod decoder;
mod error;
mod f16;
pub mod gguf;
mod kernel;
#[cfg(feature = "parallel")]
mod parallel;
mod scalar;
#[cfg(test)]
mod test_rng;

pub use block::{BlockQ4K, as_bytes, blocks};
pub use chunked::ChunkedDecoder;
pub use decoder::{Decoder, Stores};
pub use error::Error;
pub use f16::f16_to_f32;
pub use kernel::Kernel;
#[cfg(feature = "parallel")]
pub use parallel::{
    PARALLEL_CHUNK_BLOCKS, PARALLEL_THRESHOLD_BLOCKS, decode_parallel, decode_parallel_with,
};

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
pub const fn input_len(values: usize) -> Option<usize> {
    if !values.is_multiple_of(BLOCK_VALUES) {
        return None;
    }
    (values / BLOCK_VALUES).checked_mul(BLOCK_BYTES)
}

/// Output size in bytes above which [`Stores::Auto`] switches to streaming stores.
///
/// Below it the output fits in the caches of a typical desktop or server core and ordinary
/// stores are faster; above it streaming stores avoid the read-for-ownership and the cache
/// pollution. Measured with the AVX-512 kernel on one core of a Zen 5 EPYC with 32 MiB of L3,
/// cached against streaming stores back to back: cached is 2.7x faster at 15 MB of output,
/// even at 22 MB, and streaming wins from 30 MB on; 24 MiB is about three quarters of that L3.
pub const STREAMING_THRESHOLD_BYTES: usize = 24 << 20;

/// Checks that `input` is whole blocks and `output` holds exactly their values.
fn check<'a>(input: &'a [u8], output: &[f32]) -> Result<&'a [BlockQ4K], Error> {
    let blocks = blocks(input)?;
    let expected = blocks.len() * BLOCK_VALUES;
    if output.len() != expected {
        return Err(Error::OutputLength {
            expected,
            actual: output.len(),
        });
    }
    Ok(blocks)
}

/// Decodes Q4_K blocks into `f32` values with the fastest kernel this CPU has.
///
/// `input.len()` must be a multiple of [`BLOCK_BYTES`] and `output.len()` must be exactly
/// [`output_len(input.len())`](output_len). Neither slice needs any alignment. On error the
/// output is left untouched.
///
/// ```
/// let input = [0u8; 144];
/// let mut output = [0f32; 256];
/// q4k::decode(&input, &mut output)?;
/// assert!(q4k::decode(&input, &mut output[..255]).is_err());
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn decode(input: &[u8], output: &mut [f32]) -> Result<(), Error> {
    Decoder::new().decode(input, output)
}

/// Decodes Q4_K blocks with one chosen kernel.
///
/// Same contract as [`decode`]; the length checks come first, then
/// [`Error::KernelUnavailable`] if `kernel` cannot run here.
///
/// ```
/// let input = [0u8; 144];
/// let mut output = [0f32; 256];
/// q4k::decode_with(q4k::Kernel::Scalar, &input, &mut output)?;
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn decode_with(kernel: Kernel, input: &[u8], output: &mut [f32]) -> Result<(), Error> {
    Decoder::new().kernel(kernel).decode(input, output)
}
