//! The AVX2 dot-product kernel. Per 32 weight bytes one `vpshufb` that stays inside 128-bit
//! halves puts the two positions of each lane side by side (`PAIR_LANES`), `vpmaddubsw` against
//! activations in the same order gives one word per lane and half for each of the two
//! sub-blocks in those bytes, and after one unpack per eight lanes' words a `vpmaddwd` by the
//! two scales (or, on CPUs with AVX-VNNI, one `vpdpwssd` that also accumulates) leaves each
//! lane's exact sum in its own `i32` (`paired_aux`). No lane-crossing shuffle per 32 bytes: a
//! `vpermd` (which the earlier form of this loop took) issues at half the rate of a `vpshufb`
//! on AMD's cores. The f16 scales are widened with F16C, which every AVX2 CPU has (the dispatch
//! checks it).
//!
//! The activations come in that order from the prepared buffer of `arch::prepared` or, for rows
//! of more than `DIRECT_MIN_ROW_BLOCKS` blocks, straight from the caller's blocks, rearranged
//! once per block for eight rows multiplied side by side (`direct`). A single row (`dot_q8k`)
//! rearranges each block for itself (`one_row`).
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
/// [`paired_aux`]).
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
    let order = pair_order();
    prepared::matvec(
        weights,
        activations,
        out,
        DotPrefetch::for_this_cpu().one_row,
        |s, d| pair_sub_block(s, d, order),
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

/// The rows, [`DIRECT_ROWS`] at a time, with each activation sub-block put in the
/// [`PAIR_LANES`] order in registers ([`paired_quants`]) once for all of them, instead of
/// through the prepared buffer. Rows side by side prefetch as [`DotPrefetch`] says for this
/// CPU (on Zen 4 not at all: there it slowed the reads at DRAM sizes).
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
    // Every activation block rearranged once for all the groups of eight rows, not once per
    // group, where `pairs_once` says so.
    let mut buffer = [const { MaybeUninit::<[__m256i; 8]>::uninit() }; ONCE_MAX_BLOCKS];
    let n = activations.len();
    let paired = pairs_once(activations, out, DIRECT_ROWS).then(|| {
        let order = pair_order();
        for (t, y) in buffer.iter_mut().zip(activations) {
            t.write(paired_quants(y, order));
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
        // results; `paired` holds `activations`' blocks.
        |rows, ys| unsafe {
            eight_rows::<VNNI>(rows, activations, ys, prefetch.side_by_side_avx2, paired)
        },
        // SAFETY: as above, with one row.
        |row, y| unsafe { one_row::<VNNI>(row, activations, y, prefetch.one_row) },
    );
}

/// One group of 32 weight bytes `$t`, in the [`PAIR_LANES`] order, times the activations of its
/// two sub-blocks (`$q8`, a pair of vectors in the same order) and their two scales
/// (`$factor`), added into `$acc` as [`paired_aux`] describes; `$vnni` is the kernel's `VNNI`,
/// and `$low_nibbles` 0x0F in every byte. The block loops of [`paired_aux`] and [`one_row`]
/// both use it.
///
/// A macro, not a function: with the same body behind an `#[inline]` function the compiler
/// scheduled the loops that call it 1-4% slower on Zen 3 (the buffer path and the eight-row
/// loop), and the one-row loop through `paired_aux` itself 5-8% slower (its float sums spilled).
macro_rules! add_group {
    ($acc:expr, $t:expr, $q8:expr, $factor:expr, $low_nibbles:expr, $vnni:expr) => {{
        let (t, (q8_low, q8_high), factor, low_nibbles) = ($t, $q8, $factor, $low_nibbles);
        let low = _mm256_and_si256(t, low_nibbles);
        let high = _mm256_and_si256(_mm256_srli_epi16::<4>(t), low_nibbles);
        // Sub-block 2g in the low nibbles, 2g + 1 in the high.
        let low = _mm256_maddubs_epi16(low, q8_low);
        let high = _mm256_maddubs_epi16(high, q8_high);
        let words = [
            _mm256_unpacklo_epi16(low, high),
            _mm256_unpackhi_epi16(low, high),
        ];
        for (acc, w) in $acc.iter_mut().zip(words) {
            *acc = if $vnni {
                // SAFETY: the functions that expand this macro pass their `VNNI` and require
                // AVX-VNNI of their callers when it is set.
                unsafe { dpwssd(*acc, w, factor) }
            } else {
                _mm256_add_epi32(*acc, _mm256_madd_epi16(w, factor))
            };
        }
    }};
}

/// `y = dot(row, activations)` for one row of [`direct`]: single rows (`dot_q8k`) and the rows
/// left over from groups of eight.
///
/// A single row rearranges each activation block for itself: one [`PAIR_LANES`] `vpshufb` per
/// 32 bytes of activations, beside the weights' own. The block loop is [`paired_aux`]'s, written
/// out over [`add_group!`] with the scales' broadcasts in the compiler's own form: through
/// `paired_aux` the compiler scheduled this loop with its float sums spilled to the stack, and
/// `dot_q8k` ran 5-8% slower on Zen 3.
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
    let order = pair_order();
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
        let scales = scale_words(scales);
        let factors = [
            _mm256_shuffle_epi32::<0x00>(scales),
            _mm256_shuffle_epi32::<0x55>(scales),
            _mm256_shuffle_epi32::<0xAA>(scales),
            _mm256_shuffle_epi32::<0xFF>(scales),
        ];
        let q8 = a.quants().as_ptr().cast();
        let mut acc = [_mm256_setzero_si256(); 2];
        for (g, factor) in factors.into_iter().enumerate() {
            let t = paired(x.quants().as_ptr(), g);
            add_group!(
                acc,
                t,
                (paired(q8, 2 * g), paired(q8, 2 * g + 1)),
                factor,
                low_nibbles,
                VNNI
            );
        }
        let aux = add_halves(acc);
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

/// The byte order of the weights and activations in each 128 bits: positions `l` and `l + 8`
/// (of a sub-block's 16 in that half), both of lane `l`, side by side.
static PAIR_LANES: [u8; 16] = [0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15];

/// [`PAIR_LANES`] in both 128-bit halves.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn pair_order() -> __m256i {
    // SAFETY: `PAIR_LANES` is 16 readable bytes.
    _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(PAIR_LANES.as_ptr().cast()) })
}

