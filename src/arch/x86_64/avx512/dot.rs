//! The AVX-512 dot-product kernel, with VNNI. Per 64 weight bytes: one lane-transposing
//! permutation (a single `vpermb` with AVX512-VBMI and GFNI, else two shuffles), the nibbles
//! (the high ones with one `vgf2p8affineqb` when GFNI is there), and `vpdpbusd` against the
//! activations in the same order, after which each dword is one sub-block's exact sum for one
//! lane (at most 4 * 15 * 128 in magnitude: it fits in 16 bits); then the scales.
//!
//! Three loops apply them:
//!
//! - one row at a time (`blocks_of`: the prepared buffer of `arch::prepared`; single rows and
//!   the rows left over from groups of eight without VBMI/GFNI, and with them rows of a few
//!   blocks, see `one_row_slots`): one `vpermt2w` pairs each low-nibble sub-block's sums with
//!   its high-nibble neighbour's as the two words of a dword, and one `vpdpwssd` weights both
//!   by their scales;
//! - one row at a time with VBMI and GFNI (`one_row`: single rows and leftovers, but for rows
//!   of a few blocks): each quant group's two sub-blocks split into the two halves of a
//!   vector, in the order of their activations, so that every shuffle has one source;
//! - eight rows side by side (`eight_rows`, see `direct`): the sums of two `vpdpbusd` results
//!   packed into words (`vpackssdw`, exact: each fits in 16 bits) and one `vpdpwssd` weights
//!   both by their scales, the factors broadcast loads. The block heads of the eight rows (`d`,
//!   `dmin`, the packed scales) are unpacked in two vectors, and their min sums and `sumf` kept
//!   as eight lanes, once per activation block for all eight.
//!
//! The single-row loop without VBMI/GFNI pairs words with `vpermt2w`, the others with
//! `vpackssdw`. On the Xeon of `DotPrefetch`, measured alone: `vpdpbusd`, `vpdpwssd`,
//! `vpmaddwd` and the float conversion and multiply issue two a cycle (ports 0 and 5), `vpermb`,
//! `vpackssdw` and `vpshufb` one (port 5), `vgf2p8affineqb` and the shifts one (port 0); the
//! packed form is one multiply fewer per half and a chain of two multiply-adds instead of four,
//! and measured faster in both loops.
//!
//! Needs AVX-512F, AVX-512BW and AVX512-VNNI (detected by the dispatch); the eight float lanes
//! of the reference are a `__m256` (`blocks_of`), dwords `4j` and `4j + 1` of a `__m512`
//! (`one_row`) or its alternate dwords (two rows of `eight_rows`), a multiply then an add per
//! block, as in the C.

use core::arch::x86_64::*;
use core::mem::MaybeUninit;

use crate::arch::prepared::{self, Prefetch, Prepared, RowState};
use crate::arch::x86_64::avx2::dot::{d_dmin, min_sum, min_sum_pairs};
use crate::arch::x86_64::{
    DotPrefetch, HEAD_LANES, ONCE_MAX_BLOCKS, PREFETCH_BYTES, SIDE_BY_SIDE_PREFETCH_BYTES,
    next_group_skip, pairs_once, prefetch_weights, repeat_lanes, scales_and_mins_u64, takes_direct,
};
use crate::{BlockQ4K, BlockQ8K};

/// `out[r] = dot(row r, activations)` for the rows of `activations.len()` blocks in `weights`.
///
/// # Safety
///
/// The CPU must support AVX-512F, AVX-512BW and AVX512-VNNI; `weights` must hold `out.len()`
/// whole rows.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(crate) unsafe fn matvec(weights: &[BlockQ4K], activations: &[BlockQ8K], out: &mut [f32]) {
    if let [y] = out {
        // One row (`dot_q8k`): `single_row` at once, without the stack frames of the paths for
        // several rows (see `matvec_vbmi_gfni`).
        // SAFETY: as this function's; `weights` holds the one row.
        *y = unsafe {
            single_row::<false>(weights, activations, DotPrefetch::for_this_cpu().one_row)
        };
        return;
    }
    // SAFETY: as this function's.
    unsafe { rows::<false>(weights, activations, out) };
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
    if let [y] = out {
        // One row (`dot_q8k`): `single_row` at once, without the stack frames of the paths for
        // several rows (tens of KiB for their activations, touched page by page on every call).
        // SAFETY: as this function's; `weights` holds the one row.
        *y = unsafe {
            single_row::<true>(weights, activations, DotPrefetch::for_this_cpu().one_row)
        };
        return;
    }
    // SAFETY: as this function's.
    unsafe { rows::<true>(weights, activations, out) };
}

/// [`matvec`] (or with `VBMI_GFNI` [`matvec_vbmi_gfni`]) for any number of rows, with the
/// stack frame for several.
///
/// # Safety
///
/// As [`matvec`], and with `VBMI_GFNI` as [`matvec_vbmi_gfni`].
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline(never)]
unsafe fn rows<const VBMI_GFNI: bool>(
    weights: &[BlockQ4K],
    activations: &[BlockQ8K],
    out: &mut [f32],
) {
    if takes_direct(activations, out) {
        // SAFETY: as this function's.
        unsafe { direct::<VBMI_GFNI>(weights, activations, out) };
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
            // guarantees AVX512-VBMI and GFNI with `VBMI_GFNI`.
            unsafe { blocks::<VBMI_GFNI>(row, prepared, state) }
        },
    );
}

/// The 128 quants of half `half` of `y` rearranged by each of `orders`: with `VBMI_GFNI` by
/// one `vpermt2b` (indices into the 128 bytes), else by `shuffle(first 64 bytes, order, last
/// 64 bytes)`.
///
/// # Safety
///
/// The CPU must support AVX-512F, AVX-512BW and AVX512-VNNI, and AVX512-VBMI if `VBMI_GFNI`;
/// `half < 2`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn quants_in_order<const VBMI_GFNI: bool>(
    y: &BlockQ8K,
    half: usize,
    orders: [__m512i; 2],
    shuffle: impl Fn(__m512i, __m512i, __m512i) -> __m512i,
) -> [__m512i; 2] {
    // SAFETY: the quants are 256 readable bytes, and `half < 2`.
    let [a, b] = unsafe {
        let q8 = y.quants().as_ptr().add(128 * half);
        [
            _mm512_loadu_si512(q8.cast()),
            _mm512_loadu_si512(q8.add(64).cast()),
        ]
    };
    orders.map(|order| {
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
            shuffle(a, order, b)
        }
    })
}

/// Rows multiplied side by side by [`direct`], sharing each activation block. At 256 MiB on
/// Zen 4, rows of 28672 values: 8 rows 13.6-17.6 GB/s, 4 rows 13.5, 2 rows 10.8, 16 rows 7.6
/// (their accumulators no longer fit in the registers). [`eight_rows`] is written for eight.
const DIRECT_ROWS: usize = 8;

/// The rows, [`DIRECT_ROWS`] at a time by [`eight_rows`], with each activation block put in
/// its pair order in registers once for all of them (with `VBMI_GFNI` two `vpermt2b` per 128
/// bytes, else two `vpermt2w` and two `vpshufb`), instead of through the prepared buffer; the
/// rows left over one at a time by [`blocks_of`].
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
    let prefetch = DotPrefetch::for_this_cpu();
    let pair_slots = PairSlots::<VBMI_GFNI>::new();
    // Every activation block in the pair order once for all the groups of eight rows, not once
    // per group, where `pairs_once` says so: in cache on the Xeon of `DotPrefetch`, rows of
    // 4096 and 14336 values, 1.05x.
    let mut paired = [const { MaybeUninit::<PairQuants>::uninit() }; ONCE_MAX_BLOCKS];
    let mut parts = [const { MaybeUninit::<MinParts>::uninit() }; ONCE_MAX_BLOCKS];
    let pre_paired = pairs_once(activations, out, DIRECT_ROWS);
    if pre_paired {
        for ((p, m), y) in paired.iter_mut().zip(&mut parts).zip(activations) {
            // SAFETY: the caller's guarantees are `PairSlots::of`'s.
            p.write(unsafe { pair_slots.of(y) });
            m.write(MinParts::of(y));
        }
    }
    prepared::direct::<DIRECT_ROWS>(
        weights,
        activations,
        out,
        // SAFETY: the caller's guarantees are the kernel's; `rows` is `DIRECT_ROWS` rows of
        // `activations.len()` blocks, and `ys` their results. With `pre_paired`, the first `n`
        // entries of `paired` were written above, and `eight_rows` asks for `i < n`.
        |rows, ys| unsafe {
            let side_by_side = prefetch.side_by_side;
            if pre_paired {
                let q8_of = |i: usize, _: &BlockQ8K| *paired.get_unchecked(i).assume_init_ref();
                // `MinParts` is plain data, and the first `n` entries were written above.
                let parts = core::slice::from_raw_parts(parts.as_ptr().cast(), activations.len());
                eight_rows::<VBMI_GFNI>(rows, activations, ys, side_by_side, q8_of, Some(parts));
            } else {
                let q8_of = |_: usize, y: &BlockQ8K| pair_slots.of(y);
                eight_rows::<VBMI_GFNI>(rows, activations, ys, side_by_side, q8_of, None);
            }
        },
        // SAFETY: as above, with one row.
        |row, y| unsafe { *y = single_row::<VBMI_GFNI>(row, activations, prefetch.one_row) },
    );
}

