//! The AVX2 dot-product kernel: per 32 weight bytes one lane-transposing permutation, then
//! `vpmaddubsw` against the prepared activations and `vpmaddwd` by the sub-block scale (or, on
//! CPUs with AVX-VNNI, one `vpdpwssd` that also accumulates), which leaves each lane's exact sum
//! in its own `i32`. The f16 scales are widened with F16C, which every AVX2 CPU has (the
//! dispatch checks it).
//!
//! The activations come from the prepared buffer of `arch::prepared` or, for single rows and
//! rows of more than `DIRECT_MIN_ROW_BLOCKS` blocks, straight from the caller's blocks,
//! rearranged once per block for eight rows multiplied side by side (`direct`).
//!
//! The eight float lanes of the reference are one `__m256`: a multiply then an add per block,
//! as in the C.

use core::arch::x86_64::*;

use crate::arch::prepared::{self, Prefetch, Prepared, RowState};
use crate::arch::x86_64::{
    DotPrefetch, PREFETCH_BYTES, next_group_skip, prefetch_weights, scales_and_mins_u64, sum_i32x4,
};
use crate::{BlockQ4K, BlockQ8K};

/// `out[r] = dot(row r, activations)` for the rows of `activations.len()` blocks in `weights`;
/// with `VNNI`, each `vpmaddwd` and the add after it are one AVX-VNNI `vpdpwssd` (see
/// [`block`]).
///
/// # Safety
///
/// The CPU must support AVX2, FMA and F16C, and AVX-VNNI if `VNNI`; `weights` must hold
/// `out.len()` whole rows.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn matvec<const VNNI: bool>(
    weights: &[BlockQ4K],
    activations: &[BlockQ8K],
    out: &mut [f32],
) {
    if prepared::takes_direct(activations, out) {
        // SAFETY: as this function's.
        unsafe { direct::<VNNI>(weights, activations, out) };
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
            // SAFETY: AVX2, FMA and F16C are enabled in the enclosing function, and its caller
            // guarantees AVX-VNNI if `VNNI`.
            unsafe {
                if state.pairs_exact {
                    blocks::<true, VNNI>(row, prepared, state);
                } else {
                    blocks::<false, VNNI>(row, prepared, state);
                }
            }
        },
    );
}

/// Rows multiplied side by side by [`direct`]. At 256 MiB on Zen 4, rows of 28672 values: 8
/// rows 13.1 GB/s, 4 rows 9.4, 2 rows 8.7 (through the buffer 5.9-6.3); in cache 8 rows ran at
/// 7.75 ns a block against 7.55 through the buffer.
const DIRECT_ROWS: usize = 8;

/// The rows, [`DIRECT_ROWS`] at a time, with each activation sub-block put in the prepared
/// order in registers ([`transpose_lanes`]) once for all of them, instead of through the
/// prepared buffer. Rows side by side prefetch as [`DotPrefetch`] says for this CPU (on Zen 4
/// not at all: there it slowed the reads at DRAM sizes).
///
/// # Safety
///
/// The CPU must support AVX2, FMA and F16C, and AVX-VNNI if `VNNI`; `weights` must hold
/// `out.len()` whole rows.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn direct<const VNNI: bool>(
    weights: &[BlockQ4K],
    activations: &[BlockQ8K],
    out: &mut [f32],
) {
    let prefetch = DotPrefetch::for_this_cpu();
    prepared::direct::<DIRECT_ROWS>(
        weights,
        activations,
        out,
        // SAFETY: AVX2, FMA and F16C are enabled here, and AVX-VNNI if `VNNI` (this function's
        // caller); `rows` is `DIRECT_ROWS` rows of `activations.len()` blocks, and `ys` their
        // results.
        |rows, ys| unsafe {
            direct_rows::<DIRECT_ROWS, VNNI>(rows, activations, ys, prefetch.side_by_side)
        },
        // SAFETY: as above, with one row.
        |row, y| unsafe {
            let y = core::slice::from_mut(y);
            direct_rows::<1, VNNI>(row, activations, y, prefetch.one_row)
        },
    );
}

