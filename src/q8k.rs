//! The Q8_K activation block (llama.cpp's `block_q8_K`), its quantizer [`quantize_q8k`] and the
//! zero-copy views between bytes and blocks.

use core::fmt;

use crate::{BLOCK_VALUES, Error};

/// Bytes in one Q8_K block.
pub const Q8K_BLOCK_BYTES: usize = 292;

/// One Q8_K block: 256 activations quantized to `i8` with one `f32` scale, plus the sums of each
/// group of 16 quants; the second operand of [`dot_q8k`](crate::dot_q8k).
///
/// The same layout as llama.cpp's `block_q8_K`: `#[repr(C)]`, 292 bytes, alignment 4, fields in
/// this order, each in the target's byte order (little-endian on every target with SIMD
/// kernels):
///
/// | bytes | field | meaning |
/// |---|---|---|
/// | 0..4 | `d` | `f32` scale: value `j` is about `d * qs[j]` |
/// | 4..260 | `qs` | 256 `i8` quants |
/// | 260..292 | `bsums` | 16 `i16`: `bsums[k]` is the sum of `qs[16 * k .. 16 * k + 16]` |
///
/// Build blocks with [`quantize_q8k`]; view stored bytes with [`q8k_blocks`] (which needs the
/// bytes on a 4-byte boundary, like the `f32` inside).
///
/// ```
/// let activations = [0.5f32; 256];
/// let mut block = [q4k::BlockQ8K::ZERO];
/// q4k::quantize_q8k(&activations, &mut block)?;
/// assert!(block[0].quants().iter().all(|&q| q == -127));
/// assert_eq!(block[0].block_sums()[0], -127 * 16);
/// # Ok::<(), q4k::Error>(())
/// ```
#[repr(C)]
#[derive(Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "zerocopy",
    derive(
        zerocopy::FromBytes,
        zerocopy::IntoBytes,
        zerocopy::KnownLayout,
        zerocopy::Immutable
    )
)]
pub struct BlockQ8K {
    d: f32,
    qs: [i8; BLOCK_VALUES],
    bsums: [i16; 16],
}

const _: () = assert!(core::mem::size_of::<BlockQ8K>() == Q8K_BLOCK_BYTES);
const _: () = assert!(core::mem::align_of::<BlockQ8K>() == 4);

impl BlockQ8K {
    /// The all-zero block: `d = 0`, every quant and every sum 0 (what [`quantize_q8k`] makes of
    /// 256 zeros).
    pub const ZERO: BlockQ8K = BlockQ8K {
        d: 0.0,
        qs: [0; BLOCK_VALUES],
        bsums: [0; 16],
    };

    /// A block from its parts. `bsums` is taken as given, not recomputed: a block whose sums do
    /// not match its quants gives the dot product llama.cpp gives for it.
    #[must_use]
    pub const fn new(d: f32, qs: [i8; BLOCK_VALUES], bsums: [i16; 16]) -> Self {
        BlockQ8K { d, qs, bsums }
    }

    /// Builds a block from its 292 bytes, in the target's byte order.
    #[must_use]
    pub fn from_bytes(bytes: [u8; Q8K_BLOCK_BYTES]) -> Self {
        let mut block = BlockQ8K::ZERO;
        block.as_bytes_mut().copy_from_slice(&bytes);
        block
    }

    /// The 292 bytes of this block, in the target's byte order.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; Q8K_BLOCK_BYTES] {
        let mut bytes = [0u8; Q8K_BLOCK_BYTES];
        bytes.copy_from_slice(q8k_as_bytes(core::slice::from_ref(self)));
        bytes
    }

    fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `BlockQ8K` is `repr(C)` of an `f32`, `[i8; 256]` and `[i16; 16]` at offsets
        // 0, 4 and 260: 292 bytes with no padding, and every bit pattern of them is valid, so
        // the block's bytes may be written freely through this exclusive borrow.
        unsafe {
            core::slice::from_raw_parts_mut(core::ptr::from_mut(self).cast::<u8>(), Q8K_BLOCK_BYTES)
        }
    }

    /// The scale `d`.
    #[inline]
    #[must_use]
    pub const fn d(&self) -> f32 {
        self.d
    }

    /// The 256 quants.
    #[inline]
    #[must_use]
    pub const fn quants(&self) -> &[i8; BLOCK_VALUES] {
        &self.qs
    }

    /// The 16 sums of 16 quants each, as stored.
    #[inline]
    #[must_use]
    pub const fn block_sums(&self) -> &[i16; 16] {
        &self.bsums
    }
}

