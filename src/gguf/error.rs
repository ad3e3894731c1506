//! What can be wrong with a GGUF file or a request made of it.

use core::fmt;

use super::{ALIGNMENT_KEY, GgmlType, MAX_ARRAY_DEPTH, MAX_DIMS, ValueType};

/// What is wrong with a GGUF file, or with a request made of it, and at which byte offset.
///
/// ```
/// let err = q4k::gguf::Gguf::parse(b"GGML\x03\0\0\0").unwrap_err();
/// assert!(matches!(err.kind(), q4k::gguf::ErrorKind::BadMagic { .. }));
/// assert_eq!(err.offset(), Some(0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Error {
    kind: ErrorKind,
    offset: Option<usize>,
}

impl Error {
    pub(super) const fn at(kind: ErrorKind, offset: usize) -> Self {
        Error {
            kind,
            offset: Some(offset),
        }
    }

    /// What is wrong.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte offset in the file of the field that is wrong (for a tensor's data: of the
    /// tensor's description), or `None` when no one place is to blame (a key that is absent, a
    /// decode error).
    pub const fn offset(&self) -> Option<usize> {
        self.offset
    }
}

/// The kinds of [`Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file ends inside a field.
    UnexpectedEnd {
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left in the file.
        available: usize,
    },
    /// The file does not start with `GGUF`.
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A GGUF version other than 2 or 3.
    UnsupportedVersion {
        /// The version field.
        version: u32,
    },
    /// A big-endian GGUF file (its version field reads byte-swapped).
    BigEndian,
    /// More metadata entries than the rest of the file could hold.
    TooManyEntries {
        /// The entry count in the header.
        count: u64,
        /// The most entries the bytes after the header could hold.
        max: u64,
    },
    /// More tensors than the rest of the file could describe.
    TooManyTensors {
        /// The tensor count in the header.
        count: u64,
        /// The most tensor descriptions the bytes after the header could hold.
        max: u64,
    },
    /// An array with more elements than the rest of the file could hold.
    ArrayTooLong {
        /// The element count.
        len: u64,
        /// The most elements the bytes left could hold.
        max: u64,
    },
    /// Arrays nested deeper than [`MAX_ARRAY_DEPTH`].
    ArrayTooDeep,
    /// A string (a key, a value or a tensor name) that is not UTF-8.
    InvalidUtf8,
    /// A metadata value type id outside 0..=12.
    UnknownValueType {
        /// The type id.
        id: u32,
    },
    /// A boolean stored as a byte other than 0 or 1.
    InvalidBool {
        /// The stored byte.
        byte: u8,
    },
    /// `general.alignment` is not a `u32`.
    AlignmentType {
        /// The type it has.
        found: ValueType,
    },
    /// `general.alignment` is zero or not a power of two.
    BadAlignment {
        /// Its value.
        alignment: u32,
    },
    /// A tensor with more than [`MAX_DIMS`] dimensions.
    TooManyDims {
        /// The dimension count.
        dims: u32,
    },
    /// A tensor type id that llama.cpp does not define (or no longer supports).
    UnknownTensorType {
        /// The type id.
        id: u32,
    },
    /// A tensor whose element count or byte size overflows 64 bits.
    ShapeOverflow,
    /// A tensor whose innermost dimension is not a whole number of its type's blocks.
    PartialBlock {
        /// The innermost dimension.
        row_values: u64,
        /// Values per block of the tensor's type.
        block_values: usize,
    },
    /// The start of the data section overflows.
    OffsetOverflow,
    /// No metadata entry has the key asked for.
    MissingKey,
    /// The key asked for appears more than once (the offset is the second entry's).
    DuplicateKey,
    /// A metadata value has another type than the one asked for.
    WrongValueType {
        /// The type asked for.
        expected: ValueType,
        /// The type in the file.
        found: ValueType,
    },
    /// No tensor has the name asked for.
    MissingTensor,
    /// The tensor name asked for appears more than once (the offset is the second
    /// description's).
    DuplicateTensor,
    /// A tensor's data does not lie inside the file.
    DataOutOfRange {
        /// The start of the data, from the start of the file (saturated at `u64::MAX`).
        start: u64,
        /// Its size in bytes.
        size: u64,
        /// The file's size.
        file_len: usize,
    },
    /// A tensor's offset is not a multiple of the file's alignment.
    MisalignedData {
        /// The offset in the data section.
        offset: u64,
        /// The file's alignment.
        alignment: usize,
    },
    /// A tensor's data overlaps another tensor's.
    Overlap {
        /// The position of the other tensor in the tensor list.
        other: usize,
    },
    /// A Q4_K view was asked of a tensor of another type.
    NotQ4K {
        /// The tensor's type.
        found: GgmlType,
    },
    /// A size that does not fit in this platform's `usize`.
    TooLarge,
    /// A decode call refused its arguments.
    Decode(crate::Error),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::UnexpectedEnd { needed, available } => write!(
                f,
                "unexpected end of file: {needed} bytes needed, {available} left"
            ),
            ErrorKind::BadMagic { found } => {
                write!(
                    f,
                    "not a GGUF file (starts with {found:02x?}, not \"GGUF\")"
                )
            }
            ErrorKind::UnsupportedVersion { version } => {
                write!(f, "GGUF version {version} is not supported (only 2 and 3)")
            }
            ErrorKind::BigEndian => f.write_str("big-endian GGUF files are not supported"),
            ErrorKind::TooManyEntries { count, max } => write!(
                f,
                "{count} metadata entries cannot fit in the file (at most {max})"
            ),
            ErrorKind::TooManyTensors { count, max } => write!(
                f,
                "{count} tensor descriptions cannot fit in the file (at most {max})"
            ),
            ErrorKind::ArrayTooLong { len, max } => write!(
                f,
                "an array of {len} elements cannot fit in the file (at most {max})"
            ),
            ErrorKind::ArrayTooDeep => {
                write!(f, "arrays nested deeper than {MAX_ARRAY_DEPTH} levels")
            }
            ErrorKind::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            ErrorKind::UnknownValueType { id } => write!(f, "unknown metadata value type {id}"),
            ErrorKind::InvalidBool { byte } => {
                write!(f, "boolean stored as {byte}, not 0 or 1")
            }
            ErrorKind::AlignmentType { found } => {
                write!(f, "{ALIGNMENT_KEY} is a {found}, not a u32")
            }
            ErrorKind::BadAlignment { alignment } => {
                write!(f, "{ALIGNMENT_KEY} is {alignment}, not a power of two")
            }
            ErrorKind::TooManyDims { dims } => {
                write!(f, "tensor has {dims} dimensions (at most {MAX_DIMS})")
            }
            ErrorKind::UnknownTensorType { id } => write!(f, "unknown ggml tensor type {id}"),
            ErrorKind::ShapeOverflow => f.write_str("tensor size overflows 64 bits"),
            ErrorKind::PartialBlock {
                row_values,
                block_values,
            } => write!(
                f,
                "tensor rows of {row_values} values are not whole {block_values}-value blocks"
            ),
            ErrorKind::OffsetOverflow => f.write_str("data section offset overflows"),
            ErrorKind::MissingKey => f.write_str("metadata key not found"),
            ErrorKind::DuplicateKey => f.write_str("metadata key appears twice"),
            ErrorKind::WrongValueType { expected, found } => {
                write!(f, "metadata value is a {found}, not a {expected}")
            }
            ErrorKind::MissingTensor => f.write_str("tensor not found"),
            ErrorKind::DuplicateTensor => f.write_str("tensor name appears twice"),
            ErrorKind::DataOutOfRange {
                start,
                size,
                file_len,
            } => write!(
                f,
                "tensor data ({size} bytes at byte {start}) lies outside the {file_len}-byte file"
            ),
            ErrorKind::MisalignedData { offset, alignment } => write!(
                f,
                "tensor data offset {offset} is not a multiple of the alignment {alignment}"
            ),
            ErrorKind::Overlap { other } => {
                write!(f, "tensor data overlaps the data of tensor #{other}")
            }
            ErrorKind::NotQ4K { found } => write!(f, "tensor is {found}, not Q4_K"),
            ErrorKind::TooLarge => f.write_str("size does not fit in this platform's usize"),
            ErrorKind::Decode(err) => err.fmt(f),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "{} (at byte {offset})", self.kind),
            None => self.kind.fmt(f),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Decode(err) => Some(err),
            _ => None,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error { kind, offset: None }
    }
}

impl From<crate::Error> for Error {
    fn from(err: crate::Error) -> Self {
        ErrorKind::Decode(err).into()
    }
}
