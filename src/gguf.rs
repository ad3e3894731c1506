//! Reading GGUF model files in place: no copy, no allocation, `no_std`.
//!
//! [`Gguf::parse`] checks a whole file held in a `&[u8]` (an mmap, a `Vec`, flash on a board):
//! the header, every metadata key and value, and every tensor description. After that the
//! metadata and the tensor list are read lazily from the same bytes, and each tensor's data is a
//! bounds-checked sub-slice of them. GGUF versions 2 and 3, little-endian.
//!
//! The file is treated as hostile: every count, length and offset is checked against the buffer
//! and for overflow before it is used, work is linear in the file size whatever the counts say,
//! and anything wrong is an [`Error`] that names what and at which byte. Tensor data that lies
//! outside the file, is misaligned or overlaps another tensor is refused when that tensor is
//! asked for, so the rest of a damaged file can still be listed.
//!
//! ```
//! use q4k::gguf::Gguf;
//!
//! fn first_row(file: &[u8]) -> Result<Vec<f32>, q4k::gguf::Error> {
//!     let gguf = Gguf::parse(file)?;
//!     let weights = gguf.tensor("blk.0.ffn_up.weight")?.q4k()?;
//!     let mut row = vec![0f32; weights.row_values()];
//!     q4k::decode(weights.row(0).unwrap_or_default(), &mut row)?;
//!     Ok(row)
//! }
//!
//! // An empty or non-GGUF file is an error, never a panic.
//! assert!(first_row(&[]).is_err());
//! assert!(first_row(b"not a model").is_err());
//! ```
//!
//! Metadata values come back as [`Value`]s: numbers, `&str` (invalid UTF-8 is an error) and
//! lazy [`Array`] views. GGUF lists a tensor's dimensions innermost first, so a matrix with
//! `dims() == [4096, 11008]` has 11008 rows of 4096 values; [`Tensor::q4k`] does that arithmetic.

use core::fmt;

use crate::{BLOCK_BYTES, BLOCK_VALUES, BlockQ4K};

/// The four bytes every GGUF file starts with.
pub const MAGIC: [u8; 4] = *b"GGUF";

/// The alignment of tensor data when the file has no `general.alignment` key.
pub const DEFAULT_ALIGNMENT: usize = 32;

/// The metadata key that sets the alignment of tensor data (a `u32`, a power of two).
pub const ALIGNMENT_KEY: &str = "general.alignment";

/// The most dimensions a tensor may have (as in ggml).
pub const MAX_DIMS: usize = 4;

/// The deepest nesting of metadata arrays accepted: an array at the top level is depth 1, an
/// array of arrays depth 2, and so on. Deeper nesting is refused, which bounds the reader's
/// stack use on any input.
pub const MAX_ARRAY_DEPTH: usize = 8;