/// Rows of up to this many blocks take [`one_row_slots`] even where [`one_row`] could run:
/// `one_row` unpacks the block heads eight at a time and goes two blocks at a time, a fixed
/// cost that short rows do not win back. `dot_q8k` row by row in cache, `one_row` against
/// `one_row_slots`, on an Emerald Rapids Xeon: rows of one block 0.60x, three 0.74-0.80x, four
/// 0.96-0.99x, five 0.93-0.96x, six 1.04-1.08x, eight 1.12x, sixteen 1.16x.
const ONE_ROW_SLOTS_MAX_BLOCKS: usize = 5;

/// One row (single rows, and the rows left over from groups of eight): with `VBMI_GFNI`
/// [`one_row`], but for rows of up to [`ONE_ROW_SLOTS_MAX_BLOCKS`] blocks, which take
/// [`one_row_slots`], as every row does without it.
///
/// # Safety
///
/// As [`one_row_slots`], and with `VBMI_GFNI` as [`one_row`].
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn single_row<const VBMI_GFNI: bool>(
    row: &[BlockQ4K],
    activations: &[BlockQ8K],
    prefetch: Prefetch,
) -> f32 {
    if VBMI_GFNI && activations.len() > ONE_ROW_SLOTS_MAX_BLOCKS {
        // SAFETY: the caller's guarantees are `one_row`'s with `VBMI_GFNI`.
        unsafe { one_row(row, activations, prefetch) }
    } else {
        // SAFETY: the caller's guarantees include `one_row_slots`'s.
        unsafe { one_row_slots(row, activations, prefetch) }
    }
}

/// One row without AVX512-VBMI (`dot_q8k`, and the rows left over from groups of eight), and
/// with it rows of up to [`ONE_ROW_SLOTS_MAX_BLOCKS`] blocks (see [`single_row`]): [`blocks_of`]
/// on the activations as they are, each half block's quants put in the prepared order in
/// registers (sub-blocks `2k` and `2k + 2`, then `2k + 1` and `2k + 3`, of each half, each
/// transposed: one `vpermt2d` and one `vpshufb` per 64 bytes, see [`SLOT_DWORDS`]), the block
/// sums taken as they are.
///
/// # Safety
///
/// The CPU must support AVX-512F, AVX-512BW and AVX512-VNNI. `row` should be
/// `activations.len()` blocks; shorter, the result is 0.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn one_row_slots(row: &[BlockQ4K], activations: &[BlockQ8K], prefetch: Prefetch) -> f32 {
    // SAFETY: each table is 64 readable bytes.
    let [low_order, high_order] =
        SLOT_DWORDS.map(|t| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) });
    let byte_order = transpose_4x4_bytes();
    let slots = |y: &BlockQ8K, half: usize| {
        let shuffle =
            |a, order, b| _mm512_shuffle_epi8(_mm512_permutex2var_epi32(a, order, b), byte_order);
        // SAFETY: the shuffles need AVX-512F and BW only, enabled here; `half < 2`.
        let [low, high] =
            unsafe { quants_in_order::<false>(y, half, [low_order, high_order], shuffle) };
        (low, high)
    };
    let mut state = RowState::new(prefetch);
    // SAFETY: AVX2 is enabled here (implied by AVX-512F).
    let min_sum = |y: &BlockQ8K, mins| unsafe { min_sum(mins, y.block_sums()) };
    // SAFETY: the caller's guarantees are `blocks_of`'s without `VBMI_GFNI`.
    unsafe { blocks_of::<false, _>(row, activations, &mut state, slots, min_sum, |y| y.d()) };
    state.finish()
}

/// The `vpermt2d` indices that, followed by the 4x4 byte transposition of each 128 bits, give
/// [`one_row_slots`] the prepared order from 128 bytes of quants `a` (dwords 0..16) and `b`
/// (16..32): sub-blocks 0 and 2 of the four transposed (`[l][c]`, see `prepared`), then sub-blocks
/// 1 and 3. As bytes: lanes 0..4 of a sub-block (dwords 0, 2, 4, 6 of it) then lanes 4..8 (1, 3, 5,
/// 7).
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

/// [`prepared::transpose_sub_block`] in one `vpermd` and one `vpshufb` (AVX2 is enough), for
/// this kernel's prepared buffer; `dword_order` is [`dword_order`], passed through `black_box`
/// by the caller once per call: opaque, the compiler keeps the two shuffles instead of
/// rewriting them into four.
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
    let q8 = |y: &Prepared, half: usize| {
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
    // SAFETY: the caller's guarantees are this function's, and `row` is as long as `prepared`.
    unsafe { blocks_of::<VBMI_GFNI, _>(row, prepared, state, q8, sum_of_mins, |y| y.d) };
}

/// [`blocks`] over activations of any form: `row` holds `activations.len()` blocks and `state`
/// is its state. For each activation block `y`, `q8(y, half)` gives the quants of sub-blocks
/// `4 * half .. 4 * half + 4` in the prepared order (slots `4 * half`, `4 * half + 1`, then
/// `4 * half + 2`, `4 * half + 3`), `min_sum(y, mins)` the exact `Σ bsums[k] * mins[k / 2]`,
/// and `d(y)` its scale.
///
/// # Safety
///
/// As [`blocks`]. `row` should be `activations.len()` blocks; shorter, nothing is done.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn blocks_of<const VBMI_GFNI: bool, Y>(
    row: &[BlockQ4K],
    activations: &[Y],
    state: &mut RowState,
    q8: impl Fn(&Y, usize) -> (__m512i, __m512i),
    min_sum: impl Fn(&Y, u64) -> i32,
    d: impl Fn(&Y) -> f32,
) {
    if row.len() < activations.len() {
        return;
    }
    // SAFETY: `state.sums` is eight readable floats.
    let mut sums = unsafe { _mm256_loadu_ps(state.sums.as_ptr()) };
    let mut sumf = state.sumf;
    let core = Core::<VBMI_GFNI>::new();
    // Which scale pair each dword takes: (0, 1) and (2, 3), then (4, 5) and (6, 7).
    let scale_order = [pair(0, 1), pair(2, 3)];
    for (x, y) in row.iter().zip(activations) {
        prefetch_weights::<PREFETCH_BYTES>(x, state.prefetch, 0);
        let (scales, mins) = scales_and_mins_u64(x);
        // The scales as words: dword `j` is the pair of sub-blocks `2j`, `2j + 1`.
        let scales = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(scales as i64)));
        // SAFETY: the caller's guarantees are `Core::aux`'s.
        let aux = unsafe {
            core.aux(
                x,
                [q8(y, 0), q8(y, 1)],
                scale_order.map(|order| _mm512_permutexvar_epi32(order, scales)),
            )
        };
        let aux = _mm256_add_epi32(
            _mm512_castsi512_si256(aux),
            _mm512_extracti64x4_epi64::<1>(aux),
        );
        let sumi = min_sum(y, mins);
        let (d, dmin) = d_dmin(x, d(y));
        sums = _mm256_add_ps(
            sums,
            _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(aux)),
        );
        sumf -= dmin * sumi as f32;
    }
    // SAFETY: `state.sums` is eight writable floats.
    unsafe { _mm256_storeu_ps(state.sums.as_mut_ptr(), sums) };
    state.sumf = sumf;
}