impl Default for BlockQ8K {
    fn default() -> Self {
        BlockQ8K::ZERO
    }
}

impl From<[u8; Q8K_BLOCK_BYTES]> for BlockQ8K {
    fn from(bytes: [u8; Q8K_BLOCK_BYTES]) -> Self {
        BlockQ8K::from_bytes(bytes)
    }
}

impl From<BlockQ8K> for [u8; Q8K_BLOCK_BYTES] {
    fn from(block: BlockQ8K) -> Self {
        block.to_bytes()
    }
}

impl AsRef<[u8]> for BlockQ8K {
    fn as_ref(&self) -> &[u8] {
        q8k_as_bytes(core::slice::from_ref(self))
    }
}

/// Shows `d` and the 16 block sums, not the 256 quants.
impl fmt::Debug for BlockQ8K {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockQ8K")
            .field("d", &self.d)
            .field("bsums", &self.bsums)
            .finish_non_exhaustive()
    }
}

// SAFETY: `BlockQ8K` is `repr(C)` of an `f32`, `[i8; 256]` and `[i16; 16]`: no padding (292
// bytes, each field at a multiple of its alignment) and every bit pattern valid, which is what
// `Zeroable` and `Pod` require.
#[cfg(feature = "bytemuck")]
unsafe impl bytemuck::Zeroable for BlockQ8K {}
// SAFETY: as above; the type is also `Copy` and `'static`.
#[cfg(feature = "bytemuck")]
unsafe impl bytemuck::Pod for BlockQ8K {}

/// Views a byte slice as Q8_K blocks, without copying.
///
/// The bytes must be a whole number of 292-byte blocks and start on a 4-byte boundary (the
/// alignment of the `f32` scale); otherwise [`Error::Q8KBytes`]. Buffers from the allocator,
/// and file mappings at 4-byte offsets, are aligned; copy anything else with
/// [`BlockQ8K::from_bytes`].
///
/// ```
/// let blocks = [q4k::BlockQ8K::ZERO; 2];
/// let bytes = q4k::q8k_as_bytes(&blocks);
/// assert_eq!(q4k::q8k_blocks(bytes)?, &blocks);
/// assert!(q4k::q8k_blocks(&bytes[4..]).is_err());
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn q8k_blocks(bytes: &[u8]) -> Result<&[BlockQ8K], Error> {
    let misalignment = bytes.as_ptr().addr() % core::mem::align_of::<BlockQ8K>();
    if misalignment != 0 || !bytes.len().is_multiple_of(Q8K_BLOCK_BYTES) {
        return Err(Error::Q8KBytes {
            len: bytes.len(),
            misalignment,
        });
    }
    // SAFETY: the start is 4-byte aligned and the length is `n * 292` (checked above);
    // `BlockQ8K` is 292 bytes of plain integers and an `f32` with no padding and no invalid bit
    // patterns, so the `n` blocks cover exactly these bytes, borrowed for the same lifetime.
    Ok(unsafe {
        core::slice::from_raw_parts(
            bytes.as_ptr().cast::<BlockQ8K>(),
            bytes.len() / Q8K_BLOCK_BYTES,
        )
    })
}

