//! The AVX-512 dot-product kernel, with VNNI: per 64 weight bytes one lane-transposing
//! permutation (a single `vpermb` with AVX512-VBMI and GFNI, else `vpermd` and `vpshufb`), the
//! nibbles (the high ones with one `vgf2p8affineqb` when GFNI is there), `vpdpbusd`
//! against the prepared activations (each dword is then one sub-block's exact sum for one
//! lane), one `vpermt2w` that pairs each low-nibble sub-block's sums with its high-nibble
//! neighbour's as the two words of a dword (both fit in 16 bits), and one `vpdpwssd` that
//! weights both by their scales.
//!
//! The activations come from the prepared buffer of `arch::prepared` or, for single rows and
//! rows of more than `DIRECT_MIN_ROW_BLOCKS` blocks, straight from the caller's blocks,
//! rearranged in registers once for eight rows multiplied side by side (`direct`).
//!
//! Needs AVX-512F, AVX-512BW and AVX512-VNNI (detected by the dispatch); the eight float lanes
//! of the reference are the low `__m256` half, a multiply then an add per block, as in the C.

use core::arch::x86_64::*;

use crate::arch::prepared::{self, Prefetch, Prepared, RowState};
use crate::arch::x86_64::avx2::dot::{
    BlockMins, d_dmin, dword_order, min_sum, min_sum_pairs, transpose_sub_block,
};
use crate::arch::x86_64::{DotPrefetch, next_group_skip, prefetch_weights, scales_and_mins_u64};
use crate::{BlockQ4K, BlockQ8K};

/// `out[r] = dot(row r, activations)` for the rows of `activations.len()` blocks in `weights`.
///
/// # Safety
///
/// The CPU must support AVX-512F, AVX-512BW and AVX512-VNNI; `weights` must hold `out.len()`
/// whole rows.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(crate) unsafe fn matvec(weights: &[BlockQ4K], activations: &[BlockQ8K], out: &mut [f32]) {
    if prepared::takes_direct(activations, out) {
        // SAFETY: as this function's.
        unsafe { direct::<false>(weights, activations, out) };
        return;
    }
    let order = dword_order();
    prepared::matvec(
        weights,
        activations,
        out,
        DotPrefetch::for_this_cpu().one_row,
        |s, d| transpose_sub_block(s, d, order),
        |row, prepared, state| {
            // SAFETY: AVX-512F, BW and VNNI are enabled in the enclosing function.
            unsafe { blocks::<false>(row, prepared, state) }
        },
    );
}

/// [`matvec`] with one `vpermb` in place of two shuffles, and one `vgf2p8affineqb` in place
/// of a shift and a mask, per 64 weight bytes.
///
/// # Safety
///
/// The CPU must support AVX-512F, AVX-512BW, AVX512-VNNI, AVX512-VBMI and GFNI; `weights` must
/// hold `out.len()` whole rows.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(crate) unsafe fn matvec_vbmi_gfni(
    weights: &[BlockQ4K],
    activations: &[BlockQ8K],
    out: &mut [f32],
) {
    if prepared::takes_direct(activations, out) {
        // SAFETY: as this function's.
        unsafe { direct::<true>(weights, activations, out) };
        return;
    }
    let order = dword_order();
    prepared::matvec(
        weights,
        activations,
        out,
        DotPrefetch::for_this_cpu().one_row,
        |s, d| transpose_sub_block(s, d, order),
        |row, prepared, state| {
            // SAFETY: AVX-512F, BW and VNNI are enabled in the enclosing function, and its caller
            // guarantees AVX512-VBMI and GFNI.
            unsafe { blocks::<true>(row, prepared, state) }
        },
    );
}

/// Rows multiplied side by side by [`direct`], sharing each activation block. At 256 MiB on
/// Zen 4, rows of 28672 values: 8 rows 13.6-17.6 GB/s, 4 rows 13.5, 2 rows 10.8, 16 rows 7.6
/// (their accumulators no longer fit in the registers).
const DIRECT_ROWS: usize = 8;

