//! The weighted encoder on vector lanes, written once over [`Lanes`] and compiled into each
//! instruction set's `#[target_feature]` kernel.
//!
//! Blocks go two at a time: their sixteen sub-blocks are transposed so that lane `k` of row `i`
//! holds value `i` of sub-block `k`. Every lane then runs `make_qkx3_quants` for its own
//! sub-block with the scalar kernel's operations in the scalar kernel's order (each sum over the
//! 32 values stays sequential inside its lane), and the 37 candidate scales are tried on all
//! lanes at once. The per-block 6-bit stage (`make_qp_quants`, eight values) is the scalar
//! kernel's own code; the final re-quantization runs on the lanes again.
//!
//! Two places need care to stay exact:
//! - the search rounds `iscale * (x - min)` with a vector round-to-nearest-even, which equals
//!   llama.cpp's `nearest_int` only while the argument is below `2^22` in magnitude. Each lane
//!   checks a bound on it for every candidate; if a lane of a pair of blocks ever fails the
//!   check (sub-blocks whose values span less than about `1e-30` or more than about `1e30`),
//!   the pair is encoded by the scalar kernel instead.
//! - the C's search updates `min` when it accepts a candidate, and later candidates use the new
//!   `min`; lanes do the same, so candidates run one after another, each on all lanes.

use crate::arch::lanes::Lanes;
use crate::scalar::encode_weighted::{
    NSTEP, SUB, SUBS, candidate_numerator, quantize_scales, scale_min, sigma2, write_block,
};
use crate::{BLOCK_BYTES, BLOCK_VALUES, f16_to_f32};

/// Blocks per step: sixteen sub-blocks, one vector of AVX-512 lanes.
const PAIR: usize = 2;
/// Sub-blocks per step.
const WIDTH: usize = PAIR * SUBS;
/// A transposed pair of blocks: `rows[i][k]` is value `i` of sub-block `k`.
type Rows = [[f32; WIDTH]; SUB];

