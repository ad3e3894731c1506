//! The weighted encoder on vector lanes, written once over [`Lanes`] and compiled into each
//! instruction set's `#[target_feature]` kernel.
//!
//! Blocks go four at a time: their 32 sub-blocks are transposed so that lane `k` of row `i`
//! holds value `i` of sub-block `k`. Every lane then runs `make_qkx3_quants` for its own
//! sub-block with the scalar kernel's operations in the scalar kernel's order (each sum over the
//! 32 values stays sequential inside its lane), and the 37 candidate scales are tried on all
//! lanes at once. Two vectors of lanes run interleaved, so that the sequential sums of one
//! fill the latency of the other's. The per-block 6-bit stage (`make_qp_quants`, eight values) is the scalar
//! kernel's own code; the final re-quantization runs on the lanes again.
//!
//! Two places need care to stay exact:
//! - the search rounds `iscale * (x - min)` with a vector round-to-nearest-even, which equals
//!   llama.cpp's `nearest_int` only while the argument is below `2^22` in magnitude. Each lane
//!   checks a bound on it for every candidate; if a lane of a step of four blocks ever fails the
//!   check (sub-blocks whose values span less than about `1e-30` or more than about `1e30`),
//!   the four blocks are encoded by the scalar kernel instead.
//! - the C's search updates `min` when it accepts a candidate, and later candidates use the new
//!   `min`; lanes do the same, so candidates run one after another, each on all lanes.

use crate::arch::lanes::{CHUNK_SUB_BLOCKS, Lanes, Row};
use crate::f16::f32_to_f16_bits as f32_to_f16;
use crate::scalar::encode_weighted::{
    NSTEP, SUB, SUBS, candidate_numerator, make_qp_quants_lockstep, pack_scales, scale_min, sigma2,
    write_block,
};
use crate::{BLOCK_BYTES, BLOCK_VALUES, f16_to_f32};

/// Blocks per step: 32 sub-blocks, two vectors of AVX-512 lanes (two groups of lanes run
/// interleaved).
const STEP: usize = 4;
/// Sub-blocks per step: one row of lanes.
const WIDTH: usize = STEP * SUBS;
const _: () = assert!(WIDTH == CHUNK_SUB_BLOCKS);
/// The transposed blocks of a step: `rows[i][k]` is value `i` of sub-block `k`.
type Rows = [Row; SUB];

/// Encodes the whole blocks of `input` into `out` (as many as both hold). `importance` is one
/// row and `first` the position in its row (in blocks) of `input`'s first block.
#[inline(always)]
pub(crate) fn encode_blocks<S: Lanes>(
    s: S,
    input: &[f32],
    importance: &[f32],
    first: usize,
    out: &mut [u8],
) {
    let per_row = importance.len() / BLOCK_VALUES;
    if per_row == 0 {
        return;
    }
    let count = (input.len() / BLOCK_VALUES).min(out.len() / BLOCK_BYTES);
    let zeros = [0.0f32; BLOCK_VALUES];
    let mut b = 0;
    while b < count {
        let n = STEP.min(count - b);
        let mut xs = [&zeros[..]; STEP];
        let mut qws = [&zeros[..]; STEP];
        for k in 0..n {
            xs[k] = &input[(b + k) * BLOCK_VALUES..(b + k + 1) * BLOCK_VALUES];
            let at = (first + b + k) % per_row * BLOCK_VALUES;
            qws[k] = &importance[at..at + BLOCK_VALUES];
        }
        let out = &mut out[b * BLOCK_BYTES..(b + n) * BLOCK_BYTES];
        if !encode_step(s, &xs, &qws, out) {
            for k in 0..n {
                crate::scalar::encode_weighted::encode_block(
                    xs[k],
                    qws[k],
                    &mut out[k * BLOCK_BYTES..(k + 1) * BLOCK_BYTES],
                );
            }
        }
        b += n;
    }
}

