//! The one error type of the crate.

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
    /// The values to encode are not whole 256-value blocks, or the output does not hold exactly
    /// 144 bytes for every 256 values.
    EncodeLength {
        /// The number of values passed to the encoder.
        values: usize,
        /// The length of the output slice in bytes.
        output: usize,
    },
    /// A value to encode is NaN or infinite.
    NonFinite {
        /// The index of the first such value in the input.
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
            Error::EncodeLength { values, output } => write!(
                f,
                "cannot encode {values} values into {output} bytes: the values must be whole \
                 blocks of {BLOCK_VALUES} and the output {BLOCK_BYTES} bytes per block"
            ),
            Error::NonFinite { index } => {
                write!(f, "input value {index} is NaN or infinite")
            }
        }
    }
}

impl core::error::Error for Error {}