/// The rows, [`DIRECT_ROWS`] at a time, with each activation block put in the prepared order
/// in registers (with `VBMI_GFNI` two `vpermt2b` per 128 bytes, else two `vpermt2d` and two
/// `vpshufb`) and its min-sum terms ([`BlockMins`]) once for all of them, instead of through
/// the prepared buffer.
///
/// Rows side by side prefetch as [`DotPrefetch`] says for this CPU (on Zen 4 not at all: there
/// it slowed the reads at DRAM sizes).
///
/// # Safety
///
/// The CPU must support AVX-512F, AVX-512BW and AVX512-VNNI, and AVX512-VBMI and GFNI if
/// `VBMI_GFNI`; `weights` must hold `out.len()` whole rows.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn direct<const VBMI_GFNI: bool>(
    weights: &[BlockQ4K],
    activations: &[BlockQ8K],
    out: &mut [f32],
) {
    let order = |table: &[[u8; 64]; 2]| {
        // SAFETY: each table is two arrays of 64 readable bytes.
        table.map(|t| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) })
    };
    let [low_order, high_order] = order(if VBMI_GFNI { &SLOT_ORDER } else { &SLOT_DWORDS });
    let byte_order = transpose_4x4_bytes();
    // Sub-blocks `2k` and `2k + 2` (`order = low_order`) or `2k + 1` and `2k + 3`
    // (`high_order`) of the 128 bytes `a`, `b`, each transposed.
    let to_slots = |a: __m512i, b: __m512i, order: __m512i| {
        if VBMI_GFNI {
            let t;
            // SAFETY: `vpermt2b` only reads and writes these registers; the caller guarantees
            // AVX512-VBMI when `VBMI_GFNI`.
            unsafe {
                core::arch::asm!(
                    "vpermt2b {t}, {order}, {b}",
                    t = inout(zmm_reg) a => t,
                    order = in(zmm_reg) order,
                    b = in(zmm_reg) b,
                    options(pure, nomem, nostack, preserves_flags),
                );
            }
            t
        } else {
            _mm512_shuffle_epi8(_mm512_permutex2var_epi32(a, order, b), byte_order)
        }
    };
    // The four vectors of a block in the prepared order from its quants (see `blocks_of`).
    let slots = |y: &BlockQ8K, half: usize| {
        // SAFETY: the quants are 256 readable bytes, and `half < 2`.
        let [a, b] = unsafe {
            let q8 = y.quants().as_ptr().add(128 * half);
            [
                _mm512_loadu_si512(q8.cast()),
                _mm512_loadu_si512(q8.add(64).cast()),
            ]
        };
        (to_slots(a, b, low_order), to_slots(a, b, high_order))
    };
    // Several rows share each block's rearranged quants and the test for exact 16-bit
    // sub-block sums; one row rearranges them half by half and takes the block sums as they
    // are.
    let shared = (
        |y: &BlockQ8K| ([slots(y, 0), slots(y, 1)], BlockMins::new(y)),
        |_: &BlockQ8K, p: &([(__m512i, __m512i); 2], BlockMins), half: usize| p.0[half],
        |y: &BlockQ8K, p: &([(__m512i, __m512i); 2], BlockMins), mins: u64| p.1.min_sum(y, mins),
    );
    let own = (
        |_: &BlockQ8K| (),
        |y: &BlockQ8K, _: &(), half: usize| slots(y, half),
        // SAFETY: AVX2 is enabled here (implied by AVX-512F).
        |y: &BlockQ8K, _: &(), mins: u64| unsafe { min_sum(mins, y.block_sums()) },
    );
    let prefetch = DotPrefetch::for_this_cpu();
    prepared::direct::<DIRECT_ROWS>(
        weights,
        activations,
        out,
        // SAFETY: the caller's guarantees are the kernel's; `rows` is `DIRECT_ROWS` rows of
        // `activations.len()` blocks, and `ys` their results.
        |rows, ys| unsafe {
            let prefetch = prefetch.side_by_side;
            rows_into::<VBMI_GFNI, DIRECT_ROWS, _>(rows, activations, ys, prefetch, shared)
        },
        // SAFETY: as above, with one row.
        |row, y| unsafe {
            let y = core::slice::from_mut(y);
            rows_into::<VBMI_GFNI, 1, _>(row, activations, y, prefetch.one_row, own)
        },
    );
}

/// `ys[r] = dot(row r of rows, activations)` for `R` rows by [`blocks_of`], with `parts` its
/// `prep`, `q8` and `min_sum`.
///
/// # Safety
///
/// As [`blocks_of`]; `ys.len()` must be `R`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn rows_into<const VBMI_GFNI: bool, const R: usize, P>(
    rows: &[BlockQ4K],
    activations: &[BlockQ8K],
    ys: &mut [f32],
    prefetch: Prefetch,
    (prep, q8, min_sum): (
        impl Fn(&BlockQ8K) -> P,
        impl Fn(&BlockQ8K, &P, usize) -> (__m512i, __m512i),
        impl Fn(&BlockQ8K, &P, u64) -> i32,
    ),
) {
    let mut states = [RowState::new(prefetch); R];
    // SAFETY: the caller's guarantees are `blocks_of`'s.
    unsafe {
        blocks_of::<VBMI_GFNI, R, _, _>(rows, activations, &mut states, prep, q8, min_sum, |y| {
            y.d()
        })
    };
    for (y, state) in ys.iter_mut().zip(&states) {
        *y = state.finish();
    }
}