/// The search rounds with [`Lanes::round_even`] only while `|iscale * (x - min)|` stays below
/// this bound (half of the `2^22` up to which it equals `nearest_int`, a margin for the
/// rounding of the bound itself).
const ROUND_BOUND: f32 = 2_097_152.0;

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
        let n = PAIR.min(count - b);
        let mut xs = [&zeros[..]; PAIR];
        let mut qws = [&zeros[..]; PAIR];
        for k in 0..n {
            xs[k] = &input[(b + k) * BLOCK_VALUES..(b + k + 1) * BLOCK_VALUES];
            let at = (first + b + k) % per_row * BLOCK_VALUES;
            qws[k] = &importance[at..at + BLOCK_VALUES];
        }
        let out = &mut out[b * BLOCK_BYTES..(b + n) * BLOCK_BYTES];
        if !encode_pair(s, &xs, &qws, out) {
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

/// `sigma2` of both blocks, as two independent sequential sums.
#[inline(always)]
fn sigma2_pair(xs: &[&[f32]; PAIR]) -> [f32; PAIR] {
    let (a, b) = (&xs[0][..BLOCK_VALUES], &xs[1][..BLOCK_VALUES]);
    let (mut sa, mut sb) = (0.0f32, 0.0f32);
    for l in 0..BLOCK_VALUES {
        sa += a[l] * a[l];
        sb += b[l] * b[l];
    }
    let sa = (2.0 * sa) / BLOCK_VALUES as f32;
    let sb = (2.0 * sb) / BLOCK_VALUES as f32;
    debug_assert_eq!(sa.to_bits(), sigma2(a).to_bits());
    [sa, sb]
}

/// Encodes one pair of blocks (`out` holds as many blocks as are real; a missing second block
/// is all zeros in `xs` and `qws`). Returns `false`, having written nothing, if a lane failed
/// the rounding bound.
#[inline(always)]
fn encode_pair<S: Lanes>(s: S, xs: &[&[f32]; PAIR], qws: &[&[f32]; PAIR], out: &mut [u8]) -> bool {
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
    let sig = sigma2_pair(xs);
    let mut sig_lanes = [0.0f32; WIDTH];
    for (k, v) in sig_lanes.iter_mut().enumerate() {
        *v = sig[k / SUBS];
    }

    let mut scales = [0.0f32; WIDTH];
    let mut mins = [0.0f32; WIDTH];
    let mut sw = [0.0f32; WIDTH];
    let mut lt: Rows = [[0.0; WIDTH]; SUB];
    let mut at = 0;
    while at < WIDTH {
        // weights[l] = qw[l] * sqrtf(sigma2 + x[l]*x[l])
        let sigv = s.load(&sig_lanes, at);
        for i in 0..SUB {
            let x = s.load(&xt[i], at);
            let w = s.mul(s.load(&wt[i], at), s.sqrt(s.add(sigv, s.mul(x, x))));
            s.store(w, &mut wt[i], at);
        }
        let Some(found) = search(s, &xt, &wt, at, &mut lt) else {
            return false;
        };
        s.store(found.scale, &mut scales, at);
        s.store(found.the_min, &mut mins, at);
        s.store(found.sw, &mut sw, at);
        at += S::N;
    }

    // The 6-bit stage per block, then each sub-block's `d` and `dm` on its lane.
    let blocks = out.len() / BLOCK_BYTES;
    let mut header = [(0u16, 0u16, [0u8; 12]); PAIR];
    let mut d_lanes = [0.0f32; WIDTH];
    let mut dm_lanes = [0.0f32; WIDTH];
    for k in 0..blocks.min(PAIR) {
        let part = |v: &[f32; WIDTH]| -> [f32; SUBS] {
            let mut p = [0.0; SUBS];
            p.copy_from_slice(&v[SUBS * k..SUBS * (k + 1)]);
            p
        };
        let (d16, dmin16, packed) = quantize_scales(&part(&scales), &part(&mins), &part(&sw));
        for j in 0..SUBS {
            let (sc, m) = scale_min(j, &packed);
            d_lanes[SUBS * k + j] = f16_to_f32(d16) * f32::from(sc);
            dm_lanes[SUBS * k + j] = f16_to_f32(dmin16) * f32::from(m);
        }
        header[k] = (d16, dmin16, packed);
    }

    // Re-quantization against the rounded scales; a sub-block whose `d` is 0 keeps its levels.
    let zero = s.splat(0.0);
    let mut at = 0;
    while at < WIDTH {
        let d = s.load(&d_lanes, at);
        let dm = s.load(&dm_lanes, at);
        let keep = s.eq(d, zero);
        for i in 0..SUB {
            let x = s.load(&xt[i], at);
            let l = s.nearest_level15(s.div(s.add(x, dm), d));
            let l = s.select(keep, s.load(&lt[i], at), l);
            s.store(l, &mut lt[i], at);
        }
        at += S::N;
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
/// weight sum `sw` on lanes `at .. at + N`, with the levels as floats into `lt`. `None` if a
/// lane failed the rounding bound.
#[inline(always)]
fn search<S: Lanes>(s: S, xt: &Rows, wt: &Rows, at: usize, lt: &mut Rows) -> Option<Found<S::F>> {
    let zero = s.splat(0.0);
    let x0 = s.load(&xt[0], at);
    let w0 = s.load(&wt[0], at);
    let mut min = x0;
    let mut max = x0;
    let mut sum_w = w0;
    let mut sum_x = s.mul(sum_w, x0);
    let mut sw = s.add(zero, w0);
    for i in 1..SUB {
        let x = s.load(&xt[i], at);
        let w = s.load(&wt[i], at);
        min = s.min_c(x, min);
        max = s.max_c(x, max);
        sum_w = s.add(sum_w, w);
        sum_x = s.add(sum_x, s.mul(w, x));
        sw = s.add(sw, w);
    }
    // The largest |x| of the lane, for the rounding bound.
    let x_abs = s.max_c(s.abs(max), s.abs(min));
    min = s.select(s.gt(min, zero), zero, min);
    let flat = s.le(max, min);

    let bound = s.splat(ROUND_BOUND);
    // Lanes where rounding `iscale * (x - min)` could leave the exact range (flat lanes
    // return before any rounding in the C, so they never count).
    let within = |iscale: S::F, min: S::F| {
        let t = s.mul(s.abs(iscale), s.add(x_abs, s.abs(min)));
        s.or(s.lt(t, bound), flat)
    };
    let level = |iscale: S::F, x: S::F, min: S::F| {
        let t = s.mul(iscale, s.sub(x, min));
        s.min_c(s.max_c(s.round_even(t), zero), s.splat(15.0))
    };

    let mut iscale = s.div(s.splat(15.0), s.sub(max, min));
    let mut scale = s.div(s.splat(1.0), iscale);
    let mut ok = within(iscale, min);
    let mut best_mad = zero;
    for i in 0..SUB {
        let x = s.load(&xt[i], at);
        let w = s.load(&wt[i], at);
        let l = level(iscale, x, min);
        let mut diff = s.sub(s.add(s.mul(scale, l), min), x);
        diff = s.mul(diff, diff);
        best_mad = s.add(best_mad, s.mul(w, diff));
    }
    // The levels are recomputed at the end from the accepted `iscale` and the `min` it used.
    let mut best_iscale = iscale;
    let mut best_level_min = min;

    let mut laux: Rows = [[0.0; WIDTH]; SUB];
    for is in 0..=NSTEP {
        iscale = s.div(s.splat(candidate_numerator(is)), s.sub(max, min));
        ok = s.and(ok, within(iscale, min));
        let (mut sum_l, mut sum_l2, mut sum_xl) = (zero, zero, zero);
        for i in 0..SUB {
            let x = s.load(&xt[i], at);
            let w = s.load(&wt[i], at);
            let l = level(iscale, x, min);
            s.store(l, &mut laux[i], 0);
            let wl = s.mul(w, l);
            sum_l = s.add(sum_l, wl);
            sum_l2 = s.add(sum_l2, s.mul(wl, l));
            sum_xl = s.add(sum_xl, s.mul(wl, x));
        }
        let d = s.sub(s.mul(sum_w, sum_l2), s.mul(sum_l, sum_l));
        let positive = s.and_not(s.gt(d, zero), flat);
        if !s.any(positive) {
            continue;
        }
        let mut this_scale = s.div(s.sub(s.mul(sum_w, sum_xl), s.mul(sum_x, sum_l)), d);
        let mut this_min = s.div(s.sub(s.mul(sum_l2, sum_x), s.mul(sum_l, sum_xl)), d);
        let min_positive = s.gt(this_min, zero);
        this_min = s.select(min_positive, zero, this_min);
        this_scale = s.select(min_positive, s.div(sum_xl, sum_l2), this_scale);
        let mut mad = zero;
        for i in 0..SUB {
            let x = s.load(&xt[i], at);
            let w = s.load(&wt[i], at);
            let l = s.load(&laux[i], 0);
            let mut diff = s.sub(s.add(s.mul(this_scale, l), this_min), x);
            diff = s.mul(diff, diff);
            mad = s.add(mad, s.mul(w, diff));
        }
        let better = s.and(positive, s.lt(mad, best_mad));
        best_mad = s.select(better, mad, best_mad);
        scale = s.select(better, this_scale, scale);
        best_iscale = s.select(better, iscale, best_iscale);
        best_level_min = s.select(better, min, best_level_min);
        min = s.select(better, this_min, min);
    }
    if !s.all(ok) {
        return None;
    }
    for i in 0..SUB {
        let x = s.load(&xt[i], at);
        let l = s.select(flat, zero, level(best_iscale, x, best_level_min));
        s.store(l, &mut lt[i], at);
    }
    Some(Found {
        scale: s.select(flat, zero, scale),
        the_min: s.neg(min),
        sw,
    })
}
