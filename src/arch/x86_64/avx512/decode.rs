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
//! on whole 64-byte lines: each aligned vector is looked up directly from quant bytes loaded
//! that many bytes early, a vector spanning two sub-blocks from both tables at once
//! (`vpermt2ps`), with masked stores for the head and the tail. Ordinary stores
//! on a 32-byte boundary are stored as they are: on Zen 5 they cost no more than aligned ones,
//! while the merge costs a shuffle per vector.

use core::arch::x86_64::*;

use crate::arch::x86_64::{SMALL_F32, scales_and_mins_u64};
use crate::{BLOCK_BYTES, BLOCK_VALUES, BlockQ4K};

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
    // SAFETY: AVX-512F is enabled here and `dst` has room for `256 * blocks.len()` floats.
    // When `shifted` (always when streaming to a misaligned `dst`), `shift` is `dst`'s distance
    // in floats past the previous 64-byte boundary, as `decode_shifted` needs; otherwise `dst`
    // is 64-byte aligned whenever `streaming`, as `decode_into::<true>` needs.
    unsafe {
        match (streaming, shifted) {
            (false, false) => decode_into::<false>(blocks, dst),
            (false, true) => decode_shifted::<false>(blocks, dst, shift),
            (true, false) => decode_into::<true>(blocks, dst),
            (true, true) => decode_shifted::<true>(blocks, dst, shift),
        }
    }
    if streaming {
        // Orders the non-temporal stores before any later store, as ordinary stores are.
        _mm_sfence();
    }
}

/// The block loop for an output whose vectors are stored where they are: 64-byte aligned for
/// streaming stores, anywhere for ordinary ones.
///
/// # Safety
///
/// The CPU must support AVX-512F; `dst` must be valid for writes of `256 * blocks.len()` floats,
/// and 64-byte aligned if `STREAM`.
#[target_feature(enable = "avx512f")]
unsafe fn decode_into<const STREAM: bool>(blocks: &[BlockQ4K], dst: *mut f32) {
    let Some((last, _)) = blocks.split_last() else {
        return;
    };
    // Software-pipelined: the tables of the next block are built before the current block is
    // looked up and stored, so the header's latency overlaps the stores.
    // SAFETY: AVX-512F is enabled here.
    let mut current = unsafe { tables(&blocks[0]) };
    for i in 1..blocks.len() {
        // SAFETY: AVX-512F is enabled here.
        let next = unsafe { tables(&blocks[i]) };
        // SAFETY: AVX-512F is enabled; block `i - 1`'s 256 values lie inside the caller's
        // `256 * blocks.len()` floats at `dst`, which keep the alignment `STREAM` needs.
        unsafe {
            decode_block::<STREAM>(&blocks[i - 1], &current, dst.add((i - 1) * BLOCK_VALUES))
        };
        current = next;
    }
    let end = (blocks.len() - 1) * BLOCK_VALUES;
    // SAFETY: as above, for the last block's 256 values.
    unsafe { decode_block::<STREAM>(last, &current, dst.add(end)) };
}