/// The `vpermt2b` indices that give [`direct`] the prepared order from 128 bytes of
/// quants `a` (indices 0..64) and `b` (64..128): sub-blocks 0 and 2 of the four transposed
/// (`[l][c]`, see `prepared`), then sub-blocks 1 and 3.
static SLOT_ORDER: [[u8; 64]; 2] = {
    let mut order = [[0u8; 64]; 2];
    let mut i = 0;
    while i < 64 {
        // Byte `4l + c` of a transposed sub-block is its value `8c + l`.
        let (l, c) = ((i % 32) / 4, i % 4);
        let from = 8 * c + l;
        // Sub-block 2k + high (k = 0 for the first 32 bytes) starts at byte 64k + 32 high.
        order[0][i] = (64 * (i / 32) + from) as u8;
        order[1][i] = (64 * (i / 32) + 32 + from) as u8;
        i += 1;
    }
    order
};

/// The `vpermt2d` indices that, followed by the 4x4 byte transposition of each 128 bits, do
/// what [`SLOT_ORDER`] does without AVX512-VBMI (dwords 0..16 from `a`, 16..32 from `b`), as
/// bytes: lanes 0..4 of a sub-block (dwords 0, 2, 4, 6 of it) then lanes 4..8 (1, 3, 5, 7).
static SLOT_DWORDS: [[u8; 64]; 2] = {
    let mut order = [[0u8; 64]; 2];
    let mut i = 0;
    while i < 16 {
        // Output dword i: sub-block 2k + high starts at dword 16k + 8 high.
        let (k, j) = (i / 8, i % 8);
        let dword = 16 * k + 2 * (j % 4) + j / 4;
        let low = (dword as u32).to_le_bytes();
        let high = (dword as u32 + 8).to_le_bytes();
        let mut b = 0;
        while b < 4 {
            order[0][4 * i + b] = low[b];
            order[1][4 * i + b] = high[b];
            b += 1;
        }
        i += 1;
    }
    order
};

/// The block loop of one row over matching chunks of weights and prepared activations; with
/// `VBMI_GFNI`, the lane transposition is one `vpermb` and the high nibbles one
/// `vgf2p8affineqb` (inline assembly: neither is in the target features of this function).
///
/// # Safety
///
/// The CPU must support AVX-512F, AVX-512BW and AVX512-VNNI, and AVX512-VBMI and GFNI if
/// `VBMI_GFNI`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn blocks<const VBMI_GFNI: bool>(
    row: &[BlockQ4K],
    prepared: &[Prepared],
    state: &mut RowState,
) {
    let q8 = |y: &Prepared, _: &(), half: usize| {
        // SAFETY: the prepared quants are 256 readable bytes, 64-byte aligned; this reads
        // slots 4 * half .. 4 * half + 4 (`half < 2`).
        unsafe {
            let q8 = y.qs.as_ptr().add(128 * half);
            (
                _mm512_load_si512(q8.cast()),
                _mm512_load_si512(q8.add(64).cast()),
            )
        }
    };
    // Exact sub-block sums where the block has them. A test per block measured faster here
    // than one loop per case; in the AVX2 kernel, which has half the registers, it spilled
    // the accumulators, so that kernel runs one loop per chunk instead.
    let sum_of_mins = |y: &Prepared, mins: u64| {
        if y.pairs_exact {
            min_sum_pairs(mins, &y.pair_sums)
        } else {
            // SAFETY: AVX2 is enabled here (implied by AVX-512F).
            unsafe { min_sum(mins, &y.bsums) }
        }
    };
    let mut states = [*state];
    // SAFETY: the caller's guarantees are this function's, and `row` is as long as `prepared`.
    unsafe {
        blocks_of::<VBMI_GFNI, 1, _, _>(
            row,
            prepared,
            &mut states,
            |_| (),
            q8,
            |y, (), mins| sum_of_mins(y, mins),
            |y| y.d,
        )
    };
    *state = states[0];
}

