//! The AVX2 dot-product kernel: per 32 weight bytes one lane-transposing permutation, then
//! `vpmaddubsw` against the prepared activations and `vpmaddwd` by the sub-block scale (or, on
//! CPUs with AVX-VNNI, one `vpdpwssd` that also accumulates), which leaves each lane's exact sum
//! in its own `i32`. The f16 scales are widened with F16C, which every AVX2 CPU has (the
//! dispatch checks it).
//!
//! The activations come from the prepared buffer of `arch::prepared` or, for rows of more than
//! `DIRECT_MIN_ROW_BLOCKS` blocks, straight from the caller's blocks, rearranged once per block
//! for eight rows multiplied side by side (`direct`). A single row (`dot_q8k`) rearranges each
//! block for itself with shuffles that stay inside 128-bit halves (`one_row`).
//!
//! The eight float lanes of the reference are one `__m256`: a multiply then an add per block,
//! as in the C.

use core::arch::x86_64::*;
use core::mem::MaybeUninit;

use crate::arch::prepared::{self, Prefetch, Prepared, RowState};
use crate::arch::x86_64::{
    DotPrefetch, HEAD_LANES, ONCE_MAX_BLOCKS, PREFETCH_BYTES, SIDE_BY_SIDE_PREFETCH_BYTES,
    next_group_skip, pairs_once, prefetch_weights, repeat_lanes, scales_and_mins_u64, sum_i32x4,
    takes_direct,
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
    if let [y] = out {
        // One row (`dot_q8k`): `one_row` at once, without the stack frames of the paths for
        // several rows (tens of KiB for their activations, touched page by page on every call).
        // SAFETY: as this function's; `weights` holds the one row.
        unsafe { one_row::<VNNI>(weights, activations, y, DotPrefetch::for_this_cpu().one_row) };
        return;
    }
    // SAFETY: as this function's.
    unsafe { rows::<VNNI>(weights, activations, out) };
}