/// The factors of [`paired_aux`] from a block's eight scales (as [`scales_and_mins_u64`] gives
/// them): `(s[2g], s[2g + 1])` in every dword, four `vpshufd` of [`scale_words`], which the
/// compiler would otherwise turn into a `vpshufd` and a lane-crossing `vpbroadcastd` each.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn scale_pairs(scales: u64) -> [__m256i; 4] {
    let words = scale_words(scales);
    let (f0, f1, f2, f3);
    // SAFETY: `vpshufd` only reads and writes these registers, and AVX2 is enabled here.
    unsafe {
        core::arch::asm!(
            "vpshufd {f0}, {s}, 0x00",
            "vpshufd {f1}, {s}, 0x55",
            "vpshufd {f2}, {s}, 0xAA",
            "vpshufd {f3}, {s}, 0xFF",
            s = in(ymm_reg) words,
            f0 = out(ymm_reg) f0,
            f1 = out(ymm_reg) f1,
            f2 = out(ymm_reg) f2,
            f3 = out(ymm_reg) f3,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    [f0, f1, f2, f3]
}

/// A block's eight scales (as [`scales_and_mins_u64`] gives them) as words, in both 128-bit
/// halves: dword `g` is `(s[2g], s[2g + 1])`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn scale_words(scales: u64) -> __m256i {
    _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(scales as i64)))
}

/// One sub-block of activations in the [`PAIR_LANES`] order, for the prepared buffer.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn pair_sub_block(src: &[i8; 32], dst: &mut [i8; 32], order: __m256i) {
    // SAFETY: `src` is 32 readable bytes and `dst` 32 writable ones.
    unsafe {
        let t = _mm256_shuffle_epi8(_mm256_loadu_si256(src.as_ptr().cast()), order);
        _mm256_storeu_si256(dst.as_mut_ptr().cast(), t);
    }
}