/// The smallest a metadata entry can be: key length, type, one byte of value.
const MIN_ENTRY_BYTES: usize = 8 + 4 + 1;
/// The smallest a tensor description can be: name length, dimension count, type, offset.
const MIN_TENSOR_INFO_BYTES: usize = 8 + 4 + 4 + 8;

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
    const fn at(kind: ErrorKind, offset: usize) -> Self {
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

/// A tensor element type as llama.cpp's ggml defines it, with the id stored in GGUF files.
///
/// Ids that ggml has removed (4, 5, 31-33, 36-38) and ids past the last one are not types:
/// [`GgmlType::from_id`] returns `None` for them.
///
/// ```
/// use q4k::gguf::GgmlType;
///
/// let t = GgmlType::from_id(12).unwrap();
/// assert_eq!(t, GgmlType::Q4_K);
/// assert_eq!((t.name(), t.block_values(), t.block_bytes()), ("Q4_K", 256, 144));
/// assert_eq!(GgmlType::from_id(4), None);
/// ```
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
#[repr(u32)]
pub enum GgmlType {
    /// 32-bit float.
    F32 = 0,
    /// 16-bit IEEE float.
    F16 = 1,
    /// 4-bit, 32-value blocks with an f16 scale.
    Q4_0 = 2,
    /// 4-bit, 32-value blocks with an f16 scale and minimum.
    Q4_1 = 3,
    /// 5-bit, 32-value blocks with an f16 scale.
    Q5_0 = 6,
    /// 5-bit, 32-value blocks with an f16 scale and minimum.
    Q5_1 = 7,
    /// 8-bit, 32-value blocks with an f16 scale.
    Q8_0 = 8,
    /// 8-bit, 32-value blocks with an f16 scale and sum.
    Q8_1 = 9,
    /// 2-bit k-quant, 256-value super-blocks.
    Q2_K = 10,
    /// 3-bit k-quant, 256-value super-blocks.
    Q3_K = 11,
    /// 4-bit k-quant, 256-value super-blocks: what this crate decodes.
    Q4_K = 12,
    /// 5-bit k-quant, 256-value super-blocks.
    Q5_K = 13,
    /// 6-bit k-quant, 256-value super-blocks.
    Q6_K = 14,
    /// 8-bit k-quant (for intermediate results), 256-value super-blocks.
    Q8_K = 15,
    /// 2.06-bit importance quant.
    IQ2_XXS = 16,
    /// 2.31-bit importance quant.
    IQ2_XS = 17,
    /// 3.06-bit importance quant.
    IQ3_XXS = 18,
    /// 1.56-bit importance quant.
    IQ1_S = 19,
    /// 4-bit non-linear quant, 32-value blocks.
    IQ4_NL = 20,
    /// 3.44-bit importance quant.
    IQ3_S = 21,
    /// 2.5-bit importance quant.
    IQ2_S = 22,
    /// 4.25-bit non-linear quant, 256-value super-blocks.
    IQ4_XS = 23,
    /// 8-bit integer.
    I8 = 24,
    /// 16-bit integer.
    I16 = 25,
    /// 32-bit integer.
    I32 = 26,
    /// 64-bit integer.
    I64 = 27,
    /// 64-bit float.
    F64 = 28,
    /// 1.75-bit importance quant.
    IQ1_M = 29,
    /// bfloat16.
    BF16 = 30,
    /// Ternary, 1.69 bits per value.
    TQ1_0 = 34,
    /// Ternary, 2.06 bits per value.
    TQ2_0 = 35,
    /// Microscaling FP4, 32-value blocks with an E8M0 scale.
    MXFP4 = 39,
    /// NVIDIA FP4, 64-value blocks with E4M3 scales.
    NVFP4 = 40,
    /// 1-bit, 128-value blocks.
    Q1_0 = 41,
    /// 2-bit, 64-value blocks.
    Q2_0 = 42,
}

impl GgmlType {
    /// Every type, in id order.
    pub const ALL: [GgmlType; 35] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q8_1,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
        GgmlType::Q8_K,
        GgmlType::IQ2_XXS,
        GgmlType::IQ2_XS,
        GgmlType::IQ3_XXS,
        GgmlType::IQ1_S,
        GgmlType::IQ4_NL,
        GgmlType::IQ3_S,
        GgmlType::IQ2_S,
        GgmlType::IQ4_XS,
        GgmlType::I8,
        GgmlType::I16,
        GgmlType::I32,
        GgmlType::I64,
        GgmlType::F64,
        GgmlType::IQ1_M,
        GgmlType::BF16,
        GgmlType::TQ1_0,
        GgmlType::TQ2_0,
        GgmlType::MXFP4,
        GgmlType::NVFP4,
        GgmlType::Q1_0,
        GgmlType::Q2_0,
    ];

    /// The type with this id, or `None` for an id ggml does not define (or has removed).
    pub const fn from_id(id: u32) -> Option<GgmlType> {
        let mut i = 0;
        while i < Self::ALL.len() {
            if Self::ALL[i] as u32 == id {
                return Some(Self::ALL[i]);
            }
            i += 1;
        }
        None
    }

    /// The id stored in GGUF files.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// The name as llama.cpp spells it: `"Q4_K"`, `"F32"`, `"IQ2_XXS"`, ...
    pub const fn name(self) -> &'static str {
        self.layout().0
    }

    /// Values per block (1 for the plain number types).
    pub const fn block_values(self) -> usize {
        self.layout().1
    }

    /// Bytes per block.
    pub const fn block_bytes(self) -> usize {
        self.layout().2
    }

    /// Name, values per block, bytes per block (ggml's `type_traits`).
    const fn layout(self) -> (&'static str, usize, usize) {
        const K: usize = 256;
        match self {
            GgmlType::F32 => ("F32", 1, 4),
            GgmlType::F16 => ("F16", 1, 2),
            GgmlType::Q4_0 => ("Q4_0", 32, 2 + 16),
            GgmlType::Q4_1 => ("Q4_1", 32, 2 + 2 + 16),
            GgmlType::Q5_0 => ("Q5_0", 32, 2 + 4 + 16),
            GgmlType::Q5_1 => ("Q5_1", 32, 2 + 2 + 4 + 16),
            GgmlType::Q8_0 => ("Q8_0", 32, 2 + 32),
            GgmlType::Q8_1 => ("Q8_1", 32, 2 + 2 + 32),
            GgmlType::Q2_K => ("Q2_K", K, 2 + 2 + K / 16 + K / 4),
            GgmlType::Q3_K => ("Q3_K", K, 2 + K / 4 + K / 8 + 12),
            GgmlType::Q4_K => ("Q4_K", K, BLOCK_BYTES),
            GgmlType::Q5_K => ("Q5_K", K, 2 + 2 + 12 + K / 2 + K / 8),
            GgmlType::Q6_K => ("Q6_K", K, 2 + K / 16 + 3 * K / 4),
            GgmlType::Q8_K => ("Q8_K", K, 4 + K + K / 16 * 2),
            GgmlType::IQ2_XXS => ("IQ2_XXS", K, 2 + K / 8 * 2),
            GgmlType::IQ2_XS => ("IQ2_XS", K, 2 + K / 8 * 2 + K / 32),
            GgmlType::IQ3_XXS => ("IQ3_XXS", K, 2 + 3 * (K / 8)),
            GgmlType::IQ1_S => ("IQ1_S", K, 2 + K / 8 + K / 16),
            GgmlType::IQ4_NL => ("IQ4_NL", 32, 2 + 16),
            GgmlType::IQ3_S => ("IQ3_S", K, 2 + 13 * (K / 32) + K / 64),
            GgmlType::IQ2_S => ("IQ2_S", K, 2 + K / 4 + K / 16),
            GgmlType::IQ4_XS => ("IQ4_XS", K, 2 + 2 + K / 64 + K / 2),
            GgmlType::I8 => ("I8", 1, 1),
            GgmlType::I16 => ("I16", 1, 2),
            GgmlType::I32 => ("I32", 1, 4),
            GgmlType::I64 => ("I64", 1, 8),
            GgmlType::F64 => ("F64", 1, 8),
            GgmlType::IQ1_M => ("IQ1_M", K, K / 8 + K / 16 + K / 32),
            GgmlType::BF16 => ("BF16", 1, 2),
            GgmlType::TQ1_0 => ("TQ1_0", K, 2 + K / 64 + (K - 4 * K / 64) / 5),
            GgmlType::TQ2_0 => ("TQ2_0", K, 2 + K / 4),
            GgmlType::MXFP4 => ("MXFP4", 32, 1 + 16),
            GgmlType::NVFP4 => ("NVFP4", 64, 4 + 32),
            GgmlType::Q1_0 => ("Q1_0", 128, 2 + 128 / 8),
            GgmlType::Q2_0 => ("Q2_0", 64, 2 + 64 / 4),
        }
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The type of a metadata value, with the id stored in GGUF files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
#[repr(u32)]
pub enum ValueType {
    /// `u8`.
    U8 = 0,
    /// `i8`.
    I8 = 1,
    /// `u16`.
    U16 = 2,
    /// `i16`.
    I16 = 3,
    /// `u32`.
    U32 = 4,
    /// `i32`.
    I32 = 5,
    /// `f32`.
    F32 = 6,
    /// `bool`, one byte.
    Bool = 7,
    /// UTF-8 string with a `u64` length.
    String = 8,
    /// Array: element type, `u64` length, elements.
    Array = 9,
    /// `u64`.
    U64 = 10,
    /// `i64`.
    I64 = 11,
    /// `f64`.
    F64 = 12,
}

impl ValueType {
    /// The type with this id, or `None` outside 0..=12.
    pub const fn from_id(id: u32) -> Option<ValueType> {
        Some(match id {
            0 => ValueType::U8,
            1 => ValueType::I8,
            2 => ValueType::U16,
            3 => ValueType::I16,
            4 => ValueType::U32,
            5 => ValueType::I32,
            6 => ValueType::F32,
            7 => ValueType::Bool,
            8 => ValueType::String,
            9 => ValueType::Array,
            10 => ValueType::U64,
            11 => ValueType::I64,
            12 => ValueType::F64,
            _ => return None,
        })
    }

    /// The id stored in GGUF files.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// A short name: `"u8"`, `"string"`, `"array"`, ...
    pub const fn name(self) -> &'static str {
        match self {
            ValueType::U8 => "u8",
            ValueType::I8 => "i8",
            ValueType::U16 => "u16",
            ValueType::I16 => "i16",
            ValueType::U32 => "u32",
            ValueType::I32 => "i32",
            ValueType::F32 => "f32",
            ValueType::Bool => "bool",
            ValueType::String => "string",
            ValueType::Array => "array",
            ValueType::U64 => "u64",
            ValueType::I64 => "i64",
            ValueType::F64 => "f64",
        }
    }

    /// Bytes per value for the fixed-size types; `None` for strings and arrays.
    pub const fn fixed_bytes(self) -> Option<usize> {
        match self {
            ValueType::U8 | ValueType::I8 | ValueType::Bool => Some(1),
            ValueType::U16 | ValueType::I16 => Some(2),
            ValueType::U32 | ValueType::I32 | ValueType::F32 => Some(4),
            ValueType::U64 | ValueType::I64 | ValueType::F64 => Some(8),
            ValueType::String | ValueType::Array => None,
        }
    }

    /// The fewest bytes a value of this type takes: a string's length field, an array's type
    /// and length fields.
    const fn min_bytes(self) -> usize {
        match self.fixed_bytes() {
            Some(bytes) => bytes,
            None if matches!(self, ValueType::String) => 8,
            None => 4 + 8,
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A metadata value, borrowed from the file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// `u8`.
    U8(u8),
    /// `i8`.
    I8(i8),
    /// `u16`.
    U16(u16),
    /// `i16`.
    I16(i16),
    /// `u32`.
    U32(u32),
    /// `i32`.
    I32(i32),
    /// `f32`.
    F32(f32),
    /// `bool`.
    Bool(bool),
    /// A string (checked to be UTF-8).
    String(&'a str),
    /// An array, read lazily.
    Array(Array<'a>),
    /// `u64`.
    U64(u64),
    /// `i64`.
    I64(i64),
    /// `f64`.
    F64(f64),
}

impl<'a> Value<'a> {
    /// The type of this value.
    pub const fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// The string, if this is one.
    pub const fn as_str(&self) -> Option<&'a str> {
        match *self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub const fn as_array(&self) -> Option<Array<'a>> {
        match *self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Any unsigned integer, or a signed one that is not negative, widened to `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any integer that fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::I8(v) => Some(v.into()),
            Value::I16(v) => Some(v.into()),
            Value::I32(v) => Some(v.into()),
            Value::I64(v) => Some(v),
            Value::U64(v) => i64::try_from(v).ok(),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// An `f32` or `f64`, as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub const fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// A metadata array: its element type, its length, and its elements read on demand.
///
/// Arrays may hold arrays (each with its own element type), up to [`MAX_ARRAY_DEPTH`] deep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Array<'a> {
    element_type: ValueType,
    len: usize,
    /// The elements' bytes, exactly.
    data: &'a [u8],
    /// Where `data` starts in the file.
    offset: usize,
    /// The depth of this array (1 at the top level).
    depth: usize,
}

impl<'a> Array<'a> {
    /// The type of the elements.
    pub const fn element_type(&self) -> ValueType {
        self.element_type
    }

    /// The number of elements.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes of the elements as stored (little-endian numbers back to back, or for strings
    /// and arrays their length-prefixed encodings).
    pub const fn raw_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The elements, in order.
    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter {
            cursor: Cursor::new(self.data, self.offset),
            element_type: self.element_type,
            remaining: self.len,
            depth: self.depth,
        }
    }

    /// Element `index`, or `None` past the end. Direct for numbers; strings and arrays are
    /// found by walking the ones before.
    pub fn get(&self, index: usize) -> Option<Value<'a>> {
        if index >= self.len {
            return None;
        }
        match self.element_type.fixed_bytes() {
            Some(size) => {
                let start = index * size;
                let mut cursor = Cursor::new(self.data.get(start..)?, self.offset + start);
                read_value(&mut cursor, self.element_type, self.depth).ok()
            }
            None => self.iter().nth(index),
        }
    }
}

impl<'a> IntoIterator for Array<'a> {
    type Item = Value<'a>;
    type IntoIter = ArrayIter<'a>;

    fn into_iter(self) -> ArrayIter<'a> {
        self.iter()
    }
}

/// The elements of an [`Array`], in order.
#[derive(Clone, Debug)]
pub struct ArrayIter<'a> {
    cursor: Cursor<'a>,
    element_type: ValueType,
    remaining: usize,
    depth: usize,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // Every element was checked when the array was read, so this cannot fail; if it did,
        // the iteration would end early rather than yield a wrong value.
        let value = read_value(&mut self.cursor, self.element_type, self.depth).ok();
        if value.is_none() {
            self.remaining = 0;
        }
        value
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// Little-endian reads from a byte slice that sits at `base` in the file; every read is
/// bounds-checked and errors carry the file offset.
#[derive(Clone, Debug)]
struct Cursor<'a> {
    bytes: &'a [u8],
    base: usize,
    pos: usize,
}

impl<'a> Cursor<'a> {
    const fn new(bytes: &'a [u8], base: usize) -> Self {
        Cursor {
            bytes,
            base,
            pos: 0,
        }
    }

    /// The file offset of the next byte.
    const fn offset(&self) -> usize {
        self.base + self.pos
    }

    const fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn error(&self, kind: ErrorKind) -> Error {
        Error::at(kind, self.offset())
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], Error> {
        let available = self.remaining();
        match usize::try_from(len) {
            Ok(n) if n <= available => {
                let bytes = &self.bytes[self.pos..self.pos + n];
                self.pos += n;
                Ok(bytes)
            }
            _ => Err(self.error(ErrorKind::UnexpectedEnd {
                needed: len,
                available,
            })),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let bytes = self.take(N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, Error> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, Error> {
        self.array().map(u64::from_le_bytes)
    }

    fn string(&mut self) -> Result<&'a str, Error> {
        let len = self.u64()?;
        let start = self.offset();
        let bytes = self.take(len)?;
        core::str::from_utf8(bytes).map_err(|_| Error::at(ErrorKind::InvalidUtf8, start))
    }

    fn value_type(&mut self) -> Result<ValueType, Error> {
        let at = self.offset();
        let id = self.u32()?;
        ValueType::from_id(id).ok_or(Error::at(ErrorKind::UnknownValueType { id }, at))
    }

    /// A count of items that each take at least `min_bytes`, checked against the bytes left.
    fn count(
        &mut self,
        min_bytes: usize,
        too_many: fn(u64, u64) -> ErrorKind,
    ) -> Result<usize, Error> {
        let at = self.offset();
        let count = self.u64()?;
        let max = (self.remaining() / min_bytes) as u64;
        if count > max {
            return Err(Error::at(too_many(count, max), at));
        }
        // `count <= remaining`, which is a `usize`.
        Ok(count as usize)
    }
}

/// Reads one value of type `ty`; `depth` is the depth of the array it sits in (0 at the top).
fn read_value<'a>(
    cursor: &mut Cursor<'a>,
    ty: ValueType,
    depth: usize,
) -> Result<Value<'a>, Error> {
    Ok(match ty {
        ValueType::U8 => Value::U8(u8::from_le_bytes(cursor.array()?)),
        ValueType::I8 => Value::I8(i8::from_le_bytes(cursor.array()?)),
        ValueType::U16 => Value::U16(u16::from_le_bytes(cursor.array()?)),
        ValueType::I16 => Value::I16(i16::from_le_bytes(cursor.array()?)),
        ValueType::U32 => Value::U32(u32::from_le_bytes(cursor.array()?)),
        ValueType::I32 => Value::I32(i32::from_le_bytes(cursor.array()?)),
        ValueType::F32 => Value::F32(f32::from_le_bytes(cursor.array()?)),
        ValueType::U64 => Value::U64(u64::from_le_bytes(cursor.array()?)),
        ValueType::I64 => Value::I64(i64::from_le_bytes(cursor.array()?)),
        ValueType::F64 => Value::F64(f64::from_le_bytes(cursor.array()?)),
        ValueType::Bool => {
            let at = cursor.offset();
            match cursor.array::<1>()? {
                [0] => Value::Bool(false),
                [1] => Value::Bool(true),
                [byte] => return Err(Error::at(ErrorKind::InvalidBool { byte }, at)),
            }
        }
        ValueType::String => Value::String(cursor.string()?),
        ValueType::Array => Value::Array(read_array(cursor, depth + 1)?),
    })
}

/// Reads an array's header and checks every element; `depth` is the array's own depth.
fn read_array<'a>(cursor: &mut Cursor<'a>, depth: usize) -> Result<Array<'a>, Error> {
    if depth > MAX_ARRAY_DEPTH {
        return Err(cursor.error(ErrorKind::ArrayTooDeep));
    }
    let element_type = cursor.value_type()?;
    let len = cursor.count(element_type.min_bytes(), |len, max| {
        ErrorKind::ArrayTooLong { len, max }
    })?;
    let offset = cursor.offset();
    let start = cursor.pos;
    match element_type.fixed_bytes() {
        // Numbers need no walk (`count` checked that they fit), except booleans.
        Some(size) if element_type != ValueType::Bool => {
            cursor.take((len * size) as u64)?;
        }
        // Every element takes at least one byte, so this walk is bounded by the file size.
        _ => {
            for _ in 0..len {
                read_value(cursor, element_type, depth)?;
            }
        }
    }
    Ok(Array {
        element_type,
        len,
        data: &cursor.bytes[start..cursor.pos],
        offset,
        depth,
    })
}

/// One tensor's description: name, dimensions, type and where its data is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorInfo<'a> {
    name: &'a str,
    dims: [u64; MAX_DIMS],
    n_dims: usize,
    ggml_type: GgmlType,
    offset: u64,
    size: u64,
    index: usize,
    info_offset: usize,
}

impl<'a> TensorInfo<'a> {
    /// The tensor's name, e.g. `"blk.0.ffn_up.weight"`.
    pub const fn name(&self) -> &'a str {
        self.name
    }

    /// The dimensions, innermost (the length of a row) first, as GGUF lists them.
    pub fn dims(&self) -> &[u64] {
        &self.dims[..self.n_dims]
    }

    /// The element type.
    pub const fn ggml_type(&self) -> GgmlType {
        self.ggml_type
    }

    /// The offset of the data from the start of the data section, as stored.
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// The size of the data in bytes (whole blocks of the type).
    pub const fn size_bytes(&self) -> u64 {
        self.size
    }

    /// The number of elements: the product of the dimensions (1 with no dimensions).
    pub fn elements(&self) -> u64 {
        // Checked not to overflow when the description was read.
        self.dims().iter().product()
    }

    /// The length of a row: the innermost dimension (1 with no dimensions).
    pub fn row_values(&self) -> u64 {
        self.dims().first().copied().unwrap_or(1)
    }

    /// The number of rows: the product of the outer dimensions (1 for a vector).
    pub fn rows(&self) -> u64 {
        // Checked not to overflow when the description was read.
        self.dims().iter().skip(1).product()
    }

    /// The position of this tensor in the file's tensor list.
    pub const fn index(&self) -> usize {
        self.index
    }

    /// Where this description starts in the file.
    pub const fn info_offset(&self) -> usize {
        self.info_offset
    }

    /// The data's byte range in the data section, `None` if its end overflows.
    fn data_range(&self) -> Option<(u64, u64)> {
        Some((self.offset, self.offset.checked_add(self.size)?))
    }
}

/// Reads and checks one tensor description.
fn read_tensor_info<'a>(cursor: &mut Cursor<'a>, index: usize) -> Result<TensorInfo<'a>, Error> {
    let info_offset = cursor.offset();
    let name = cursor.string()?;
    let at = cursor.offset();
    let n = cursor.u32()?;
    if n as usize > MAX_DIMS {
        return Err(Error::at(ErrorKind::TooManyDims { dims: n }, at));
    }
    let n_dims = n as usize;
    let mut dims = [1u64; MAX_DIMS];
    for dim in &mut dims[..n_dims] {
        *dim = cursor.u64()?;
    }
    let at = cursor.offset();
    let id = cursor.u32()?;
    let ggml_type =
        GgmlType::from_id(id).ok_or(Error::at(ErrorKind::UnknownTensorType { id }, at))?;
    let offset = cursor.u64()?;

    let shape_error = Error::at(ErrorKind::ShapeOverflow, info_offset);
    let product = |dims: &[u64]| dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    // The rows alone must not overflow either (a row of 0 values makes the product 0).
    product(dims.get(1..n_dims).unwrap_or_default()).ok_or(shape_error)?;
    let elements = product(&dims[..n_dims]).ok_or(shape_error)?;
    let block_values = ggml_type.block_values() as u64;
    let row_values = if n_dims == 0 { 1 } else { dims[0] };
    if !row_values.is_multiple_of(block_values) {
        return Err(Error::at(
            ErrorKind::PartialBlock {
                row_values,
                block_values: ggml_type.block_values(),
            },
            info_offset,
        ));
    }
    let size = (elements / block_values)
        .checked_mul(ggml_type.block_bytes() as u64)
        .ok_or(shape_error)?;
    Ok(TensorInfo {
        name,
        dims,
        n_dims,
        ggml_type,
        offset,
        size,
        index,
        info_offset,
    })
}

/// A GGUF file, checked and read in place.
///
/// ```
/// use q4k::gguf::Gguf;
///
/// # fn run(bytes: &[u8]) -> Result<(), q4k::gguf::Error> {
/// let gguf = Gguf::parse(bytes)?;
/// println!("{} by {}", gguf.str_value("general.name")?, gguf.str_value("general.architecture")?);
/// for info in gguf.tensors() {
///     println!("{} {} {:?}", info.name(), info.ggml_type(), info.dims());
/// }
/// # Ok(())
/// # }
/// # assert!(run(b"").is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Gguf<'a> {
    bytes: &'a [u8],
    version: u32,
    metadata_len: usize,
    tensor_count: usize,
    tensor_infos: usize,
    alignment: usize,
    data_offset: usize,
}

impl<'a> Gguf<'a> {
    /// Checks the header, every metadata entry and every tensor description of `bytes`, and
    /// finds the data section.
    ///
    /// Linear in the size of the file, whatever its counts say; no allocation. Tensor data is
    /// checked later, when a tensor is asked for ([`tensor`](Self::tensor),
    /// [`read`](Self::read)).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut cursor = Cursor::new(bytes, 0);
        let found = cursor.array::<4>()?;
        if found != MAGIC {
            return Err(Error::at(ErrorKind::BadMagic { found }, 0));
        }
        let version = cursor.u32()?;
        if !matches!(version, 2 | 3) {
            let kind = if matches!(version.swap_bytes(), 1..=3) {
                ErrorKind::BigEndian
            } else {
                ErrorKind::UnsupportedVersion { version }
            };
            return Err(Error::at(kind, 4));
        }
        let tensor_count = cursor.count(MIN_TENSOR_INFO_BYTES, |count, max| {
            ErrorKind::TooManyTensors { count, max }
        })?;
        let metadata_len = cursor.count(MIN_ENTRY_BYTES, |count, max| {
            ErrorKind::TooManyEntries { count, max }
        })?;

        let mut alignment = None;
        for _ in 0..metadata_len {
            let entry = cursor.offset();
            let key = cursor.string()?;
            let ty = cursor.value_type()?;
            let at = cursor.offset();
            let value = read_value(&mut cursor, ty, 0)?;
            if key == ALIGNMENT_KEY {
                if alignment.is_some() {
                    return Err(Error::at(ErrorKind::DuplicateKey, entry));
                }
                let Value::U32(value) = value else {
                    return Err(Error::at(ErrorKind::AlignmentType { found: ty }, at));
                };
                if !value.is_power_of_two() {
                    return Err(Error::at(ErrorKind::BadAlignment { alignment: value }, at));
                }
                alignment = Some(value as usize);
            }
        }
        let alignment = alignment.unwrap_or(DEFAULT_ALIGNMENT);

        let tensor_infos = cursor.offset();
        for index in 0..tensor_count {
            read_tensor_info(&mut cursor, index)?;
        }
        let end = cursor.offset();
        let data_offset = end
            .checked_next_multiple_of(alignment)
            .ok_or(Error::at(ErrorKind::OffsetOverflow, end))?;
        Ok(Gguf {
            bytes,
            version,
            metadata_len,
            tensor_count,
            tensor_infos,
            alignment,
            data_offset,
        })
    }

    /// The whole file.
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The GGUF version: 2 or 3.
    pub const fn version(&self) -> u32 {
        self.version
    }

    /// The alignment of tensor data: `general.alignment`, or [`DEFAULT_ALIGNMENT`].
    pub const fn alignment(&self) -> usize {
        self.alignment
    }

    /// Where the data section starts in the file (tensor offsets count from here). It may lie
    /// past the end of a file that holds no tensor data.
    pub const fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// The number of metadata entries.
    pub const fn metadata_len(&self) -> usize {
        self.metadata_len
    }

    /// The number of tensors.
    pub const fn tensor_count(&self) -> usize {
        self.tensor_count
    }

    /// The metadata entries as `(key, value)`, in file order.
    pub fn metadata(&self) -> Metadata<'a> {
        Metadata {
            cursor: Cursor::new(&self.bytes[..self.tensor_infos], 0),
            remaining: self.metadata_len,
        }
        .skip_header()
    }

    /// The value of metadata key `key`.
    ///
    /// [`ErrorKind::MissingKey`] if no entry has that key, [`ErrorKind::DuplicateKey`] if two
    /// do (a file that says two things is not guessed at).
    pub fn value(&self, key: &str) -> Result<Value<'a>, Error> {
        let mut found = None;
        let mut entries = self.metadata();
        loop {
            let offset = entries.cursor.offset();
            let Some((k, v)) = entries.next() else { break };
            if k == key {
                if found.is_some() {
                    return Err(Error::at(ErrorKind::DuplicateKey, offset));
                }
                found = Some(v);
            }
        }
        found.ok_or(ErrorKind::MissingKey.into())
    }

    /// The string value of metadata key `key`, e.g. `"general.architecture"`.
    ///
    /// As [`value`](Self::value), and [`ErrorKind::WrongValueType`] if it is not a string.
    pub fn str_value(&self, key: &str) -> Result<&'a str, Error> {
        match self.value(key)? {
            Value::String(s) => Ok(s),
            other => Err(ErrorKind::WrongValueType {
                expected: ValueType::String,
                found: other.value_type(),
            }
            .into()),
        }
    }

    /// The tensor descriptions, in file order.
    pub fn tensors(&self) -> Tensors<'a> {
        Tensors {
            cursor: Cursor::new(&self.bytes[..self.data_offset.min(self.bytes.len())], 0),
            next: 0,
            count: self.tensor_count,
        }
        .seek(self.tensor_infos)
    }

    /// The description of the tensor named `name`.
    ///
    /// [`ErrorKind::MissingTensor`] if there is none, [`ErrorKind::DuplicateTensor`] if two
    /// tensors have that name.
    pub fn tensor_info(&self, name: &str) -> Result<TensorInfo<'a>, Error> {
        let mut found: Option<TensorInfo<'a>> = None;
        for info in self.tensors().filter(|info| info.name == name) {
            if found.is_some() {
                return Err(Error::at(ErrorKind::DuplicateTensor, info.info_offset));
            }
            found = Some(info);
        }
        found.ok_or(ErrorKind::MissingTensor.into())
    }

    /// The tensor named `name`, with its data.
    ///
    /// As [`tensor_info`](Self::tensor_info), then [`read`](Self::read).
    pub fn tensor(&self, name: &str) -> Result<Tensor<'a>, Error> {
        self.read(&self.tensor_info(name)?)
    }

    /// The tensor `info` describes, with its data: exactly
    /// [`size_bytes`](TensorInfo::size_bytes) bytes of the file, in place.
    ///
    /// Errors, all at the tensor description's offset: [`ErrorKind::MisalignedData`] if the
    /// offset is not a multiple of the alignment, [`ErrorKind::DataOutOfRange`] if the data
    /// does not lie inside the file, [`ErrorKind::Overlap`] if it shares a byte with another
    /// tensor's data. The overlap check reads every tensor description, so this call is linear
    /// in the number of tensors.
    pub fn read(&self, info: &TensorInfo<'a>) -> Result<Tensor<'a>, Error> {
        let data = self.tensor_data(info)?;
        Ok(Tensor { info: *info, data })
    }

    /// The data of the tensor `info` describes; see [`read`](Self::read).
    fn tensor_data(&self, info: &TensorInfo<'_>) -> Result<&'a [u8], Error> {
        let fail = |kind| Err(Error::at(kind, info.info_offset));
        if !info.offset.is_multiple_of(self.alignment as u64) {
            return fail(ErrorKind::MisalignedData {
                offset: info.offset,
                alignment: self.alignment,
            });
        }
        let start = (self.data_offset as u64).saturating_add(info.offset);
        let range = start
            .checked_add(info.size)
            .filter(|&end| end <= self.bytes.len() as u64);
        let Some(end) = range else {
            return fail(ErrorKind::DataOutOfRange {
                start,
                size: info.size,
                file_len: self.bytes.len(),
            });
        };
        if info.size > 0 {
            let (lo, hi) = (info.offset, info.offset + info.size);
            for other in self.tensors() {
                if other.index == info.index || other.size == 0 {
                    continue;
                }
                let (other_lo, other_hi) = other.data_range().unwrap_or((other.offset, u64::MAX));
                if other_lo < hi && lo < other_hi {
                    return fail(ErrorKind::Overlap { other: other.index });
                }
            }
        }
        // Both fit in `usize`: `end <= bytes.len()`.
        Ok(&self.bytes[start as usize..end as usize])
    }
}

/// The metadata entries of a [`Gguf`], as `(key, value)`, in file order.
#[derive(Clone, Debug)]
pub struct Metadata<'a> {
    cursor: Cursor<'a>,
    remaining: usize,
}