/// [`matvec`] for any number of rows, with the stack frame for several.
///
/// # Safety
///
/// As [`matvec`].
#[target_feature(enable = "avx2,fma,f16c")]
#[inline(never)]
unsafe fn rows<const VNNI: bool>(weights: &[BlockQ4K], activations: &[BlockQ8K], out: &mut [f32]) {
    if takes_direct(activations, out) {
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
    // Every activation block transposed once for all the groups of eight rows, not once per
    // group, where `pairs_once` says so.
    let mut buffer = [const { MaybeUninit::<[__m256i; 8]>::uninit() }; ONCE_MAX_BLOCKS];
    let n = activations.len();
    let transposed = pairs_once(activations, out, DIRECT_ROWS).then(|| {
        let dword_order = Shuffles::new().dword_order;
        for (t, y) in buffer.iter_mut().zip(activations) {
            t.write(transposed_quants(y, dword_order));
        }
        // SAFETY: the first `n` entries were written just above.
        unsafe { core::slice::from_raw_parts(buffer.as_ptr().cast::<[__m256i; 8]>(), n) }
    });
    prepared::direct::<DIRECT_ROWS>(
        weights,
        activations,
        out,
        // SAFETY: AVX2, FMA and F16C are enabled here, and AVX-VNNI if `VNNI` (this function's
        // caller); `rows` is `DIRECT_ROWS` rows of `activations.len()` blocks, and `ys` their
        // results; `transposed` holds `activations`' blocks.
        |rows, ys| unsafe {
            eight_rows::<VNNI>(
                rows,
                activations,
                ys,
                prefetch.side_by_side_avx2,
                transposed,
            )
        },
        // SAFETY: as above, with one row.
        |row, y| unsafe { one_row::<VNNI>(row, activations, y, prefetch.one_row) },
    );
}

/// `y = dot(row, activations)` for one row of [`direct`]: single rows (`dot_q8k`) and the rows
/// left over from groups of eight.
///
/// A single row rearranges each activation block for itself, so this loop keeps its shuffles
/// inside 128-bit halves, which cost half what a lane-crossing `vpermd` does on Zen 3:
/// one [`PAIR_LANES`] `vpshufb` per 32 bytes of weights and of activations puts positions `l`
/// and `l + 8` side by side, so that `vpmaddubsw` gives one word per lane in each half; the
/// words of the two sub-blocks sharing those bytes are then interleaved (`vpunpcklwd`,
/// `vpunpckhwd`) and multiplied by their two scales in one `vpmaddwd` (or AVX-VNNI
/// `vpdpwssd`), lanes 0..4 in one accumulator and 4..8 in the other; once per block the two
/// halves of each are added across (one `vperm2i128`). The same exact integers as [`aux_of`],
/// in the reference's lanes.
///
/// # Safety
///
/// The CPU must support AVX2, FMA and F16C, and AVX-VNNI if `VNNI`. `row` should be
/// `activations.len()` blocks (shorter, nothing is done).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn one_row<const VNNI: bool>(
    row: &[BlockQ4K],
    activations: &[BlockQ8K],
    y: &mut f32,
    prefetch: Prefetch,
) {
    if row.len() < activations.len() {
        return;
    }
    // SAFETY: `PAIR_LANES` is 16 readable bytes.
    let order = unsafe { _mm_loadu_si128(PAIR_LANES.as_ptr().cast()) };
    let order = _mm256_broadcastsi128_si256(order);
    let low_nibbles = _mm256_set1_epi8(0x0F);
    // Bytes `32k .. 32k + 32` of `quants`, in the [`PAIR_LANES`] order.
    let paired = |quants: *const u8, k: usize| {
        // SAFETY: the callers pass `k < 8` with 256-byte `quants`, or `k < 4` with 128.
        _mm256_shuffle_epi8(
            unsafe { _mm256_loadu_si256(quants.add(32 * k).cast()) },
            order,
        )
    };
    let mut sums = _mm256_setzero_ps();
    let mut sumf = 0f32;
    for (x, a) in row.iter().zip(activations) {
        prefetch_weights::<PREFETCH_BYTES>(x, prefetch, 0);
        let (scales, mins) = scales_and_mins_u64(x);
        // The eight scales as words in each 128 bits: dword `g` is `(s[2g], s[2g + 1])`.
        let scales =
            _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(scales as i64)));
        let factors = [
            _mm256_shuffle_epi32::<0x00>(scales),
            _mm256_shuffle_epi32::<0x55>(scales),
            _mm256_shuffle_epi32::<0xAA>(scales),
            _mm256_shuffle_epi32::<0xFF>(scales),
        ];
        // Lanes 0..4 and 4..8; in each, positions 0..16 of a sub-block in the low 128 bits and
        // 16..32 in the high.
        let mut acc = [_mm256_setzero_si256(); 2];
        for (g, factor) in factors.into_iter().enumerate() {
            let t = paired(x.quants().as_ptr(), g);
            let low = _mm256_and_si256(t, low_nibbles);
            let high = _mm256_and_si256(_mm256_srli_epi16::<4>(t), low_nibbles);
            // Sub-block 2g in the low nibbles, 2g + 1 in the high.
            let low = _mm256_maddubs_epi16(low, paired(a.quants().as_ptr().cast(), 2 * g));
            let high = _mm256_maddubs_epi16(high, paired(a.quants().as_ptr().cast(), 2 * g + 1));
            let words = [
                _mm256_unpacklo_epi16(low, high),
                _mm256_unpackhi_epi16(low, high),
            ];
            for (acc, w) in acc.iter_mut().zip(words) {
                *acc = if VNNI {
                    // SAFETY: the caller guarantees AVX-VNNI when `VNNI`.
                    unsafe { dpwssd(*acc, w, factor) }
                } else {
                    _mm256_add_epi32(*acc, _mm256_madd_epi16(w, factor))
                };
            }
        }
        // Lanes 0..4 from both halves of `acc[0]`, 4..8 from both of `acc[1]`.
        let aux = _mm256_add_epi32(
            _mm256_blend_epi32::<0xF0>(acc[0], acc[1]),
            _mm256_permute2x128_si256::<0x21>(acc[0], acc[1]),
        );
        // SAFETY: AVX2 is enabled here.
        let sumi = unsafe { min_sum(mins, a.block_sums()) };
        let (d, dmin) = d_dmin(x, a.d());
        sums = _mm256_add_ps(
            sums,
            _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(aux)),
        );
        sumf -= dmin * sumi as f32;
    }
    let mut state = RowState::new(prefetch);
    // SAFETY: `state.sums` is eight writable floats.
    unsafe { _mm256_storeu_ps(state.sums.as_mut_ptr(), sums) };
    state.sumf = sumf;
    *y = state.finish();
}

