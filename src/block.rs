//! The 144-byte Q4_K super-block and the zero-copy view of a byte slice as blocks.

use core::fmt;

use crate::{BLOCK_BYTES, BLOCK_VALUES, Error, f16_to_f32, scalar};

/// One Q4_K super-block: 256 weights in 144 bytes, exactly as stored in a GGUF file.
///
/// `#[repr(C)]`, 144 bytes, alignment 1: any byte slice whose length is a multiple of 144 can be
/// viewed as `&[BlockQ4K]` in place with [`blocks`], wherever it starts (an mmap at any offset).
///
/// ```
/// let bytes = [0u8; 144];
/// let block = &q4k::blocks(&bytes)?[0];
/// let mut values = [1.0f32; 256];
/// block.decode(&mut values);
/// assert!(values.iter().all(|v| *v == 0.0));
/// # Ok::<(), q4k::Error>(())
/// ```
///
/// The format, byte by byte (all little-endian):
///
/// | bytes | field | meaning |
/// |---|---|---|
/// | 0..2 | `d` | IEEE binary16: the scale of the eight sub-block scales |
/// | 2..4 | `dmin` | binary16: the scale of the eight sub-block mins |
/// | 4..16 | `scales` | eight 6-bit scales `sc` and eight 6-bit mins `m`, packed ([`scales_and_mins`](Self::scales_and_mins)) |
/// | 16..144 | `qs` | 256 4-bit quants, two per byte ([`quants`](Self::quants)) |
///
/// Value `i` of sub-block `s = i / 32` is `(d * sc[s]) * q - (dmin * m[s])`, in `f32`.
///
/// # Why every kernel gives the same bits
///
/// `d` has an 11-bit significand, `sc` 6 bits and `q` 4 bits, so `d * sc` and `(d * sc) * q`
/// are exact in `f32` (at most 21 significant bits, f16 subnormals included), and so is
/// `dmin * m`. Only the final subtraction rounds. A fused multiply-subtract, a multiply then a
/// subtract, or a 16-entry table of a sub-block's values therefore all produce identical bits,
/// which is why every kernel of this crate, on every target, matches llama.cpp's
/// `dequantize_row_q4_K` bit for bit. Where `d` or `dmin` is an f16 infinity or NaN the value is
/// NaN or infinite, as in llama.cpp; NaN payloads may differ between kernels.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "zerocopy",
    derive(
        zerocopy::FromBytes,
        zerocopy::IntoBytes,
        zerocopy::KnownLayout,
        zerocopy::Immutable,
        zerocopy::Unaligned
    )
)]
pub struct BlockQ4K {
    d: [u8; 2],
    dmin: [u8; 2],
    scales: [u8; 12],
    qs: [u8; 128],
}

const _: () = assert!(core::mem::size_of::<BlockQ4K>() == BLOCK_BYTES);
const _: () = assert!(core::mem::align_of::<BlockQ4K>() == 1);

impl BlockQ4K {
    /// Builds a block from its 144 stored bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; BLOCK_BYTES]) -> Self {
        let mut block = BlockQ4K {
            d: [0; 2],
            dmin: [0; 2],
            scales: [0; 12],
            qs: [0; 128],
        };
        let mut i = 0;
        while i < BLOCK_BYTES {
            let b = bytes[i];
            match i {
                0..2 => block.d[i] = b,
                2..4 => block.dmin[i - 2] = b,
                4..16 => block.scales[i - 4] = b,
                _ => block.qs[i - 16] = b,
            }
            i += 1;
        }
        block
    }

    /// The 144 stored bytes of this block.
    #[must_use]
    pub const fn to_bytes(&self) -> [u8; BLOCK_BYTES] {
        let mut bytes = [0u8; BLOCK_BYTES];
        let mut i = 0;
        while i < BLOCK_BYTES {
            bytes[i] = match i {
                0..2 => self.d[i],
                2..4 => self.dmin[i - 2],
                4..16 => self.scales[i - 4],
                _ => self.qs[i - 16],
            };
            i += 1;
        }
        bytes
    }

    /// The super-block scale `d` (stored as f16), widened to `f32`.
    #[inline]
    #[must_use]
    pub const fn d(&self) -> f32 {
        f16_to_f32(u16::from_le_bytes(self.d))
    }

    /// The super-block minimum scale `dmin` (stored as f16), widened to `f32`.
    #[inline]
    #[must_use]
    pub const fn dmin(&self) -> f32 {
        f16_to_f32(u16::from_le_bytes(self.dmin))
    }

    /// The raw f16 bits of `d` and `dmin`.
    #[inline]
    #[must_use]
    pub const fn d_dmin_bits(&self) -> (u16, u16) {
        (u16::from_le_bytes(self.d), u16::from_le_bytes(self.dmin))
    }

    /// The twelve packed bytes that hold the eight 6-bit scales and eight 6-bit mins.
    #[inline]
    #[must_use]
    pub const fn packed_scales(&self) -> &[u8; 12] {
        &self.scales
    }

    /// The eight `(scale, min)` pairs of the 32-value sub-blocks, each 6 bits (0..=63).
    ///
    /// Sub-block `j` covers values `32 * j .. 32 * j + 32`.
    #[inline]
    #[must_use]
    pub const fn scales_and_mins(&self) -> [(u8, u8); 8] {
        let s = &self.scales;
        let mut pairs = [(0u8, 0u8); 8];
        let mut j = 0;
        while j < 4 {
            pairs[j] = (s[j] & 63, s[j + 4] & 63);
            pairs[j + 4] = (
                (s[j + 8] & 0x0F) | ((s[j] >> 6) << 4),
                (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4),
            );
            j += 1;
        }
        pairs
    }

    /// The 128 bytes of 4-bit quants.
    ///
    /// Byte `32 * g + l` holds value `64 * g + l` in its low nibble and value `64 * g + 32 + l`
    /// in its high nibble (`g` in 0..4, `l` in 0..32).
    #[inline]
    #[must_use]
    pub const fn quants(&self) -> &[u8; 128] {
        &self.qs
    }

    /// The 4-bit quant (0..=15) of value `index`, or `None` if `index >= 256`.
    #[inline]
    #[must_use]
    pub const fn quant(&self, index: usize) -> Option<u8> {
        if index >= BLOCK_VALUES {
            return None;
        }
        let byte = self.qs[(index / 64) * 32 + index % 32];
        Some(if index % 64 < 32 {
            byte & 0x0F
        } else {
            byte >> 4
        })
    }

    /// Decodes this block's 256 values with the portable scalar kernel.
    ///
    /// Bit-identical to [`decode`](fn@crate::decode); for many blocks at once, `decode` is faster.
    #[inline]
    pub fn decode(&self, out: &mut [f32; BLOCK_VALUES]) {
        scalar::decode::decode_block(self, out);
    }
}

