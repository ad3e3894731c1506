//! Q8_K activations rearranged for the 4-byte dot-product instructions (`vpdpbusd`,
//! `vpmaddubsw` + `vpmaddwd`, `sdot`), and the row loops of the matrix-vector kernels that use
//! them: through a buffer of prepared blocks ([`matvec`]), or with each activation block
//! rearranged in registers for several rows side by side ([`direct`]).
//!
//! The reference sums, per block, eight lanes: lane `l` holds the values whose index is `l mod
//! 8`. An instruction that adds four neighbouring byte products mixes four lanes, so each
//! 32-value sub-block is transposed from `[c][l]` (four chunks of eight) to `[l][c]`: bytes
//! `4l..4l + 4` then hold the four values of lane `l`. The kernels give the Q4_K quants the same
//! order with byte shuffles of the weights (a single `vpermb` per 64 bytes with AVX512-VBMI),
//! and a 4-byte dot product then yields the sub-block's exact sum for each lane. (The AVX2
//! kernel, whose `vpmaddubsw` adds two neighbouring products, not four, passes an order of its
//! own: in each 16-byte half, the two values of each lane side by side, see its module.)
//! Activations are shared by every row of a matrix, so they are rearranged once per call (rows
//! of up to [`CHUNK_BLOCKS`] blocks) or once per chunk and group of [`ROW_GROUP`] rows (longer
//! rows, with NEON: the x86 kernels multiply rows of more than [`DIRECT_MIN_ROW_BLOCKS`] blocks
//! without the buffer, see [`direct`], and the AVX-512 one on Intel rows of any length, in an
//! order of its own), and the cost vanishes; each kernel passes its own shuffle for the
//! rearrangement (one or two instructions per sub-block, against about ninety cycles a block
//! for a byte loop).
//!
//! The same goes for the min sums: each block also carries its eight sub-block sums in 16 bits
//! where they fit, so that a kernel multiplies them by the eight mins in one 128-bit
//! multiply-add, instead of the sixteen block sums by each min twice.

use core::mem::MaybeUninit;

use crate::{BLOCK_VALUES, BlockQ4K, BlockQ8K};

/// Activation blocks prepared at once, on the stack of the kernel (64 blocks, 20 KiB: rows of
/// up to 16384 values are prepared once per call; longer rows chunk by chunk, once for each
/// group of [`ROW_GROUP`] rows).
pub(crate) const CHUNK_BLOCKS: usize = 64;

/// Where each sub-block goes in [`Prepared::qs`], in 32-byte slots: the low-nibble sub-blocks
/// of two neighbouring 32-byte quant groups side by side, then their high-nibble sub-blocks
/// (sub-blocks 0, 2, 1, 3, 4, 6, 5, 7), so that a 64-byte vector of weight bytes meets its
/// activations in one 64-byte load.
const SLOT_OF_SUB_BLOCK: [usize; 8] = [0, 2, 1, 3, 4, 6, 5, 7];

/// One Q8_K block in the order the SIMD kernels read it.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub(crate) struct Prepared {
    /// The quants, per sub-block slot (see `SLOT_OF_SUB_BLOCK`) 32 bytes where byte `4l + c`
    /// is the sub-block's value `8c + l` (the AVX2 kernel's: its own order, see
    /// [`Prepared::new`]).
    pub(crate) qs: [i8; BLOCK_VALUES],
    /// The block sums as stored.
    pub(crate) bsums: [i16; 16],
    /// The sums of each sub-block, `bsums[2j] + bsums[2j + 1]`, when `pairs_exact`.
    pub(crate) pair_sums: [i16; 8],
    /// Whether every sub-block sum fits in 16 bits, so that `pair_sums` is exact. True for
    /// every block `quantize_q8k` writes (a sub-block sum is at most 32 * 128 in magnitude);
    /// block sums made up by hand may need 17 bits, and then the kernels use `bsums`.
    pub(crate) pairs_exact: bool,
    /// The scale.
    pub(crate) d: f32,
}