/// The byte order of [`one_row`] in each 128 bits: positions `l` and `l + 8`, both of lane
/// `l`, side by side.
static PAIR_LANES: [u8; 16] = [0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15];

/// Eight rows side by side with the per-block work that is not the quants' done for the eight
/// at once, one block ahead of the rows: their 16-byte block heads (`d`, `dmin`, the packed
/// scales) gathered two rows per vector and unpacked there, the eight min sums and `sumf`
/// updates as vectors, and each row's scales stored as the words `(s, s)` for one broadcast
/// load per sub-block (in place of a `vpshufb` each). The quants of each activation block are
/// transposed once for the eight rows and read from memory.
///
/// # Safety
///
/// The CPU must support AVX2, FMA and F16C, and AVX-VNNI if `VNNI`. `rows` should be eight rows
/// of `activations.len()` blocks (shorter, or no activations, and nothing is done) and `ys` eight
/// long; `transposed`, if given, `activations`' quants as [`transposed_quants`] gives them,
/// block by block.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn eight_rows<const VNNI: bool>(
    rows: &[BlockQ4K],
    activations: &[BlockQ8K],
    ys: &mut [f32],
    prefetch: Prefetch,
    transposed: Option<&[[__m256i; 8]]>,
) {
    let n = activations.len();
    let Some(rows) = rows.get(..8 * n).filter(|_| n > 0) else {
        return;
    };
    let shuffles = Shuffles::new();
    // SAFETY: each table is 32 readable bytes.
    let table = |t: &[u8; 32]| unsafe { _mm256_loadu_si256(t.as_ptr().cast()) };
    let [sc_low, sc_bytes_mask, sc_high, mins_low, mins_high] = HEAD_TABLES.each_ref().map(table);
    let [factors_0, factors_1, words] = FACTOR_TABLES.each_ref().map(table);
    // In each 128 bits, bytes 12..16 (the low bits of mins 4..8) take the shifted bytes.
    let shifted_bytes = _mm256_setr_epi32(0, 0, 0, -1, 0, 0, 0, -1);
    // The 16-byte heads of rows `2k`, `2k + 1` of block `i`, one per 128 bits.
    let heads_of = |i: usize| {
        // SAFETY: a block's first 16 bytes are `d`, `dmin` and the packed scales; the callers
        // pass `i < n`, and `r < 8`, so `r * n + i < 8 * n = rows.len()`.
        let head = |r: usize| unsafe {
            _mm_loadu_si128(core::ptr::from_ref(rows.get_unchecked(r * n + i)).cast())
        };
        [0, 2, 4, 6]
            .map(|r| _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(head(r)), head(r + 1)))
    };
    // The head work of block `i` into `out`, and its min sums into `sumf` (whose lanes, as those
    // of `out.ds`, are the rows in the order 0, 2, 4, 6, 1, 3, 5, 7).
    let head_work = |i: usize, sumf: &mut __m256, out: &mut HeadsAvx2| {
        // SAFETY: the callers pass `i < n`.
        let y = unsafe { activations.get_unchecked(i) };
        let heads = heads_of(i);
        // SAFETY: the block sums are 32 readable bytes.
        let [bsums_low, bsums_high] = [0, 8].map(|k| unsafe {
            _mm256_broadcastsi128_si256(_mm_loadu_si128(y.block_sums().as_ptr().add(k).cast()))
        });
        // Per 128 bits the scales in bytes 0..8 and the mins in 8..16, as in the AVX-512
        // kernel's `eight_rows`.
        let unpacked = heads.map(|h| {
            let low = _mm256_shuffle_epi8(h, sc_low);
            let low = _mm256_blendv_epi8(low, _mm256_srli_epi16::<4>(low), shifted_bytes);
            let top = _mm256_shuffle_epi8(h, sc_high);
            let top = _mm256_and_si256(_mm256_srli_epi16::<2>(top), _mm256_set1_epi8(0x30));
            _mm256_or_si256(_mm256_and_si256(low, sc_bytes_mask), top)
        });
        // The min sums: four dwords per row, then added up (rows 0, 2, 4, 6 in the low 128
        // bits, 1, 3, 5, 7 in the high).
        let partial = unpacked.map(|u| {
            _mm256_add_epi32(
                _mm256_madd_epi16(_mm256_shuffle_epi8(u, mins_low), bsums_low),
                _mm256_madd_epi16(_mm256_shuffle_epi8(u, mins_high), bsums_high),
            )
        });
        let sumi = _mm256_hadd_epi32(
            _mm256_hadd_epi32(partial[0], partial[1]),
            _mm256_hadd_epi32(partial[2], partial[3]),
        );
        // `d` and `dmin` of the rows in the same order: dword 0 of each head.
        let dd = _mm256_unpacklo_epi64(
            _mm256_unpacklo_epi32(heads[0], heads[1]),
            _mm256_unpacklo_epi32(heads[2], heads[3]),
        );
        // Per 128 bits the four `d` then the four `dmin`; then all `d` low, all `dmin` high.
        let dd = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_shuffle_epi8(dd, words));
        let scale = _mm256_set1_ps(y.d());
        let d = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(dd)), scale);
        let dmin = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256::<1>(dd)), scale);
        *sumf = _mm256_sub_ps(*sumf, _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(sumi)));
        // SAFETY: `out.ds` is eight writable floats.
        unsafe { _mm256_storeu_ps(out.ds.as_mut_ptr(), d) };
        // Row 2k + h's factors from 128 bits h of each vector: sub-blocks 0..4, then 4..8.
        for (k, u) in unpacked.into_iter().enumerate() {
            for (half, table) in [factors_0, factors_1].into_iter().enumerate() {
                let f = _mm256_shuffle_epi8(u, table);
                // SAFETY: each row's factors are eight writable `u32`s, and `half < 2`.
                unsafe {
                    let mut at = |row: usize| out.factors[row].as_mut_ptr().add(4 * half).cast();
                    _mm_storeu_si128(at(2 * k), _mm256_castsi256_si128(f));
                    _mm_storeu_si128(at(2 * k + 1), _mm256_extracti128_si256::<1>(f));
                }
            }
        }
    };
    let mut heads = [HeadsAvx2 {
        factors: [[0; 8]; 8],
        ds: [0.0; 8],
    }; 2];
    let mut sumf = _mm256_setzero_ps();
    let mut sums = [_mm256_setzero_ps(); 8];
    // The block's transposed quants when `transposed` is not given.
    let mut q8;
    head_work(0, &mut sumf, &mut heads[0]);
    for (i, y) in activations.iter().enumerate() {
        if i + 1 < n {
            head_work(i + 1, &mut sumf, &mut heads[(i + 1) % 2]);
        }
        let q8 = match transposed {
            // SAFETY: the caller's `transposed` holds `n > i` blocks.
            Some(transposed) => unsafe { transposed.get_unchecked(i) },
            None => {
                q8 = transposed_quants(y, shuffles.dword_order);
                // Opaque, so that they stay in memory (sixteen registers do not hold them
                // beside the rows' work), read by the rows as operands.
                core::hint::black_box(&q8)
            }
        };
        let skip = next_group_skip::<SIDE_BY_SIDE_PREFETCH_BYTES>(i, n, 8);
        let HeadsAvx2 { factors, ds } = &heads[i % 2];
        for (r, sums) in sums.iter_mut().enumerate() {
            // SAFETY: `r < 8` and `i < n`, so `r * n + i < 8 * n = rows.len()`.
            let x = unsafe { rows.get_unchecked(r * n + i) };
            prefetch_weights::<SIDE_BY_SIDE_PREFETCH_BYTES>(x, prefetch, skip);
            let factor = |j: usize| broadcast_u32(&factors[r][j]);
            // SAFETY: the caller guarantees AVX-VNNI when `VNNI`.
            let aux =
                unsafe { aux_of::<VNNI>(x, &shuffles, |g| (q8[2 * g], q8[2 * g + 1]), factor) };
            // Row r's `d` is lane `ROW_LANES[r]` of `ds`.
            let d = _mm256_broadcast_ss(&ds[ROW_LANES[r]]);
            *sums = _mm256_add_ps(*sums, _mm256_mul_ps(d, _mm256_cvtepi32_ps(aux)));
        }
    }
    let mut sumf_lanes = [0f32; 8];
    // SAFETY: `sumf_lanes` is eight writable floats.
    unsafe { _mm256_storeu_ps(sumf_lanes.as_mut_ptr(), sumf) };
    for (r, (y, sums)) in ys.iter_mut().zip(sums).enumerate().take(8) {
        let mut state = RowState::new(prefetch);
        // SAFETY: `state.sums` is eight writable floats.
        unsafe { _mm256_storeu_ps(state.sums.as_mut_ptr(), sums) };
        state.sumf = sumf_lanes[ROW_LANES[r]];
        *y = state.finish();
    }
}

