//! The error type of the kernels. The GGUF reader has its own, `gguf::Error`, which can carry
//! one of these.

use core::fmt;

use crate::{BLOCK_BYTES, BLOCK_VALUES, Kernel};

/// Why a call refused its arguments.
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
    /// An activation vector whose length is not a multiple of the 256 values of a block
    /// (from [`dot_f32`](fn@crate::dot_f32) and [`matvec_f32`](crate::matvec_f32)).
    ActivationLength {
        /// The number of activation values that was passed.
        len: usize,
    },
    /// The weights are not `rows` rows of `row_bytes` bytes each, where a row holds one Q4_K
    /// block per 256 activations (from [`dot_f32`](fn@crate::dot_f32) and
    /// [`dot_q8k`](crate::dot_q8k), where `rows` is 1, and [`matvec_f32`](crate::matvec_f32)
    /// and [`matvec_q8k`](crate::matvec_q8k), where `rows` is the output length).
    WeightsLength {
        /// The length of the weights in bytes.
        len: usize,
        /// The number of rows expected: the output length (1 for a dot product).
        rows: usize,
        /// The bytes of one row: `activations / 256 * 144` (144 per Q8_K block).
        row_bytes: usize,
    },
    /// The values to encode are not whole 256-value blocks, or the output does not hold exactly
    /// 144 bytes for every 256 values.
    EncodeLength {
        /// The number of values passed to the encoder.
        values: usize,
        /// The length of the output slice in bytes.
        output: usize,
    },
    /// A value to encode or to quantize is NaN or infinite.
    NonFinite {
        /// The index of the first such value in the input.
        index: usize,
    },
    /// A Q8_K quantization was given an input whose length is not 256 values for each output
    /// block.
    QuantizeLength {
        /// The number of `f32` values the output blocks hold (`256 * blocks`).
        expected: usize,
        /// The length of the input slice that was passed.
        actual: usize,
    },
    /// Bytes viewed as Q8_K blocks are not a whole number of 292-byte blocks, or do not start
    /// on a 4-byte boundary (the alignment of [`BlockQ8K`](crate::BlockQ8K)'s `f32` scale).
    Q8KBytes {
        /// The length in bytes.
        len: usize,
        /// The start address modulo 4 (0 when aligned).
        misalignment: usize,
    },
    /// The importance vector of a weighted encode is empty or not a whole number of 256-value
    /// blocks (its length is the row length).
    ImportanceLength {
        /// The length of the importance slice.
        len: usize,
    },
    /// The input of a weighted encode is not a whole number of rows.
    InputRows {
        /// The input length in values.
        len: usize,
        /// The row length in values (the importance length).
        row: usize,
    },
    /// An importance value is NaN or infinite.
    ImportanceNonFinite {
        /// The index of the first such value in the importance slice.
        index: usize,
    },
    /// An importance value is negative.
    NegativeImportance {
        /// The index of the first such value in the importance slice.
        index: usize,
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
            Error::ActivationLength { len } => write!(
                f,
                "{len} activations are not a multiple of the {BLOCK_VALUES}-value Q4_K block"
            ),
            Error::WeightsLength {
                len,
                rows,
                row_bytes,
            } => write!(
                f,
                "weights hold {len} bytes but {rows} rows of {row_bytes} bytes were expected"
            ),
            Error::EncodeLength { values, output } => write!(
                f,
                "cannot encode {values} values into {output} bytes: the values must be whole \
                 blocks of {BLOCK_VALUES} and the output {BLOCK_BYTES} bytes per block"
            ),
            Error::NonFinite { index } => {
                write!(f, "input value {index} is NaN or infinite")
            }
            Error::QuantizeLength { expected, actual } => write!(
                f,
                "input holds {actual} values but the Q8_K output blocks hold {expected}"
            ),
            Error::Q8KBytes { len, misalignment } => write!(
                f,
                "{len} bytes at an address {misalignment} past a 4-byte boundary are not \
                 whole aligned 292-byte Q8_K blocks"
            ),
            Error::ImportanceLength { len } => write!(
                f,
                "importance length {len} is not a non-zero multiple of the {BLOCK_VALUES}-value block"
            ),
            Error::InputRows { len, row } => write!(
                f,
                "input length {len} is not a whole number of rows of {row} values"
            ),
            Error::ImportanceNonFinite { index } => {
                write!(f, "importance value {index} is not finite")
            }
            Error::NegativeImportance { index } => {
                write!(f, "importance value {index} is negative")
            }
        }
    }
}

impl core::error::Error for Error {}