impl Prepared {
    /// `y` in the prepared order, each sub-block rearranged by `transpose` (the kernel's order:
    /// what [`transpose_sub_block`] does, or the AVX2 kernel's own).
    #[inline(always)]
    fn new(y: &BlockQ8K, transpose: &impl Fn(&[i8; 32], &mut [i8; 32])) -> Prepared {
        let mut qs = [0i8; BLOCK_VALUES];
        // Eight sub-blocks and eight slots of 32, nothing left over.
        let (sub_blocks, _) = y.quants().as_chunks::<32>();
        let (slots, _) = qs.as_chunks_mut::<32>();
        for (src, &slot) in sub_blocks.iter().zip(&SLOT_OF_SUB_BLOCK) {
            transpose(src, &mut slots[slot]);
        }
        let bsums = y.block_sums();
        let mut pair_sums = [0i16; 8];
        let mut pairs_exact = true;
        for (pair, two) in pair_sums.iter_mut().zip(bsums.chunks_exact(2)) {
            let sum = i32::from(two[0]) + i32::from(two[1]);
            pairs_exact &= i16::try_from(sum).is_ok();
            *pair = sum as i16;
        }
        Prepared {
            qs,
            bsums: *bsums,
            pair_sums,
            pairs_exact,
            d: y.d(),
        }
    }
}

/// One sub-block of 32 quants from `[c][l]` (four chunks of eight) to `[l][c]`: byte `4l + c`
/// of `dst` is byte `8c + l` of `src`. The definition; the kernels pass a shuffle that does the
/// same (a byte loop here compiled to about 90 cycles a block on x86_64, more than the dot
/// product of a block itself).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn transpose_sub_block(src: &[i8; 32], dst: &mut [i8; 32]) {
    for l in 0..8 {
        for c in 0..4 {
            dst[4 * l + c] = src[8 * c + l];
        }
    }
}

/// The float state of one row between blocks: the eight lane sums and `sumf`.
#[derive(Clone, Copy)]
pub(crate) struct RowState {
    pub(crate) sums: [f32; 8],
    pub(crate) sumf: f32,
    /// Whether every block of the prepared chunk has exact 16-bit sub-block sums
    /// ([`Prepared::pairs_exact`]), so that a kernel may use `pair_sums` throughout.
    pub(crate) pairs_exact: bool,
    /// How the kernel prefetches the weights ahead of its loads: chosen by the x86 kernels per
    /// CPU and path (`arch::x86_64::DotPrefetch`), and on the buffer path only for rows of up to
    /// [`PREFETCH_MAX_ROW_BLOCKS`] blocks. (The NEON kernel does not prefetch.)
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) prefetch: Prefetch,
}

/// How many cache lines of each weight block a kernel prefetches ahead of its loads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) enum Prefetch {
    /// None: the hardware prefetcher alone.
    Off,
    /// One line per block (a block is 144 bytes: every other line, about).
    Line,
    /// Every line of each block.
    Block,
    /// Every line of each block, into the L2 cache only (`prefetcht1`): the demand loads then
    /// find the lines one level further, and more of them can be in flight from DRAM.
    BlockToL2,
}

/// The longest rows for which the kernels prefetch the weights. Past that the prepared
/// activations (320 bytes a block) no longer stay in the L1 cache beside the lines in flight,
/// and prefetching costs more than it brings: on Zen 4 at 256 MiB, rows of 10240 values ran at
/// 12.7 GB/s with it and 22 without, rows of 16640 at 7.2 and 11.7 (rows of 4096 and 8192
/// values gained or lost nothing measurable either way).
const PREFETCH_MAX_ROW_BLOCKS: usize = 32;

impl RowState {
    /// The state before a row's first block.
    #[inline(always)]
    pub(crate) fn new(prefetch: Prefetch) -> RowState {
        RowState {
            sums: [0.0; 8],
            sumf: 0.0,
            pairs_exact: false,
            prefetch,
        }
    }

    /// The row's result: `sumf` plus the eight lane sums in order, as the reference ends.
    #[inline(always)]
    pub(crate) fn finish(&self) -> f32 {
        let mut sumf = self.sumf;
        for sum in self.sums {
            sumf += sum;
        }
        sumf
    }
}

/// Rows that share each prepared chunk when a row is longer than [`CHUNK_BLOCKS`] blocks (on
/// the kernels that send such rows through the buffer: NEON): the chunks are prepared once per
/// group of rows instead of once per row (which cost five times the dot product itself), and
/// the group's float states wait on the stack between chunks.
const ROW_GROUP: usize = 32;

