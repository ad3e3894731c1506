//! The SSE2 kernel, baseline on every x86_64 CPU: unpack nibbles against zero, convert,
//! multiply, subtract.
//!
//! SSE2 has neither byte shuffles nor zero-extending loads, so quants are widened with
//! `punpck*` against a zero register. The per-sub-block factors come from the scalar header
//! (no F16C here). Streaming stores need 16-byte alignment: an output that does not start on a
//! 16-byte boundary is written with each vector merged with the previous one (byte shifts by
//! the constant misalignment), plain stores for the head and tail.

use core::arch::x86_64::*;

use super::{load_group, quants, scale_and_min, weight};
use crate::arch::x86_64::BlockScales;
use crate::{BLOCK_VALUES, BlockQ4K};

/// Floats per vector.
const LANES: usize = 4;

/// Decodes `min(blocks.len(), out.len() / 256)` blocks into `out`, with non-temporal stores if
/// `streaming`.
///
/// # Safety
///
/// The CPU must support SSE2 (every x86_64 CPU does).
#[target_feature(enable = "sse2")]
pub(crate) unsafe fn decode(blocks: &[BlockQ4K], out: &mut [f32], streaming: bool) {
    debug_assert_eq!(out.len(), blocks.len() * BLOCK_VALUES);
    let count = blocks.len().min(out.len() / BLOCK_VALUES);
    let blocks = &blocks[..count];
    let dst = out.as_mut_ptr();
    let run = match (streaming, out.as_ptr() as usize % 16 / 4) {
        (false, _) => decode_into::<false, 0>,
        (true, 0) => decode_into::<true, 0>,
        (true, 1) => decode_into::<true, 1>,
        (true, 2) => decode_into::<true, 2>,
        (true, _) => decode_into::<true, 3>,
    };
    // SAFETY: SSE2 is enabled here, `dst` has room for `256 * blocks.len()` floats, and when
    // streaming the chosen `SHIFT` is `dst`'s distance in floats past a 16-byte boundary.
    unsafe { run(blocks, dst) };
    if streaming {
        // Orders the non-temporal stores before any later store, as ordinary stores are.
        _mm_sfence();
    }
}

/// The block loop, for one store kind (`STREAM`) and, when streaming, one misalignment
/// (`SHIFT`: `dst` is `SHIFT` floats past a 16-byte boundary).
///
/// # Safety
///
/// The CPU must support SSE2; `dst` must be valid for writes of `256 * blocks.len()` floats and,
/// if `STREAM`, lie exactly `SHIFT` floats past a 16-byte boundary.
#[target_feature(enable = "sse2")]
unsafe fn decode_into<const STREAM: bool, const SHIFT: usize>(blocks: &[BlockQ4K], dst: *mut f32) {
    let Some((first, rest)) = blocks.split_first() else {
        return;
    };
    let mut writer = Writer::<STREAM, SHIFT> {
        next: dst,
        previous: _mm_setzero_si128(),
    };
    // SAFETY: SSE2 is enabled; the writer holds room for all blocks' values.
    unsafe { decode_block::<STREAM, SHIFT, true>(first, &mut writer) };
    for block in rest {
        // SAFETY: as above; each block writes 256 of the values the writer has room for.
        unsafe { decode_block::<STREAM, SHIFT, false>(block, &mut writer) };
    }
    // SAFETY: the writer has received exactly `64 * blocks.len()` vectors.
    unsafe { writer.finish() };
}