/// `ys[r] = dot(row r of rows, activations)` for `R` rows side by side (see [`direct`]).
///
/// # Safety
///
/// The CPU must support AVX2, FMA and F16C, and AVX-VNNI if `VNNI`. `rows` should be `R` rows of
/// `activations.len()` blocks (shorter, nothing is done) and `ys` `R` long.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn direct_rows<const R: usize, const VNNI: bool>(
    rows: &[BlockQ4K],
    activations: &[BlockQ8K],
    ys: &mut [f32],
    prefetch: Prefetch,
) {
    let n = activations.len();
    let Some(rows) = rows.get(..R * n) else {
        return;
    };
    let shuffles = Shuffles::new();
    let mut sums = [_mm256_setzero_ps(); R];
    let mut sumf = [0f32; R];
    for (i, y) in activations.iter().enumerate() {
        // The activations in the prepared order, sub-block by sub-block: the spills of these
        // eight registers are the prepared block, written once for the `R` rows.
        let mut q8 = [_mm256_setzero_si256(); 8];
        for (j, q8) in q8.iter_mut().enumerate() {
            // SAFETY: bytes `32j .. 32j + 32` of the 256 quants are readable.
            let raw = unsafe { _mm256_loadu_si256(y.quants().as_ptr().add(32 * j).cast()) };
            *q8 = transpose_lanes(raw, shuffles.dword_order);
        }
        // Several rows share the test for exact 16-bit sub-block sums; one row takes the block
        // sums as they are.
        let block_mins = (R > 1).then(|| BlockMins::new(y));
        let skip = next_group_skip::<PREFETCH_BYTES>(i, n, R);
        for r in 0..R {
            // SAFETY: `r < R` and `i < n`, so `r * n + i < R * n = rows.len()`.
            let x = unsafe { rows.get_unchecked(r * n + i) };
            prefetch_weights::<PREFETCH_BYTES>(x, prefetch, skip);
            // SAFETY: the caller guarantees AVX-VNNI if `VNNI`, and `min_sum` needs AVX2, which
            // is enabled here.
            unsafe {
                block::<VNNI>(
                    x,
                    &shuffles,
                    |g| (q8[2 * g], q8[2 * g + 1]),
                    |mins| match block_mins {
                        Some(shared) => shared.min_sum(y, mins),
                        None => min_sum(mins, y.block_sums()),
                    },
                    y.d(),
                    (&mut sums[r], &mut sumf[r]),
                )
            };
        }
    }
    for ((y, sums), sumf) in ys.iter_mut().zip(sums).zip(sumf) {
        let mut state = RowState::new(prefetch);
        // SAFETY: `state.sums` is eight writable floats.
        unsafe { _mm256_storeu_ps(state.sums.as_mut_ptr(), sums) };
        state.sumf = sumf;
        *y = state.finish();
    }
}

/// What the min sums of the rows that meet a Q8_K block share: its sub-block sums in 16 bits
/// when they fit (always, for blocks from `quantize_q8k`), as the prepared blocks carry them;
/// else the kernels use its block sums.
#[derive(Clone, Copy)]
pub(crate) struct BlockMins {
    exact: bool,
    pairs: __m128i,
}

impl BlockMins {
    /// The sub-block sums of `y`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn new(y: &BlockQ8K) -> BlockMins {
        // SAFETY: the block sums are 32 readable bytes.
        let bsums = unsafe { _mm256_loadu_si256(y.block_sums().as_ptr().cast()) };
        let pairs = _mm256_madd_epi16(bsums, _mm256_set1_epi16(1));
        // Saturating: a sum that needs 17 bits comes back different.
        let narrow = _mm_packs_epi32(
            _mm256_castsi256_si128(pairs),
            _mm256_extracti128_si256::<1>(pairs),
        );
        let same = _mm256_cmpeq_epi32(_mm256_cvtepi16_epi32(narrow), pairs);
        BlockMins {
            exact: _mm256_movemask_epi8(same) == -1,
            pairs: narrow,
        }
    }

    /// `Σ bsums[k] * mins[k / 2]` for the block `y` these sums are of, exact.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn min_sum(&self, y: &BlockQ8K, mins: u64) -> i32 {
        if self.exact {
            min_sum_pair_words(mins, self.pairs)
        } else {
            // SAFETY: AVX2 is enabled here.
            unsafe { min_sum(mins, y.block_sums()) }
        }
    }
}