/// [`blocks`] over activations of any form, for `R` rows at once: `rows` holds `R` rows of
/// `activations.len()` blocks back to back, and `states[r]` is row `r`'s state. For each
/// activation block `y`, `prep(y)` and `d(y)` (the scale) run once for all `R` rows; then, with
/// `p = prep(y)`, `q8(y, &p, half)` gives the quants of sub-blocks `4 * half .. 4 * half + 4`
/// in the prepared order (slots `4 * half`, `4 * half + 1`, then `4 * half + 2`,
/// `4 * half + 3`) and `min_sum(y, &p, mins)` the exact `Σ bsums[k] * mins[k / 2]`.
///
/// # Safety
///
/// As [`blocks`]. `rows` should be `R * activations.len()` blocks; shorter, nothing is done.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn blocks_of<const VBMI_GFNI: bool, const R: usize, Y, P>(
    rows: &[BlockQ4K],
    activations: &[Y],
    states: &mut [RowState; R],
    prep: impl Fn(&Y) -> P,
    q8: impl Fn(&Y, &P, usize) -> (__m512i, __m512i),
    min_sum: impl Fn(&Y, &P, u64) -> i32,
    d: impl Fn(&Y) -> f32,
) {
    let n = activations.len();
    // Plain loops: `array::from_fn` here was left out of line, a call per row.
    let mut sums = [_mm256_setzero_ps(); R];
    let mut sumf = [0f32; R];
    for ((sums, sumf), state) in sums.iter_mut().zip(&mut sumf).zip(&*states) {
        // SAFETY: `state.sums` is eight readable floats.
        *sums = unsafe { _mm256_loadu_ps(state.sums.as_ptr()) };
        *sumf = state.sumf;
    }
    let prefetch = states[0].prefetch;
    let low_nibbles = _mm512_set1_epi8(0x0F);
    // In each 256-bit half: dwords 0, 2, 4, 6 to its low 128 bits, 1, 3, 5, 7 to its high.
    // Opaque to the compiler, which would otherwise rewrite the two shuffles below into four.
    let dword_order = core::hint::black_box(_mm512_setr_epi32(
        0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15,
    ));
    let byte_order = transpose_4x4_bytes();
    // Byte `32h + 4l + c` of the result is byte `32h + 8c + l` of the weights: the same order
    // as the two shuffles, in one.
    // SAFETY: `VBMI_ORDER` is 64 readable bytes.
    let vbmi_order = unsafe { _mm512_loadu_si512(VBMI_ORDER.as_ptr().cast()) };
    // The GF(2) affine map `x >> 4` on each byte: result bit `i` is the parity of
    // `x & matrix byte 7 - i`, so bytes 7, 6, 5, 4 pick bits 4, 5, 6, 7 and the rest is zero.
    let shift_right_4 = _mm512_set1_epi64(0x1020_4080_0000_0000);
    // Which scale pair each dword takes: (0, 1) and (2, 3), then (4, 5) and (6, 7).
    let pair = |a: i32, b: i32| _mm512_setr_epi32(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b);
    let scale_order = [pair(0, 1), pair(2, 3)];
    // Word 2k of the result is word 2k of the first source (the low word of its dword k),
    // word 2k + 1 is word 2k of the second (index 32 + 2k).
    // SAFETY: `INTERLEAVE` is 64 readable bytes.
    let interleave = unsafe { _mm512_loadu_si512(INTERLEAVE.as_ptr().cast()) };
    let Some(rows) = rows.get(..R * n) else {
        return;
    };
    for (i, y) in activations.iter().enumerate() {
        let p = prep(y);
        let scale = d(y);
        let skip = next_group_skip(i, n, R);
        for r in 0..R {
            // SAFETY: `r < R` and `i < n`, so `r * n + i < R * n = rows.len()`.
            let x = unsafe { rows.get_unchecked(r * n + i) };
            prefetch_weights(x, prefetch, skip);
            let (scales, mins) = scales_and_mins_u64(x);
            // The scales as words: dword `j` is the pair of sub-blocks `2j`, `2j + 1`.
            let scales =
                _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(scales as i64)));
            let mut aux = _mm512_setzero_si512();
            for (half, &order) in scale_order.iter().enumerate() {
                // SAFETY: bytes `64 * half .. 64 * half + 64` of the 128 quant bytes are
                // readable.
                let raw = unsafe { _mm512_loadu_si512(x.quants().as_ptr().add(64 * half).cast()) };
                let (low, high) = if VBMI_GFNI {
                    let (t, high);
                    // SAFETY: `vpermb` and `vgf2p8affineqb` only read and write these
                    // registers; the caller guarantees AVX512-VBMI and GFNI when `VBMI_GFNI`.
                    unsafe {
                        core::arch::asm!(
                            "vpermb {t}, {order}, {raw}",
                            "vgf2p8affineqb {high}, {t}, {shift}, 0",
                            t = out(zmm_reg) t,
                            high = lateout(zmm_reg) high,
                            order = in(zmm_reg) vbmi_order,
                            raw = in(zmm_reg) raw,
                            shift = in(zmm_reg) shift_right_4,
                            options(pure, nomem, nostack, preserves_flags),
                        );
                    }
                    (_mm512_and_si512(t, low_nibbles), high)
                } else {
                    let t =
                        _mm512_shuffle_epi8(_mm512_permutexvar_epi32(dword_order, raw), byte_order);
                    (
                        _mm512_and_si512(t, low_nibbles),
                        _mm512_and_si512(_mm512_srli_epi16::<4>(t), low_nibbles),
                    )
                };
                let (q8_low, q8_high) = q8(y, &p, half);
                // Each dword: one lane of a low-nibble sub-block in its lower 16 bits and of its
                // high-nibble neighbour in its upper 16 bits (each exact sum is at most
                // 4 * 15 * 128 in magnitude, so a word holds it exactly).
                let zero = _mm512_setzero_si512();
                let pair = _mm512_permutex2var_epi16(
                    _mm512_dpbusd_epi32(zero, low, q8_low),
                    interleave,
                    _mm512_dpbusd_epi32(zero, high, q8_high),
                );
                // Dwords 0-7 take sub-blocks 4 * half and 4 * half + 1, dwords 8-15 the next
                // two.
                aux = _mm512_dpwssd_epi32(aux, pair, _mm512_permutexvar_epi32(order, scales));
            }
            let aux = _mm256_add_epi32(
                _mm512_castsi512_si256(aux),
                _mm512_extracti64x4_epi64::<1>(aux),
            );
            let sumi = min_sum(y, &p, mins);
            let (d, dmin) = d_dmin(x, scale);
            sums[r] = _mm256_add_ps(
                sums[r],
                _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(aux)),
            );
            sumf[r] -= dmin * sumi as f32;
        }
    }
    for (r, state) in states.iter_mut().enumerate() {
        // SAFETY: `state.sums` is eight writable floats.
        unsafe { _mm256_storeu_ps(state.sums.as_mut_ptr(), sums[r]) };
        state.sumf = sumf[r];
    }
}

