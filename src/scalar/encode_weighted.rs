//! The portable importance-weighted encoder: llama.cpp's `quantize_row_q4_K_impl` with an
//! importance vector, `make_qkx3_quants` and `make_qp_quants`, one block at a time.
//!
//! Every float operation is the C's, in the C's order, each rounded on its own (`w*l*l` is
//! `(w*l)*l`), with C's integer/float conversions (`as f32` rounds to nearest like C's, the
//! `uint8_t` stores wrap like C's). This file is the oracle the SIMD kernels are tested
//! against.

use crate::f16::f32_to_f16_bits as f32_to_f16;
use crate::scalar::encode::{make_qkx_quants, write_header};
pub(crate) use crate::scalar::encode::{nearest_int, pack_scales, sqrt as sqrtf};
use crate::{BLOCK_BYTES, BLOCK_VALUES, f16_to_f32};

/// Values in one sub-block.
pub(crate) const SUB: usize = 32;
/// Sub-blocks in one block.
pub(crate) const SUBS: usize = BLOCK_VALUES / SUB;

/// `make_qkx3_quants`' search: `rmin`, `rdelta`, `nstep` as `quantize_row_q4_K_impl` passes
/// them.
pub(crate) const RMIN: f32 = -0.9;
pub(crate) const RDELTA: f32 = 0.05;
pub(crate) const NSTEP: usize = 36;