/// Views Q8_K blocks as their bytes, without copying.
#[must_use]
pub fn q8k_as_bytes(blocks: &[BlockQ8K]) -> &[u8] {
    // SAFETY: `BlockQ8K` has no padding, so all `len * 292` bytes from the slice's address are
    // initialised, and they are borrowed for the slice's lifetime.
    unsafe {
        core::slice::from_raw_parts(blocks.as_ptr().cast::<u8>(), core::mem::size_of_val(blocks))
    }
}

/// Quantizes `f32` activations to Q8_K blocks, bit for bit as llama.cpp's
/// `quantize_row_q8_K_ref`.
///
/// `input.len()` must be `256 * output.len()` ([`Error::QuantizeLength`]), and every input must
/// be finite ([`Error::NonFinite`] names the first that is not; llama.cpp gives garbage there).
/// On error the output is untouched.
///
/// Per block of 256 values: the first value of largest magnitude, `max`, gives
/// `iscale = -127 / max`; each quant is `min(127, nearest(iscale * x))` with llama.cpp's
/// round-half-to-even trick, `d = 1 / iscale`, and `bsums` the sums of 16 quants. A block of
/// zeros gets `d = 0` and all quants and sums 0 (llama.cpp leaves its sums unwritten).
///
/// ```
/// let input: Vec<f32> = (0..512).map(|i| i as f32 - 256.0).collect();
/// let mut blocks = vec![q4k::BlockQ8K::ZERO; 2];
/// q4k::quantize_q8k(&input, &mut blocks)?;
/// assert_eq!(blocks[0].quants()[0], -127); // -256, the block's max: iscale = -127 / -256
/// assert!(q4k::quantize_q8k(&[f32::NAN; 256], &mut blocks[..1]).is_err());
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn quantize_q8k(input: &[f32], output: &mut [BlockQ8K]) -> Result<(), Error> {
    let expected = output.len() * BLOCK_VALUES;
    if input.len() != expected {
        return Err(Error::QuantizeLength {
            expected,
            actual: input.len(),
        });
    }
    if let Some(index) = input.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite { index });
    }
    let (chunks, _) = input.as_chunks::<BLOCK_VALUES>();
    for (x, block) in chunks.iter().zip(output) {
        quantize_block(x, block);
    }
    Ok(())
}

/// llama.cpp's `nearest_int`: adding 1.5 * 2^23 leaves `round_ties_even(f)` in the low 22
/// significand bits, for |f| <= 4194303; outside that range the result is the same garbage as
/// in C.
#[inline(always)]
fn nearest_int(f: f32) -> i32 {
    let val = f + 12_582_912.0;
    (val.to_bits() & 0x007F_FFFF) as i32 - 0x0040_0000
}