/// `out[r] = dot(row r, activations)`, with `blocks(row_chunk, prepared_chunk, state)` running
/// a kernel's block loop over matching chunks of one row and of the prepared activations, and
/// `transpose` the kernel's shuffle of one sub-block (see [`Prepared::new`]). Rows of up to
/// [`PREFETCH_MAX_ROW_BLOCKS`] blocks prefetch as `prefetch` says, longer ones not at all.
///
/// The caller checked the lengths: `weights` holds `out.len()` rows of `activations.len()`
/// blocks (rows of nothing when there are no activations). Inline, so that it is compiled
/// with the target features of the kernel that calls it.
#[inline(always)]
pub(crate) fn matvec(
    weights: &[BlockQ4K],
    activations: &[BlockQ8K],
    out: &mut [f32],
    prefetch: Prefetch,
    transpose: impl Fn(&[i8; 32], &mut [i8; 32]),
    mut blocks: impl FnMut(&[BlockQ4K], &[Prepared], &mut RowState),
) {
    let row_blocks = activations.len();
    if row_blocks == 0 {
        out.fill(0.0);
        return;
    }
    // Uninitialised: a dot product of a few blocks should not pay for clearing 20 KiB.
    let mut buffer = [const { MaybeUninit::<Prepared>::uninit() }; CHUNK_BLOCKS];
    let new_state = || {
        RowState::new(if row_blocks <= PREFETCH_MAX_ROW_BLOCKS {
            prefetch
        } else {
            Prefetch::Off
        })
    };
    if row_blocks <= CHUNK_BLOCKS {
        // One chunk: prepared once for every row.
        let (prepared, pairs_exact) = prepare(&mut buffer, activations, &transpose);
        for (row, y) in weights.chunks_exact(row_blocks).zip(out) {
            let mut state = RowState {
                pairs_exact,
                ..new_state()
            };
            blocks(row, prepared, &mut state);
            *y = state.finish();
        }
        return;
    }
    let group_blocks = ROW_GROUP * row_blocks;
    for (rows, ys) in weights.chunks(group_blocks).zip(out.chunks_mut(ROW_GROUP)) {
        let mut states = [new_state(); ROW_GROUP];
        for (c, act_chunk) in activations.chunks(CHUNK_BLOCKS).enumerate() {
            let (prepared, pairs_exact) = prepare(&mut buffer, act_chunk, &transpose);
            let start = c * CHUNK_BLOCKS;
            for (row, state) in rows.chunks_exact(row_blocks).zip(&mut states) {
                state.pairs_exact = pairs_exact;
                blocks(&row[start..start + act_chunk.len()], prepared, state);
            }
        }
        for (state, y) in states.iter().zip(ys) {
            *y = state.finish();
        }
    }
}

/// Whether a kernel multiplies without the prepared buffer ("direct": several rows side by
/// side, each activation block rearranged in registers once for all of them): for one row
/// (`dot_q8k`, where each activation block is used once), and for rows of more than
/// [`DIRECT_MIN_ROW_BLOCKS`] blocks. (The AVX-512 kernel adds shorter rows on some CPUs.)
// x86_64 only: the NEON kernel keeps the buffer path, not measured on hardware either way.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(crate) fn takes_direct(activations: &[BlockQ8K], out: &[f32]) -> bool {
    out.len() == 1 || activations.len() > DIRECT_MIN_ROW_BLOCKS
}

/// Rows longer than this many blocks are multiplied directly (see [`takes_direct`]). Past one
/// chunk ([`CHUNK_BLOCKS`]) the buffer path reads each chunk for a group of rows, then the
/// next, which DRAM serves at a third of the read loop's speed; from about 56 blocks the
/// direct path is ahead even where one chunk holds the row. Zen 4, 256 MiB, GB/s through the
/// buffer against direct, AVX-512 (eight rows side by side): rows of 10240 values 16.9 against
/// 12.6, 12288 13.3 against 12.9, 14336 10.6 against 13.0, 16384 10.6 against 14.5, 28672 6.8
/// against 17.4; AVX2 (eight rows): 12288 11.7 against 11.5, 14336 10.3 against 11.9, 16384 9.9
/// against 12.2, 28672 5.9 against 13.1. In cache the direct path runs at 0.92-0.97x the
/// buffer path with AVX2 and 0.93-1.0x with AVX-512.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const DIRECT_MIN_ROW_BLOCKS: usize = 48;

