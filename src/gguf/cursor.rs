//! Bounds-checked little-endian reads with file offsets in the errors.

use super::{Error, ErrorKind, ValueType};

/// Little-endian reads from a byte slice that sits at `base` in the file; every read is
/// bounds-checked and errors carry the file offset.
#[derive(Clone, Debug)]
pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    base: usize,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) const fn new(bytes: &'a [u8], base: usize) -> Self {
        Cursor {
            bytes,
            base,
            pos: 0,
        }
    }

    /// A cursor over the file `bytes` (at offset 0), at byte `pos` (or at the end, if past it).
    pub(super) fn at(bytes: &'a [u8], pos: usize) -> Self {
        Cursor {
            bytes,
            base: 0,
            pos: pos.min(bytes.len()),
        }
    }

    /// The bytes read since the cursor was at file offset `offset`.
    pub(super) fn since(&self, offset: usize) -> &'a [u8] {
        let start = offset.saturating_sub(self.base).min(self.pos);
        &self.bytes[start..self.pos]
    }

    /// The file offset of the next byte.
    pub(super) const fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(super) const fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(super) fn error(&self, kind: ErrorKind) -> Error {
        Error::at(kind, self.offset())
    }

    pub(super) fn take(&mut self, len: u64) -> Result<&'a [u8], Error> {
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

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let bytes = self.take(N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(super) fn u32(&mut self) -> Result<u32, Error> {
        self.array().map(u32::from_le_bytes)
    }

    pub(super) fn u64(&mut self) -> Result<u64, Error> {
        self.array().map(u64::from_le_bytes)
    }

    pub(super) fn string(&mut self) -> Result<&'a str, Error> {
        let len = self.u64()?;
        let start = self.offset();
        let bytes = self.take(len)?;
        core::str::from_utf8(bytes).map_err(|_| Error::at(ErrorKind::InvalidUtf8, start))
    }

    pub(super) fn value_type(&mut self) -> Result<ValueType, Error> {
        let at = self.offset();
        let id = self.u32()?;
        ValueType::from_id(id).ok_or(Error::at(ErrorKind::UnknownValueType { id }, at))
    }

    /// A count of items that each take at least `min_bytes`, checked against the bytes left.
    pub(super) fn count(
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