/// One block of `quantize_row_q8_K_ref`, for finite input.
fn quantize_block(x: &[f32; BLOCK_VALUES], block: &mut BlockQ8K) {
    // The C scans for `fabsf(x) > amax` in order: it ends with the largest magnitude and the
    // first value that has it. A max-reduction and a search give the same pair and vectorise.
    let amax = x.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    if amax == 0.0 {
        *block = BlockQ8K::ZERO;
        return;
    }
    let max = x.iter().copied().find(|v| v.abs() == amax).unwrap_or(amax);
    let iscale = -127.0f32 / max;
    if iscale.is_infinite() {
        // `max` is so small (below 127 / f32::MAX) that `-127 / max` overflows. In C every
        // product is then infinite or NaN (0 * inf), `nearest_int` maps both to a value whose
        // low byte is 0, and the `int8_t` store keeps 0. Spelled out here because Rust does not
        // fix the bits of a NaN.
        *block = BlockQ8K {
            d: 1.0 / iscale,
            ..BlockQ8K::ZERO
        };
        return;
    }
    for (q, &v) in block.qs.iter_mut().zip(x) {
        // `MIN(127, v)` then the implicit conversion to `int8_t`, which keeps the low byte.
        *q = nearest_int(iscale * v).min(127) as i8;
    }
    let (groups, _) = block.qs.as_chunks::<16>();
    for (sum, group) in block.bsums.iter_mut().zip(groups) {
        *sum = group.iter().map(|&q| i16::from(q)).sum();
    }
    block.d = 1.0 / iscale;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transcription of the C loop itself, strict `>` scan and all.
    fn reference(x: &[f32; 256]) -> BlockQ8K {
        let mut max = 0.0f32;
        let mut amax = 0.0f32;
        for &v in x {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax == 0.0 {
            return BlockQ8K::ZERO;
        }
        let iscale = -127.0f32 / max;
        let mut block = BlockQ8K::ZERO;
        for (q, &v) in block.qs.iter_mut().zip(x) {
            let val = iscale * v + 12_582_912.0;
            let i = (val.to_bits() as i32 & 0x007F_FFFF) - 0x0040_0000;
            *q = core::cmp::min(127, i) as i8;
        }
        for j in 0..16 {
            let mut sum = 0i32;
            for ii in 0..16 {
                sum += i32::from(block.qs[j * 16 + ii]);
            }
            block.bsums[j] = sum as i16;
        }
        block.d = 1.0 / iscale;
        block
    }

    #[test]
    fn ties_keep_the_first_maximum_and_its_sign() {
        let mut x = [0.25f32; 256];
        x[3] = -2.0;
        x[7] = 2.0;
        let mut out = [BlockQ8K::ZERO];
        quantize_q8k(&x, &mut out).unwrap();
        // max = -2 (first), iscale = 63.5, so x[3] -> -127 and x[7] -> 127.
        assert_eq!(out[0].quants()[3], -127);
        assert_eq!(out[0].quants()[7], 127);
        assert_eq!(out[0].d().to_bits(), (1.0f32 / 63.5).to_bits());
        assert_eq!(out[0], reference(&x));
    }

    #[test]
    fn matches_the_c_loop_on_random_and_special_rows() {
        let mut rng = crate::test_rng::Rng(0x1234_5678_9ABC_DEF1);
        for case in 0..(if cfg!(miri) { 8 } else { 2000 }) {
            let mut x = [0f32; 256];
            for v in &mut x {
                let r = rng.next();
                *v = match case % 5 {
                    // Any finite bit pattern, tiny and huge included.
                    0 => {
                        let f = f32::from_bits(r as u32);
                        if f.is_finite() { f } else { 1.0 }
                    }
                    // Subnormals only: `-127 / max` overflows.
                    1 => f32::from_bits(r as u32 & 0x807F_FFFF),
                    // Halves and small integers: exact ties for the rounding.
                    2 => ((r % 512) as f32 - 256.0) * 0.5,
                    // Mostly zero.
                    3 if !r.is_multiple_of(7) => 0.0,
                    _ => (r % 2001) as f32 / 1000.0 - 1.0,
                };
            }
            let mut out = [BlockQ8K::ZERO];
            quantize_q8k(&x, &mut out).unwrap();
            let want = reference(&x);
            assert_eq!(out[0].to_bytes(), want.to_bytes(), "case {case}: {x:?}");
        }
    }

    #[test]
    fn the_view_checks_length_and_alignment() {
        let blocks = [BlockQ8K::ZERO; 3];
        let bytes = q8k_as_bytes(&blocks);
        assert_eq!(q8k_blocks(bytes).unwrap().len(), 3);
        assert_eq!(
            q8k_blocks(&bytes[..291]),
            Err(Error::Q8KBytes {
                len: 291,
                misalignment: 0
            })
        );
        assert_eq!(
            q8k_blocks(&bytes[1..293]),
            Err(Error::Q8KBytes {
                len: 292,
                misalignment: 1
            })
        );
        let block = BlockQ8K::new(1.5, [3; 256], [48; 16]);
        assert_eq!(BlockQ8K::from(<[u8; 292]>::from(block)), block);
        assert_eq!(block.as_ref().len(), 292);
        assert_eq!(&block.as_ref()[..4], &1.5f32.to_ne_bytes());
    }
}
