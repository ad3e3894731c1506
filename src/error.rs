//! The one error type of the crate.

use core::fmt;

use crate::{BLOCK_BYTES, Kernel};

/// Why a decode call refused its arguments.
///
/// Every call that returns an `Err` leaves the caller's output untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The input is not a whole number of 144-byte blocks.
    InputLength {
        /// The input length in bytes.
        len: usize,
    },
    /// The output slice does not hold exactly 256 values per input block (for
    /// [`ChunkedDecoder::feed_into`](crate::ChunkedDecoder::feed_into): is too short for the
    /// blocks the chunk completes).
    OutputLength {
        /// The number of `f32` values the input decodes to.
        expected: usize,
        /// The length of the output slice that was passed.
        actual: usize,
    },
    /// The requested kernel cannot run on this CPU or was not compiled into this build.
    KernelUnavailable {
        /// The kernel that was asked for.
        kernel: Kernel,
    },
    /// A chunked stream ended with bytes that do not make up a whole block
    /// (from [`ChunkedDecoder::finish`](crate::ChunkedDecoder::finish)).
    TrailingBytes {
        /// The number of bytes after the last whole block (1..=143).
        count: usize,
    },
    /// A Q8_K quantization was given an input whose length is not 256 values for each output
    /// block.
    QuantizeLength {
        /// The number of `f32` values the output blocks hold (`256 * blocks`).
        expected: usize,
        /// The length of the input slice that was passed.
        actual: usize,
    },
    /// An activation passed to a quantizer is NaN or infinite.
    NonFinite {
        /// The index of the first non-finite value.
        index: usize,
    },
    /// The Q4_K weights are not a whole number of rows of the activations' length.
    WeightsLength {
        /// The length of the weights in bytes.
        len: usize,
        /// The bytes of one row: 144 per activation block.
        row_bytes: usize,
    },
    /// The weights hold a different number of rows than the output has values.
    RowCount {
        /// The number of rows in the weights.
        rows: usize,
        /// The length of the output slice that was passed.
        output: usize,
    },
    /// Bytes viewed as Q8_K blocks are not a whole number of 292-byte blocks, or do not start
    /// on a 4-byte boundary (the alignment of [`BlockQ8K`](crate::BlockQ8K)'s `f32` scale).
    Q8KBytes {
        /// The length in bytes.
        len: usize,
        /// The start address modulo 4 (0 when aligned).
        misalignment: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::InputLength { len } => write!(
                f,
                "input length {len} is not a multiple of the {BLOCK_BYTES}-byte Q4_K block"
            ),
            Error::OutputLength { expected, actual } => write!(
                f,
                "output holds {actual} values but the input decodes to {expected}"
            ),
            Error::KernelUnavailable { kernel } => {
                write!(
                    f,
                    "the {kernel} kernel is not available on this CPU or build"
                )
            }
            Error::TrailingBytes { count } => write!(
                f,
                "the stream ended with {count} bytes after the last whole {BLOCK_BYTES}-byte block"
            ),
            Error::QuantizeLength { expected, actual } => write!(
                f,
                "input holds {actual} values but the Q8_K output blocks hold {expected}"
            ),
            Error::NonFinite { index } => {
                write!(f, "activation {index} is not finite (NaN or infinite)")
            }
            Error::WeightsLength { len, row_bytes } => write!(
                f,
                "weights of {len} bytes are not whole rows of {row_bytes} bytes \
                 (144 per 256 activations)"
            ),
            Error::RowCount { rows, output } => write!(
                f,
                "the weights hold {rows} rows but the output holds {output} values"
            ),
            Error::Q8KBytes { len, misalignment } => write!(
                f,
                "{len} bytes at an address {misalignment} past a 4-byte boundary are not \
                 whole aligned 292-byte Q8_K blocks"
            ),
        }
    }
}

impl core::error::Error for Error {}
