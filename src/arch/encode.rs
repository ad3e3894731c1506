//! The lane-parallel encoder, written once over [`Lanes`] and instantiated inside each
//! instruction set's `#[target_feature]` function (everything here is `#[inline(always)]`).
//!
//! Sub-blocks sit side by side in vector lanes, one sub-block per lane, so each lane runs the
//! scalar search of `make_qkx2_quants` in the C's own order, with its sums sequential inside
//! the lane, and the 22 passes of the search run on all lanes at once.
//!
//! The search rounds `iscale * (x - min)` to the nearest integer with the vector's own
//! round-to-nearest-even ([`Lanes::level`]), which equals llama.cpp's `nearest_int` while the
//! argument is below `2^22` in magnitude. Each lane checks a bound on it at every step; if a
//! lane of a chunk fails it (sub-blocks whose values span less than about `1e-30`, or whose
//! fitted offset runs far from the values), the chunk's blocks are encoded by the scalar kernel
//! instead.
//!
//! One difference in the way, not in the result: the C copies the winning quants into `L` each
//! time a step improves. Here each lane remembers the inverse scale and offset that produced its
//! best quants, and recomputes them (the same operations on the same values give the same quants)
//! only for the sub-blocks that keep them, those whose f16-rounded scale is zero.

use super::lanes::{CHUNK_SUB_BLOCKS, Lanes, Row};
use crate::encode::Element;
use crate::scalar::encode::{
    NMAX, NSTEP, RDELTA, RMIN, SUB_BLOCK, SUB_BLOCKS, encode_block, quantize_scales,
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

/// One step's quants `laux[i] = quant(iscale * (x[i] - min))` and the sums over them, in the
/// C's order: `[sum(w*l), sum(w*l*l), sum(w*l*x)]`.
#[inline(always)]
fn quants_and_sums<S: Lanes, const G: usize>(
    s: S,
    x: &[[S::F; G]; SUB_BLOCK],
    w: &[[S::F; G]; SUB_BLOCK],
    iscale: &[S::F; G],
    min: &[S::F; G],
    laux: &mut [[S::F; G]; SUB_BLOCK],
) -> [[S::F; G]; 3] {
    let zero = s.splat(0.0);
    let mut sum_l = [zero; G];
    let mut sum_l2 = [zero; G];
    let mut sum_xl = [zero; G];
    for i in 0..SUB_BLOCK {
        for g in 0..G {
            let l = s.level(s.mul(iscale[g], s.sub(x[i][g], min[g])));
            laux[i][g] = l;
            let wl = s.mul(w[i][g], l);
            sum_l[g] = s.add(sum_l[g], wl);
            sum_l2[g] = s.add(sum_l2[g], s.mul(wl, l));
            sum_xl[g] = s.add(sum_xl[g], s.mul(wl, x[i][g]));
        }
    }
    [sum_l, sum_l2, sum_xl]
}

/// `make_qkx2_quants(32, 15, x, weights, ..., -1.f, 0.1f, 20, false)` with the weights of
/// `quantize_row_q4_K_ref`, for the sub-blocks of `G` vectors, lanes `first * LANES ..`.
///
/// The `G` vectors are independent and their operations interleaved: each step's sums are
/// chains of 32 dependent additions per vector, and a second chain hides the latency of the
/// first.
///
/// Measured on Zen 4 with AVX-512, one thread: the step loops run close to the throughput of
/// all four FP pipes together, not of the two adders alone, so moving the sums onto the FMA
/// pipes as `fma(a, 1.0, b)` (exact) gained at most 0.5%, within the noise. One vector at a
/// time is about 9% slower than two interleaved (the chains between steps are exposed), four
/// (with eight-block chunks) about 20% slower, and the two vectors' loops run one after the
/// other instead of interleaved about 2% slower.
#[inline(always)]
fn search<S: Lanes, const G: usize>(
    s: S,
    xt: &[Row; SUB_BLOCK],
    first: usize,
    found: &mut Found,
) -> bool {
    let zero = s.splat(0.0);
    let x: [[S::F; G]; SUB_BLOCK] =
        core::array::from_fn(|i| core::array::from_fn(|g| s.load(&xt[i], first + g)));

    let mut sum_x2 = [zero; G];
    for xi in &x {
        for g in 0..G {
            sum_x2[g] = s.add(sum_x2[g], s.mul(xi[g], xi[g]));
        }
    }
    let av_x: [S::F; G] = core::array::from_fn(|g| s.sqrt(s.div(sum_x2[g], s.splat(32.0))));
    let w: [[S::F; G]; SUB_BLOCK] =
        x.map(|xi| core::array::from_fn(|g| s.add(av_x[g], s.abs(xi[g]))));

    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = w[0];
    let mut sum_x: [S::F; G] = core::array::from_fn(|g| s.mul(sum_w[g], x[0][g]));
    for i in 1..SUB_BLOCK {
        for g in 0..G {
            min[g] = s.min(x[i][g], min[g]);
            max[g] = s.max(x[i][g], max[g]);
            sum_w[g] = s.add(sum_w[g], w[i][g]);
            sum_x[g] = s.add(sum_x[g], s.mul(w[i][g], x[i][g]));
        }
    }
    // The largest |x| of each lane, for the rounding bound.
    let x_abs: [S::F; G] = core::array::from_fn(|g| s.max(s.abs(max[g]), s.abs(min[g])));
    let mut flat = [s.eq(zero, zero); G];
    for g in 0..G {
        min[g] = s.select(s.gt(min[g], zero), zero, min[g]);
        flat[g] = s.eq(max[g], min[g]);
    }
    let flat_min = min;
    // Whether rounding `iscale * (x - min)` stays in the exact range (flat lanes return before
    // any rounding in the C, so they always pass).
    let within =
        |g: usize, iscale: S::F, min: S::F| s.or(s.within_bound(iscale, x_abs[g], min), flat[g]);

    let nmax = NMAX as f32;
    let mut iscale: [S::F; G] =
        core::array::from_fn(|g| s.div(s.splat(nmax), s.sub(max[g], min[g])));
    let mut scale: [S::F; G] = core::array::from_fn(|g| s.div(s.splat(1.0), iscale[g]));
    let mut ok: [S::M; G] = core::array::from_fn(|g| within(g, iscale[g], min[g]));
    let mut best_error = [zero; G];
    for i in 0..SUB_BLOCK {
        for g in 0..G {
            let l = s.level(s.mul(iscale[g], s.sub(x[i][g], min[g])));
            let diff = s.sub(s.add(s.mul(scale[g], l), min[g]), x[i][g]);
            best_error[g] = s.add(best_error[g], s.mul(w[i][g], s.mul(diff, diff)));
        }
    }
    let mut best_iscale = iscale;
    let mut best_lmin = min;

    // Written in full by every step before it is read.
    let mut laux = [[zero; G]; SUB_BLOCK];
    for is in 0..=NSTEP {
        let num = s.splat(RMIN + RDELTA * is as f32 + nmax);
        for g in 0..G {
            iscale[g] = s.div(num, s.sub(max[g], min[g]));
            ok[g] = s.and(ok[g], within(g, iscale[g], min[g]));
        }
        let [sum_l, sum_l2, sum_xl] = quants_and_sums(s, &x, &w, &iscale, &min, &mut laux);
        let mut solvable = flat;
        let mut this_scale = [zero; G];
        let mut this_min = [zero; G];
        for g in 0..G {
            let d = s.sub(s.mul(sum_w[g], sum_l2[g]), s.mul(sum_l[g], sum_l[g]));
            solvable[g] = s.gt(d, zero);
            let ts = s.div(
                s.sub(s.mul(sum_w[g], sum_xl[g]), s.mul(sum_x[g], sum_l[g])),
                d,
            );
            let tm = s.div(
                s.sub(s.mul(sum_l2[g], sum_x[g]), s.mul(sum_l[g], sum_xl[g])),
                d,
            );
            let positive = s.gt(tm, zero);
            this_min[g] = s.select(positive, zero, tm);
            this_scale[g] = s.select(positive, s.div(sum_xl[g], sum_l2[g]), ts);
        }
        let mut cur_error = [zero; G];
        for i in 0..SUB_BLOCK {
            for g in 0..G {
                let diff = s.sub(
                    s.add(s.mul(this_scale[g], laux[i][g]), this_min[g]),
                    x[i][g],
                );
                cur_error[g] = s.add(cur_error[g], s.mul(w[i][g], s.mul(diff, diff)));
            }
        }
        for g in 0..G {
            let better = s.and(solvable[g], s.lt(cur_error[g], best_error[g]));
            best_error[g] = s.select(better, cur_error[g], best_error[g]);
            scale[g] = s.select(better, this_scale[g], scale[g]);
            best_iscale[g] = s.select(better, iscale[g], best_iscale[g]);
            best_lmin[g] = s.select(better, min[g], best_lmin[g]);
            min[g] = s.select(better, this_min[g], min[g]);
        }
    }

    for g in 0..G {
        let part = first + g;
        s.store(s.select(flat[g], zero, scale[g]), &mut found.scale, part);
        s.store(s.select(flat[g], flat_min[g], min[g]), &mut found.min, part);
        s.store(
            s.select(flat[g], zero, best_iscale[g]),
            &mut found.iscale,
            part,
        );
        s.store(best_lmin[g], &mut found.lmin, part);
    }
    ok.iter().all(|&m| s.all(m))
}

/// The final requantization of the sub-blocks in lanes `part * LANES ..`:
/// `quant((x + dm) / d)`, or the search's own quants where `d == 0`. Writes the quants into
/// `lt`, transposed like `xt`.
#[inline(always)]
fn requantize<S: Lanes>(
    s: S,
    xt: &[Row; SUB_BLOCK],
    found: &Found,
    d: &Row,
    dm: &Row,
    part: usize,
    lt: &mut [[u8; CHUNK_SUB_BLOCKS]; SUB_BLOCK],
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
                for (row, &raw) in xt.iter_mut().zip(sub) {
                    row[k * SUB_BLOCKS + j] = E::widen(raw);
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
            requantize(s, &xt, &found, &d, &dm, part, &mut lt);
        }
        for (k, out) in outs.iter_mut().enumerate() {
            pack(&lt, k, out);
        }
    }
}

/// Packs the quants of block `k` of the chunk (columns `8k .. 8k + 8` of `lt`) into its 128
/// quant bytes: sub-block `2g` in the low nibbles of bytes `32g ..`, `2g + 1` in the high ones.
#[inline(always)]
fn pack(lt: &[[u8; CHUNK_SUB_BLOCKS]; SUB_BLOCK], k: usize, out: &mut [u8; BLOCK_BYTES]) {
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