impl<'a> Metadata<'a> {
    /// Moves past the 24-byte header.
    fn skip_header(mut self) -> Self {
        self.cursor.pos = 24.min(self.cursor.bytes.len());
        self
    }
}

impl<'a> Iterator for Metadata<'a> {
    type Item = (&'a str, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // Every entry was checked by `Gguf::parse`, so this cannot fail; if it did, the
        // iteration would end early rather than yield a wrong entry.
        let entry = (|| {
            let key = self.cursor.string()?;
            let ty = self.cursor.value_type()?;
            Ok::<_, Error>((key, read_value(&mut self.cursor, ty, 0)?))
        })()
        .ok();
        if entry.is_none() {
            self.remaining = 0;
        }
        entry
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// The tensor descriptions of a [`Gguf`], in file order.
#[derive(Clone, Debug)]
pub struct Tensors<'a> {
    cursor: Cursor<'a>,
    next: usize,
    count: usize,
}

impl<'a> Tensors<'a> {
    fn seek(mut self, offset: usize) -> Self {
        self.cursor.pos = offset.min(self.cursor.bytes.len());
        self
    }
}

impl<'a> Iterator for Tensors<'a> {
    type Item = TensorInfo<'a>;

    fn next(&mut self) -> Option<TensorInfo<'a>> {
        if self.next >= self.count {
            return None;
        }
        // Every description was checked by `Gguf::parse`, so this cannot fail; if it did, the
        // iteration would end early rather than yield a wrong description.
        let info = read_tensor_info(&mut self.cursor, self.next).ok();
        self.next = if info.is_some() {
            self.next + 1
        } else {
            self.count
        };
        info
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.count - self.next))
    }
}