/// The row loop of a direct path: `group(rows, ys)` for each `R` rows (`R` rows of
/// `activations.len()` blocks back to back, and their `R` results), then the rows left: at
/// least [`OVERLAP_MIN_ROWS`] of them after a group, as one more group over the last `R` rows
/// (overlapping rows already done, which get the same bits again), else `one(row, y)` each.
/// Rows of nothing give 0. The caller checked the lengths, as for [`matvec`].
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(crate) fn direct<const R: usize>(
    weights: &[BlockQ4K],
    activations: &[BlockQ8K],
    out: &mut [f32],
    mut group: impl FnMut(&[BlockQ4K], &mut [f32]),
    mut one: impl FnMut(&[BlockQ4K], &mut f32),
) {
    let n = activations.len();
    if n == 0 {
        out.fill(0.0);
        return;
    }
    let (len, full) = (out.len(), out.len() / R * R);
    // One more group over the last `R` rows when enough are left.
    let overlap = len - full >= OVERLAP_MIN_ROWS && full > 0;
    let groups = full / R + usize::from(overlap);
    // One call site of `group`: with a second one for the overlapping group, the AVX2 and
    // AVX-512 kernels measured 0.96-0.98x on 455 rows of 4096 values in cache.
    for g in 0..groups {
        let first = if g * R < full { g * R } else { len - R };
        let rows = weights.get(first * n..(first + R) * n);
        if let (Some(rows), Some(ys)) = (rows, out.get_mut(first..first + R)) {
            group(rows, ys);
        }
    }
    if overlap {
        return;
    }
    let rest = weights.get(full * n..).unwrap_or_default();
    let left = out.get_mut(full..).unwrap_or_default();
    for (row, y) in rest.chunks_exact(n).zip(left) {
        one(row, y);
    }
}

/// The fewest rows left over from groups side by side that [`direct`] multiplies as one more
/// group overlapping the last (eight rows side by side cost about as much as four to five rows
/// one at a time).
const OVERLAP_MIN_ROWS: usize = 5;

/// Prepares `chunk` (at most [`CHUNK_BLOCKS`] blocks) into the start of `buffer`; returns the
/// prepared blocks and whether all of them have exact 16-bit sub-block sums.
#[inline(always)]
fn prepare<'a>(
    buffer: &'a mut [MaybeUninit<Prepared>; CHUNK_BLOCKS],
    chunk: &[BlockQ8K],
    transpose: &impl Fn(&[i8; 32], &mut [i8; 32]),
) -> (&'a [Prepared], bool) {
    let mut exact = true;
    let mut len = 0;
    for (p, y) in buffer.iter_mut().zip(chunk) {
        exact &= p.write(Prepared::new(y, transpose)).pairs_exact;
        len += 1;
    }
    // SAFETY: the loop above has just initialised the first `len` elements of `buffer`.
    let prepared = unsafe { core::slice::from_raw_parts(buffer.as_ptr().cast::<Prepared>(), len) };
    (prepared, exact)
}

#[cfg(test)]
mod tests {
    use crate::test_rng::Rng;

    /// A shuffle of one sub-block.
    type Transpose = fn(&[i8; 32], &mut [i8; 32]);

    /// This CPU's kernel shuffle for [`super::transpose_sub_block`], if it has one.
    fn kernel_transpose() -> Option<Transpose> {
        #[cfg(target_arch = "x86_64")]
        return crate::arch::x86_64::has_avx2_fma().then_some(|s: &[i8; 32], d: &mut [i8; 32]| {
            // SAFETY: AVX2 and FMA were detected.
            unsafe {
                use crate::arch::x86_64::avx512::dot::{dword_order, transpose_sub_block};
                transpose_sub_block(s, d, dword_order())
            }
        });
        #[cfg(target_arch = "aarch64")]
        return Some(|s: &[i8; 32], d: &mut [i8; 32]| {
            // SAFETY: this module is compiled on aarch64 only where NEON is a target feature.
            unsafe { crate::arch::aarch64::neon::dot::transpose_sub_block(s, d) }
        });
    }

    /// The kernel's shuffle against the definition, on random bytes.
    #[test]
    #[cfg_attr(miri, ignore = "Miri does not run SIMD intrinsics")]
    fn kernel_transpose_matches_the_definition() {
        let Some(transpose) = kernel_transpose() else {
            std::eprintln!("no SIMD dot kernel here: nothing to test");
            return;
        };
        let mut rng = Rng(0x7A45_9051);
        for _ in 0..64 {
            let mut bytes = [0u8; 32];
            rng.fill(&mut bytes);
            let src = bytes.map(|b| b as i8);
            let (mut want, mut got) = ([0i8; 32], [0i8; 32]);
            super::transpose_sub_block(&src, &mut want);
            transpose(&src, &mut got);
            assert_eq!(got, want, "{src:?}");
        }
    }
}