/// The `vpshufb` pattern that transposes each 128 bits as a 4x4 matrix of bytes: byte `4c + l`
/// to byte `4l + c`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
fn transpose_4x4_bytes() -> __m512i {
    _mm512_broadcast_i32x4(_mm_setr_epi8(
        0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
    ))
}

/// The `vpermt2w` indices that put the low words of two vectors' dwords side by side.
static INTERLEAVE: [u16; 32] = {
    let mut order = [0u16; 32];
    let mut w = 0;
    while w < 32 {
        order[w] = if w % 2 == 0 { w } else { 32 + w - 1 } as u16;
        w += 1;
    }
    order
};

/// The `vpermb` indices of the lane transposition (see `blocks`).
static VBMI_ORDER: [u8; 64] = {
    let mut order = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        let (h, l, c) = (i / 32, (i % 32) / 4, i % 4);
        order[i] = (32 * h + 8 * c + l) as u8;
        i += 1;
    }
    order
};

#[cfg(test)]
mod tests {
    use std::eprintln;

    use crate::arch::x86_64::tests::matches_scalar_dot;

    /// Both AVX-512 kernels (whichever the dispatch would not pick included) against the
    /// scalar one, on random blocks, in rows that fit one prepared chunk and rows that do not.
    #[test]
    #[cfg_attr(miri, ignore = "Miri does not run AVX-512")]
    fn both_avx512_kernels_match_scalar_bit_for_bit() {
        if !crate::arch::x86_64::has_avx512_vnni() {
            eprintln!("no AVX-512 VNNI: nothing to test");
            return;
        }
        // SAFETY: AVX-512 F, BW and VNNI were detected; the helper passes whole rows.
        matches_scalar_dot("vnni", 0x05EE_DD07, |w, a, o| unsafe {
            super::matvec(w, a, o)
        });
        if crate::arch::x86_64::has_avx512vbmi() && crate::arch::x86_64::has_gfni() {
            // SAFETY: as above, and AVX512-VBMI and GFNI were detected.
            matches_scalar_dot("vnni+vbmi+gfni", 0x05EE_DD07, |w, a, o| unsafe {
                super::matvec_vbmi_gfni(w, a, o)
            });
        } else {
            eprintln!("no AVX512-VBMI and GFNI: their kernel not tested");
        }
    }
}