/// One row with AVX512-VBMI and GFNI (`dot_q8k`, and the rows left over from groups of eight, both
/// of more than [`ONE_ROW_SLOTS_MAX_BLOCKS`] blocks), with nothing rearranged across the two halves
/// of a block: each 32-byte quant group is loaded into both halves of a vector, one
/// `vgf2p8affineqb` takes its low nibbles (sub-block `2g`) into the low half and its high nibbles
/// (`2g + 1`) into the high half, which is the order of the 64 activations of those two sub-blocks
/// as they lie; one `vpermb` each puts both in the pair order of [`PAIR_ORDER`] (dword `2l + h`:
/// lane `l` of sub-block `2g + h`), `vpdpbusd` sums them exactly. Blocks go two at a time: the sums
/// of group `g` of both are packed into words (in each 128 bits, dwords `4j..4j + 4` of the first
/// block then of the second) and `vpmaddwd` / `vpdpwssd` against the factors broadcast from memory
/// (the words `s_{2g}, s_{2g + 1}` twice of the first block, then of the second) scales and adds
/// each lane's two sub-blocks; over the four groups (two sums of two, one chain of four measured
/// 1.02-1.03x slower, its latency what holds this loop back) dwords `4j`, `4j + 1` are lanes `2j`,
/// `2j + 1` of the first block and `4j + 2`, `4j + 3` of the second, with no shuffle of the sums.
/// Against [`blocks_of`], which pairs sub-blocks `2g` and `2g + 2` and so needs two-source byte
/// shuffles of the activations and a word shuffle of the sums, every shuffle here has one source
/// and none is a word shuffle.
///
/// The block heads are unpacked eight blocks at a time as [`eight_rows`] unpacks eight rows'
/// ([`HeadUnpack`]): scale factors, `d`, `dmin` and the min sums go to memory, and each block
/// reads them back with loads (`d` and `dmin` are multiplied by the activation scale per block,
/// in the reference's order).
///
/// # Safety
///
/// The CPU must support AVX-512F, AVX-512BW, AVX512-VNNI, AVX512-VBMI and GFNI. `row` should be
/// `activations.len()` blocks; shorter, the result is 0.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn one_row(row: &[BlockQ4K], activations: &[BlockQ8K], prefetch: Prefetch) -> f32 {
    let mut state = RowState::new(prefetch);
    let n = activations.len();
    let Some(row) = row.get(..n).filter(|_| n > 0) else {
        return 0.0;
    };
    let unpack = HeadUnpack::new();
    // SAFETY: each table is 64 readable bytes.
    let [factors_0, factors_1] = ONE_ROW_PAIR_FACTOR_ORDER
        .each_ref()
        .map(|t| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) });
    // SAFETY: `PAIR_ORDER` is 64 readable bytes.
    let order = unsafe { _mm512_loadu_si512(PAIR_ORDER.as_ptr().cast()) };
    // The GF(2) affine maps `x & 0x0F` (result bits 0..4 are bits 0..4 of `x`: bytes 7, 6, 5, 4
    // of the matrix pick them) on the low 256 bits and `x >> 4` on the high.
    let (low, high) = (0x0102_0408_0000_0000_i64, 0x1020_4080_0000_0000_i64);
    let split = _mm512_setr_epi64(low, low, low, low, high, high, high, high);
    let mut sums = _mm512_setzero_ps();
    let mut sumf = 0f32;
    let mut row_heads = RowHeads {
        factors: [[[0; 8]; 2]; 2],
        d_dmin: [0.0; 16],
        sumi: [0.0; 8],
    };
    for (row, activations) in row.chunks(8).zip(activations.chunks(8)) {
        // Block `b` of the eight (past the end of the row, its last block again).
        let last = row.len() - 1;
        // SAFETY: `b.min(last) < row.len() = activations.len()`.
        let x = |b: usize| unsafe { row.get_unchecked(b.min(last)) };
        // SAFETY: as above.
        let y = |b: usize| unsafe { activations.get_unchecked(b.min(last)) };
        let x4 = |h: usize| [0, 1, 2, 3].map(|j| x(h + j));
        let y4 = |h: usize, k: usize| {
            // SAFETY: `k` is 0 or 8, within the 16 block sums.
            [0, 1, 2, 3].map(|j| unsafe { y(h + j).block_sums().as_ptr().add(k).cast() })
        };
        // SAFETY: block heads are 16 readable bytes, and so are both halves of the block sums.
        let (heads, bsums) = unsafe {
            (
                [four_heads(x4(0)), four_heads(x4(4))],
                [
                    [four_lanes(y4(0, 0)), four_lanes(y4(0, 8))],
                    [four_lanes(y4(4, 0)), four_lanes(y4(4, 8))],
                ],
            )
        };
        let unpacked = [unpack.unpack(heads[0]), unpack.unpack(heads[1])];
        // SAFETY: each array is as many writable bytes as it is stored.
        unsafe {
            _mm512_storeu_ps(row_heads.d_dmin.as_mut_ptr(), unpack.d_dmin(heads));
            _mm256_storeu_ps(
                row_heads.sumi.as_mut_ptr(),
                _mm256_cvtepi32_ps(unpack.min_sums(unpacked, bsums)),
            );
            for (factors, table) in row_heads.factors.iter_mut().zip([factors_0, factors_1]) {
                for (words, u) in factors.iter_mut().zip(unpacked) {
                    _mm512_storeu_si512(words.as_mut_ptr().cast(), bytes_to_words(table, u));
                }
            }
        }
        let RowHeads {
            factors,
            d_dmin,
            sumi,
        } = &row_heads;
        // The `vpdpbusd` sums of block `b`'s four quant groups.
        let groups = |b: usize| {
            let (x, y) = (x(b), y(b));
            let mut groups = [_mm512_setzero_si512(); 4];
            for (g, sum) in groups.iter_mut().enumerate() {
                // SAFETY: group `g < 4` is bytes `32 g .. 32 g + 32` of the 128 quant bytes,
                // and quants `64 g .. 64 g + 64` of the 256 are its two sub-blocks'
                // activations.
                let (weights, q8) = unsafe {
                    (
                        _mm512_broadcast_i64x4(_mm256_loadu_si256(
                            x.quants().as_ptr().add(32 * g).cast(),
                        )),
                        _mm512_loadu_si512(y.quants().as_ptr().add(64 * g).cast()),
                    )
                };
                let (w, q);
                // SAFETY: `vgf2p8affineqb` and `vpermb` only read and write these registers;
                // the caller guarantees GFNI and AVX512-VBMI.
                unsafe {
                    core::arch::asm!(
                        "vgf2p8affineqb {w}, {weights}, {split}, 0",
                        "vpermb {w}, {order}, {w}",
                        "vpermb {q}, {order}, {q8}",
                        w = out(zmm_reg) w,
                        q = out(zmm_reg) q,
                        weights = in(zmm_reg) weights,
                        q8 = in(zmm_reg) q8,
                        split = in(zmm_reg) split,
                        order = in(zmm_reg) order,
                        options(pure, nomem, nostack, preserves_flags),
                    );
                }
                *sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, q);
            }
            groups
        };
        // Blocks two at a time: `b` and `b + 1` (past the end, the last block again, whose sums
        // then go unused).
        // (Pairs counted up to four, so that the compiler sees every index below in bounds.)
        for b in (0..row.len().div_ceil(2).min(4)).map(|p| 2 * p) {
            prefetch_weights::<PREFETCH_BYTES>(x(b), prefetch, 0);
            prefetch_weights::<PREFETCH_BYTES>(x(b + 1), prefetch, 0);
            let (first, second) = (groups(b), groups(b + 1));
            // Group `g` of both blocks packed into words (in each 128 bits, four dwords of the
            // first block then four of the second) and weighted by their two sub-blocks'
            // scales: in each 128 bits, `aux32` of lanes `2j`, `2j + 1` of block `b`, then of
            // block `b + 1`, with no shuffle of the sums.
            let mut aux = [_mm512_setzero_si512(); 2];
            for g in 0..4 {
                // Every sum fits in 16 bits: packed into words exactly.
                let packed = _mm512_packs_epi32(first[g], second[g]);
                let chunk = 2 * ((b % 4) / 2) + g % 2;
                let factor = broadcast(&factors[g / 2][b / 4].as_chunks::<2>().0[chunk]);
                aux[g % 2] = if g < 2 {
                    _mm512_madd_epi16(packed, factor)
                } else {
                    // SAFETY: AVX512-VNNI is enabled here.
                    unsafe { dpwssd(aux[g % 2], packed, factor) }
                };
            }
            let aux = _mm512_add_epi32(aux[0], aux[1]);
            // `d` of each block (`x.d * y.d`, as the reference), twice, per 128 bits.
            let d = |b: usize| y(b).d() * d_dmin[b];
            let d = _mm512_castps128_ps512(_mm_setr_ps(d(b), d(b), d(b + 1), d(b + 1)));
            let products = _mm512_mul_ps(_mm512_shuffle_f32x4::<0>(d, d), _mm512_cvtepi32_ps(aux));
            // Block `b`'s products into dwords `4j`, `4j + 1`, then block `b + 1`'s, in the
            // reference's order (dwords `4j + 2`, `4j + 3` are not read).
            sums = _mm512_add_ps(sums, products);
            sumf -= d_dmin[8 + b] * y(b).d() * sumi[b];
            if b + 1 < row.len() {
                sums = _mm512_add_ps(sums, _mm512_shuffle_ps::<0b01_00_11_10>(products, products));
                sumf -= d_dmin[9 + b] * y(b + 1).d() * sumi[b + 1];
            }
        }
    }
    let mut lanes = [0f32; 16];
    // SAFETY: `lanes` is sixteen writable floats.
    unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), sums) };
    for (l, sum) in state.sums.iter_mut().enumerate() {
        *sum = lanes[4 * (l / 2) + l % 2];
    }
    state.sumf = sumf;
    state.finish()
}