/// [`prepared::transpose_sub_block`] in one `vpermd` and one `vpshufb`; `dword_order` is
/// [`dword_order`], passed through `black_box` by the caller once per call: opaque, the
/// compiler keeps the two shuffles instead of rewriting them into four.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn transpose_sub_block(src: &[i8; 32], dst: &mut [i8; 32], dword_order: __m256i) {
    // SAFETY: `src` is 32 readable bytes.
    let rows = unsafe { _mm256_loadu_si256(src.as_ptr().cast()) };
    // Dwords `2c` and `2c + 1` hold lanes 0..4 and 4..8 of chunk `c`: lanes 0..4 of the four
    // chunks to the low 128 bits, lanes 4..8 to the high.
    let rows = _mm256_permutevar8x32_epi32(rows, dword_order);
    // In each 128 bits, byte `4c + l` to byte `4l + c`.
    let order = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    let t = _mm256_shuffle_epi8(rows, _mm256_broadcastsi128_si256(order));
    // SAFETY: `dst` is 32 writable bytes.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), t) };
}

/// The dword order of [`transpose_sub_block`].
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn dword_order() -> __m256i {
    core::hint::black_box(_mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7))
}

/// The block loop of one row over matching chunks of weights and prepared activations; with
/// `PAIRS`, the min sums come from the 16-bit sub-block sums (see [`min_sum_of`]), which gives
/// the reference's bits only when every block of `prepared` has exact `pair_sums`
/// (`state.pairs_exact`).
///
/// # Safety
///
/// The CPU must support AVX2, FMA and F16C, and AVX-VNNI if `VNNI`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn blocks<const PAIRS: bool, const VNNI: bool>(
    row: &[BlockQ4K],
    prepared: &[Prepared],
    state: &mut RowState,
) {
    // SAFETY: `state.sums` is eight readable floats.
    let mut sums = unsafe { _mm256_loadu_ps(state.sums.as_ptr()) };
    let mut sumf = state.sumf;
    let shuffles = Shuffles::new();
    for (x, y) in row.iter().zip(prepared) {
        prefetch_weights::<PREFETCH_BYTES>(x, state.prefetch, 0);
        let q8 = |g: usize| {
            // Sub-block 2g is in the low nibbles, 2g + 1 in the high ones (slots as in
            // `prepared`: 2g + 1 sits two slots after 2g).
            let slot = (g / 2) * 4 + g % 2;
            // SAFETY: slots `slot` and `slot + 2` are 32-byte aligned (the block is 64-byte
            // aligned) and inside its 256 quants.
            unsafe {
                let q8 = y.qs.as_ptr();
                (
                    _mm256_load_si256(q8.add(32 * slot).cast()),
                    _mm256_load_si256(q8.add(32 * (slot + 2)).cast()),
                )
            }
        };
        // SAFETY: AVX2, FMA and F16C are enabled here.
        let min_sum = |mins| unsafe { min_sum_of::<PAIRS>(mins, y) };
        // SAFETY: the caller guarantees AVX-VNNI if `VNNI`.
        unsafe { block::<VNNI>(x, &shuffles, q8, min_sum, y.d, (&mut sums, &mut sumf)) };
    }
    // SAFETY: `state.sums` is eight writable floats.
    unsafe { _mm256_storeu_ps(state.sums.as_mut_ptr(), sums) };
    state.sumf = sumf;
}

/// The constant shuffles of [`block`].
struct Shuffles {
    low_nibbles: __m256i,
    /// `[0, 2, 4, 6, 1, 3, 5, 7]`, opaque to the compiler, which would otherwise rewrite the two
    /// shuffles of [`transpose_lanes`] into four.
    dword_order: __m256i,
    /// The [`scale_pattern`]s; likewise opaque, kept as one `vpshufb` each instead of a shuffle
    /// and a broadcast.
    scale_patterns: [__m256i; 8],
}

impl Shuffles {
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn new() -> Shuffles {
        Shuffles {
            low_nibbles: _mm256_set1_epi8(0x0F),
            dword_order: core::hint::black_box(_mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)),
            scale_patterns: core::hint::black_box(core::array::from_fn(|j| scale_pattern(j))),
        }
    }
}

