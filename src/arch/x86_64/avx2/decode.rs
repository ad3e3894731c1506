//! The AVX2 kernel (with FMA): eight values per step, zero-extend, convert, one FMA.
//!
//! `(d * sc) * q` is exact, so `fmsub(q, d * sc, dmin * m)` has the reference's bits. Ordinary
//! stores are unaligned. Streaming stores need 32-byte alignment: when the output does not
//! start on a 32-byte boundary each vector is rotated and blended with the previous one so that
//! every full store is aligned, with masked stores for the head and the tail.

use core::arch::x86_64::*;

use super::{weights, widen_group};
use crate::arch::x86_64::BlockScales;
use crate::{BLOCK_VALUES, BlockQ4K};

/// Floats per vector.
const LANES: usize = 8;

/// Decodes `min(blocks.len(), out.len() / 256)` blocks into `out`, with non-temporal stores if
/// `streaming`.
///
/// # Safety
///
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn decode(blocks: &[BlockQ4K], out: &mut [f32], streaming: bool) {
    debug_assert_eq!(out.len(), blocks.len() * BLOCK_VALUES);
    let count = blocks.len().min(out.len() / BLOCK_VALUES);
    let blocks = &blocks[..count];
    let shift = (out.as_ptr() as usize % 32) / 4;
    let dst = out.as_mut_ptr();
    // Only streaming stores need alignment: ordinary unaligned 32-byte stores cost less than
    // the rotate and blend per vector of the realigning writer (measured on Zen 5).
    let shifted = shift != 0 && streaming;
    let run = match (streaming, shifted) {
        (false, _) => decode_into::<false, false>,
        (true, false) => decode_into::<true, false>,
        (true, true) => decode_into::<true, true>,
    };
    // SAFETY: AVX2 and FMA are enabled here, `dst` has room for `256 * blocks.len()`
    // floats, and `shift` is `dst`'s distance in floats past the previous 32-byte boundary
    // (zero only if it is aligned or neither realigning nor streaming).
    unsafe { run(blocks, dst, if shifted { shift } else { 0 }) };
    if streaming {
        // Orders the non-temporal stores before any later store, as ordinary stores are.
        _mm_sfence();
    }
}

/// The block loop, for one store kind (`STREAM`) and alignment (`SHIFTED`: `dst` is `shift`
/// floats past a 32-byte boundary, `shift` in 1..8; otherwise `shift` is 0).
///
/// # Safety
///
/// The CPU must support AVX2 and FMA; `dst` must be valid for writes of
/// `256 * blocks.len()` floats, `shift` floats past a 32-byte boundary if `SHIFTED`, on one if
/// `STREAM` and not `SHIFTED`.
#[target_feature(enable = "avx2,fma")]
unsafe fn decode_into<const STREAM: bool, const SHIFTED: bool>(
    blocks: &[BlockQ4K],
    dst: *mut f32,
    shift: usize,
) {
    let Some((first, rest)) = blocks.split_first() else {
        return;
    };
    let mut writer = Writer::<STREAM, SHIFTED>::new(dst, shift);
    // SAFETY: AVX2 and FMA are enabled; the writer holds room for all blocks' values.
    unsafe { decode_block::<STREAM, SHIFTED, true>(first, &mut writer) };
    for block in rest {
        // SAFETY: as above; each block writes 256 of the values the writer has room for.
        unsafe { decode_block::<STREAM, SHIFTED, false>(block, &mut writer) };
    }
    // SAFETY: the writer has received exactly `32 * blocks.len()` vectors.
    unsafe { writer.finish() };
}

/// Decodes one block into the writer's next 32 vectors; `FIRST` for the first block.
///
/// # Safety
///
/// The CPU must support AVX2 and FMA; the writer must have room for 32 more vectors.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn decode_block<const STREAM: bool, const SHIFTED: bool, const FIRST: bool>(
    block: &BlockQ4K,
    writer: &mut Writer<STREAM, SHIFTED>,
) {
    let scales = BlockScales::new(block);
    for g in 0..4 {
        let q = widen_group(block, g);
        for half in 0..2 {
            for (c, v) in weights(&scales, q, 2 * g + half).into_iter().enumerate() {
                if FIRST && g == 0 && half == 0 && c == 0 {
                    // SAFETY: this is the first vector, and the writer has room for it.
                    unsafe { writer.head(v) };
                } else {
                    // SAFETY: the writer has room for this vector.
                    unsafe { writer.put(v) };
                }
            }
        }
    }
}