/// Eight dwords of the scale pair `(a, a + 1)` then eight of `(b, b + 1)`, as `vpermd`
/// indices into scale words (dword `j` the scales of sub-blocks `2j`, `2j + 1`).
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
fn pair(a: i32, b: i32) -> __m512i {
    _mm512_setr_epi32(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b)
}

/// The integer core of the block loops: the constants of the lane transposition and the
/// nibble split, kept in registers across blocks.
#[derive(Clone, Copy)]
struct Core<const VBMI_GFNI: bool> {
    low_nibbles: __m512i,
    dword_order: __m512i,
    byte_order: __m512i,
    vbmi_order: __m512i,
    shift_right_4: __m512i,
    interleave: __m512i,
    /// [`Core::pair_aux`]' weight order: with `VBMI_GFNI` [`PAIR_ORDER`] (`vpermb`), else
    /// [`PAIR_WORDS`] (`vpermw`) then [`PAIR_BYTES`] (`vpshufb`).
    pair_order: __m512i,
    pair_bytes: __m512i,
}

impl<const VBMI_GFNI: bool> Core<VBMI_GFNI> {
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    fn new() -> Self {
        Core {
            low_nibbles: _mm512_set1_epi8(0x0F),
            // In each 256-bit half: dwords 0, 2, 4, 6 to its low 128 bits, 1, 3, 5, 7 to its
            // high. Opaque to the compiler, which would otherwise rewrite the two shuffles of
            // `aux` into four.
            dword_order: core::hint::black_box(_mm512_setr_epi32(
                0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15,
            )),
            byte_order: transpose_4x4_bytes(),
            // Byte `32h + 4l + c` of the result is byte `32h + 8c + l` of the weights: the
            // same order as the two shuffles, in one.
            // SAFETY: `VBMI_ORDER` is 64 readable bytes.
            vbmi_order: unsafe { _mm512_loadu_si512(VBMI_ORDER.as_ptr().cast()) },
            // The GF(2) affine map `x >> 4` on each byte: result bit `i` is the parity of
            // `x & matrix byte 7 - i`, so bytes 7, 6, 5, 4 pick bits 4, 5, 6, 7 and the rest is
            // zero.
            shift_right_4: _mm512_set1_epi64(0x1020_4080_0000_0000),
            // SAFETY: `INTERLEAVE` is 64 readable bytes.
            interleave: unsafe { _mm512_loadu_si512(INTERLEAVE.as_ptr().cast()) },
            // SAFETY: each table is 64 readable bytes.
            pair_order: unsafe {
                if VBMI_GFNI {
                    _mm512_loadu_si512(PAIR_ORDER.as_ptr().cast())
                } else {
                    _mm512_loadu_si512(PAIR_WORDS.as_ptr().cast())
                }
            },
            // SAFETY: as above.
            pair_bytes: unsafe { _mm512_loadu_si512(PAIR_BYTES.as_ptr().cast()) },
        }
    }

    /// The low and high nibbles of 64 weight bytes `raw` (two 32-byte quant groups),
    /// rearranged: with `VBMI_GFNI` by one `vpermb` with `order` (and the high nibbles by one
    /// `vgf2p8affineqb`), else by `shuffle`.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX512-VBMI and GFNI if `VBMI_GFNI`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn nibbles(
        &self,
        raw: __m512i,
        order: __m512i,
        shuffle: impl Fn(__m512i) -> __m512i,
    ) -> (__m512i, __m512i) {
        if VBMI_GFNI {
            let (t, high);
            // SAFETY: `vpermb` and `vgf2p8affineqb` only read and write these registers; the
            // caller guarantees AVX512-VBMI and GFNI when `VBMI_GFNI`.
            unsafe {
                core::arch::asm!(
                    "vpermb {t}, {order}, {raw}",
                    "vgf2p8affineqb {high}, {t}, {shift}, 0",
                    t = out(zmm_reg) t,
                    high = lateout(zmm_reg) high,
                    order = in(zmm_reg) order,
                    raw = in(zmm_reg) raw,
                    shift = in(zmm_reg) self.shift_right_4,
                    options(pure, nomem, nostack, preserves_flags),
                );
            }
            (_mm512_and_si512(t, self.low_nibbles), high)
        } else {
            let t = shuffle(raw);
            (
                _mm512_and_si512(t, self.low_nibbles),
                _mm512_and_si512(_mm512_srli_epi16::<4>(t), self.low_nibbles),
            )
        }
    }

    /// The `vpdpbusd` sums of the low and high nibbles of half `half < 2` of block `x` (64 quant
    /// bytes, four sub-blocks), rearranged as [`Core::nibbles`] says with `order` and `shuffle`,
    /// against `q8_low` and `q8_high` in the same order: each dword one sub-block's exact sum
    /// for one lane, at most 4 * 15 * 128 in magnitude (16 bits).
    ///
    /// # Safety
    ///
    /// As [`Core::sums`].
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn half_sums(
        &self,
        x: &BlockQ4K,
        half: usize,
        (q8_low, q8_high): (__m512i, __m512i),
        order: __m512i,
        shuffle: impl Fn(__m512i) -> __m512i,
    ) -> (__m512i, __m512i) {
        // SAFETY: bytes `64 * half .. 64 * half + 64` of the 128 quant bytes are readable.
        let raw = unsafe { _mm512_loadu_si512(x.quants().as_ptr().add(64 * half).cast()) };
        // SAFETY: the caller's guarantees include `nibbles`'.
        let (low, high) = unsafe { self.nibbles(raw, order, shuffle) };
        let zero = _mm512_setzero_si512();
        (
            _mm512_dpbusd_epi32(zero, low, q8_low),
            _mm512_dpbusd_epi32(zero, high, q8_high),
        )
    }

    /// For each half of block `x`, `apply(half, low, high)` with its [`Core::half_sums`]
    /// against `q8[half]`.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F, AVX-512BW and AVX512-VNNI, and AVX512-VBMI and GFNI if
    /// `VBMI_GFNI`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn sums(
        &self,
        x: &BlockQ4K,
        q8: [(__m512i, __m512i); 2],
        order: __m512i,
        shuffle: impl Fn(__m512i) -> __m512i,
        mut apply: impl FnMut(usize, __m512i, __m512i),
    ) {
        for (half, q8) in q8.into_iter().enumerate() {
            // SAFETY: the caller's guarantees are `half_sums`'.
            let (low, high) = unsafe { self.half_sums(x, half, q8, order, &shuffle) };
            apply(half, low, high);
        }
    }

    /// The exact lane sums of block `x` weighted by its scales, as sixteen dwords: lanes 0..8
    /// of sub-blocks 0, 1, 4, 5 then of 2, 3, 6, 7 (the halves add up to the reference's
    /// `aux32`). `q8[half]` are the prepared quants of sub-blocks `4 * half ..` (see
    /// `blocks_of`), and `scales[half]` the `vpdpwssd` factors: dwords 0..8 the scale pair of
    /// sub-blocks `4 * half`, `4 * half + 1`, dwords 8..16 that of the next two.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F, AVX-512BW and AVX512-VNNI, and AVX512-VBMI and GFNI if
    /// `VBMI_GFNI`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn aux(
        &self,
        x: &BlockQ4K,
        q8: [(__m512i, __m512i); 2],
        scales: [__m512i; 2],
    ) -> __m512i {
        let mut aux = _mm512_setzero_si512();
        let shuffle = |raw| {
            _mm512_shuffle_epi8(
                _mm512_permutexvar_epi32(self.dword_order, raw),
                self.byte_order,
            )
        };
        let apply = |half, low, high| {
            // Each dword: one lane of a low-nibble sub-block in its lower 16 bits and of its
            // high-nibble neighbour in its upper 16 bits.
            let pair = _mm512_permutex2var_epi16(low, self.interleave, high);
            aux = if half == 0 {
                _mm512_madd_epi16(pair, scales[0])
            } else {
                // SAFETY: AVX512-VNNI is enabled here.
                unsafe { dpwssd(aux, pair, scales[1]) }
            };
        };
        // SAFETY: the caller's guarantees are `sums`'.
        unsafe { self.sums(x, q8, self.vbmi_order, shuffle, apply) };
        aux
    }

    /// The reference's `aux32` of two rows' blocks `blocks`, both in one vector, with no
    /// shuffle of the sums.
    ///
    /// Each dword of a `vpdpbusd` result here is one sub-block's exact sum for one lane, in 16
    /// bits (at most 4 * 15 * 128 in magnitude), so the results of the two rows for the same
    /// sub-blocks pack into words exactly (`vpackssdw`: in each 128 bits four dwords of the
    /// first row, then four of the second, each pair of them one lane of two sub-blocks), and
    /// `vpmaddwd` / `vpdpwssd` against `factors[half][nibbles]` (in every 128 bits the words
    /// `(sa, sb, sa, sb)` of the first row then of the second, `sa`, `sb` the scales of those
    /// two sub-blocks) weights and adds them into one dword per lane and row. Over the four
    /// (two halves, low and high nibbles) each such dword sums all eight sub-blocks: the
    /// reference's `aux32`. Returns, in 128-bit lane `j`, `aux32` of lanes `2j`, `2j + 1` of
    /// the first row, then of the second. `q8[half]` are the quants of sub-blocks `4 * half ..`
    /// in the pair order (low-nibble sub-blocks `4 half`, `4 half + 2`, then the high-nibble
    /// ones).
    ///
    /// # Safety
    ///
    /// As [`Core::aux`].
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn pair_aux(
        &self,
        blocks: [&BlockQ4K; 2],
        q8: [(__m512i, __m512i); 2],
        factors: [[__m512i; 2]; 2],
    ) -> __m512i {
        let shuffle = |raw| {
            _mm512_shuffle_epi8(
                _mm512_permutexvar_epi16(self.pair_order, raw),
                self.pair_bytes,
            )
        };
        let mut aux = _mm512_setzero_si512();
        for (half, q8) in q8.into_iter().enumerate() {
            // The two rows' sums of this half. (Two calls, not a `map`: its closure was
            // compiled out of line.)
            // SAFETY: the caller's guarantees are `half_sums`'.
            let (first, second) = unsafe {
                (
                    self.half_sums(blocks[0], half, q8, self.pair_order, shuffle),
                    self.half_sums(blocks[1], half, q8, self.pair_order, shuffle),
                )
            };
            // Every sum fits in 16 bits: packed into words exactly.
            let low = _mm512_packs_epi32(first.0, second.0);
            let high = _mm512_packs_epi32(first.1, second.1);
            aux = if half == 0 {
                _mm512_madd_epi16(low, factors[0][0])
            } else {
                // SAFETY: AVX512-VNNI is enabled here.
                unsafe { dpwssd(aux, low, factors[1][0]) }
            };
            // SAFETY: as above.
            aux = unsafe { dpwssd(aux, high, factors[half][1]) };
        }
        aux
    }
}