/// The block loop for an output `shift` floats (1..16) past a 64-byte boundary.
///
/// Each aligned output vector is looked up directly: its quant indices are zero-extended from
/// bytes loaded `shift` bytes early, and a vector that spans two sub-blocks takes its first
/// `shift` lanes from the earlier one's table and the rest from the later one's (`vpermt2ps`,
/// whose index bit 4 picks the table). That costs about one shuffle per vector, where looking
/// up aligned vectors and then realigning them costs two.
///
/// # Safety
///
/// The CPU must support AVX-512F; `dst` must be valid for writes of `256 * blocks.len()` floats
/// and lie exactly `shift` floats, 1..16, past a 64-byte boundary.
#[target_feature(enable = "avx512f")]
unsafe fn decode_shifted<const STREAM: bool>(blocks: &[BlockQ4K], dst: *mut f32, shift: usize) {
    let Some(first) = blocks.first() else {
        return;
    };
    // Lanes `shift..16` of a vector that spans two sub-blocks belong to the later one.
    let later: __mmask16 = !((1 << shift) - 1);
    let earlier: __mmask16 = !later;
    let bit4 = _mm512_set1_epi32(16);
    let select = _mm512_maskz_mov_epi32(later, bit4);
    // Aligned vector `m` of block `b` holds values `256 * b + 16 * m - shift ..` and is stored
    // at `base + 256 * b + 16 * m`.
    let mut base = dst.wrapping_sub(shift);
    let store = |at: *mut f32, v: __m512| {
        if STREAM {
            // SAFETY: `at` is 64-byte aligned and its 16 floats are all in the output.
            unsafe { _mm512_stream_ps(at, v) };
        } else {
            // SAFETY: as above.
            unsafe { _mm512_store_ps(at, v) };
        }
    };
    // The first vector spans the previous block's last sub-block (table `previous_last`,
    // indices `previous_end`) and this one's first; for the first block, only its lanes
    // `shift..16` are stored.
    let mut previous_last = _mm512_setzero_ps();
    let mut previous_end = _mm512_setzero_si512();
    // The last block's quants are read from a copy followed by padding: the loads run up to
    // 16 bytes past a block's end.
    let mut padded = [0u8; BLOCK_BYTES + 16];
    // SAFETY: AVX-512F is enabled here.
    let mut current = unsafe { tables(first) };
    for (i, block) in blocks.iter().enumerate() {
        // The next block's tables, built early to overlap their latency; none after the last.
        // SAFETY: AVX-512F is enabled here (closures inherit the function's target features).
        let next = blocks.get(i + 1).map(|next| unsafe { tables(next) });
        let start = if i + 1 < blocks.len() {
            blocks.as_ptr().cast::<u8>().wrapping_add(BLOCK_BYTES * i)
        } else {
            padded[..BLOCK_BYTES].copy_from_slice(&block.to_bytes());
            padded.as_ptr()
        };
        // The quants start 16 bytes into the block and `shift < 16`, so the loads below, of
        // bytes `quants - shift .. quants + 144 - shift`, stay inside the block and the 16
        // bytes after it (the next block, or the padding); bytes outside the quants land only
        // in lanes that are not used.
        let quants = start.wrapping_add(BLOCK_BYTES - 128 - shift);
        // SAFETY: `offset + 16 <= 144`, inside the block and the 16 bytes after it.
        let load = |offset: usize| unsafe {
            _mm512_cvtepu8_epi32(_mm_loadu_si128(quants.add(offset).cast()))
        };
        // `starts[g]` lane `l` is quant byte `32 * g - shift + l`.
        let starts = [load(0), load(32), load(64), load(96), load(128)];
        for j in 0..8 {
            let g = j / 2;
            let (index, low_table) = if j == 0 {
                (
                    _mm512_mask_srli_epi32::<4>(starts[0], earlier, previous_end),
                    previous_last,
                )
            } else if j % 2 == 0 {
                (
                    _mm512_mask_srli_epi32::<4>(starts[g], earlier, starts[g]),
                    current[j - 1],
                )
            } else {
                (
                    _mm512_mask_srli_epi32::<4>(starts[g + 1], later, starts[g]),
                    current[j - 1],
                )
            };
            // `(index & !16) | select`: bit 4 picks the later sub-block's table.
            let index = _mm512_ternarylogic_epi32::<0xBA>(index, bit4, select);
            let spanning = _mm512_permutex2var_ps(low_table, index, current[j]);
            if i == 0 && j == 0 {
                // SAFETY: writes lanes `shift..16`, the first `16 - shift` output floats.
                unsafe { _mm512_mask_storeu_ps(base, later, spanning) };
            } else {
                store(base, spanning);
            }
            let middle = load(32 * g + 16);
            let middle = if j % 2 == 0 {
                middle
            } else {
                _mm512_srli_epi32::<4>(middle)
            };
            store(
                base.wrapping_add(LANES),
                _mm512_permutexvar_ps(middle, current[j]),
            );
            base = base.wrapping_add(2 * LANES);
        }
        previous_last = current[7];
        previous_end = starts[4];
        if let Some(next) = next {
            current = next;
        }
    }
    let tail = _mm512_permutexvar_ps(_mm512_srli_epi32::<4>(previous_end), previous_last);
    // SAFETY: writes lanes `0..shift`, the last `shift` output floats.
    unsafe { _mm512_mask_storeu_ps(base, earlier, tail) };
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
pub(crate) unsafe fn tables(block: &BlockQ4K) -> [__m512; 8] {
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

/// Decodes one block, whose tables are given, into the 256 floats at `dst`.
///
/// # Safety
///
/// The CPU must support AVX-512F; `dst` must be valid for writes of 256 floats, and 64-byte
/// aligned if `STREAM`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn decode_block<const STREAM: bool>(block: &BlockQ4K, tables: &[__m512; 8], dst: *mut f32) {
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
        let (lo_nibbles, hi_nibbles) = (_mm512_srli_epi32::<4>(lo), _mm512_srli_epi32::<4>(hi));
        let vectors = [
            _mm512_permutexvar_ps(lo, low_table),
            _mm512_permutexvar_ps(hi, low_table),
            _mm512_permutexvar_ps(lo_nibbles, high_table),
            _mm512_permutexvar_ps(hi_nibbles, high_table),
        ];
        for (k, v) in vectors.into_iter().enumerate() {
            // SAFETY: `64 * g + 16 * k + 16 <= 256` floats from `dst`, which the caller
            // guarantees writable (and 64-byte aligned if `STREAM`, as is every 16th float).
            unsafe { store::<STREAM>(dst.add(64 * g + LANES * k), v) };
        }
    }
}

/// One 16-float store: non-temporal (`dst` 64-byte aligned) if `STREAM`, else unaligned.
///
/// # Safety
///
/// The CPU must support AVX-512F; `dst` must be valid for writes of 16 floats, and 64-byte
/// aligned if `STREAM`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn store<const STREAM: bool>(dst: *mut f32, v: __m512) {
    if STREAM {
        // SAFETY: the caller guarantees 16 writable floats at a 64-byte aligned `dst`.
        unsafe { _mm512_stream_ps(dst, v) };
    } else {
        // SAFETY: the caller guarantees 16 writable floats at `dst`.
        unsafe { _mm512_storeu_ps(dst, v) };
    }
}
