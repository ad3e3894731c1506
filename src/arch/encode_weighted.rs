//! The weighted encoder on vector lanes, written once over [`Lanes`] and compiled into each
//! instruction set's `#[target_feature]` kernel.
//!
//! Blocks go four at a time: their 32 sub-blocks are transposed so that lane `k` of row `i`
//! holds value `i` of sub-block `k`. Every lane then runs `make_qkx3_quants` for its own
//! sub-block (`arch::search`, with the scalar kernel's operations in the scalar kernel's order),
//! and the 37 candidate scales are tried on all lanes at once. If a lane fails the search's
//! rounding bound, the four blocks are encoded by the scalar kernel instead. The per-block 6-bit
//! stage (`make_qp_quants`, eight values) runs its candidate scales on the lanes, one problem
//! per lane, and the rest in the scalar kernel's code; the final re-quantization runs on the
//! lanes again.

use crate::arch::encode::{pack, requantize};
use crate::arch::lanes::{CHUNK_SUB_BLOCKS, Lanes, Row, array_of};
use crate::arch::search::{self, Candidates, Values};
use crate::f16::f32_to_f16_bits as f32_to_f16;
use crate::scalar::encode::write_header;
use crate::scalar::encode_weighted::{
    NSTEP, QP_CANDIDATES, QP_GROUP_MAX_EPS, QP_NMAX, RDELTA, RMIN, SUB, SUBS,
    make_qp_quants_lockstep, pack_scales, qp_refine_lockstep, scale_min, sigma2,
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

    let mut found = Found {
        scale: [0.0; WIDTH],
        the_min: [0.0; WIDTH],
        iscale: [0.0; WIDTH],
        lmin: [0.0; WIDTH],
        sw: [0.0; WIDTH],
    };
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
        if !search::<S, 2>(s, &xt, &wt, part, &mut found) {
            return false;
        }
        part += 2;
    }

    // The 6-bit stage: the scales and the mins of every block of the step, eight
    // `make_qp_quants` problems in lockstep; then each sub-block's `d` and `dm` on its lane.
    let blocks = out.len() / BLOCK_BYTES;
    let part =
        |v: &[f32; WIDTH], k: usize| -> [f32; SUBS] { core::array::from_fn(|j| v[SUBS * k + j]) };
    let problems: [[f32; SUBS]; 2 * STEP] = core::array::from_fn(|p| {
        part(
            if p % 2 == 0 {
                &found.scale
            } else {
                &found.the_min
            },
            p / 2,
        )
    });
    let weights: [[f32; SUBS]; 2 * STEP] = core::array::from_fn(|p| part(&found.sw, p / 2));
    let mut levels = [[0u8; SUBS]; 2 * STEP];
    let rounded = match qp_candidates(s, &problems, &weights) {
        Some((max, iscale)) => qp_refine_lockstep(&problems, &weights, &mut levels, max, iscale),
        None => make_qp_quants_lockstep(&problems, &weights, &mut levels),
    };
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

    // Re-quantization against the rounded scales; a sub-block whose `d` is 0 keeps the levels
    // of its search.
    let mut lt = [[0u8; WIDTH]; SUB];
    for part in 0..WIDTH / S::LANES {
        let searched = (&found.iscale, &found.lmin);
        requantize(s, &xt, searched, &d_lanes, &dm_lanes, part, &mut lt);
    }
    let (outs, _) = out.as_chunks_mut::<BLOCK_BYTES>();
    for (k, ((d16, dmin16, packed), out)) in header.iter().zip(outs).enumerate() {
        write_header(out, *d16, *dmin16, packed);
        pack(&lt, k, out);
    }
    true
}