/// A block's quants in the pair order of [`Core::pair_aux`], per half: the low-nibble
/// sub-blocks' 64 bytes, then the high.
type PairQuants = [(__m512i, __m512i); 2];

/// What puts a block's quants in the pair order: with VBMI the `vpermt2b` indices of
/// [`PAIR_SLOT_ORDER`], else the `vpermt2w` indices of [`PAIR_SLOT_WORDS`] and the `vpshufb`
/// of [`PAIR_BYTES`].
#[derive(Clone, Copy)]
struct PairSlots<const VBMI_GFNI: bool> {
    orders: [__m512i; 2],
    bytes: __m512i,
}

impl<const VBMI_GFNI: bool> PairSlots<VBMI_GFNI> {
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    fn new() -> Self {
        // SAFETY: each table is 64 readable bytes.
        let table = |t: *const u8| unsafe { _mm512_loadu_si512(t.cast()) };
        let orders = if VBMI_GFNI {
            [
                table(PAIR_SLOT_ORDER[0].as_ptr()),
                table(PAIR_SLOT_ORDER[1].as_ptr()),
            ]
        } else {
            [
                table(PAIR_SLOT_WORDS[0].as_ptr().cast()),
                table(PAIR_SLOT_WORDS[1].as_ptr().cast()),
            ]
        };
        PairSlots {
            orders,
            bytes: table(PAIR_BYTES.as_ptr()),
        }
    }

    /// `y`'s quants in the pair order.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F, AVX-512BW and AVX512-VNNI, and AVX512-VBMI if
    /// `VBMI_GFNI`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn of(&self, y: &BlockQ8K) -> PairQuants {
        let shuffle =
            |a, order, b| _mm512_shuffle_epi8(_mm512_permutex2var_epi16(a, order, b), self.bytes);
        // SAFETY: the caller guarantees AVX512-VBMI when `VBMI_GFNI`; halves 0 and 1. (Two
        // calls, not a `map`: its closure was compiled out of line.)
        let (a, b) = unsafe {
            (
                quants_in_order::<VBMI_GFNI>(y, 0, self.orders, shuffle),
                quants_in_order::<VBMI_GFNI>(y, 1, self.orders, shuffle),
            )
        };
        [(a[0], a[1]), (b[0], b[1])]
    }
}

/// Eight rows side by side, in the pair order of [`Core::pair_aux`], with the per-block
/// work that is not the quants' done for the eight at once: their 16-byte block heads (`d`,
/// `dmin`, the packed scales) gathered into two vectors and unpacked there, the min sums and
/// `sumf` as eight lanes, the scale factors and `d` stored for one broadcast load each; the
/// lane sums of each two rows share one vector. `parts`, where the caller prepared them, are the
/// [`MinParts`] of each activation block (without, the min sums take the block sums as they
/// are).
///
/// # Safety
///
/// As [`blocks_of`]; `parts`, if any, is `activations.len()` long; `rows` should be
/// `8 * activations.len()` blocks (shorter, or no activations, and nothing is done), and `ys`
/// eight results.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn eight_rows<const VBMI_GFNI: bool>(
    rows: &[BlockQ4K],
    activations: &[BlockQ8K],
    ys: &mut [f32],
    prefetch: Prefetch,
    q8_of: impl Fn(usize, &BlockQ8K) -> PairQuants,
    parts: Option<&[MinParts]>,
) {
    let n = activations.len();
    let Some(rows) = rows.get(..8 * n).filter(|_| n > 0) else {
        return;
    };
    let core = Core::<VBMI_GFNI>::new();
    let unpack = HeadUnpack::new();
    // SAFETY: each table is 64 readable bytes.
    let table = |t: &[u8; 64]| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) };
    let [factors_0, factors_1] = if VBMI_GFNI {
        PAIR_FACTOR_ORDER.each_ref().map(table)
    } else {
        FACTOR_TABLES.each_ref().map(table)
    };
    let factor_tables = [factors_0, factors_1];
    // The work on the heads of block `i` (with its min sums into `sumf`), into `heads`: one
    // block ahead of the rows, so that the rows of a block do not wait on its chain of
    // shuffles from the head loads to the factor stores.
    // `parts` by reference: a copy of the prepared ones, then read back in halves, measured
    // 0.93x (the halves' loads waiting on the copy's wider store, it seems).
    // SAFETY: the callers pass `i < n`, and `rows` is `8 * n` blocks, and `parts` (if any) is
    // `n` long.
    let head_work = |i: usize, sumf: &mut __m256, out: &mut Heads| unsafe {
        // Without prepared parts, the block sums as they are: splitting them here measured
        // 0.95-0.96x on rows of 65536 values.
        let parts = match parts {
            Some(parts) => parts.get_unchecked(i),
            None => &MinParts::NONE,
        };
        let y = (activations.get_unchecked(i), parts);
        eight_heads::<VBMI_GFNI>(&unpack, factor_tables, rows, (i, n), y, sumf, out)
    };
    let mut sums = [_mm512_setzero_ps(); 4];
    let mut sumf = _mm256_setzero_ps();
    let mut heads = [Heads {
        factors: [[0; 16]; 2],
        ds: [0.0; 16],
    }; 2];
    head_work(0, &mut sumf, &mut heads[0]);
    for (i, y) in activations.iter().enumerate() {
        if i + 1 < n {
            head_work(i + 1, &mut sumf, &mut heads[(i + 1) % 2]);
        }
        let q8 = q8_of(i, y);
        // SAFETY: `r < 8` and `i < n`, so `r * n + i < 8 * n = rows.len()`.
        let x = |r: usize| unsafe { rows.get_unchecked(r * n + i) };
        let skip = next_group_skip::<SIDE_BY_SIDE_PREFETCH_BYTES>(i, n, 8);
        let Heads { factors, ds } = &heads[i % 2];
        let (f0, f1) = (factors[0].as_chunks::<4>().0, factors[1].as_chunks::<4>().0);
        let ds = ds.as_chunks::<4>().0;
        // The four pairs of rows unrolled by hand: as a loop, some builds kept it rolled, with
        // the sums in memory.
        macro_rules! pair {
            ($p:literal) => {
                // SAFETY: the caller's guarantees are `two_rows`'.
                sums[$p] = unsafe {
                    two_rows(
                        &core,
                        [x(2 * $p), x(2 * $p + 1)],
                        q8,
                        [&f0[$p], &f1[$p]],
                        &ds[$p],
                        sums[$p],
                        (prefetch, skip),
                    )
                };
            };
        }
        pair!(0);
        pair!(1);
        pair!(2);
        pair!(3);
    }
    let mut lanes = [[0f32; 16]; 4];
    for (lanes, sums) in lanes.iter_mut().zip(sums) {
        // SAFETY: `lanes` is sixteen writable floats.
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), sums) };
    }
    let mut sumf_lanes = [0f32; 8];
    // SAFETY: `sumf_lanes` is eight writable floats.
    unsafe { _mm256_storeu_ps(sumf_lanes.as_mut_ptr(), sumf) };
    for (r, y) in ys.iter_mut().take(8).enumerate() {
        let mut state = RowState::new(prefetch);
        for (l, sum) in state.sums.iter_mut().enumerate() {
            *sum = lanes[r / 2][4 * (l / 2) + 2 * (r % 2) + l % 2];
        }
        state.sumf = sumf_lanes[r];
        *y = state.finish();
    }
}