/// A tensor's description and its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tensor<'a> {
    info: TensorInfo<'a>,
    data: &'a [u8],
}

impl<'a> Tensor<'a> {
    /// The description: name, dimensions, type, offset.
    pub const fn info(&self) -> &TensorInfo<'a> {
        &self.info
    }

    /// The tensor's data, in place in the file.
    pub const fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The data as a Q4_K matrix, rows and row length taken from the dimensions.
    ///
    /// [`ErrorKind::NotQ4K`] for a tensor of another type, [`ErrorKind::TooLarge`] if its
    /// values cannot be counted in a `usize` here.
    pub fn q4k(&self) -> Result<Q4KTensor<'a>, Error> {
        let info = &self.info;
        let error = |kind| Error::at(kind, info.info_offset);
        if info.ggml_type != GgmlType::Q4_K {
            return Err(error(ErrorKind::NotQ4K {
                found: info.ggml_type,
            }));
        }
        let too_large = || error(ErrorKind::TooLarge);
        let rows = usize::try_from(info.rows()).map_err(|_| too_large())?;
        let row_values = usize::try_from(info.row_values()).map_err(|_| too_large())?;
        rows.checked_mul(row_values).ok_or_else(too_large)?;
        Ok(Q4KTensor {
            data: self.data,
            rows,
            row_values,
        })
    }
}