/// The lane of row `r` in [`eight_rows`]' vectors of eight rows (rows 0, 2, 4, 6, then 1, 3,
/// 5, 7).
const ROW_LANES: [usize; 8] = [0, 4, 1, 5, 2, 6, 3, 7];

/// What [`eight_rows`] keeps of the heads of a block's eight rows: row `r`'s scales as the
/// words `(s, s)` (`factors[r][j]` for sub-block `j`) and its `d` (`ds[ROW_LANES[r]]`).
#[derive(Clone, Copy)]
struct HeadsAvx2 {
    factors: [[u32; 8]; 8],
    ds: [f32; 8],
}

/// The unpacking tables of [`eight_rows`] ([`HEAD_LANES`] over 256 bits).
static HEAD_TABLES: [[u8; 32]; 5] = repeat_lanes(HEAD_LANES);

/// The other `vpshufb` tables of [`eight_rows`], per 128 bits (one row): its scales as the
/// words `(s, s)`, sub-blocks 0..4 then 4..8, and the words of `d` then of `dmin` from four
/// dwords `(d, dmin)`.
static FACTOR_TABLES: [[u8; 32]; 3] = {
    const Z: u8 = 0x80;
    repeat_lanes([
        [0, Z, 0, Z, 1, Z, 1, Z, 2, Z, 2, Z, 3, Z, 3, Z],
        [4, Z, 4, Z, 5, Z, 5, Z, 6, Z, 6, Z, 7, Z, 7, Z],
        [0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15],
    ])
};

