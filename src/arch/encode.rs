//! The lane-parallel encoder, written once over [`Lanes`] and instantiated inside each
//! instruction set's `#[target_feature]` function (everything here is `#[inline(always)]`).
//!
//! Sub-blocks sit side by side in vector lanes, one sub-block per lane, so each lane runs the
//! scalar search of `make_qkx2_quants` in the C's own order (`arch::search`), with its sums
//! sequential inside the lane, and the 22 passes of the search run on all lanes at once. If a
//! lane of a chunk fails the search's rounding bound, the chunk's blocks are encoded by the
//! scalar kernel instead.
//!
//! The search hands back, per lane, the inverse scale and offset that produced its best quants;
//! they are recomputed (the same operations on the same values give the same quants) only for
//! the sub-blocks that keep them, those whose f16-rounded scale is zero.

use super::lanes::{CHUNK_SUB_BLOCKS, Lanes, Row, array_of};
use super::search::{self, Candidates, Values};
use crate::encode::Element;
use crate::scalar::encode::{
    NSTEP, RDELTA, RMIN, SUB_BLOCK, SUB_BLOCKS, encode_block, quantize_scales,
};
use crate::{BLOCK_BYTES, BLOCK_VALUES};

/// Blocks per chunk.
const CHUNK_BLOCKS: usize = CHUNK_SUB_BLOCKS / SUB_BLOCKS;

/// What the search of a sub-block hands to the rest of the block, one row per quantity.
struct Found {
    /// The scale `make_qkx2_quants` returns.
    scale: Row,
    /// Its `min` before negation (the C returns `the_min = -min`).
    min: Row,
    /// The inverse scale of the best quants (0 for a constant sub-block, whose quants are 0).
    iscale: Row,
    /// The offset the best quants were computed with: `quant(iscale * (x - lmin))`.
    lmin: Row,
}

/// The search of the sub-blocks of `G` vectors, lanes `first * LANES ..`, with the weights of
/// `quantize_row_q4_K_ref` (`av_x + |x|`). `false` if a lane failed the rounding bound.
#[inline(always)]
fn search<S: Lanes, const G: usize>(
    s: S,
    xt: &[Row; SUB_BLOCK],
    first: usize,
    found: &mut Found,
) -> bool {
    let x: Values<S, G> = array_of(|i| array_of(|g| s.load(&xt[i], first + g)));
    let mut sum_x2 = [s.splat(0.0); G];
    for xi in &x {
        for g in 0..G {
            sum_x2[g] = s.add(sum_x2[g], s.mul(xi[g], xi[g]));
        }
    }
    let av_x: [S::F; G] = array_of(|g| s.sqrt(s.div(sum_x2[g], s.splat(32.0))));
    let w: Values<S, G> = array_of(|i| array_of(|g| s.add(av_x[g], s.abs(x[i][g]))));
    let candidates = Candidates {
        rmin: RMIN,
        rdelta: RDELTA,
        nstep: NSTEP as usize,
    };
    let Some(result) = search::search::<S, G>(s, &x, &w, candidates) else {
        return false;
    };
    for (g, f) in result.iter().enumerate() {
        let part = first + g;
        s.store(f.scale, &mut found.scale, part);
        s.store(f.min, &mut found.min, part);
        s.store(f.iscale, &mut found.iscale, part);
        s.store(f.lmin, &mut found.lmin, part);
    }
    true
}

/// The final requantization of the sub-blocks in lanes `part * LANES ..`:
/// `quant((x + dm) / d)`, or the search's own quants `quant(iscale * (x - lmin))` where
/// `d == 0`. Writes the quants into `lt`, transposed like `xt`.
#[inline(always)]
pub(crate) fn requantize<S: Lanes>(
    s: S,
    xt: &[Row; SUB_BLOCK],
    (iscale, lmin): (&Row, &Row),
    d: &Row,
    dm: &Row,
    part: usize,
    lt: &mut [[u8; CHUNK_SUB_BLOCKS]; SUB_BLOCK],
) {
    let d = s.load(d, part);
    let dm = s.load(dm, part);
    let keep = s.eq(d, s.splat(0.0));
    let iscale = s.load(iscale, part);
    let lmin = s.load(lmin, part);
    for (row, out) in xt.iter().zip(lt.iter_mut()) {
        let x = s.load(row, part);
        let requantized = s.quant(s.div(s.add(x, dm), d));
        let searched = s.quant(s.mul(iscale, s.sub(x, lmin)));
        s.store_quants(s.select(keep, searched, requantized), out, part);
    }
}