/// `sigma2` of each block, as independent sequential sums.
#[inline(always)]
fn sigma2_step(xs: &[&[f32]; STEP]) -> [f32; STEP] {
    let xs: [&[f32]; STEP] = core::array::from_fn(|k| &xs[k][..BLOCK_VALUES]);
    let mut sums = [0.0f32; STEP];
    for l in 0..BLOCK_VALUES {
        for (sum, x) in sums.iter_mut().zip(xs) {
            *sum += x[l] * x[l];
        }
    }
    let sigma: [f32; STEP] = core::array::from_fn(|k| (2.0 * sums[k]) / BLOCK_VALUES as f32);
    debug_assert_eq!(sigma[0].to_bits(), sigma2(xs[0]).to_bits());
    sigma
}

/// Encodes one step of blocks (`out` holds as many blocks as are real; a missing block
/// is all zeros in `xs` and `qws`). Returns `false`, having written nothing, if a lane failed
/// the rounding bound.
#[inline(always)]
fn encode_step<S: Lanes>(s: S, xs: &[&[f32]; STEP], qws: &[&[f32]; STEP], out: &mut [u8]) -> bool {
    let mut xt: Rows = [[0.0; WIDTH]; SUB];
    let mut wt: Rows = [[0.0; WIDTH]; SUB];
    for (k, (x, qw)) in xs.iter().zip(qws).enumerate() {
        for j in 0..SUBS {
            for i in 0..SUB {
                xt[i][SUBS * k + j] = x[SUB * j + i];
                wt[i][SUBS * k + j] = qw[SUB * j + i];
            }
        }
    }
    let sig = sigma2_step(xs);
    let mut sig_lanes = [0.0f32; WIDTH];
    for (k, v) in sig_lanes.iter_mut().enumerate() {
        *v = sig[k / SUBS];
    }

    let mut scales = [0.0f32; WIDTH];
    let mut mins = [0.0f32; WIDTH];
    let mut sw = [0.0f32; WIDTH];
    let mut lt: Rows = [[0.0; WIDTH]; SUB];
    for part in 0..WIDTH / S::LANES {
        // weights[l] = qw[l] * sqrtf(sigma2 + x[l]*x[l])
        let sigv = s.load(&sig_lanes, part);
        for i in 0..SUB {
            let x = s.load(&xt[i], part);
            let w = s.mul(s.load(&wt[i], part), s.sqrt(s.add(sigv, s.mul(x, x))));
            s.store(w, &mut wt[i], part);
        }
    }
    // Two groups of lanes at a time, interleaved; groups of missing blocks are skipped.
    let real = out.len() / BLOCK_BYTES * SUBS;
    let mut part = 0;
    while part * S::LANES < real {
        let Some(found) = search::<S, 2>(s, &xt, &wt, part, &mut lt) else {
            return false;
        };
        for (g, f) in found.iter().enumerate() {
            s.store(f.scale, &mut scales, part + g);
            s.store(f.the_min, &mut mins, part + g);
            s.store(f.sw, &mut sw, part + g);
        }
        part += 2;
    }

    // The 6-bit stage: the scales and the mins of every block of the step, eight
    // `make_qp_quants` problems in lockstep; then each sub-block's `d` and `dm` on its lane.
    let blocks = out.len() / BLOCK_BYTES;
    let part =
        |v: &[f32; WIDTH], k: usize| -> [f32; SUBS] { core::array::from_fn(|j| v[SUBS * k + j]) };
    let problems: [[f32; SUBS]; 2 * STEP] =
        core::array::from_fn(|p| part(if p % 2 == 0 { &scales } else { &mins }, p / 2));
    let weights: [[f32; SUBS]; 2 * STEP] = core::array::from_fn(|p| part(&sw, p / 2));
    let mut levels = [[0u8; SUBS]; 2 * STEP];
    let rounded = make_qp_quants_lockstep(&problems, &weights, &mut levels);
    let mut header = [(0u16, 0u16, [0u8; 12]); STEP];
    let mut d_lanes = [0.0f32; WIDTH];
    let mut dm_lanes = [0.0f32; WIDTH];
    for k in 0..blocks.min(STEP) {
        let d16 = f32_to_f16(rounded[2 * k]);
        let dmin16 = f32_to_f16(rounded[2 * k + 1]);
        let packed = pack_scales(&levels[2 * k], &levels[2 * k + 1]);
        for j in 0..SUBS {
            let (sc, m) = scale_min(j, &packed);
            d_lanes[SUBS * k + j] = f16_to_f32(d16) * f32::from(sc);
            dm_lanes[SUBS * k + j] = f16_to_f32(dmin16) * f32::from(m);
        }
        header[k] = (d16, dmin16, packed);
    }

    // Re-quantization against the rounded scales; a sub-block whose `d` is 0 keeps its levels.
    let zero = s.splat(0.0);
    for part in 0..WIDTH / S::LANES {
        let d = s.load(&d_lanes, part);
        let dm = s.load(&dm_lanes, part);
        let keep = s.eq(d, zero);
        for i in 0..SUB {
            let x = s.load(&xt[i], part);
            let l = s.quant(s.div(s.add(x, dm), d));
            let l = s.select(keep, s.load(&lt[i], part), l);
            s.store(l, &mut lt[i], part);
        }
    }

    for (k, (d16, dmin16, packed)) in header.iter().enumerate().take(blocks) {
        let mut l = [0u8; BLOCK_VALUES];
        for j in 0..SUBS {
            for i in 0..SUB {
                l[SUB * j + i] = lt[i][SUBS * k + j] as u8;
            }
        }
        write_block(
            *d16,
            *dmin16,
            packed,
            &l,
            &mut out[k * BLOCK_BYTES..(k + 1) * BLOCK_BYTES],
        );
    }
    true
}