/// [`qp_candidates_lockstep`](crate::scalar::encode_weighted::qp_candidates_lockstep) for the
/// eight `make_qp_quants` problems of a step, one problem per lane: the largest value of each
/// and its best candidate inverse scale. `None` where a problem that is not all zeros has a
/// negative, NaN or infinite value: only without them do all the products `iscale * x` lie in
/// `0..=64`, where the vector's round-to-even and a clamp at 63 equal the C's `nearest_int`
/// (and its `uint8_t` and `MIN(nmax, ...)`).
#[inline(always)]
#[allow(clippy::type_complexity)]
fn qp_candidates<S: Lanes>(
    s: S,
    x: &[[f32; SUBS]; 2 * STEP],
    w: &[[f32; SUBS]; 2 * STEP],
) -> Option<([f32; 2 * STEP], [f32; 2 * STEP])> {
    // Row `i` holds value `i` of every problem; lanes past the problems stay 0 (all zeros).
    let mut xr = [[0.0f32; WIDTH]; SUBS];
    let mut wr = [[0.0f32; WIDTH]; SUBS];
    for (k, (x, w)) in x.iter().zip(w).enumerate() {
        for i in 0..SUBS {
            xr[i][k] = x[i];
            wr[i][k] = w[i];
        }
    }
    let zero = s.splat(0.0);
    let nmax = s.splat(QP_NMAX as f32);
    let mut max_row = [0.0f32; WIDTH];
    let mut iscale_row = [0.0f32; WIDTH];
    for part in 0..(2 * STEP).div_ceil(S::LANES) {
        let x: [S::F; SUBS] = array_of(|i| s.load(&xr[i], part));
        let w: [S::F; SUBS] = array_of(|i| s.load(&wr[i], part));
        // C's `MAX(max, x)`: `max > x ? max : x`.
        let max = x.iter().fold(zero, |max, &v| s.max(max, v));
        let mut ok = s.lt(max, s.splat(f32::INFINITY));
        for &v in &x {
            ok = s.and(ok, s.or(s.gt(v, zero), s.eq(v, zero)));
        }
        let all_zero = s.lt(max, s.splat(QP_GROUP_MAX_EPS));
        if !s.all(s.or(ok, all_zero)) {
            return None;
        }
        let mut iscale = s.div(nmax, max);
        let mut best = qp_error::<S, false>(s, &x, &w, iscale);
        for is in QP_CANDIDATES {
            let candidate = s.div(s.splat(0.1 * is as f32 + QP_NMAX as f32), max);
            let mse = qp_error::<S, true>(s, &x, &w, candidate);
            let better = s.lt(mse, best);
            best = s.select(better, mse, best);
            iscale = s.select(better, candidate, iscale);
        }
        s.store(max, &mut max_row, part);
        s.store(iscale, &mut iscale_row, part);
    }
    Some((
        core::array::from_fn(|k| max_row[k]),
        core::array::from_fn(|k| iscale_row[k]),
    ))
}

/// The weighted squared error of the levels `nearest_int(iscale * x)` of one lane's problem
/// (`MIN(63, l)` with `CLAMP`), for `iscale * x` in `0..=64`.
#[inline(always)]
fn qp_error<S: Lanes, const CLAMP: bool>(
    s: S,
    x: &[S::F; SUBS],
    w: &[S::F; SUBS],
    iscale: S::F,
) -> S::F {
    let scale = s.div(s.splat(1.0), iscale);
    let mut error = s.splat(0.0);
    for (&x, &w) in x.iter().zip(w) {
        let mut l = s.round_even(s.mul(iscale, x));
        if CLAMP {
            l = s.min(l, s.splat(QP_NMAX as f32));
        }
        let diff = s.sub(x, s.mul(scale, l));
        error = s.add(error, s.mul(s.mul(w, diff), diff));
    }
    error
}

/// `make_qkx3_quants(32, 15, x, weights, L, &the_min, Laux, -0.9f, 0.05f, 36, false)` and the
/// weight sum `sw`, on `G` vectors of lanes (part `first + g` of a row for vector `g`): the
/// scale, `min` and the inverse scale and offset of the best quants into the rows of `found`.
/// `false` if a lane failed the rounding bound.
#[inline(always)]
fn search<S: Lanes, const G: usize>(
    s: S,
    xt: &Rows,
    wt: &Rows,
    first: usize,
    found: &mut Found,
) -> bool {
    let x: Values<S, G> = array_of(|i| array_of(|g| s.load(&xt[i], first + g)));
    let w: Values<S, G> = array_of(|i| array_of(|g| s.load(&wt[i], first + g)));
    // `sw` starts from 0 (the C's `float sw = 0`), which `-0.0` weights do not change.
    let mut sw = [s.splat(0.0); G];
    for wi in &w {
        for g in 0..G {
            sw[g] = s.add(sw[g], wi[g]);
        }
    }
    let candidates = Candidates {
        rmin: RMIN,
        rdelta: RDELTA,
        nstep: NSTEP,
    };
    let Some(result) = search::search::<S, G>(s, &x, &w, candidates) else {
        return false;
    };
    for (g, f) in result.iter().enumerate() {
        let part = first + g;
        s.store(f.scale, &mut found.scale, part);
        s.store(s.neg(f.min), &mut found.the_min, part);
        s.store(f.iscale, &mut found.iscale, part);
        s.store(f.lmin, &mut found.lmin, part);
        s.store(sw[g], &mut found.sw, part);
    }
    true
}

