//! The lane-parallel encoder, written once over [`Lanes`] and instantiated inside each
//! instruction set's `#[target_feature]` function (everything here is `#[inline(always)]`).
//!
//! Sub-blocks sit side by side in vector lanes, one sub-block per lane, so each lane runs the
//! scalar search of `make_qkx2_quants` in the C's own order, with its sums sequential inside
//! the lane, and the 22 passes of the search run on all lanes at once.
//!
//! One difference in the way, not in the result: the C copies the winning quants into `L` each
//! time a step improves. Here each lane remembers the inverse scale and offset that produced its
//! best quants, and recomputes them (the same operations on the same values give the same quants)
//! only for the sub-blocks that keep them, those whose f16-rounded scale is zero.

use super::lanes::{CHUNK_SUB_BLOCKS, Lanes, Row};
use crate::encode::Element;
use crate::scalar::encode::{NMAX, NSTEP, RDELTA, RMIN, SUB_BLOCK, SUB_BLOCKS, quantize_scales};
use crate::{BLOCK_BYTES, BLOCK_VALUES};

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

/// `make_qkx2_quants(32, 15, x, weights, ..., -1.f, 0.1f, 20, false)` with the weights of
/// `quantize_row_q4_K_ref`, for the sub-blocks in lanes `part * LANES ..`.
#[inline(always)]
fn search<S: Lanes>(s: S, xt: &[Row; SUB_BLOCK], part: usize, found: &mut Found) {
    let zero = s.splat(0.0);
    let x: [S::F; SUB_BLOCK] = core::array::from_fn(|i| s.load(&xt[i], part));

    let mut sum_x2 = zero;
    for &xi in &x {
        sum_x2 = s.add(sum_x2, s.mul(xi, xi));
    }
    let av_x = s.sqrt(s.div(sum_x2, s.splat(32.0)));
    let w = x.map(|xi| s.add(av_x, s.abs(xi)));

    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = w[0];
    let mut sum_x = s.mul(sum_w, x[0]);
    for i in 1..SUB_BLOCK {
        min = s.min(x[i], min);
        max = s.max(x[i], max);
        sum_w = s.add(sum_w, w[i]);
        sum_x = s.add(sum_x, s.mul(w[i], x[i]));
    }
    min = s.select(s.gt(min, zero), zero, min);
    let flat = s.eq(max, min);
    let flat_min = min;

    let nmax = NMAX as f32;
    let mut iscale = s.div(s.splat(nmax), s.sub(max, min));
    let mut scale = s.div(s.splat(1.0), iscale);
    let mut best_error = zero;
    for i in 0..SUB_BLOCK {
        let l = s.quant(s.mul(iscale, s.sub(x[i], min)));
        let diff = s.sub(s.add(s.mul(scale, l), min), x[i]);
        best_error = s.add(best_error, s.mul(w[i], s.mul(diff, diff)));
    }
    let mut best_iscale = iscale;
    let mut best_lmin = min;

    for is in 0..=NSTEP {
        iscale = s.div(s.splat(RMIN + RDELTA * is as f32 + nmax), s.sub(max, min));
        let mut laux = [zero; SUB_BLOCK];
        let mut sum_l = zero;
        let mut sum_l2 = zero;
        let mut sum_xl = zero;
        for i in 0..SUB_BLOCK {
            let l = s.quant(s.mul(iscale, s.sub(x[i], min)));
            laux[i] = l;
            let wl = s.mul(w[i], l);
            sum_l = s.add(sum_l, wl);
            sum_l2 = s.add(sum_l2, s.mul(wl, l));
            sum_xl = s.add(sum_xl, s.mul(wl, x[i]));
        }
        let d = s.sub(s.mul(sum_w, sum_l2), s.mul(sum_l, sum_l));
        let solvable = s.gt(d, zero);
        let this_scale = s.div(s.sub(s.mul(sum_w, sum_xl), s.mul(sum_x, sum_l)), d);
        let this_min = s.div(s.sub(s.mul(sum_l2, sum_x), s.mul(sum_l, sum_xl)), d);
        let positive = s.gt(this_min, zero);
        let this_min = s.select(positive, zero, this_min);
        let this_scale = s.select(positive, s.div(sum_xl, sum_l2), this_scale);
        let mut cur_error = zero;
        for i in 0..SUB_BLOCK {
            let diff = s.sub(s.add(s.mul(this_scale, laux[i]), this_min), x[i]);
            cur_error = s.add(cur_error, s.mul(w[i], s.mul(diff, diff)));
        }
        let better = s.and(solvable, s.lt(cur_error, best_error));
        best_error = s.select(better, cur_error, best_error);
        scale = s.select(better, this_scale, scale);
        best_iscale = s.select(better, iscale, best_iscale);
        best_lmin = s.select(better, min, best_lmin);
        min = s.select(better, this_min, min);
    }

    s.store(s.select(flat, zero, scale), &mut found.scale, part);
    s.store(s.select(flat, flat_min, min), &mut found.min, part);
    s.store(s.select(flat, zero, best_iscale), &mut found.iscale, part);
    s.store(best_lmin, &mut found.lmin, part);
}