/// The first 16 bytes of each of `blocks` (`d`, `dmin`, the packed scales), one per 128 bits.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
fn four_heads(blocks: [&BlockQ4K; 4]) -> __m512i {
    // SAFETY: a block is 144 readable bytes.
    unsafe { four_lanes(blocks.map(|x| core::ptr::from_ref(x).cast())) }
}

/// The 16 bytes at `at[j]` in 128-bit lane `j`, for each of the four (in [`one_row`], four
/// blocks' halves of their block sums).
///
/// # Safety
///
/// Each pointer must be to 16 readable bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn four_lanes(at: [*const u8; 4]) -> __m512i {
    // SAFETY: the caller's guarantee.
    let lane = |j: usize| unsafe { _mm_loadu_si128(at[j].cast()) };
    let v = _mm512_castsi128_si512(lane(0));
    let v = _mm512_inserti32x4::<1>(v, lane(1));
    let v = _mm512_inserti32x4::<2>(v, lane(2));
    _mm512_inserti32x4::<3>(v, lane(3))
}

/// The unpacking of eight 16-byte block heads held four per vector (see [`four_lanes`]), in
/// [`eight_rows`] the blocks of eight rows at one activation block and in [`one_row`] eight
/// blocks of one row: the tables of [`HEAD_TABLES`] and [`HALVES`] in registers.
#[derive(Clone, Copy)]
struct HeadUnpack {
    sc_low: __m512i,
    sc_bytes_mask: __m512i,
    sc_high: __m512i,
    mins_low: __m512i,
    mins_high: __m512i,
    halves: __m512i,
}

impl HeadUnpack {
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    fn new() -> Self {
        // SAFETY: each table is 64 readable bytes.
        let table = |t: &[u8; 64]| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) };
        let [sc_low, sc_bytes_mask, sc_high, mins_low, mins_high] =
            HEAD_TABLES.each_ref().map(table);
        HeadUnpack {
            sc_low,
            sc_bytes_mask,
            sc_high,
            mins_low,
            mins_high,
            // SAFETY: `HALVES` is 64 readable bytes.
            halves: unsafe { _mm512_loadu_si512(HALVES.as_ptr().cast()) },
        }
    }

    /// `d` of the eight heads, then their `dmin`, as floats.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    fn d_dmin(&self, heads: [__m512i; 2]) -> __m512 {
        let halves = _mm512_permutex2var_epi16(heads[0], self.halves, heads[1]);
        _mm512_cvtph_ps(_mm512_castsi512_si256(halves))
    }

    /// Per 128 bits of `heads`, the eight scales in bytes 0..8 and the eight mins in 8..16 (as
    /// `scales_and_mins_u64`): the low bits (sub-blocks 4..8 of the mins shifted down first),
    /// then the top two bits of sub-blocks 4..8 from the first eight bytes.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    fn unpack(&self, heads: __m512i) -> __m512i {
        let low = _mm512_shuffle_epi8(heads, self.sc_low);
        let low = _mm512_mask_blend_epi8(0xF000_F000_F000_F000, low, _mm512_srli_epi16::<4>(low));
        let top = _mm512_shuffle_epi8(heads, self.sc_high);
        let top = _mm512_and_si512(_mm512_srli_epi16::<2>(top), _mm512_set1_epi8(0x30));
        // (low & mask) | top
        _mm512_ternarylogic_epi32::<0xEA>(low, self.sc_bytes_mask, top)
    }

    /// The eight exact min sums `Σ bsums[k] * mins[k / 2]` of the [`HeadUnpack::unpack`]ed
    /// heads, head `4h + j` against the block sums in 128-bit lane `j` of `bsums[h]` (words
    /// 0..8 in `bsums[h][0]`, 8..16 in `bsums[h][1]`): each min as two words against two block
    /// sums, then the four dwords of each head added up.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    fn min_sums(&self, unpacked: [__m512i; 2], bsums: [[__m512i; 2]; 2]) -> __m256i {
        let partial = |u, [low, high]: [__m512i; 2]| {
            let p = _mm512_madd_epi16(_mm512_shuffle_epi8(u, self.mins_low), low);
            // SAFETY: AVX512-VNNI is enabled here.
            unsafe { dpwssd(p, _mm512_shuffle_epi8(u, self.mins_high), high) }
        };
        let partial = [
            partial(unpacked[0], bsums[0]),
            partial(unpacked[1], bsums[1]),
        ];
        // Dword 2i of the concatenation of two vectors, then 2i + 1.
        let evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
        let pairs = _mm512_add_epi32(
            _mm512_permutex2var_epi32(partial[0], evens, partial[1]),
            _mm512_permutex2var_epi32(partial[0], odds, partial[1]),
        );
        // Dword 2r: row r's sum (a shift, not a shuffle: the compiler rewrote a shuffle, an
        // add and the `vpermd` below into a `vphaddd`, two more instructions).
        let pairs = _mm512_add_epi32(pairs, _mm512_srli_epi64::<32>(pairs));
        _mm512_castsi512_si256(_mm512_permutexvar_epi32(evens, pairs))
    }

    /// [`HeadUnpack::min_sums`] from the [`MinParts`] of the activation block (each of
    /// `parts` broadcast to every 128 bits): per head, `vpdpbusd` of its bytes against the high
    /// parts (zero against the scales, the mins of sub-blocks 0..4 then 4..8 against theirs in
    /// dwords 2 and 3), times 64, plus the same against the low parts; then dwords 2 and 3 of
    /// each head added. Three instructions a vector and three to gather, against four and seven.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    fn min_sums_split(&self, unpacked: [__m512i; 2], parts: [__m512i; 2]) -> __m256i {
        let partial = |u| {
            let high = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, parts[0]);
            _mm512_dpbusd_epi32(_mm512_slli_epi32::<6>(high), u, parts[1])
        };
        let partial = [partial(unpacked[0]), partial(unpacked[1])];
        // Dword 2 of each 128 bits of the two vectors (heads 0..8), then dword 3.
        let twos = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 2, 6, 10, 14, 18, 22, 26, 30);
        let threes = _mm512_add_epi32(twos, _mm512_set1_epi32(1));
        _mm512_castsi512_si256(_mm512_add_epi32(
            _mm512_permutex2var_epi32(partial[0], twos, partial[1]),
            _mm512_permutex2var_epi32(partial[0], threes, partial[1]),
        ))
    }
}

/// The sub-block sums of a Q8_K block (`bsums[2j] + bsums[2j + 1]`, `P_j`) split for
/// [`HeadUnpack::min_sums_split`]: `P_j = 64 h_j + l_j` with `0 <= l_j < 64`, `h_j` in bytes
/// `8..16` of `bytes[0]` and `l_j` in bytes `8..16` of `bytes[1]` (bytes 0..8 zero, against the
/// scales), all exact in bytes when every `P_j` is in `-8192..8192` (`small`). Blocks from
/// `quantize_q8k` always are (`|P_j| <= 32 * 128`); block sums made up by hand may not be, and
/// those blocks take [`HeadUnpack::min_sums`].
#[derive(Clone, Copy)]
struct MinParts {
    bytes: [[u8; 16]; 2],
    small: bool,
}