impl From<[u8; BLOCK_BYTES]> for BlockQ4K {
    fn from(bytes: [u8; BLOCK_BYTES]) -> Self {
        BlockQ4K::from_bytes(bytes)
    }
}

impl From<BlockQ4K> for [u8; BLOCK_BYTES] {
    fn from(block: BlockQ4K) -> Self {
        block.to_bytes()
    }
}

impl AsRef<[u8]> for BlockQ4K {
    fn as_ref(&self) -> &[u8] {
        as_bytes(core::slice::from_ref(self))
    }
}

/// Shows `d`, `dmin` and the eight `(scale, min)` pairs, not the 128 quant bytes.
impl fmt::Debug for BlockQ4K {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockQ4K")
            .field("d", &self.d())
            .field("dmin", &self.dmin())
            .field("scales_and_mins", &self.scales_and_mins())
            .finish_non_exhaustive()
    }
}

// SAFETY: `BlockQ4K` is `repr(C)` of byte arrays only: no padding, alignment 1, and every bit
// pattern is a valid value, which is what `Zeroable` and `Pod` require.
#[cfg(feature = "bytemuck")]
unsafe impl bytemuck::Zeroable for BlockQ4K {}
// SAFETY: as above; the type is also `Copy` and `'static`.
#[cfg(feature = "bytemuck")]
unsafe impl bytemuck::Pod for BlockQ4K {}

/// Views a byte slice as Q4_K blocks, without copying.
///
/// Fails with [`Error::InputLength`] unless the length is a multiple of [`BLOCK_BYTES`].
///
/// ```
/// let bytes = vec![0u8; 3 * q4k::BLOCK_BYTES];
/// assert_eq!(q4k::blocks(&bytes)?.len(), 3);
/// assert!(q4k::blocks(&bytes[1..]).is_err());
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn blocks(bytes: &[u8]) -> Result<&[BlockQ4K], Error> {
    let (whole, rest) = bytes.as_chunks::<BLOCK_BYTES>();
    if !rest.is_empty() {
        return Err(Error::InputLength { len: bytes.len() });
    }
    // SAFETY: `BlockQ4K` is `repr(C)` of byte arrays only: size 144, alignment 1, no padding and
    // no invalid bit patterns, so each `[u8; 144]` is a valid `BlockQ4K` at the same address and
    // the cast slice covers exactly the same bytes with the same lifetime.
    Ok(unsafe { core::slice::from_raw_parts(whole.as_ptr().cast::<BlockQ4K>(), whole.len()) })
}

/// Views blocks as their bytes, without copying.
#[must_use]
pub fn as_bytes(blocks: &[BlockQ4K]) -> &[u8] {
    // SAFETY: `BlockQ4K` is 144 plain bytes with alignment 1 and no padding, so `len * 144`
    // bytes starting at the slice's address are initialised and borrowed for the same lifetime.
    unsafe { core::slice::from_raw_parts(blocks.as_ptr().cast::<u8>(), blocks.len() * BLOCK_BYTES) }
}
