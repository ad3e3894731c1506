//! Metadata values: their types, the values, and lazy array views.

use core::fmt;

use super::cursor::Cursor;
use super::{Error, ErrorKind, MAX_ARRAY_DEPTH};

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
    pub(super) const fn min_bytes(self) -> usize {
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

/// Reads one value of type `ty`; `depth` is the depth of the array it sits in (0 at the top).
pub(super) fn read_value<'a>(
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
        data: cursor.since(offset),
        offset,
        depth,
    })
}
