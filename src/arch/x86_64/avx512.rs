//! The AVX-512F kernel: one 16-entry table per sub-block, looked up with `vpermps`.
//!
//! A 32-value sub-block has only 16 distinct outputs, `(d * sc) * k - dmin * m` for k in 0..16.
//! Each block builds its eight tables (one multiply by a precomputed row `sc * k` and one FMA
//! each; `d * (sc * k)` is `(d * sc) * k` exactly, so the fused result has the reference's
//! bits), then every 16 outputs cost a `vpermps` whose indices are the zero-extended quant
//! bytes (`vpermps` reads only the low four index bits, so the low nibble needs no mask and the
//! high nibble one shift). Shuffles (`vpermps`, the zero-extensions) are what bounds it.
//!
//! Streaming stores, and ordinary stores to an output that is not on a 32-byte boundary, land
//! on whole 64-byte lines: each vector is merged with the previous one (`vpermt2ps`) so that
//! every full store is aligned, with masked stores for the head and the tail. Ordinary stores
//! on a 32-byte boundary are stored as they are: on Zen 5 they cost no more than aligned ones,
//! while the merge costs a shuffle per vector.

use core::arch::x86_64::*;

use super::{SMALL_F32, scales_and_mins_u64};
use crate::{BLOCK_VALUES, BlockQ4K};

/// Floats per vector, and per 64-byte cache line.
const LANES: usize = 16;

/// Decodes `min(blocks.len(), out.len() / 256)` blocks into `out`, with non-temporal stores if
/// `streaming`.
///
/// # Safety
///
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn decode(blocks: &[BlockQ4K], out: &mut [f32], streaming: bool) {
    debug_assert_eq!(out.len(), blocks.len() * BLOCK_VALUES);
    let count = blocks.len().min(out.len() / BLOCK_VALUES);
    let blocks = &blocks[..count];
    let shift = (out.as_ptr() as usize % 64) / 4;
    let dst = out.as_mut_ptr();
    // Ordinary stores on a 32-byte boundary cost no more than aligned ones (measured on Zen 5),
    // so only other offsets, and streaming stores, which need alignment, are realigned.
    let shifted = shift != 0 && (streaming || !shift.is_multiple_of(LANES / 2));
    let run = match (streaming, shifted) {
        (false, false) => decode_into::<false, false>,
        (false, true) => decode_into::<false, true>,
        (true, false) => decode_into::<true, false>,
        (true, true) => decode_into::<true, true>,
    };
    // SAFETY: AVX-512F is enabled here, `dst` has room for `256 * blocks.len()` floats, and
    // when `shifted` (always when streaming to a misaligned `dst`), `shift` is `dst`'s distance
    // in floats past the previous 64-byte boundary; otherwise it is passed as 0.
    unsafe { run(blocks, dst, if shifted { shift } else { 0 }) };
    if streaming {
        // Orders the non-temporal stores before any later store, as ordinary stores are.
        _mm_sfence();
    }
}

/// The block loop, for one store kind (`STREAM`) and one output alignment (`SHIFTED`: `dst` is
/// `shift` floats past a 64-byte boundary, `shift` in 1..16; otherwise `shift` is 0).
///
/// # Safety
///
/// The CPU must support AVX-512F; `dst` must be valid for writes of `256 * blocks.len()` floats
/// and lie exactly `shift` floats past a 64-byte boundary.
#[target_feature(enable = "avx512f")]
unsafe fn decode_into<const STREAM: bool, const SHIFTED: bool>(
    blocks: &[BlockQ4K],
    dst: *mut f32,
    shift: usize,
) {
    let Some(first) = blocks.first() else {
        return;
    };
    let mut writer = Writer::<STREAM, SHIFTED>::new(dst, shift);
    // Software-pipelined: the tables of the next block are built before the current block is
    // looked up and stored, so the header's latency overlaps the stores.
    // SAFETY: AVX-512F is enabled here.
    let mut current = unsafe { tables(first) };
    // SAFETY: AVX-512F is enabled here.
    let next = unsafe { tables(blocks.get(1).unwrap_or(first)) };
    // SAFETY: AVX-512F is enabled; the writer holds room for all blocks' values.
    unsafe { decode_block::<STREAM, SHIFTED, true>(first, &current, &mut writer) };
    current = next;
    for i in 1..blocks.len() {
        let block = &blocks[i];
        // SAFETY: AVX-512F is enabled here.
        let next = unsafe { tables(blocks.get(i + 1).unwrap_or(block)) };
        // SAFETY: as above; each block writes 256 of the values the writer has room for.
        unsafe { decode_block::<STREAM, SHIFTED, false>(block, &current, &mut writer) };
        current = next;
    }
    // SAFETY: the writer has received exactly `16 * blocks.len()` vectors.
    unsafe { writer.finish() };
}