/// The exact lane sums of block `x` weighted by its scales (the reference's `aux32`): `q8(g)`
/// gives the activations of sub-blocks `2g` and `2g + 1` in the [`PAIR_LANES`] order, `order`
/// is that order in both halves ([`pair_order`]), and `factor(g)` the scales of sub-blocks
/// `2g` and `2g + 1` as the words of every dword ([`scale_pairs`]).
///
/// Per 32 weight bytes: their [`PAIR_LANES`] shuffle and nibbles, then `vpmaddubsw` sums the
/// two positions of each lane (exact: each pair is at most `2 * 15 * 128` in magnitude), one
/// word per lane in each half (positions 0..16 of the sub-block in the low half, 16..32 in
/// the high); the two sub-blocks' words are interleaved (`vpunpcklwd` for lanes 0..4,
/// `vpunpckhwd` for 4..8) and multiplied by their scales and added in pairs by one `vpmaddwd`,
/// or with `VNNI` one AVX-VNNI `vpdpwssd` that also adds into the accumulator. Once per block a
/// blend and a `vperm2i128` add the halves, lanes 0..4 from one accumulator and 4..8 from the
/// other.
///
/// # Safety
///
/// The CPU must support AVX-VNNI if `VNNI`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn paired_aux<const VNNI: bool>(
    x: &BlockQ4K,
    order: __m256i,
    q8: impl Fn(usize) -> (__m256i, __m256i),
    factor: impl Fn(usize) -> __m256i,
) -> __m256i {
    let low_nibbles = _mm256_set1_epi8(0x0F);
    // Lanes 0..4 and 4..8; in each, positions 0..16 of a sub-block in the low 128 bits and
    // 16..32 in the high.
    let mut acc = [_mm256_setzero_si256(); 2];
    for g in 0..4 {
        let factor = factor(g);
        // SAFETY: group `g < 4` of the 128 quant bytes is 32 readable bytes at `32 * g`.
        let raw = unsafe { _mm256_loadu_si256(x.quants().as_ptr().add(32 * g).cast()) };
        let t = _mm256_shuffle_epi8(raw, order);
        add_group!(acc, t, q8(g), factor, low_nibbles, VNNI);
    }
    add_halves(acc)
}

/// The eight lanes from [`paired_aux`]'s two accumulators: lanes 0..4 from both halves of
/// `acc[0]`, 4..8 from both of `acc[1]`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn add_halves(acc: [__m256i; 2]) -> __m256i {
    _mm256_add_epi32(
        _mm256_blend_epi32::<0xF0>(acc[0], acc[1]),
        _mm256_permute2x128_si256::<0x21>(acc[0], acc[1]),
    )
}