/// What the search gives back per lane (the levels go to the caller's rows).
struct Found<F> {
    scale: F,
    the_min: F,
    sw: F,
}

/// `make_qkx3_quants(32, 15, x, weights, L, &the_min, Laux, -0.9f, 0.05f, 36, false)` and the
/// weight sum `sw`, on `P` independent groups of lanes (part `first + g` of a row for group `g`), with the
/// levels as floats into `lt`. The groups run interleaved, so that one group's sequential sums
/// fill the other's latency. `None` if a lane failed the rounding bound.
#[inline(always)]
// Value `i` of group `g` is read from several rows at once: indices read better than zips.
#[allow(clippy::needless_range_loop)]
fn search<S: Lanes, const P: usize>(
    s: S,
    xt: &Rows,
    wt: &Rows,
    first: usize,
    lt: &mut Rows,
) -> Option<[Found<S::F>; P]> {
    let zero = s.splat(0.0);
    let parts: [usize; P] = core::array::from_fn(|g| first + g);
    let x_at = |i: usize, g: usize| s.load(&xt[i], parts[g]);
    let w_at = |i: usize, g: usize| s.load(&wt[i], parts[g]);

    let mut min: [S::F; P] = core::array::from_fn(|g| x_at(0, g));
    let mut max = min;
    let mut sum_w: [S::F; P] = core::array::from_fn(|g| w_at(0, g));
    let mut sum_x: [S::F; P] = core::array::from_fn(|g| s.mul(sum_w[g], x_at(0, g)));
    let mut sw: [S::F; P] = core::array::from_fn(|g| s.add(zero, sum_w[g]));
    for i in 1..SUB {
        for g in 0..P {
            let (x, w) = (x_at(i, g), w_at(i, g));
            min[g] = s.min(x, min[g]);
            max[g] = s.max(x, max[g]);
            sum_w[g] = s.add(sum_w[g], w);
            sum_x[g] = s.add(sum_x[g], s.mul(w, x));
            sw[g] = s.add(sw[g], w);
        }
    }
    // The largest |x| of each lane, for the rounding bound.
    let x_abs: [S::F; P] = core::array::from_fn(|g| s.max(s.abs(max[g]), s.abs(min[g])));
    let mut flat = [s.lt(zero, zero); P];
    for g in 0..P {
        min[g] = s.select(s.gt(min[g], zero), zero, min[g]);
        flat[g] = s.le(max[g], min[g]);
    }

    // Whether rounding `iscale * (x - min)` stays in the exact range (flat lanes return before
    // any rounding in the C, so they always pass).
    let within =
        |g: usize, iscale: S::F, min: S::F| s.or(s.within_bound(iscale, x_abs[g], min), flat[g]);
    let level = |iscale: S::F, x: S::F, min: S::F| s.level(s.mul(iscale, s.sub(x, min)));

    let mut iscale: [S::F; P] =
        core::array::from_fn(|g| s.div(s.splat(15.0), s.sub(max[g], min[g])));
    let mut scale: [S::F; P] = core::array::from_fn(|g| s.div(s.splat(1.0), iscale[g]));
    let mut ok: [S::M; P] = core::array::from_fn(|g| within(g, iscale[g], min[g]));
    let mut best_mad = [zero; P];
    for i in 0..SUB {
        for g in 0..P {
            let (x, w) = (x_at(i, g), w_at(i, g));
            let l = level(iscale[g], x, min[g]);
            let mut diff = s.sub(s.add(s.mul(scale[g], l), min[g]), x);
            diff = s.mul(diff, diff);
            best_mad[g] = s.add(best_mad[g], s.mul(w, diff));
        }
    }
    // The levels are recomputed at the end from the accepted `iscale` and the `min` it used.
    let mut best_iscale = iscale;
    let mut best_level_min = min;

    let mut laux = [[[0.0f32; WIDTH]; SUB]; P];
    for is in 0..=NSTEP {
        let numerator = s.splat(candidate_numerator(is));
        let (mut sum_l, mut sum_l2, mut sum_xl) = ([zero; P], [zero; P], [zero; P]);
        for g in 0..P {
            iscale[g] = s.div(numerator, s.sub(max[g], min[g]));
            ok[g] = s.and(ok[g], within(g, iscale[g], min[g]));
        }
        for i in 0..SUB {
            for g in 0..P {
                let (x, w) = (x_at(i, g), w_at(i, g));
                let l = level(iscale[g], x, min[g]);
                s.store(l, &mut laux[g][i], 0);
                let wl = s.mul(w, l);
                sum_l[g] = s.add(sum_l[g], wl);
                sum_l2[g] = s.add(sum_l2[g], s.mul(wl, l));
                sum_xl[g] = s.add(sum_xl[g], s.mul(wl, x));
            }
        }
        let mut positive = flat;
        let mut this_scale = [zero; P];
        let mut this_min = [zero; P];
        let mut any = false;
        for g in 0..P {
            let d = s.sub(s.mul(sum_w[g], sum_l2[g]), s.mul(sum_l[g], sum_l[g]));
            positive[g] = s.and_not(s.gt(d, zero), flat[g]);
            any |= s.any(positive[g]);
            this_scale[g] = s.div(
                s.sub(s.mul(sum_w[g], sum_xl[g]), s.mul(sum_x[g], sum_l[g])),
                d,
            );
            this_min[g] = s.div(
                s.sub(s.mul(sum_l2[g], sum_x[g]), s.mul(sum_l[g], sum_xl[g])),
                d,
            );
            let min_positive = s.gt(this_min[g], zero);
            this_min[g] = s.select(min_positive, zero, this_min[g]);
            this_scale[g] = s.select(min_positive, s.div(sum_xl[g], sum_l2[g]), this_scale[g]);
        }
        if !any {
            continue;
        }
        let mut mad = [zero; P];
        for i in 0..SUB {
            for g in 0..P {
                let (x, w) = (x_at(i, g), w_at(i, g));
                let l = s.load(&laux[g][i], 0);
                let mut diff = s.sub(s.add(s.mul(this_scale[g], l), this_min[g]), x);
                diff = s.mul(diff, diff);
                mad[g] = s.add(mad[g], s.mul(w, diff));
            }
        }
        for g in 0..P {
            let better = s.and(positive[g], s.lt(mad[g], best_mad[g]));
            best_mad[g] = s.select(better, mad[g], best_mad[g]);
            scale[g] = s.select(better, this_scale[g], scale[g]);
            best_iscale[g] = s.select(better, iscale[g], best_iscale[g]);
            best_level_min[g] = s.select(better, min[g], best_level_min[g]);
            min[g] = s.select(better, this_min[g], min[g]);
        }
    }
    if !ok.iter().all(|&m| s.all(m)) {
        return None;
    }
    for i in 0..SUB {
        for g in 0..P {
            let l = level(best_iscale[g], x_at(i, g), best_level_min[g]);
            s.store(s.select(flat[g], zero, l), &mut lt[i], parts[g]);
        }
    }
    Some(core::array::from_fn(|g| Found {
        scale: s.select(flat[g], zero, scale[g]),
        the_min: s.neg(min[g]),
        sw: sw[g],
    }))
}