/// The eight per-sub-block tables of one block: `table[j][k] = (d * sc[j]) * k - dmin * m[j]`.
///
/// `inline(always)` without `target_feature` so that it always inlines into the block loop;
/// its caller supplies the feature.
///
/// # Safety
///
/// The CPU must support AVX-512F.
#[inline(always)]
unsafe fn tables(block: &BlockQ4K) -> [__m512; 8] {
    let (d, dmin) = block.d_dmin_bits();
    let (scales, mins) = scales_and_mins_u64(block);
    // SAFETY: the caller guarantees AVX-512F; the pointer reads are rows of `SCALED_KS`, 16
    // floats each.
    unsafe {
        let d = _mm512_cvtph_ps(_mm256_set1_epi16(d as i16));
        let dmin = _mm512_cvtph_ps(_mm256_set1_epi16(dmin as i16));
        let mut tables = [_mm512_setzero_ps(); 8];
        for (j, table) in tables.iter_mut().enumerate() {
            // `d * (sc * k)` is `(d * sc) * k` exactly (at most 21 significant bits), and
            // `dmin * m` is exact, so one rounding of their difference has the reference's
            // bits. The row and the broadcast are loads, where broadcasts from a register
            // would be shuffles, and shuffles are what this kernel is short of.
            let row = &SCALED_KS[(scales >> (8 * j)) as usize & 63];
            let min = SMALL_F32[(mins >> (8 * j)) as usize & 63];
            let scaled = _mm512_mul_ps(d, _mm512_load_ps(row.0.as_ptr()));
            *table = _mm512_fnmadd_ps(dmin, _mm512_set1_ps(min), scaled);
        }
        tables
    }
}

/// Sixteen floats on one 64-byte line.
#[repr(C, align(64))]
struct Row([f32; LANES]);

/// `SCALED_KS[sc].0[k] == (sc * k) as f32`, for every 6-bit scale and 4-bit quant.
static SCALED_KS: [Row; 64] = {
    let mut rows = [const { Row([0.0; LANES]) }; 64];
    let mut sc = 0;
    while sc < 64 {
        let mut k = 0;
        while k < LANES {
            rows[sc].0[k] = (sc * k) as f32;
            k += 1;
        }
        sc += 1;
    }
    rows
};

/// Decodes one block, whose tables are given, into the writer's next sixteen vectors; `FIRST`
/// for the first block.
///
/// # Safety
///
/// The CPU must support AVX-512F; the writer must have room for 16 more vectors.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn decode_block<const STREAM: bool, const SHIFTED: bool, const FIRST: bool>(
    block: &BlockQ4K,
    tables: &[__m512; 8],
    writer: &mut Writer<STREAM, SHIFTED>,
) {
    let quants = block.quants().as_ptr();
    for g in 0..4 {
        // SAFETY: `32 * g + 32 <= 128`, so both 16-byte loads stay inside the quants.
        let (lo, hi) = unsafe {
            (
                _mm_loadu_si128(quants.add(32 * g).cast()),
                _mm_loadu_si128(quants.add(32 * g + 16).cast()),
            )
        };
        let (lo, hi) = (_mm512_cvtepu8_epi32(lo), _mm512_cvtepu8_epi32(hi));
        let (low_table, high_table) = (tables[2 * g], tables[2 * g + 1]);
        let v0 = _mm512_permutexvar_ps(lo, low_table);
        if FIRST && g == 0 {
            // SAFETY: this is the first vector, and the writer has room for it.
            unsafe { writer.head(v0) };
        } else {
            // SAFETY: the writer has room for this vector.
            unsafe { writer.put(v0) };
        }
        // SAFETY: the writer has room for this vector.
        unsafe { writer.put(_mm512_permutexvar_ps(hi, low_table)) };
        let (lo, hi) = (_mm512_srli_epi32::<4>(lo), _mm512_srli_epi32::<4>(hi));
        // SAFETY: the writer has room for this vector.
        unsafe { writer.put(_mm512_permutexvar_ps(lo, high_table)) };
        // SAFETY: the writer has room for this vector.
        unsafe { writer.put(_mm512_permutexvar_ps(hi, high_table)) };
    }
}