/// The four bytes at `from` in every 32 bits: one `vpbroadcastd` from memory, a load and no
/// shuffle (assembly: the compiler turns a store and these loads into shuffles).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn broadcast_u32(from: &u32) -> __m256i {
    let v;
    // SAFETY: `from` is four readable bytes; `vpbroadcastd` reads exactly those, and AVX2 is
    // enabled here.
    unsafe {
        core::arch::asm!(
            "vpbroadcastd {v}, dword ptr [{from}]",
            v = out(ymm_reg) v,
            from = in(reg) core::ptr::from_ref(from),
            options(pure, readonly, nostack, preserves_flags),
        );
    }
    v
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
/// `Σ bsums[k] * mins[k / 2]`, and `scale` is the activations' `d` (the integer part is
/// [`aux_of`]).
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
    let factor = |j: usize| _mm256_shuffle_epi8(scales, shuffles.scale_patterns[j]);
    // SAFETY: the caller guarantees AVX-VNNI when `VNNI`.
    let aux = unsafe { aux_of::<VNNI>(x, shuffles, q8, factor) };
    let sumi = min_sum(mins);
    let (d, dmin) = d_dmin(x, scale);
    *sums = _mm256_add_ps(
        *sums,
        _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(aux)),
    );
    *sumf -= dmin * sumi as f32;
}

/// The exact lane sums of block `x` weighted by its scales (the reference's `aux32`): `q8(g)`
/// gives the activations of sub-blocks `2g` and `2g + 1` in the prepared order, `factor(j)` the
/// scale of sub-block `j` in every word.
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
unsafe fn aux_of<const VNNI: bool>(
    x: &BlockQ4K,
    shuffles: &Shuffles,
    q8: impl Fn(usize) -> (__m256i, __m256i),
    factor: impl Fn(usize) -> __m256i,
) -> __m256i {
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
        let (scale_low, scale_high) = (factor(2 * g), factor(2 * g + 1));
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
    aux
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

/// The 256 quants of `y`, each 32 of them by [`transpose_lanes`].
#[target_feature(enable = "avx2,fma")]
#[inline]
fn transposed_quants(y: &BlockQ8K, dword_order: __m256i) -> [__m256i; 8] {
    let mut q8 = [_mm256_setzero_si256(); 8];
    for (j, q8) in q8.iter_mut().enumerate() {
        // SAFETY: bytes `32j .. 32j + 32` of the 256 quants are readable.
        let raw = unsafe { _mm256_loadu_si256(y.quants().as_ptr().add(32 * j).cast()) };
        *q8 = transpose_lanes(raw, dword_order);
    }
    q8
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