/// The final requantization of the sub-blocks in lanes `part * LANES ..`:
/// `quant((x + dm) / d)`, or the search's own quants where `d == 0`. Writes the quants (as
/// `f32`) into `lt`, transposed like `xt`.
#[inline(always)]
fn requantize<S: Lanes>(
    s: S,
    xt: &[Row; SUB_BLOCK],
    found: &Found,
    d: &Row,
    dm: &Row,
    part: usize,
    lt: &mut [Row; SUB_BLOCK],
) {
    let d = s.load(d, part);
    let dm = s.load(dm, part);
    let keep = s.eq(d, s.splat(0.0));
    let iscale = s.load(&found.iscale, part);
    let lmin = s.load(&found.lmin, part);
    for (row, out) in xt.iter().zip(lt.iter_mut()) {
        let x = s.load(row, part);
        let requantized = s.quant(s.div(s.add(x, dm), d));
        let searched = s.quant(s.mul(iscale, s.sub(x, lmin)));
        s.store(s.select(keep, searched, requantized), out, part);
    }
}

/// Encodes whole blocks two at a time (the last one alone if the count is odd); `out` holds
/// 144 bytes per 256 values (checked by the caller; any excess is not written).
#[inline(always)]
pub(crate) fn encode_blocks<S: Lanes, E: Element>(s: S, input: &[E::Raw], out: &mut [u8]) {
    let (blocks, _) = input.as_chunks::<BLOCK_VALUES>();
    let (outs, _) = out.as_chunks_mut::<BLOCK_BYTES>();
    for (blocks, outs) in blocks.chunks(2).zip(outs.chunks_mut(2)) {
        let mut x = [0f32; 2 * BLOCK_VALUES];
        for (block, x) in blocks.iter().zip(x.chunks_exact_mut(BLOCK_VALUES)) {
            for (x, &raw) in x.iter_mut().zip(block) {
                *x = E::widen(raw);
            }
        }
        let mut xt = [[0f32; CHUNK_SUB_BLOCKS]; SUB_BLOCK];
        s.transpose(&x, &mut xt);

        // Vectors that hold at least one sub-block of a real block.
        let parts = (blocks.len() * SUB_BLOCKS).div_ceil(S::LANES);
        let mut found = Found {
            scale: [0.0; CHUNK_SUB_BLOCKS],
            min: [0.0; CHUNK_SUB_BLOCKS],
            iscale: [0.0; CHUNK_SUB_BLOCKS],
            lmin: [0.0; CHUNK_SUB_BLOCKS],
        };
        for part in 0..parts {
            search(s, &xt, part, &mut found);
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

        let mut lt = [[0f32; CHUNK_SUB_BLOCKS]; SUB_BLOCK];
        for part in 0..parts {
            requantize(s, &xt, &found, &d, &dm, part, &mut lt);
        }
        for (k, out) in outs.iter_mut().enumerate() {
            for (g, qs) in out[16..].chunks_exact_mut(32).enumerate() {
                let (low, high) = (k * SUB_BLOCKS + 2 * g, k * SUB_BLOCKS + 2 * g + 1);
                for (q, row) in qs.iter_mut().zip(&lt) {
                    *q = row[low] as u8 | ((row[high] as u8) << 4);
                }
            }
        }
    }
}