/// What the searches of a step hand to the rest of it, one row per quantity.
struct Found {
    /// The scale `make_qkx3_quants` returns.
    scale: Row,
    /// The `the_min` it returns.
    the_min: Row,
    /// The inverse scale of the best quants (0 for a constant sub-block, whose quants are 0).
    iscale: Row,
    /// The offset the best quants were computed with: `quant(iscale * (x - lmin))`.
    lmin: Row,
    /// The sum of the weights.
    sw: Row,
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::arch::x86_64::avx512::encode::Avx512;
    use crate::arch::x86_64::sse2::encode::Sse2;
    use crate::scalar::encode_weighted::qp_candidates_lockstep;
    use crate::test_rng::Rng;

    /// The lane search of the 6-bit stage gives the scalar lockstep's bits wherever it does not
    /// hand the problems back, and (the values here being finite) hands back only steps with a
    /// negative value.
    fn qp_candidates_match<S: Lanes>(s: S) {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut taken = 0;
        // Under Miri a round of the lanes takes about a third of a second: a few dozen rounds
        // there (the native suites and AddressSanitizer run them all).
        let rounds = if cfg!(miri) { 40 } else { 2000u64 };
        for round in 0..rounds {
            let mut x = [[0.0f32; SUBS]; 2 * STEP];
            let mut w = [[0.0f32; SUBS]; 2 * STEP];
            // Most rounds hold only ordinary problems; the others mix in every kind.
            let kinds = if round % 4 == 0 { 7 } else { 3 };
            for (x, w) in x.iter_mut().zip(&mut w) {
                let kind = rng.next() % kinds;
                for (x, w) in x.iter_mut().zip(w.iter_mut()) {
                    let u = (rng.next() >> 40) as f32 / (1u64 << 24) as f32;
                    *x = match kind {
                        0 => u * 0.1,
                        1 => (u * 40.0).exp() * 1e-9,
                        2 => 0.0,
                        3 => u * 1e-16,
                        4 => u * 3.0 - 0.5,
                        5 => f32::from_bits(rng.next() as u32 & 0x7FFF_FFFF).min(1e30),
                        _ => -0.0,
                    };
                    *w = if rng.next().is_multiple_of(5) {
                        0.0
                    } else {
                        u * 32.0
                    };
                }
            }
            let want = qp_candidates_lockstep(&x, &w);
            let Some(got) = qp_candidates(s, &x, &w) else {
                assert!(x.iter().flatten().any(|&v| v < 0.0));
                continue;
            };
            taken += 1;
            for k in 0..2 * STEP {
                assert_eq!(
                    got.0[k].to_bits(),
                    want.0[k].to_bits(),
                    "round {round} max {k}"
                );
                // The chosen inverse scale matters only where the problem is not all zeros.
                if want.0[k] >= QP_GROUP_MAX_EPS {
                    assert_eq!(got.1[k].to_bits(), want.1[k].to_bits(), "round {round} {k}");
                }
            }
        }
        assert!(
            taken > rounds / 2,
            "only {taken} of {rounds} rounds on the lanes"
        );
    }

    #[test]
    fn qp_candidates_is_the_scalar_search() {
        // SAFETY: SSE2 is part of every x86_64 CPU this build runs on (the module's cfg).
        qp_candidates_match(unsafe { Sse2::new() });
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was detected just now.
            qp_candidates_match(unsafe { Avx512::new() });
        }
    }
}