impl MinParts {
    /// No parts: the block sums taken as they are.
    const NONE: MinParts = MinParts {
        bytes: [[0; 16]; 2],
        small: false,
    };

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    fn of(y: &BlockQ8K) -> Self {
        // SAFETY: the block sums are 32 readable bytes.
        let bsums = unsafe { _mm256_loadu_si256(y.block_sums().as_ptr().cast()) };
        // Dwords 0..8: the sub-block sums, exact; 8..16 zero.
        let sums = _mm512_madd_epi16(_mm512_zextsi256_si512(bsums), _mm512_set1_epi16(1));
        let small = _mm512_cmpge_epi32_mask(sums, _mm512_set1_epi32(-8192))
            & _mm512_cmplt_epi32_mask(sums, _mm512_set1_epi32(8192))
            == 0xFFFF;
        // Each part's dwords as bytes 0..8 (8..16 zero), then moved to bytes 8..16.
        let bytes = |part: __m512i| {
            let mut b = [0u8; 16];
            let part = _mm_slli_si128::<8>(_mm512_cvtepi32_epi8(part));
            // SAFETY: `b` is 16 writable bytes.
            unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), part) };
            b
        };
        MinParts {
            bytes: [
                bytes(_mm512_srai_epi32::<6>(sums)),
                bytes(_mm512_and_si512(sums, _mm512_set1_epi32(63))),
            ],
            small,
        }
    }
}

/// What [`one_row`] keeps of the heads of eight blocks: the scale factors of groups `2p` and
/// `2p + 1` of blocks `b` and `b + 1` (`b` even) in `factors[p][b / 4][4 ((b % 4) / 2)..][..4]`
/// (see [`ONE_ROW_PAIR_FACTOR_ORDER`]); `d` of each block, then `dmin`; the exact min sums as
/// floats.
#[derive(Clone, Copy)]
struct RowHeads {
    factors: [[[u64; 8]; 2]; 2],
    d_dmin: [f32; 16],
    sumi: [f32; 8],
}

/// The head work of [`eight_rows`] at block `i` of its eight rows of `n` blocks each (`rows`),
/// against activation block `y` and its [`MinParts`]: the min sums into `sumf`, the scale
/// factors (`factor_tables` on the unpacked scales) and `d` into `out`. A function, not a
/// closure: as a closure in a closure its loads were compiled out of line in some builds, each
/// call behind a `vzeroupper` and followed by reloads of every constant vector.
///
/// # Safety
///
/// As [`eight_rows`]; `i < n` and `rows` is `8 * n` blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn eight_heads<const VBMI_GFNI: bool>(
    unpack: &HeadUnpack,
    factor_tables: [__m512i; 2],
    rows: &[BlockQ4K],
    (i, n): (usize, usize),
    (y, parts): (&BlockQ8K, &MinParts),
    sumf: &mut __m256,
    out: &mut Heads,
) {
    // The 16-byte heads of the eight rows' blocks `i`: rows 0..4 and 4..8.
    // SAFETY: `i < n` and `r + j < 8`, so `(r + j) * n + i < 8 * n = rows.len()`.
    let at = |r: usize| [0, 1, 2, 3].map(|j| unsafe { rows.get_unchecked((r + j) * n + i) });
    let heads = [four_heads(at(0)), four_heads(at(4))];
    // `d` of the eight rows then their `dmin`, times the activation scale.
    let d_dmin = _mm512_mul_ps(unpack.d_dmin(heads), _mm512_set1_ps(y.d()));
    let unpacked = [unpack.unpack(heads[0]), unpack.unpack(heads[1])];
    let sumi = if parts.small {
        unpack.min_sums_split(
            unpacked,
            [broadcast(&parts.bytes[0]), broadcast(&parts.bytes[1])],
        )
    } else {
        // SAFETY: the block sums are 32 readable bytes.
        let bsums = unsafe {
            let bsums = y.block_sums().as_ptr();
            [
                _mm512_broadcast_i32x4(_mm_loadu_si128(bsums.cast())),
                _mm512_broadcast_i32x4(_mm_loadu_si128(bsums.add(8).cast())),
            ]
        };
        unpack.min_sums(unpacked, [bsums; 2])
    };
    let dmin = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(d_dmin)));
    *sumf = _mm256_sub_ps(*sumf, _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(sumi)));
    // The scale factors of rows 2p, 2p + 1 (see `Core::pair_aux`): `factors[h][4p..4p + 4]`
    // for half h, and their `d`, `ds[4p..4p + 4]`. In memory: each is then one broadcast load.
    for (factors, table) in out.factors.iter_mut().zip(factor_tables) {
        for (words, u) in factors.chunks_exact_mut(8).zip(unpacked) {
            // Per two rows, the low-nibble factors of both, then the high-nibble ones.
            let pairs = if VBMI_GFNI {
                // SAFETY: the caller guarantees AVX512-VBMI when `VBMI_GFNI`.
                unsafe { bytes_to_words(table, u) }
            } else {
                _mm512_permutex_epi64::<0b11_01_10_00>(_mm512_shuffle_epi8(u, table))
            };
            // SAFETY: `words` is eight writable `u64`s.
            unsafe { _mm512_storeu_si512(words.as_mut_ptr().cast(), pairs) };
        }
    }
    // `d` of each row twice, rows 0..8.
    let twice = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    // SAFETY: `ds` is sixteen writable floats.
    unsafe { _mm512_storeu_ps(out.ds.as_mut_ptr(), _mm512_permutexvar_ps(twice, d_dmin)) };
}

/// What [`eight_rows`] keeps of the heads of a block's eight rows: the scale factors of rows
/// `2p`, `2p + 1` (`factors[h][4p..4p + 4]` for half `h`: the low-nibble words of both, then
/// the high-nibble ones, see [`Core::pair_aux`]) and their `d` (`ds[4p..4p + 4]`: the first
/// row's twice, then the second's).
#[derive(Clone, Copy)]
struct Heads {
    factors: [[u64; 16]; 2],
    ds: [f32; 16],
}

/// Two rows of [`eight_rows`] at one activation block: `blocks` their blocks, `q8` the block's
/// quants in the pair order, `factors[h]` their scale factors for half `h` (the low-nibble
/// sub-blocks' for both rows, then the high-nibble ones', see [`Core::pair_aux`]), `d` their
/// `d` (the first row's twice, then the second's). Returns `sums` (in 128-bit lane `j`, lanes
/// `2j`, `2j + 1` of the first row, then of the second) plus `d * aux32`.
///
/// # Safety
///
/// As [`Core::pair_aux`].
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn two_rows<const VBMI_GFNI: bool>(
    core: &Core<VBMI_GFNI>,
    blocks: [&BlockQ4K; 2],
    q8: [(__m512i, __m512i); 2],
    factors: [&[u64; 4]; 2],
    d: &[f32; 4],
    sums: __m512,
    (prefetch, skip): (Prefetch, usize),
) -> __m512 {
    prefetch_weights::<SIDE_BY_SIDE_PREFETCH_BYTES>(blocks[0], prefetch, skip);
    prefetch_weights::<SIDE_BY_SIDE_PREFETCH_BYTES>(blocks[1], prefetch, skip);
    let factors = factors.map(|f| {
        let f = f.as_chunks::<2>().0;
        [broadcast(&f[0]), broadcast(&f[1])]
    });
    // SAFETY: the caller's guarantees are `Core::pair_aux`'.
    let aux = unsafe { core.pair_aux(blocks, q8, factors) };
    let d = _mm512_castsi512_ps(broadcast(d));
    _mm512_add_ps(sums, _mm512_mul_ps(d, _mm512_cvtepi32_ps(aux)))
}