/// One block of one row, added to the row's `(sums, sumf)`: `q8(g)` gives the activations of
/// sub-blocks `2g` and `2g + 1` in the prepared order, `min_sum(mins)` the exact
/// `Σ bsums[k] * mins[k / 2]`, and `scale` is the activations' `d`.
///
/// Per sub-block, `vpmaddubsw` sums each lane's values in pairs (exact: each pair is at most
/// `2 * 15 * 128` in magnitude), then `vpmaddwd` by the scale, or with `VNNI` one AVX-VNNI
/// `vpdpwssd` that also adds into the lanes: the same integers, one instruction fewer.
///
/// # Safety
///
/// The CPU must support AVX-VNNI if `VNNI`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn block<const VNNI: bool>(
    x: &BlockQ4K,
    shuffles: &Shuffles,
    q8: impl Fn(usize) -> (__m256i, __m256i),
    min_sum: impl FnOnce(u64) -> i32,
    scale: f32,
    (sums, sumf): (&mut __m256, &mut f32),
) {
    let (scales, mins) = scales_and_mins_u64(x);
    let scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(scales as i64)));
    let mut aux = _mm256_setzero_si256();
    // With `VNNI`, the high nibbles' chain of `vpdpwssd` (two chains of four, not one of
    // eight).
    let mut aux_high = _mm256_setzero_si256();
    for g in 0..4 {
        // SAFETY: group `g` of the 128 quant bytes is 32 readable bytes at `32 * g`.
        let raw = unsafe { _mm256_loadu_si256(x.quants().as_ptr().add(32 * g).cast()) };
        let t = transpose_lanes(raw, shuffles.dword_order);
        let low = _mm256_and_si256(t, shuffles.low_nibbles);
        let high = _mm256_and_si256(_mm256_srli_epi16::<4>(t), shuffles.low_nibbles);
        let (q8_low, q8_high) = q8(g);
        let scale_low = _mm256_shuffle_epi8(scales, shuffles.scale_patterns[2 * g]);
        let scale_high = _mm256_shuffle_epi8(scales, shuffles.scale_patterns[2 * g + 1]);
        let low = _mm256_maddubs_epi16(low, q8_low);
        let high = _mm256_maddubs_epi16(high, q8_high);
        if VNNI {
            // SAFETY: the caller guarantees AVX-VNNI when `VNNI`.
            unsafe {
                aux = dpwssd(aux, low, scale_low);
                aux_high = dpwssd(aux_high, high, scale_high);
            }
            continue;
        }
        let low = _mm256_madd_epi16(low, scale_low);
        let high = _mm256_madd_epi16(high, scale_high);
        aux = _mm256_add_epi32(aux, _mm256_add_epi32(low, high));
    }
    if VNNI {
        aux = _mm256_add_epi32(aux, aux_high);
    }
    let sumi = min_sum(mins);
    let (d, dmin) = d_dmin(x, scale);
    *sums = _mm256_add_ps(
        *sums,
        _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(aux)),
    );
    *sumf -= dmin * sumi as f32;
}

/// `(f16 d * activation d, f16 dmin * activation d)` for the weight block `x`: widened with
/// F16C (exact, as the software widening), each product rounded on its own as in the C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn d_dmin(x: &BlockQ4K, scale: f32) -> (f32, f32) {
    let (d, dmin) = x.d_dmin_bits();
    let halves = _mm_cvtsi32_si128((u32::from(d) | (u32::from(dmin) << 16)) as i32);
    let both = _mm_mul_ps(_mm_cvtph_ps(halves), _mm_set1_ps(scale));
    (
        _mm_cvtss_f32(both),
        _mm_cvtss_f32(_mm_shuffle_ps::<0b01>(both, both)),
    )
}