/// A Q4_K tensor seen as a matrix: `rows()` rows of `row_values()` values, each row whole
/// 144-byte blocks, stored one after the other.
///
/// ```
/// # fn run(gguf: &q4k::gguf::Gguf<'_>) -> Result<(), q4k::gguf::Error> {
/// let w = gguf.tensor("blk.0.attn_q.weight")?.q4k()?;
/// let mut values = vec![0f32; w.values()];
/// q4k::decode(w.bytes(), &mut values)?;                  // the whole matrix
/// let first = &q4k::blocks(w.row(0).unwrap_or_default())?; // or one row as blocks
/// # let _ = first;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Q4KTensor<'a> {
    data: &'a [u8],
    rows: usize,
    row_values: usize,
}

impl<'a> Q4KTensor<'a> {
    /// All the blocks' bytes, ready for [`decode`](crate::decode).
    pub const fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// All the blocks.
    pub fn blocks(&self) -> &'a [BlockQ4K] {
        // Whole blocks: the size is `elements / 256 * 144`.
        crate::blocks(self.data).unwrap_or_default()
    }

    /// The number of rows (the product of the outer dimensions).
    pub const fn rows(&self) -> usize {
        self.rows
    }

    /// Values per row (the innermost dimension, a multiple of 256).
    pub const fn row_values(&self) -> usize {
        self.row_values
    }

    /// Bytes per row.
    pub const fn row_bytes(&self) -> usize {
        self.row_values / BLOCK_VALUES * BLOCK_BYTES
    }

    /// All the values: `rows() * row_values()`, the length of the output of a decode.
    pub const fn values(&self) -> usize {
        self.rows * self.row_values
    }

    /// The bytes of row `index`, or `None` past the last row.
    pub fn row(&self, index: usize) -> Option<&'a [u8]> {
        if index >= self.rows {
            return None;
        }
        let len = self.row_bytes();
        self.data.get(index * len..(index + 1) * len)
    }
}