/// The bytes of `u` at the even bytes of `table` as words (`vpermb` with the odd bytes masked
/// to zero).
///
/// # Safety
///
/// The CPU must support AVX512-VBMI.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn bytes_to_words(table: __m512i, u: __m512i) -> __m512i {
    let words;
    // SAFETY: `vpermb` only reads and writes these registers; the caller guarantees
    // AVX512-VBMI.
    unsafe {
        core::arch::asm!(
            "vpermb {words}{{{low_bytes}}}{{z}}, {table}, {u}",
            words = lateout(zmm_reg) words,
            low_bytes = in(kreg) 0x5555_5555_5555_5555_u64,
            table = in(zmm_reg) table,
            u = in(zmm_reg) u,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    words
}

/// `acc + a[2i] * b[2i] + a[2i + 1] * b[2i + 1]` per dword `i`: `vpdpwssd` in assembly (the
/// compiler splits the intrinsic into `vpmaddwd` and `vpaddd` in these loops, one instruction
/// more).
///
/// # Safety
///
/// The CPU must support AVX512-VNNI.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn dpwssd(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
    let mut acc = acc;
    // SAFETY: `vpdpwssd` only reads and writes these registers; AVX512-VNNI is enabled here.
    unsafe {
        core::arch::asm!(
            "vpdpwssd {acc}, {a}, {b}",
            acc = inout(zmm_reg) acc,
            a = in(zmm_reg) a,
            b = in(zmm_reg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// Where byte `i` of a 64-byte vector in the pair order comes from: `(g, v)`, value `v` of
/// 32-value group `g` (dword `k = i / 4` is lane `k / 2` of group `k % 2`, byte `i % 4` of it
/// the value `8 (i % 4) + k / 2`).
const fn pair_source(i: usize) -> (usize, usize) {
    let (k, c) = (i / 4, i % 4);
    (k % 2, 8 * c + k / 2)
}

/// The `vpermb` indices of the pair order from 64 weight bytes.
static PAIR_ORDER: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        let (g, v) = pair_source(i);
        t[i] = (32 * g + v) as u8;
        i += 1;
    }
    t
};

/// The `vpermt2b` indices of the pair order from 128 quants (one half of a Q8_K block): the
/// low-nibble sub-blocks (`[0]`: sub-blocks 0 and 2 of the four), then the high (1 and 3).
static PAIR_SLOT_ORDER: [[u8; 64]; 2] = {
    let mut t = [[0u8; 64]; 2];
    let mut i = 0;
    while i < 64 {
        let (g, v) = pair_source(i);
        t[0][i] = (64 * g + v) as u8;
        t[1][i] = (64 * g + 32 + v) as u8;
        i += 1;
    }
    t
};

/// Without AVX512-VBMI the pair order is a word shuffle across the vector, then a byte shuffle
/// within each 128 bits ([`PAIR_BYTES`]): word `p` of 128-bit lane `j` is the two bytes of
/// lanes `2j`, `2j + 1` of value row `c = p % 4` (values `8c..8c + 8`) of group `p / 4`. The
/// `vpermw` indices from 64 weight bytes.
static PAIR_WORDS: [u16; 32] = pair_words(32, 0);

/// [`PAIR_WORDS`] for 128 quants (`vpermt2w`): the low-nibble sub-blocks, then the high.
static PAIR_SLOT_WORDS: [[u16; 32]; 2] = [pair_words(64, 0), pair_words(64, 32)];

/// The word indices of [`PAIR_WORDS`], groups `group` bytes apart, from byte `offset`.
const fn pair_words(group: usize, offset: usize) -> [u16; 32] {
    let mut t = [0u16; 32];
    let mut w = 0;
    while w < 32 {
        let (j, p) = (w / 8, w % 8);
        t[w] = ((group * (p / 4) + offset + 8 * (p % 4) + 2 * j) / 2) as u16;
        w += 1;
    }
    t
}

/// The `vpshufb` indices after [`PAIR_WORDS`]: byte `c` of dword `t` of a 128-bit lane is byte
/// `t / 2` of word `4 (t % 2) + c`.
static PAIR_BYTES: [u8; 64] = {
    let mut b = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        let (t, c) = ((i % 16) / 4, i % 4);
        b[i] = (2 * (4 * (t % 2) + c) + t / 2) as u8;
        i += 1;
    }
    b
};

/// The eight or sixteen bytes at `from` (as `T` is long) in every 64 or 128 bits: one
/// `vpbroadcastq` or `vbroadcasti32x4` from memory, a load and no shuffle (assembly: the
/// compiler merges neighbouring loads into one and then shuffles).
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
fn broadcast<T: Copy>(from: &T) -> __m512i {
    const { assert!(matches!(core::mem::size_of::<T>(), 8 | 16)) };
    let v;
    let from = core::ptr::from_ref(from);
    // SAFETY: `from` is `size_of::<T>()` readable bytes, and each instruction reads exactly
    // that many (8 or 16, by the assertion); AVX-512F is enabled here.
    unsafe {
        if const { core::mem::size_of::<T>() == 8 } {
            core::arch::asm!(
                "vpbroadcastq {v}, qword ptr [{from}]",
                v = out(zmm_reg) v,
                from = in(reg) from,
                options(pure, readonly, nostack, preserves_flags),
            );
        } else {
            core::arch::asm!(
                "vbroadcasti32x4 {v}, xmmword ptr [{from}]",
                v = out(zmm_reg) v,
                from = in(reg) from,
                options(pure, readonly, nostack, preserves_flags),
            );
        }
    }
    v
}

/// The unpacking tables of [`HeadUnpack`] ([`HEAD_LANES`] over 512 bits).
static HEAD_TABLES: [[u8; 64]; 5] = repeat_lanes(HEAD_LANES);

/// The scale factors of [`Core::pair_aux`] from the unpacked scales, per 128 bits (one
/// row): for sub-blocks 0..4, then 4..8 (words `(s0, s2, s0, s2, s1, s3, s1, s3)`).
static FACTOR_TABLES: [[u8; 64]; 2] = {
    const Z: u8 = 0x80;
    repeat_lanes([
        [0, Z, 2, Z, 0, Z, 2, Z, 1, Z, 3, Z, 1, Z, 3, Z],
        [4, Z, 6, Z, 4, Z, 6, Z, 5, Z, 7, Z, 5, Z, 7, Z],
    ])
};

/// [`FACTOR_TABLES`] for two rows at a time, as `vpermb` indices over four unpacked heads (the
/// odd bytes, the words' high bytes, are zeroed by a mask): per two heads `2q`, `2q + 1` (32
/// bytes), the low-nibble words `(sa, sb, sa, sb)` of the first then of the second, then the
/// high-nibble ones (`sa`, `sb` the scales of sub-blocks `4h + k`, `4h + k + 2`, `k` 0 for the
/// low nibbles and 1 for the high); for sub-blocks 0..4 (`h = 0`), then 4..8.
static PAIR_FACTOR_ORDER: [[u8; 64]; 2] = [pair_factor_order(0, 1, 2), pair_factor_order(4, 1, 2)];

/// The scale factors of [`one_row`] from the unpacked scales of four blocks (one per 128 bits),
/// as `vpermb` indices (the odd bytes, the words' high bytes, are zeroed by a mask): per two
/// blocks `2q`, `2q + 1` (32 bytes), the words `(s_{2g}, s_{2g + 1})` twice of group `g = 2p` of
/// the first block then of the second, then of group `2p + 1`; groups 0 and 1 (`p = 0`), then
/// 2 and 3.
static ONE_ROW_PAIR_FACTOR_ORDER: [[u8; 64]; 2] =
    [pair_factor_order(0, 2, 1), pair_factor_order(4, 2, 1)];

/// The `vpermb` indices of [`PAIR_FACTOR_ORDER`] and [`ONE_ROW_PAIR_FACTOR_ORDER`]: in each 32
/// bytes (the heads in 128-bit lanes `2q`, `2q + 1`), four 8-byte slots (the first head, the
/// second, the first, the second) of four words each; word `w` of slot `k` is scale
/// `first + step * (k / 2) + pair * (w % 2)` of its head (its low byte; the high byte, masked,
/// is index 0).
const fn pair_factor_order(first: usize, step: usize, pair: usize) -> [u8; 64] {
    let mut t = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        let (q, slot, w) = (i / 32, (i % 32) / 8, (i % 8) / 2);
        if i % 2 == 0 {
            let head = 2 * q + slot % 2;
            t[i] = (16 * head + first + step * (slot / 2) + pair * (w % 2)) as u8;
        }
        i += 1;
    }
    t
}

/// The `vpermt2w` indices of `d` of heads 0..8 then their `dmin`, across the two head vectors of
/// [`HeadUnpack`]: word `r` (< 8) is word 0 of head `r` (word 8r of the two vectors), word
/// 8 + r its word 1.
static HALVES: [u16; 32] = {
    let mut t = [0u16; 32];
    let mut w = 0;
    while w < 16 {
        t[w] = (8 * (w % 8) + w / 8) as u16;
        w += 1;
    }
    t
};

/// The `vpshufb` pattern that transposes each 128 bits as a 4x4 matrix of bytes: byte `4c + l`
/// to byte `4l + c`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
fn transpose_4x4_bytes() -> __m512i {
    _mm512_broadcast_i32x4(_mm_setr_epi8(
        0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
    ))
}

/// The `vpermt2w` indices that put the low words of two vectors' dwords side by side: word 2k
/// of the result is word 2k of the first source (the low word of its dword k), word 2k + 1 is
/// word 2k of the second (index 32 + 2k).
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