/// Decodes one block into the writer's next 64 vectors; `FIRST` for the first block.
///
/// # Safety
///
/// The CPU must support SSE2; the writer must have room for 64 more vectors.
#[target_feature(enable = "sse2")]
#[inline]
unsafe fn decode_block<const STREAM: bool, const SHIFT: usize, const FIRST: bool>(
    block: &BlockQ4K,
    writer: &mut Writer<STREAM, SHIFT>,
) {
    let scales = BlockScales::new(block);
    for g in 0..4 {
        let bytes = load_group(block, g);
        for half in 0..2 {
            let j = 2 * g + half;
            let scale_min = scale_and_min(&scales, j);
            for (c, &bytes) in bytes.iter().enumerate() {
                for (k, v) in quants(bytes, j)
                    .map(|q| weight(q, scale_min))
                    .into_iter()
                    .enumerate()
                {
                    if FIRST && j == 0 && c == 0 && k == 0 {
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
}

/// Writes a sequence of 4-float vectors to consecutive output positions; when streaming,
/// every full store is 16-byte aligned.
struct Writer<const STREAM: bool, const SHIFT: usize> {
    /// Where the next full store goes.
    next: *mut f32,
    /// The previous vector (`SHIFT > 0` only): its last `SHIFT` lanes are not written yet.
    previous: __m128i,
}

impl<const STREAM: bool, const SHIFT: usize> Writer<STREAM, SHIFT> {
    /// Stores one full vector at `next`.
    ///
    /// # Safety
    ///
    /// SSE2; `next` valid for 4 floats, 16-byte aligned if `STREAM`.
    #[target_feature(enable = "sse2")]
    #[inline]
    unsafe fn store(&mut self, v: __m128) {
        if STREAM {
            // SAFETY: the caller guarantees 4 writable floats at a 16-byte aligned `next`.
            unsafe { _mm_stream_ps(self.next, v) };
        } else {
            // SAFETY: the caller guarantees 4 writable floats at `next`.
            unsafe { _mm_storeu_ps(self.next, v) };
        }
        self.next = self.next.wrapping_add(LANES);
    }

    /// Writes the first `N` lanes of `v` at `next` with scalar stores.
    ///
    /// # Safety
    ///
    /// SSE2; `next` valid for `N <= 4` floats.
    #[target_feature(enable = "sse2")]
    #[inline]
    unsafe fn store_first<const N: usize>(&mut self, v: __m128) {
        let mut lanes = [0f32; LANES];
        // SAFETY: `lanes` holds exactly 4 floats.
        unsafe { _mm_storeu_ps(lanes.as_mut_ptr(), v) };
        for (i, lane) in lanes.into_iter().take(N).enumerate() {
            // SAFETY: `i < N` and the caller guarantees `N` writable floats at `next`.
            unsafe { self.next.add(i).write(lane) };
        }
        self.next = self.next.wrapping_add(N);
    }

    /// Takes the first vector of the output.
    ///
    /// # Safety
    ///
    /// SSE2; called once, first, with room for the whole output at `next`.
    #[target_feature(enable = "sse2")]
    #[inline]
    unsafe fn head(&mut self, v: __m128) {
        match SHIFT {
            0 => {
                // SAFETY: the output has room for this vector at `next`.
                unsafe { self.store(v) }
            }
            1 => {
                // SAFETY: the output has room for its first `4 - SHIFT` = 3 floats.
                unsafe { self.store_first::<3>(v) }
            }
            2 => {
                // SAFETY: the output has room for its first `4 - SHIFT` = 2 floats.
                unsafe { self.store_first::<2>(v) }
            }
            _ => {
                // SAFETY: the output has room for its first `4 - SHIFT` = 1 float.
                unsafe { self.store_first::<1>(v) }
            }
        }
        self.previous = _mm_castps_si128(v);
    }

    /// Takes the next vector of the output.
    ///
    /// # Safety
    ///
    /// SSE2; `head` was called, and the output has room for this vector.
    #[target_feature(enable = "sse2")]
    #[inline]
    unsafe fn put(&mut self, v: __m128) {
        let v = _mm_castps_si128(v);
        // The last `SHIFT` lanes of the previous vector, then the first `4 - SHIFT` of this one.
        let merged = match SHIFT {
            0 => v,
            1 => _mm_or_si128(_mm_srli_si128::<12>(self.previous), _mm_slli_si128::<4>(v)),
            2 => _mm_or_si128(_mm_srli_si128::<8>(self.previous), _mm_slli_si128::<8>(v)),
            _ => _mm_or_si128(_mm_srli_si128::<4>(self.previous), _mm_slli_si128::<12>(v)),
        };
        self.previous = v;
        // SAFETY: `next` has room for 4 floats and, when streaming, is 16-byte aligned (`dst`
        // was, or the head moved `next` `4 - SHIFT` floats on, onto a 16-byte boundary).
        unsafe { self.store(_mm_castsi128_ps(merged)) };
    }

    /// Writes what is left of the last vector.
    ///
    /// # Safety
    ///
    /// SSE2; every vector of a non-empty output has been taken.
    #[target_feature(enable = "sse2")]
    #[inline]
    unsafe fn finish(mut self) {
        let previous = self.previous;
        match SHIFT {
            0 => {}
            1 => {
                let tail = _mm_castsi128_ps(_mm_srli_si128::<12>(previous));
                // SAFETY: the last `SHIFT` = 1 float of the output starts at `next`.
                unsafe { self.store_first::<1>(tail) }
            }
            2 => {
                let tail = _mm_castsi128_ps(_mm_srli_si128::<8>(previous));
                // SAFETY: the last `SHIFT` = 2 floats of the output start at `next`.
                unsafe { self.store_first::<2>(tail) }
            }
            _ => {
                let tail = _mm_castsi128_ps(_mm_srli_si128::<4>(previous));
                // SAFETY: the last `SHIFT` = 3 floats of the output start at `next`.
                unsafe { self.store_first::<3>(tail) }
            }
        }
    }
}
