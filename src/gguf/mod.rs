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
//! fn decode_tensor(file: &[u8], name: &str) -> Result<Vec<f32>, q4k::gguf::Error> {
//!     let gguf = Gguf::parse(file)?;             // header, metadata, tensor list: all checked
//!     let w = gguf.tensor(name)?.q4k()?;         // in place; rows and row length from the dims
//!     let mut weights = vec![0f32; w.values()];
//!     q4k::decode(w.bytes(), &mut weights)?;     // best kernel for this CPU
//!     Ok(weights)
//! }
//!
//! // An empty or non-GGUF file is an error, never a panic.
//! assert!(decode_tensor(&[], "blk.0.ffn_up.weight").is_err());
//! assert!(decode_tensor(b"not a model", "blk.0.ffn_up.weight").is_err());
//! ```
//!
//! Metadata values come back as [`Value`]s: numbers, `&str` (invalid UTF-8 is an error) and
//! lazy [`Array`] views. GGUF lists a tensor's dimensions innermost first, so a matrix with
//! `dims() == [4096, 11008]` has 11008 rows of 4096 values; [`Tensor::q4k`] does that arithmetic.

mod cursor;
mod error;
mod ggml_type;
mod value;

pub use error::{Error, ErrorKind};
pub use ggml_type::GgmlType;
pub use value::{Array, ArrayIter, Value, ValueType};

use crate::{BLOCK_BYTES, BLOCK_VALUES, BlockQ4K};
use cursor::Cursor;
use value::read_value;

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
    if !is_multiple_of_pow2(row_values, block_values) {
        return Err(Error::at(
            ErrorKind::PartialBlock {
                row_values,
                block_values: ggml_type.block_values(),
            },
            info_offset,
        ));
    }
    let size = div_pow2(elements, block_values)
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

/// `x / d` for a power of two `d` (every GGML block size, see [`GgmlType::block_values`], and
/// every alignment [`Gguf::parse`] accepts): a shift. A 64-bit division is a library routine on
/// 32-bit targets (on a Cortex-M4F, 864 bytes of code for these three uses).
fn div_pow2(x: u64, d: u64) -> u64 {
    debug_assert!(d.is_power_of_two());
    x >> d.trailing_zeros()
}

/// Whether the power of two `d` divides `x` (see [`div_pow2`]): a mask.
fn is_multiple_of_pow2(x: u64, d: u64) -> bool {
    debug_assert!(d.is_power_of_two());
    x & d.wrapping_sub(1) == 0
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
                let too_large = Error::at(ErrorKind::TooLarge, at);
                alignment = Some(usize::try_from(value).map_err(|_| too_large)?);
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
            // After the 24-byte header: magic, version, tensor count, entry count.
            cursor: Cursor::at(&self.bytes[..self.tensor_infos], 24),
            remaining: self.metadata_len,
        }
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
            cursor: Cursor::at(self.bytes, self.tensor_infos),
            next: 0,
            count: self.tensor_count,
        }
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
        if !is_multiple_of_pow2(info.offset, self.alignment as u64) {
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
        // Rows of no values hold no data, so a hostile shape like [0, 2^60] must not promise
        // 2^60 of them to a caller who loops over the rows.
        let rows = if row_values == 0 { 0 } else { rows };
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
/// q4k::decode(w.bytes(), &mut values)?;                   // the whole matrix
///
/// let x = vec![1.0f32; w.row_values()];                   // activations
/// let mut y = vec![0f32; w.rows()];
/// q4k::matvec_f32(w.bytes(), &x, &mut y)?;                // y = W x, without decoding W
///
/// let first_row = q4k::blocks(w.row(0).unwrap_or_default())?; // one row as blocks
/// # let _ = first_row;
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
    /// All the blocks' bytes, ready for [`decode`](fn@crate::decode).
    pub const fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// All the blocks.
    pub fn blocks(&self) -> &'a [BlockQ4K] {
        // Whole blocks: the size is `elements / 256 * 144`.
        crate::blocks(self.data).unwrap_or_default()
    }

    /// The number of rows (the product of the outer dimensions; 0 when the rows hold no values,
    /// so that the count is bounded by the data).
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