/// `get_scale_min_k4`: sub-block `j`'s 6-bit scale and min from the packed bytes.
#[inline(always)]
pub(crate) fn scale_min(j: usize, s: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

// ---- The importance-weighted path. ----

/// `sigma2 = 2*sum_x2/256` of one block, the sum in index order.
#[inline(always)]
pub(crate) fn sigma2(x: &[f32]) -> f32 {
    let mut sum_x2 = 0.0f32;
    for &v in &x[..BLOCK_VALUES] {
        sum_x2 += v * v;
    }
    (2.0 * sum_x2) / BLOCK_VALUES as f32
}

/// `make_qkx3_quants(32, 15, x, weights, L, &the_min, Laux, -0.9f, 0.05f, 36, false)`:
/// returns `(scale, the_min)` and fills `l`.
fn make_qkx3_quants(x: &[f32; SUB], weights: &[f32; SUB], l: &mut [u8; SUB]) -> (f32, f32) {
    make_qkx_quants(x, weights, l, RMIN, RDELTA, NSTEP)
}

/// C's `MAX(a, b)`: `a > b ? a : b` (so a NaN `b` wins).
#[inline(always)]
fn c_max(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// `make_qp_quants`' largest level.
pub(crate) const QP_NMAX: i32 = 63;
/// `make_qp_quants`' `GROUP_MAX_EPS`: a group whose largest value is below it is all zeros.
pub(crate) const QP_GROUP_MAX_EPS: f32 = 1e-15;
/// `make_qp_quants`' candidate inverse scales beside `63 / max`: `(0.1 * is + 63) / max` for
/// these `is`.
pub(crate) const QP_CANDIDATES: [i32; 8] = [-4, -3, -2, -1, 1, 2, 3, 4];

/// `make_qp_quants(8, 63, x, L, quant_weights)`: the 6-bit quantization of a block's eight
/// scales (or mins), weighted by the sub-blocks' weight sums.
pub(crate) fn make_qp_quants(
    x: &[f32; SUBS],
    l: &mut [u8; SUBS],
    quant_weights: &[f32; SUBS],
) -> f32 {
    const NMAX: i32 = QP_NMAX;
    let mut max = 0.0f32;
    for &v in x {
        max = c_max(max, v);
    }
    if max < QP_GROUP_MAX_EPS {
        *l = [0; SUBS];
        return 0.0;
    }
    let mut iscale = NMAX as f32 / max;
    for i in 0..SUBS {
        l[i] = nearest_int(iscale * x[i]) as u8;
    }
    let scale = 1.0 / iscale;
    let mut best_mse = 0.0f32;
    for i in 0..SUBS {
        let diff = x[i] - scale * f32::from(l[i]);
        let w = quant_weights[i];
        best_mse += w * diff * diff;
    }
    for is in -4i32..=4 {
        if is == 0 {
            continue;
        }
        let iscale_is = (0.1 * is as f32 + NMAX as f32) / max;
        let scale_is = 1.0 / iscale_is;
        let mut mse = 0.0f32;
        for i in 0..SUBS {
            let q = nearest_int(iscale_is * x[i]).min(NMAX);
            let diff = x[i] - scale_is * q as f32;
            let w = quant_weights[i];
            mse += w * diff * diff;
        }
        if mse < best_mse {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    let mut sumlx = 0.0f32;
    let mut suml2 = 0.0f32;
    for i in 0..SUBS {
        let q = nearest_int(iscale * x[i]).min(NMAX);
        l[i] = q as u8;
        let w = quant_weights[i];
        sumlx += w * x[i] * q as f32;
        suml2 += w * q as f32 * q as f32;
    }
    for _ in 0..5 {
        let mut n_changed = 0;
        for i in 0..SUBS {
            let w = quant_weights[i];
            let li = f32::from(l[i]);
            let mut slx = sumlx - w * x[i] * li;
            let mut sl2 = suml2 - w * li * li;
            if slx > 0.0 && sl2 > 0.0 {
                let new_l = nearest_int(x[i] * sl2 / slx).min(NMAX);
                if new_l != i32::from(l[i]) {
                    slx += w * x[i] * new_l as f32;
                    sl2 += w * new_l as f32 * new_l as f32;
                    if slx * slx * suml2 > sumlx * sumlx * sl2 {
                        l[i] = new_l as u8;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed += 1;
                    }
                }
            }
        }
        if n_changed == 0 {
            break;
        }
    }
    if suml2 > 0.0 { sumlx / suml2 } else { 0.0 }
}

/// [`make_qp_quants`] for `K` independent problems in lockstep: each problem runs the same
/// operations in the same order as alone, so gives the same bits, while the interleaving lets
/// the CPU overlap the problems' long dependency chains (the refinement loop divides). The
/// SIMD kernels use it for the eight problems of a step (four blocks); the tests compare it with
/// [`make_qp_quants`].
#[cfg_attr(
    not(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(
            target_arch = "aarch64",
            target_feature = "neon",
            target_endian = "little"
        )
    )),
    allow(dead_code)
)]
// The same `i` indexes several problems' arrays at once.
#[allow(clippy::needless_range_loop)]
pub(crate) fn make_qp_quants_lockstep<const K: usize>(
    x: &[[f32; SUBS]; K],
    quant_weights: &[[f32; SUBS]; K],
    l: &mut [[u8; SUBS]; K],
) -> [f32; K] {
    let (max, iscale) = qp_candidates_lockstep(x, quant_weights);
    qp_refine_lockstep(x, quant_weights, l, max, iscale)
}

/// The first part of [`make_qp_quants_lockstep`]: each problem's largest value and the best
/// of its candidate inverse scales.
#[allow(clippy::needless_range_loop)]
pub(crate) fn qp_candidates_lockstep<const K: usize>(
    x: &[[f32; SUBS]; K],
    quant_weights: &[[f32; SUBS]; K],
) -> ([f32; K], [f32; K]) {
    const NMAX: i32 = QP_NMAX;
    let mut max = [0.0f32; K];
    for k in 0..K {
        for &v in &x[k] {
            max[k] = c_max(max[k], v);
        }
    }
    let mut iscale: [f32; K] = core::array::from_fn(|k| NMAX as f32 / max[k]);
    let scale: [f32; K] = core::array::from_fn(|k| 1.0 / iscale[k]);
    let mut best_mse = [0.0f32; K];
    for i in 0..SUBS {
        for k in 0..K {
            let li = nearest_int(iscale[k] * x[k][i]) as u8;
            let diff = x[k][i] - scale[k] * f32::from(li);
            let w = quant_weights[k][i];
            best_mse[k] += w * diff * diff;
        }
    }
    for is in QP_CANDIDATES {
        let iscale_is: [f32; K] =
            core::array::from_fn(|k| (0.1 * is as f32 + NMAX as f32) / max[k]);
        let scale_is: [f32; K] = core::array::from_fn(|k| 1.0 / iscale_is[k]);
        let mut mse = [0.0f32; K];
        for i in 0..SUBS {
            for k in 0..K {
                let q = nearest_int(iscale_is[k] * x[k][i]).min(NMAX);
                let diff = x[k][i] - scale_is[k] * q as f32;
                let w = quant_weights[k][i];
                mse[k] += w * diff * diff;
            }
        }
        for k in 0..K {
            if mse[k] < best_mse[k] {
                best_mse[k] = mse[k];
                iscale[k] = iscale_is[k];
            }
        }
    }
    (max, iscale)
}

/// The rest of [`make_qp_quants_lockstep`], from each problem's largest value `max` and chosen
/// inverse scale `iscale`: the levels, refined, and the scales.
#[allow(clippy::needless_range_loop)]
pub(crate) fn qp_refine_lockstep<const K: usize>(
    x: &[[f32; SUBS]; K],
    quant_weights: &[[f32; SUBS]; K],
    l: &mut [[u8; SUBS]; K],
    max: [f32; K],
    iscale: [f32; K],
) -> [f32; K] {
    const NMAX: i32 = QP_NMAX;
    // All-zero problems return early in the C; here they compute alongside and are replaced
    // at the end.
    let all_zero: [bool; K] = core::array::from_fn(|k| max[k] < QP_GROUP_MAX_EPS);
    let mut sumlx = [0.0f32; K];
    let mut suml2 = [0.0f32; K];
    for i in 0..SUBS {
        for k in 0..K {
            let q = nearest_int(iscale[k] * x[k][i]).min(NMAX);
            l[k][i] = q as u8;
            let w = quant_weights[k][i];
            sumlx[k] += w * x[k][i] * q as f32;
            suml2[k] += w * q as f32 * q as f32;
        }
    }
    // A problem stops after a pass that changed nothing, as the C's `break`.
    let mut active: [bool; K] = core::array::from_fn(|k| !all_zero[k]);
    for _ in 0..5 {
        let mut n_changed = [0u32; K];
        for i in 0..SUBS {
            for k in 0..K {
                if !active[k] {
                    continue;
                }
                let w = quant_weights[k][i];
                let xi = x[k][i];
                let li = f32::from(l[k][i]);
                let mut slx = sumlx[k] - w * xi * li;
                let mut sl2 = suml2[k] - w * li * li;
                if slx > 0.0 && sl2 > 0.0 {
                    let new_l = nearest_int(xi * sl2 / slx).min(NMAX);
                    if new_l != i32::from(l[k][i]) {
                        slx += w * xi * new_l as f32;
                        sl2 += w * new_l as f32 * new_l as f32;
                        if slx * slx * suml2[k] > sumlx[k] * sumlx[k] * sl2 {
                            l[k][i] = new_l as u8;
                            sumlx[k] = slx;
                            suml2[k] = sl2;
                            n_changed[k] += 1;
                        }
                    }
                }
            }
        }
        for k in 0..K {
            active[k] &= n_changed[k] != 0;
        }
        if !active.iter().any(|&a| a) {
            break;
        }
    }
    core::array::from_fn(|k| {
        if all_zero[k] {
            l[k] = [0; SUBS];
            0.0
        } else if suml2[k] > 0.0 {
            sumlx[k] / suml2[k]
        } else {
            0.0
        }
    })
}

/// What the per-sub-block search hands to the per-block stage: the eight scales, mins and
/// weight sums, and the 4-bit levels it chose.
pub(crate) struct Searched {
    pub(crate) scales: [f32; SUBS],
    pub(crate) mins: [f32; SUBS],
    pub(crate) sw: [f32; SUBS],
    pub(crate) l: [u8; BLOCK_VALUES],
}

/// The 6-bit stage of a block: `make_qp_quants` for the eight scales and the eight mins
/// (weighted by the sub-blocks' weight sums `sw`), their packing, and `d`/`dmin` as f16 bits.
/// Returns `(d, dmin, packed)`.
pub(crate) fn quantize_scales(
    scales: &[f32; SUBS],
    mins: &[f32; SUBS],
    sw: &[f32; SUBS],
) -> (u16, u16, [u8; 12]) {
    let mut ls = [0u8; SUBS];
    let mut lm = [0u8; SUBS];
    let d_block = make_qp_quants(scales, &mut ls, sw);
    let m_block = make_qp_quants(mins, &mut lm, sw);
    (
        f32_to_f16(d_block),
        f32_to_f16(m_block),
        pack_scales(&ls, &lm),
    )
}

/// The per-block stage after the search: [`quantize_scales`], re-quantization of every value
/// against the rounded scales, and the nibble layout. Writes one 144-byte block.
pub(crate) fn finish_block(x: &[f32], s: &mut Searched, out: &mut [u8]) {
    let (d16, dmin16, packed) = quantize_scales(&s.scales, &s.mins, &s.sw);
    let l = &mut s.l;
    for j in 0..SUBS {
        let (sc, m) = scale_min(j, &packed);
        let d = f16_to_f32(d16) * f32::from(sc);
        if d == 0.0 {
            continue;
        }
        let dm = f16_to_f32(dmin16) * f32::from(m);
        for ii in 0..SUB {
            let q = nearest_int((x[SUB * j + ii] + dm) / d).clamp(0, 15);
            l[SUB * j + ii] = q as u8;
        }
    }
    write_block(d16, dmin16, &packed, l, out);
}

/// Writes `d`, `dmin`, the packed scales and the 256 4-bit levels as one block.
#[inline(always)]
pub(crate) fn write_block(
    d16: u16,
    dmin16: u16,
    packed: &[u8; 12],
    l: &[u8; BLOCK_VALUES],
    out: &mut [u8],
) {
    write_header(out, d16, dmin16, packed);
    let qs = &mut out[16..BLOCK_BYTES];
    for g in 0..4 {
        for i in 0..32 {
            qs[32 * g + i] = l[64 * g + i] | (l[64 * g + 32 + i] << 4);
        }
    }
}

/// Encodes one block `x` (256 values) with `qw`, the 256 importance values of its position in
/// the row, into `out` (144 bytes).
pub(crate) fn encode_block(x: &[f32], qw: &[f32], out: &mut [u8]) {
    let sigma2 = sigma2(x);
    let mut s = Searched {
        scales: [0.0; SUBS],
        mins: [0.0; SUBS],
        sw: [0.0; SUBS],
        l: [0; BLOCK_VALUES],
    };
    let (subs, _) = x[..BLOCK_VALUES].as_chunks::<SUB>();
    let (l_subs, _) = s.l.as_chunks_mut::<SUB>();
    for (j, (xs, l)) in subs.iter().zip(l_subs).enumerate() {
        let mut weights = [0.0f32; SUB];
        for (i, w) in weights.iter_mut().enumerate() {
            *w = qw[SUB * j + i] * sqrtf(sigma2 + xs[i] * xs[i]);
        }
        let mut sumw = 0.0f32;
        for &w in &weights {
            sumw += w;
        }
        s.sw[j] = sumw;
        (s.scales[j], s.mins[j]) = make_qkx3_quants(xs, &weights, l);
    }
    finish_block(x, &mut s, out);
}

/// Encodes the whole blocks of `input` into `out`. `importance` is one row of importance
/// values and `first` the position in its row (in blocks) of `input`'s first block. Lengths and
/// values are checked by the caller; a short `out` ends the loop early.
pub(crate) fn encode_blocks(input: &[f32], importance: &[f32], first: usize, out: &mut [u8]) {
    let per_row = importance.len() / BLOCK_VALUES;
    for (b, (x, o)) in input
        .chunks_exact(BLOCK_VALUES)
        .zip(out.chunks_exact_mut(BLOCK_BYTES))
        .enumerate()
    {
        let at = (first + b) % per_row * BLOCK_VALUES;
        encode_block(x, &importance[at..at + BLOCK_VALUES], o);
    }
}

#[cfg(test)]
mod tests {
    use super::{SUBS, make_qp_quants, make_qp_quants_lockstep, nearest_int};
    use crate::test_rng::Rng;

    /// Under Miri, every `STRIDE`-th case only.
    const STRIDE: usize = if cfg!(miri) { 997 } else { 1 };

    /// `libm`'s square root (the one without `std`) gives the bits of the hardware's.
    #[test]
    fn libm_sqrtf_is_correctly_rounded() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in (0..200_000).step_by(STRIDE) {
            let v = f32::from_bits(rng.next() as u32 & 0x7FFF_FFFF);
            let (a, b) = (libm::sqrtf(v), v.sqrt());
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{v:e}"
            );
        }
    }

    /// The lockstep version gives, problem by problem, the bits and levels of the plain one:
    /// random scales of every sign and size, zeros, all-zero problems, zero weights.
    #[test]
    fn make_qp_quants_lockstep_is_make_qp_quants() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        for round in 0..if cfg!(miri) { 3 } else { 3000 } {
            let mut x = [[0.0f32; SUBS]; 5];
            let mut w = [[0.0f32; SUBS]; 5];
            for k in 0..5 {
                let kind = (rng.next() + round) % 6;
                for i in 0..SUBS {
                    let u = (rng.next() >> 40) as f32 / (1u64 << 24) as f32;
                    x[k][i] = match kind {
                        0 => u * 0.1,
                        1 => u * 3.0 - 0.5,
                        2 => 0.0,
                        3 => f32::from_bits(rng.next() as u32 & 0x7FFF_FFFF).min(1e30),
                        4 => u * 1e-16,
                        _ => (u * 40.0).exp() * 1e-9,
                    };
                    w[k][i] = if rng.next().is_multiple_of(5) {
                        0.0
                    } else {
                        u * 32.0
                    };
                }
            }
            let mut l = [[0u8; SUBS]; 5];
            let got = make_qp_quants_lockstep(&x, &w, &mut l);
            for k in 0..5 {
                let mut want_l = [0u8; SUBS];
                let want = make_qp_quants(&x[k], &mut want_l, &w[k]);
                assert_eq!(
                    got[k].to_bits(),
                    want.to_bits(),
                    "round {round} problem {k}"
                );
                assert_eq!(l[k], want_l, "round {round} problem {k}");
            }
        }
    }

    /// In its range, `nearest_int` rounds to nearest with ties to even.
    #[test]
    fn nearest_int_rounds_ties_to_even() {
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        for _ in (0..100_000).step_by(STRIDE) {
            let bits = rng.next() as u32;
            let v = f32::from_bits(bits & 0xCAFF_FFFF); // magnitudes below 2^22 and many halves
            if v.abs() > 4_194_303.0 || !v.is_finite() {
                continue;
            }
            assert_eq!(nearest_int(v), v.round_ties_even() as i32, "{v:?}");
        }
        for (v, want) in [
            (0.5f32, 0),
            (1.5, 2),
            (2.5, 2),
            (-0.5, 0),
            (-1.5, -2),
            (14.5, 14),
        ] {
            assert_eq!(nearest_int(v), want, "{v}");
        }
    }
}