/// Writes a sequence of 16-float vectors to consecutive output positions, with every full
/// store on a 64-byte boundary.
struct Writer<const STREAM: bool, const SHIFTED: bool> {
    /// Where the next full store goes (64-byte aligned when `SHIFTED` or `STREAM`).
    next: *mut f32,
    /// The previous vector (`SHIFTED` only): its last `shift` lanes are not written yet.
    previous: __m512,
    /// `vpermt2ps` indices taking the last `shift` lanes of the previous vector, then the first
    /// `16 - shift` of the new one.
    merge: __m512i,
    /// Output floats before the first 64-byte boundary (`SHIFTED` only, 1..16).
    shift: usize,
}

impl<const STREAM: bool, const SHIFTED: bool> Writer<STREAM, SHIFTED> {
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn new(dst: *mut f32, shift: usize) -> Self {
        let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        Writer {
            next: dst,
            previous: _mm512_setzero_ps(),
            merge: _mm512_add_epi32(lane, _mm512_set1_epi32((LANES - shift) as i32)),
            shift,
        }
    }

    /// Stores one full, 64-byte aligned vector (unaligned allowed when neither `STREAM` nor
    /// `SHIFTED`).
    ///
    /// # Safety
    ///
    /// AVX-512F; `self.next` valid for 16 floats (and 64-byte aligned if `STREAM`).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn store(&mut self, v: __m512) {
        if STREAM {
            // SAFETY: the caller guarantees 16 writable floats at a 64-byte aligned `next`.
            unsafe { _mm512_stream_ps(self.next, v) };
        } else if SHIFTED {
            // SAFETY: the caller guarantees 16 writable floats at a 64-byte aligned `next`.
            unsafe { _mm512_store_ps(self.next, v) };
        } else {
            // SAFETY: the caller guarantees 16 writable floats at `next`.
            unsafe { _mm512_storeu_ps(self.next, v) };
        }
        self.next = self.next.wrapping_add(LANES);
    }

    /// Takes the first vector of the output.
    ///
    /// # Safety
    ///
    /// AVX-512F; called once, first, with room for the whole output at `next`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn head(&mut self, v: __m512) {
        if SHIFTED {
            let mask: __mmask16 = (1 << (LANES - self.shift)) - 1;
            // SAFETY: writes the first `16 - shift` floats of the output only.
            unsafe { _mm512_mask_storeu_ps(self.next, mask, v) };
            self.next = self.next.wrapping_add(LANES - self.shift);
            self.previous = v;
        } else {
            // SAFETY: the output has room for this vector at `next`.
            unsafe { self.store(v) };
        }
    }

    /// Takes the next vector of the output.
    ///
    /// # Safety
    ///
    /// AVX-512F; `head` was called, and the output has room for this vector.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn put(&mut self, v: __m512) {
        if SHIFTED {
            let merged = _mm512_permutex2var_ps(self.previous, self.merge, v);
            self.previous = v;
            // SAFETY: `next` is 64-byte aligned and the output's values up to `next + 16` are
            // the last `shift` of the previous vector and the first `16 - shift` of this one.
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
    /// AVX-512F; every vector of a non-empty output has been taken.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn finish(self) {
        if SHIFTED {
            let tail = _mm512_permutex2var_ps(self.previous, self.merge, self.previous);
            let mask: __mmask16 = (1 << self.shift) - 1;
            // SAFETY: writes the last `shift` floats of the output, which start at `next`.
            unsafe { _mm512_mask_storeu_ps(self.next, mask, tail) };
        }
    }
}