/// Encodes whole blocks four at a time (fewer at the end); `out` holds
/// 144 bytes per 256 values (checked by the caller; any excess is not written).
#[inline(always)]
pub(crate) fn encode_blocks<S: Lanes, E: Element>(s: S, input: &[E::Raw], out: &mut [u8]) {
    let (blocks, _) = input.as_chunks::<BLOCK_VALUES>();
    let (outs, _) = out.as_chunks_mut::<BLOCK_BYTES>();
    for (blocks, outs) in blocks
        .chunks(CHUNK_BLOCKS)
        .zip(outs.chunks_mut(CHUNK_BLOCKS))
    {
        // Value `i` of sub-block `j` of the chunk in `xt[i][j]`; sub-blocks past the last block
        // stay zero (constant sub-blocks, whose results are not used).
        let mut xt = [[0f32; CHUNK_SUB_BLOCKS]; SUB_BLOCK];
        for (k, block) in blocks.iter().enumerate() {
            let (subs, _) = block.as_chunks::<SUB_BLOCK>();
            for (j, sub) in subs.iter().enumerate() {
                let mut wide = [0f32; SUB_BLOCK];
                E::widen_slice(sub, &mut wide);
                for (row, &w) in xt.iter_mut().zip(&wide) {
                    row[k * SUB_BLOCKS + j] = w;
                }
            }
        }

        // Vectors that hold at least one sub-block of a real block.
        let parts = (blocks.len() * SUB_BLOCKS).div_ceil(S::LANES);
        let mut found = Found {
            scale: [0.0; CHUNK_SUB_BLOCKS],
            min: [0.0; CHUNK_SUB_BLOCKS],
            iscale: [0.0; CHUNK_SUB_BLOCKS],
            lmin: [0.0; CHUNK_SUB_BLOCKS],
        };
        let mut part = 0;
        let mut ok = true;
        while part + 2 <= parts {
            ok &= search::<S, 2>(s, &xt, part, &mut found);
            part += 2;
        }
        if part < parts {
            ok &= search::<S, 1>(s, &xt, part, &mut found);
        }
        if !ok {
            for (block, out) in blocks.iter().zip(outs.iter_mut()) {
                encode_block(&block.map(E::widen), out);
            }
            continue;
        }

        let mut d = [0f32; CHUNK_SUB_BLOCKS];
        let mut dm = [0f32; CHUNK_SUB_BLOCKS];
        for (k, out) in outs.iter_mut().enumerate() {
            let sub = k * SUB_BLOCKS..(k + 1) * SUB_BLOCKS;
            let mut scales = [0f32; SUB_BLOCKS];
            let mut mins = [0f32; SUB_BLOCKS];
            scales.copy_from_slice(&found.scale[sub.clone()]);
            for (m, &min) in mins.iter_mut().zip(&found.min[sub.clone()]) {
                *m = -min;
            }
            let Some(head) = out.first_chunk_mut::<16>() else {
                continue;
            };
            let (bd, bdm) = quantize_scales(&scales, &mins, head);
            d[sub.clone()].copy_from_slice(&bd);
            dm[sub].copy_from_slice(&bdm);
        }

        let mut lt = [[0u8; CHUNK_SUB_BLOCKS]; SUB_BLOCK];
        for part in 0..parts {
            let searched = (&found.iscale, &found.lmin);
            requantize(s, &xt, searched, &d, &dm, part, &mut lt);
        }
        for (k, out) in outs.iter_mut().enumerate() {
            pack(&lt, k, out);
        }
    }
}

/// Packs the quants of block `k` of the chunk (columns `8k .. 8k + 8` of `lt`) into its 128
/// quant bytes: sub-block `2g` in the low nibbles of bytes `32g ..`, `2g + 1` in the high ones.
#[inline(always)]
pub(crate) fn pack(
    lt: &[[u8; CHUNK_SUB_BLOCKS]; SUB_BLOCK],
    k: usize,
    out: &mut [u8; BLOCK_BYTES],
) {
    const EVEN: u64 = 0x00FF_00FF_00FF_00FF;
    let (_, qs) = out.split_at_mut(16);
    for (l, row) in lt.iter().enumerate() {
        let Some(column) = row[k * SUB_BLOCKS..].first_chunk::<SUB_BLOCKS>() else {
            continue;
        };
        // Byte 2g of `v` holds quant l of sub-block 2g, byte 2g + 1 that of sub-block 2g + 1.
        let v = u64::from_le_bytes(*column);
        let pairs = (v & EVEN) | (((v >> 8) & EVEN) << 4);
        for (g, q) in qs.chunks_exact_mut(32).enumerate() {
            q[l] = (pairs >> (16 * g)) as u8;
        }
    }
}