/// Writes a sequence of 8-float vectors to consecutive output positions; when `SHIFTED` every
/// full store is 32-byte aligned.
struct Writer<const STREAM: bool, const SHIFTED: bool> {
    /// Where the next full store goes.
    next: *mut f32,
    /// The previous vector rotated by `rotate` (`SHIFTED` only): its low `shift` lanes are the
    /// previous vector's last `shift` lanes, not written yet.
    previous: __m256,
    /// Rotation indices: lane `i` takes lane `(i - shift) mod 8`.
    rotate: __m256i,
    /// Sign bit set in the lanes `shift..8` that come from the new vector.
    from_new: __m256,
    /// Output floats before the first 32-byte boundary (`SHIFTED` only, 1..8).
    shift: usize,
}

impl<const STREAM: bool, const SHIFTED: bool> Writer<STREAM, SHIFTED> {
    #[target_feature(enable = "avx2")]
    #[inline]
    fn new(dst: *mut f32, shift: usize) -> Self {
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let shift_v = _mm256_set1_epi32(shift as i32);
        Writer {
            next: dst,
            previous: _mm256_setzero_ps(),
            rotate: _mm256_sub_epi32(lane, shift_v),
            from_new: _mm256_castsi256_ps(_mm256_xor_si256(
                _mm256_cmpgt_epi32(shift_v, lane),
                _mm256_set1_epi32(-1),
            )),
            shift,
        }
    }

    /// Stores one full vector at `next`.
    ///
    /// # Safety
    ///
    /// AVX; `next` valid for 8 floats, 32-byte aligned if `STREAM` or `SHIFTED`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store(&mut self, v: __m256) {
        if STREAM {
            // SAFETY: the caller guarantees 8 writable floats at a 32-byte aligned `next`.
            unsafe { _mm256_stream_ps(self.next, v) };
        } else if SHIFTED {
            // SAFETY: the caller guarantees 8 writable floats at a 32-byte aligned `next`.
            unsafe { _mm256_store_ps(self.next, v) };
        } else {
            // SAFETY: the caller guarantees 8 writable floats at `next`.
            unsafe { _mm256_storeu_ps(self.next, v) };
        }
        self.next = self.next.wrapping_add(LANES);
    }

    /// Takes the first vector of the output.
    ///
    /// # Safety
    ///
    /// AVX2; called once, first, with room for the whole output at `next`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn head(&mut self, v: __m256) {
        if SHIFTED {
            // Lanes `0..8 - shift`: those before the first 32-byte boundary.
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((LANES - self.shift) as i32), lane);
            // SAFETY: writes the first `8 - shift` floats of the output only.
            unsafe { _mm256_maskstore_ps(self.next, mask, v) };
            self.next = self.next.wrapping_add(LANES - self.shift);
            self.previous = _mm256_permutevar8x32_ps(v, self.rotate);
        } else {
            // SAFETY: the output has room for this vector at `next`.
            unsafe { self.store(v) };
        }
    }

    /// Takes the next vector of the output.
    ///
    /// # Safety
    ///
    /// AVX2; `head` was called, and the output has room for this vector.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn put(&mut self, v: __m256) {
        if SHIFTED {
            let rotated = _mm256_permutevar8x32_ps(v, self.rotate);
            let merged = _mm256_blendv_ps(self.previous, rotated, self.from_new);
            self.previous = rotated;
            // SAFETY: `next` is 32-byte aligned and the output's values up to `next + 8` are
            // the last `shift` of the previous vector and the first `8 - shift` of this one.
            unsafe { self.store(merged) };
        } else {
            // SAFETY: the output has room for this vector at `next`.
            unsafe { self.store(v) };
        }
    }

    /// Writes what is left of the last vector.
    ///
    /// # Safety
    ///
    /// AVX2; every vector of a non-empty output has been taken.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn finish(self) {
        if SHIFTED {
            // SAFETY: writes the last `shift` floats of the output, which start at `next`; the
            // mask (sign bits clear in `from_new`) selects exactly lanes `0..shift`.
            unsafe {
                _mm256_maskstore_ps(
                    self.next,
                    _mm256_xor_si256(_mm256_castps_si256(self.from_new), _mm256_set1_epi32(-1)),
                    self.previous,
                )
            };
        }
    }
}
