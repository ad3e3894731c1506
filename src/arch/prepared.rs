//! Q8_K activations rearranged for the 4-byte dot-product instructions (`vpdpbusd`,
//! `vpmaddubsw` + `vpmaddwd`, `sdot`), and the row loop of the matrix-vector kernels that use
//! them.
//!
//! The reference sums, per block, eight lanes: lane `l` holds the values whose index is `l mod
//! 8`. An instruction that adds four neighbouring byte products mixes four lanes, so each
//! 32-value sub-block is transposed from `[c][l]` (four chunks of eight) to `[l][c]`: bytes
//! `4l..4l + 4` then hold the four values of lane `l`. The kernels give the Q4_K quants the same
//! order with byte shuffles of the weights (a single `vpermb` per 64 bytes with AVX512-VBMI),
//! and a 4-byte dot product then yields the sub-block's exact sum for each lane. Activations are
//! shared by every row of a matrix, so they are rearranged once per call (for rows of up to
//! [`CHUNK_BLOCKS`] blocks) and the cost vanishes.
//!
//! The same goes for the min sums: each block also carries its eight sub-block sums in 16 bits
//! where they fit, so that a kernel multiplies them by the eight mins in one 128-bit
//! multiply-add, instead of the sixteen block sums by each min twice.

use core::mem::MaybeUninit;

use crate::{BLOCK_VALUES, BlockQ4K, BlockQ8K};

/// Activation blocks prepared at once, on the stack of the kernel (64 blocks, 20 KiB: rows of
/// up to 16384 values are prepared once per call; longer rows are prepared chunk by chunk for
/// each row).
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
    /// is the sub-block's value `8c + l`.
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
    /// `y` in the prepared order.
    #[inline(always)]
    fn new(y: &BlockQ8K) -> Prepared {
        let q8 = y.quants();
        let mut qs = [0i8; BLOCK_VALUES];
        for (j, &slot) in SLOT_OF_SUB_BLOCK.iter().enumerate() {
            let (src, dst) = (&q8[32 * j..32 * j + 32], &mut qs[32 * slot..32 * slot + 32]);
            for l in 0..8 {
                for c in 0..4 {
                    dst[4 * l + c] = src[8 * c + l];
                }
            }
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

/// The float state of one row between blocks: the eight lane sums and `sumf`.
pub(crate) struct RowState {
    pub(crate) sums: [f32; 8],
    pub(crate) sumf: f32,
    /// Whether every block of the prepared chunk has exact 16-bit sub-block sums
    /// ([`Prepared::pairs_exact`]), so that a kernel may use `pair_sums` throughout.
    pub(crate) pairs_exact: bool,
}

/// `out[r] = dot(row r, activations)`, with `blocks(row_chunk, prepared_chunk, state)` running
/// a kernel's block loop over matching chunks of one row and of the prepared activations.
///
/// The caller checked the lengths: `weights` holds `out.len()` rows of `activations.len()`
/// blocks (rows of nothing when there are no activations). Inline, so that it is compiled
/// with the target features of the kernel that calls it.
#[inline(always)]
pub(crate) fn matvec(
    weights: &[BlockQ4K],
    activations: &[BlockQ8K],
    out: &mut [f32],
    mut blocks: impl FnMut(&[BlockQ4K], &[Prepared], &mut RowState),
) {
    let row_blocks = activations.len();
    if row_blocks == 0 {
        out.fill(0.0);
        return;
    }
    // Uninitialised: a dot product of a few blocks should not pay for clearing 20 KiB.
    let mut buffer = [const { MaybeUninit::<Prepared>::uninit() }; CHUNK_BLOCKS];
    // Whether every block of the chunk has exact 16-bit sub-block sums.
    let prepare = |buffer: &mut [MaybeUninit<Prepared>; CHUNK_BLOCKS], chunk: &[BlockQ8K]| {
        let mut exact = true;
        for (p, y) in buffer.iter_mut().zip(chunk) {
            exact &= p.write(Prepared::new(y)).pairs_exact;
        }
        exact
    };
    let once = row_blocks <= CHUNK_BLOCKS;
    let pairs_exact = once && prepare(&mut buffer, activations);
    for (row, y) in weights.chunks_exact(row_blocks).zip(out) {
        let mut state = RowState {
            sums: [0.0; 8],
            sumf: 0.0,
            pairs_exact,
        };
        for (row_chunk, act_chunk) in row
            .chunks(CHUNK_BLOCKS)
            .zip(activations.chunks(CHUNK_BLOCKS))
        {
            if !once {
                state.pairs_exact = prepare(&mut buffer, act_chunk);
            }
            // SAFETY: `prepare` has initialised the first `act_chunk.len()` (at most
            // `CHUNK_BLOCKS`) elements from this chunk: just now, or before the row loop when
            // all the activations are this one chunk.
            let prepared = unsafe {
                core::slice::from_raw_parts(buffer.as_ptr().cast::<Prepared>(), act_chunk.len())
            };
            blocks(row_chunk, prepared, &mut state);
        }
        let mut sumf = state.sumf;
        for sum in state.sums {
            sumf += sum;
        }
        *y = sumf;
    }
}