/// `acc + a[2i] * b[2i] + a[2i + 1] * b[2i + 1]` per dword `i` (signed words): the AVX-VNNI
/// `vpdpwssd`.
///
/// # Safety
///
/// The CPU must support AVX-VNNI.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn dpwssd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
    let mut acc = acc;
    // SAFETY: `vpdpwssd` only reads and writes these registers; the caller guarantees AVX-VNNI.
    unsafe {
        core::arch::asm!(
            "{{vex}} vpdpwssd {acc}, {a}, {b}",
            acc = inout(ymm_reg) acc,
            a = in(ymm_reg) a,
            b = in(ymm_reg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// Reorders 32 weight bytes so that dword `l` holds bytes `l, l + 8, l + 16, l + 24`: the four
/// values of lane `l` (in both nibbles), in the order of the prepared activations.
/// `dword_order` is `[0, 2, 4, 6, 1, 3, 5, 7]`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn transpose_lanes(raw: __m256i, dword_order: __m256i) -> __m256i {
    // Dwords 0, 2, 4, 6 (bytes 0..4, 8..12, 16..20, 24..28) to the low half, 1, 3, 5, 7 to the
    // high half; then a 4x4 byte transpose in each half.
    _mm256_shuffle_epi8(
        _mm256_permutevar8x32_epi32(raw, dword_order),
        _mm256_setr_epi8(
            0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6,
            10, 14, 3, 7, 11, 15,
        ),
    )
}

/// The `vpshufb` pattern that spreads the 16-bit scale of sub-block `j` over every word.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn scale_pattern(j: usize) -> __m256i {
    let j = j as i16;
    _mm256_set1_epi16(((2 * j + 1) << 8) | (2 * j))
}

/// `Σ bsums[k] * mins[k / 2]`: with `PAIRS`, from the eight 16-bit sub-block sums
/// ([`min_sum_pairs`], exact when `y.pairs_exact`), else from the sixteen block sums
/// ([`min_sum`], always exact).
///
/// # Safety
///
/// The CPU must support AVX2.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn min_sum_of<const PAIRS: bool>(mins: u64, y: &Prepared) -> i32 {
    if PAIRS {
        min_sum_pairs(mins, &y.pair_sums)
    } else {
        // SAFETY: AVX2 is enabled here.
        unsafe { min_sum(mins, &y.bsums) }
    }
}

/// `Σ pairs[j] * mins[j]`, exact when every `pairs[j]` is a block's exact sub-block sum (then
/// each product and sum fits in 32 bits): one 128-bit multiply-add and a reduction.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn min_sum_pairs(mins: u64, pairs: &[i16; 8]) -> i32 {
    // SAFETY: `pairs` is 16 readable bytes.
    min_sum_pair_words(mins, unsafe { _mm_loadu_si128(pairs.as_ptr().cast()) })
}

/// [`min_sum_pairs`] with the eight sums already in a register.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn min_sum_pair_words(mins: u64, pairs: __m128i) -> i32 {
    let s = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(mins as i64)), pairs);
    sum_i32x4(s)
}

/// `Σ bsums[k] * mins[k / 2]`, exact.
///
/// # Safety
///
/// The CPU must support AVX2.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) unsafe fn min_sum(mins: u64, bsums: &[i16; 16]) -> i32 {
    let twice = _mm_shuffle_epi8(
        _mm_cvtsi64_si128(mins as i64),
        _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7),
    );
    // SAFETY: `bsums` is 32 readable bytes.
    let bsums = unsafe { _mm256_loadu_si256(bsums.as_ptr().cast()) };
    let products = _mm256_madd_epi16(_mm256_cvtepu8_epi16(twice), bsums);
    let s = _mm_add_epi32(
        _mm256_castsi256_si128(products),
        _mm256_extracti128_si256::<1>(products),
    );
    sum_i32x4(s)
}

#[cfg(test)]
mod tests {
    use std::eprintln;

    use crate::arch::x86_64::tests::matches_scalar_dot;
    use crate::arch::x86_64::{has_avx_vnni, has_avx2_fma, has_f16c};

    /// Both AVX2 kernels, with and without AVX-VNNI (whichever the dispatch would not pick
    /// included), against the scalar one.
    #[test]
    #[cfg_attr(miri, ignore = "Miri does not run AVX2")]
    fn both_avx2_kernels_match_scalar_bit_for_bit() {
        if !has_avx2_fma() || !has_f16c() {
            eprintln!("no AVX2, FMA and F16C: nothing to test");
            return;
        }
        // SAFETY: AVX2, FMA and F16C were detected; the helper passes whole rows.
        matches_scalar_dot("avx2", 0xA7C2, |w, a, o| unsafe {
            super::matvec::<false>(w, a, o)
        });
        if has_avx_vnni() {
            // SAFETY: as above, and AVX-VNNI was detected.
            matches_scalar_dot("avx2+avx-vnni", 0xA7C2, |w, a, o| unsafe {
                super::matvec::<true>(w, a, o)
            });
        } else {
            eprintln!("no AVX-VNNI: its kernel not tested");
        }
    }
}