/// Eight rows side by side with the per-block work that is not the quants' done for the eight
/// at once, one block ahead of the rows: their 16-byte block heads (`d`, `dmin`, the packed
/// scales) gathered two rows per vector and unpacked there, the eight min sums and `sumf`
/// updates as vectors, and each row's scales stored as words, for one broadcast load per pair
/// of sub-blocks (in place of a shuffle each). The quants of each activation block are put in
/// the [`PAIR_LANES`] order once for the eight rows and read from memory.
///
/// # Safety
///
/// The CPU must support AVX2, FMA and F16C, and AVX-VNNI if `VNNI`. `rows` should be eight rows
/// of `activations.len()` blocks (shorter, or no activations, and nothing is done) and `ys` eight
/// long; `paired`, if given, `activations`' quants as [`paired_quants`] gives them, block by
/// block.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn eight_rows<const VNNI: bool>(
    rows: &[BlockQ4K],
    activations: &[BlockQ8K],
    ys: &mut [f32],
    prefetch: Prefetch,
    paired: Option<&[[__m256i; 8]]>,
) {
    let n = activations.len();
    let Some(rows) = rows.get(..8 * n).filter(|_| n > 0) else {
        return;
    };
    let order = pair_order();
    // SAFETY: each table is 32 readable bytes.
    let table = |t: &[u8; 32]| unsafe { _mm256_loadu_si256(t.as_ptr().cast()) };
    let [sc_low, sc_bytes_mask, sc_high, mins_low, mins_high] = HEAD_TABLES.each_ref().map(table);
    let [to_words, words] = FACTOR_TABLES.each_ref().map(table);
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
        // Row 2k + h's scale words from 128 bits h of each vector.
        for (k, u) in unpacked.into_iter().enumerate() {
            let f = _mm256_shuffle_epi8(u, to_words);
            // SAFETY: each row's factors are four writable `u32`s.
            unsafe {
                let mut at = |row: usize| out.factors[row].as_mut_ptr().cast();
                _mm_storeu_si128(at(2 * k), _mm256_castsi256_si128(f));
                _mm_storeu_si128(at(2 * k + 1), _mm256_extracti128_si256::<1>(f));
            }
        }
    };
    let mut heads = [HeadsAvx2 {
        factors: [[0; 4]; 8],
        ds: [0.0; 8],
    }; 2];
    let mut sumf = _mm256_setzero_ps();
    let mut sums = [_mm256_setzero_ps(); 8];
    // The block's paired quants when `paired` is not given.
    let mut q8;
    head_work(0, &mut sumf, &mut heads[0]);
    for (i, y) in activations.iter().enumerate() {
        if i + 1 < n {
            head_work(i + 1, &mut sumf, &mut heads[(i + 1) % 2]);
        }
        let q8 = match paired {
            // SAFETY: the caller's `paired` holds `n > i` blocks.
            Some(paired) => unsafe { paired.get_unchecked(i) },
            None => {
                q8 = paired_quants(y, order);
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
            let factor = |g: usize| broadcast_u32(&factors[r][g]);
            // SAFETY: the caller guarantees AVX-VNNI when `VNNI`.
            let aux =
                unsafe { paired_aux::<VNNI>(x, order, |g| (q8[2 * g], q8[2 * g + 1]), factor) };
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

/// What [`eight_rows`] keeps of the heads of a block's eight rows: row `r`'s eight scales as
/// words (`factors[r][g]` the scales of sub-blocks `2g` and `2g + 1`, as [`paired_aux`] takes
/// them) and its `d` (`ds[ROW_LANES[r]]`).
#[derive(Clone, Copy)]
struct HeadsAvx2 {
    factors: [[u32; 4]; 8],
    ds: [f32; 8],
}

/// The unpacking tables of [`eight_rows`] ([`HEAD_LANES`] over 256 bits).
static HEAD_TABLES: [[u8; 32]; 5] = repeat_lanes(HEAD_LANES);

/// The other `vpshufb` tables of [`eight_rows`], per 128 bits (one row): its eight scales as
/// words, and the words of `d` then of `dmin` from four dwords `(d, dmin)`.
static FACTOR_TABLES: [[u8; 32]; 2] = {
    const Z: u8 = 0x80;
    repeat_lanes([
        [0, Z, 1, Z, 2, Z, 3, Z, 4, Z, 5, Z, 6, Z, 7, Z],
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
    let order = pair_order();
    for (x, y) in row.iter().zip(prepared) {
        prefetch_weights::<PREFETCH_BYTES>(x, state.prefetch, 0);
        let q8 = |g: usize| {
            // Sub-block 2g is in slot (g / 2) * 4 + g % 2, 2g + 1 two slots after it.
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
        let (scales, mins) = scales_and_mins_u64(x);
        let factors = scale_pairs(scales);
        // SAFETY: the caller guarantees AVX-VNNI if `VNNI`.
        let aux = unsafe { paired_aux::<VNNI>(x, order, q8, |g| factors[g]) };
        // SAFETY: AVX2, FMA and F16C are enabled here.
        let sumi = unsafe { min_sum_of::<PAIRS>(mins, y) };
        let (d, dmin) = d_dmin(x, y.d);
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

/// The 256 quants of `y`, each 32 of them in the [`PAIR_LANES`] order (`order`).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn paired_quants(y: &BlockQ8K, order: __m256i) -> [__m256i; 8] {
    let mut q8 = [_mm256_setzero_si256(); 8];
    for (j, q8) in q8.iter_mut().enumerate() {
        // SAFETY: bytes `32j .. 32j + 32` of the 256 quants are readable.
        let raw = unsafe { _mm256_loadu_si256(y.quants().as_ptr().add(32 * j).cast()) };
        *q8 = _mm256_shuffle_epi8(raw, order);
    }
    q8
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
