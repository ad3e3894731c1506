//! The portable scalar encoder, llama.cpp's `quantize_row_q4_K_ref` line for line, and the
//! pieces of it that every encoder shares (`nearest_int`, the 6-bit scale quantization and
//! packing, the nibble packing).
//!
//! Every float operation is a separate Rust operation, rounded on its own, in the order the C
//! evaluates it (`w*l*l` is `(w*l)*l`): Rust never contracts a multiply and an add into a fused
//! multiply-add, so this is what the C gives when compiled with `-ffp-contract=off`.

use crate::encode::Element;
use crate::f16::{f16_to_f32, f32_to_f16_bits};
use crate::{BLOCK_BYTES, BLOCK_VALUES};

/// Values in one sub-block, the unit of the 6-bit scales and mins.
pub(crate) const SUB_BLOCK: usize = 32;

/// Sub-blocks in one block.
pub(crate) const SUB_BLOCKS: usize = BLOCK_VALUES / SUB_BLOCK;

/// The largest 4-bit quant.
pub(crate) const NMAX: i32 = 15;

/// `make_qkx2_quants`' search of the reference path: candidate inverse scales
/// `(RMIN + RDELTA * step + 15) / (max - min)` for `step` in `0..=NSTEP`.
pub(crate) const RMIN: f32 = -1.0;
/// See [`RMIN`].
pub(crate) const RDELTA: f32 = 0.1;
/// See [`RMIN`].
pub(crate) const NSTEP: i32 = 20;

/// llama.cpp's `nearest_int`: rounds to the nearest integer, ties to even, by adding 1.5 * 2^23
/// and reading the low significand bits.
///
/// Defined (as bits) for every input: beyond +-2^22, for infinities and NaN it gives the same
/// wrapped garbage as the C, which the callers then clamp exactly as the C does.
#[inline(always)]
pub(crate) fn nearest_int(fval: f32) -> i32 {
    let val = fval + 12_582_912.0;
    (val.to_bits() & 0x007F_FFFF) as i32 - 0x0040_0000
}

/// `MAX(0, MIN(nmax, nearest_int(v)))`, the quant of one value.
#[inline(always)]
pub(crate) fn quant(v: f32) -> u8 {
    nearest_int(v).clamp(0, NMAX) as u8
}

/// Packs the eight 6-bit scales and eight 6-bit mins into the block's 12 bytes, as the end of
/// `quantize_row_q4_K_ref` does (the inverse of `get_scale_min_k4`).
#[inline]
pub(crate) fn pack_scales(ls: &[u8; SUB_BLOCKS], lm: &[u8; SUB_BLOCKS]) -> [u8; 12] {
    let mut s = [0u8; 12];
    for j in 0..SUB_BLOCKS {
        if j < 4 {
            s[j] = ls[j];
            s[j + 4] = lm[j];
        } else {
            s[j + 4] = (ls[j] & 0xF) | ((lm[j] & 0xF) << 4);
            s[j - 4] |= (ls[j] >> 4) << 6;
            s[j] |= (lm[j] >> 4) << 6;
        }
    }
    s
}

/// The per-block step after the sub-block searches: the 6-bit scales and mins quantized against
/// their maxima, `d` and `dmin` rounded to f16. Writes the first 16 bytes of the block and
/// returns, per sub-block, the f16-rounded scale `d * sc` and offset `dmin * m` that the final
/// requantization divides by and adds.
///
/// `scales` and `mins` are what `make_qkx2_quants` (or `make_qkx3_quants`) returned per
/// sub-block (`mins` already negated, as the C's `the_min`).
#[inline]
pub(crate) fn quantize_scales(
    scales: &[f32; SUB_BLOCKS],
    mins: &[f32; SUB_BLOCKS],
    head: &mut [u8; 16],
) -> ([f32; SUB_BLOCKS], [f32; SUB_BLOCKS]) {
    let mut max_scale = 0.0f32;
    let mut max_min = 0.0f32;
    for j in 0..SUB_BLOCKS {
        if scales[j] > max_scale {
            max_scale = scales[j];
        }
        if mins[j] > max_min {
            max_min = mins[j];
        }
    }
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut ls = [0u8; SUB_BLOCKS];
    let mut lm = [0u8; SUB_BLOCKS];
    for j in 0..SUB_BLOCKS {
        // C: `uint8_t ls = nearest_int(...)` keeps the low 8 bits, then `MIN(63, ls)`.
        ls[j] = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        lm[j] = (nearest_int(inv_min * mins[j]) as u8).min(63);
    }
    let d = f32_to_f16_bits(max_scale / 63.0);
    let dmin = f32_to_f16_bits(max_min / 63.0);
    write_header(head, d, dmin, &pack_scales(&ls, &lm));
    let (d, dmin) = (f16_to_f32(d), f16_to_f32(dmin));
    (
        ls.map(|sc| d * f32::from(sc)),
        lm.map(|m| dmin * f32::from(m)),
    )
}

/// Writes a block's first 16 bytes (of `out`, at least 16): `d` and `dmin` (f16 bits,
/// little-endian), then the packed 6-bit scales and mins.
#[inline]
pub(crate) fn write_header(out: &mut [u8], d: u16, dmin: u16, packed: &[u8; 12]) {
    out[0..2].copy_from_slice(&d.to_le_bytes());
    out[2..4].copy_from_slice(&dmin.to_le_bytes());
    out[4..16].copy_from_slice(packed);
}

/// The final step of a block: each value requantized with the f16-rounded scale and offset of
/// its sub-block, `nearest_int((x + dm) / d)` clamped to 0..=15. A sub-block whose `d` is 0
/// keeps the quants `l` it has.
#[inline]
pub(crate) fn requantize(
    x: &[f32; BLOCK_VALUES],
    d: &[f32; SUB_BLOCKS],
    dm: &[f32; SUB_BLOCKS],
    l: &mut [u8; BLOCK_VALUES],
) {
    let (xs, _) = x.as_chunks::<SUB_BLOCK>();
    let (ls, _) = l.as_chunks_mut::<SUB_BLOCK>();
    for (j, (x, l)) in xs.iter().zip(ls).enumerate() {
        if d[j] == 0.0 {
            continue;
        }
        for (l, &x) in l.iter_mut().zip(x) {
            *l = quant((x + dm[j]) / d[j]);
        }
    }
}

/// Packs 256 quants into the 128 bytes of `qs`: in each group of 64, the first 32 in the low
/// nibbles, the next 32 in the high nibbles.
#[inline]
pub(crate) fn pack_quants(l: &[u8; BLOCK_VALUES], qs: &mut [u8]) {
    let (groups, _) = l.as_chunks::<64>();
    for (group, q) in groups.iter().zip(qs.chunks_exact_mut(32)) {
        for (i, q) in q.iter_mut().enumerate() {
            *q = group[i] | (group[i + 32] << 4);
        }
    }
}

/// `make_qkx2_quants(32, 15, x, weights, L, &the_min, Laux, -1.f, 0.1f, 20, false)`: the best
/// scale and offset of one sub-block by a weighted least-squares search. Returns
/// `(scale, the_min)` and leaves the quants in `l`.
fn make_qkx2_quants(
    x: &[f32; SUB_BLOCK],
    weights: &[f32; SUB_BLOCK],
    l: &mut [u8; SUB_BLOCK],
) -> (f32, f32) {
    make_qkx_quants(x, weights, l, RMIN, RDELTA, NSTEP as usize)
}

/// The search `make_qkx2_quants` and `make_qkx3_quants` share (32 values, `nmax` 15, no
/// `use_mad`): candidate inverse scales `(rmin + rdelta * is + 15) / (max - min)` for `is` in
/// `0..=nstep`. Returns `(scale, the_min)` and leaves the quants in `l`.
///
/// The C tests a flat sub-block with `max == min` in one and `max <= min` in the other; both
/// mean the same here (`max < min` cannot happen, and either is false where a value is NaN).
pub(crate) fn make_qkx_quants(
    x: &[f32; SUB_BLOCK],
    weights: &[f32; SUB_BLOCK],
    l: &mut [u8; SUB_BLOCK],
    rmin: f32,
    rdelta: f32,
    nstep: usize,
) -> (f32, f32) {
    let n = SUB_BLOCK;
    let nmax = NMAX as f32;
    let mut laux = [0u8; SUB_BLOCK];
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l.fill(0);
        return (0.0, -min);
    }
    let mut iscale = nmax / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for i in 0..n {
        l[i] = quant(iscale * (x[i] - min));
        let diff = scale * f32::from(l[i]) + min - x[i];
        let diff = diff * diff;
        let w = weights[i];
        best_error += w * diff;
    }
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + nmax) / (max - min);
        let mut sum_l = 0.0f32;
        let mut sum_l2 = 0.0f32;
        let mut sum_xl = 0.0f32;
        for i in 0..n {
            let li = quant(iscale * (x[i] - min));
            laux[i] = li;
            let lf = f32::from(li);
            let w = weights[i];
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        let d = sum_w * sum_l2 - sum_l * sum_l;
        if d > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / d;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / d;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for i in 0..n {
                let diff = this_scale * f32::from(laux[i]) + this_min - x[i];
                let diff = diff * diff;
                let w = weights[i];
                cur_error += w * diff;
            }
            if cur_error < best_error {
                l.copy_from_slice(&laux);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// Encodes one block of 256 values: `quantize_row_q4_K_ref` for one block.
pub(crate) fn encode_block(x: &[f32; BLOCK_VALUES], out: &mut [u8; BLOCK_BYTES]) {
    let mut l = [0u8; BLOCK_VALUES];
    let mut scales = [0f32; SUB_BLOCKS];
    let mut mins = [0f32; SUB_BLOCKS];
    let (xs, _) = x.as_chunks::<SUB_BLOCK>();
    let (ls, _) = l.as_chunks_mut::<SUB_BLOCK>();
    for (j, (x, l)) in xs.iter().zip(ls).enumerate() {
        let mut sum_x2 = 0.0f32;
        for &v in x {
            sum_x2 += v * v;
        }
        let av_x = sqrt(sum_x2 / 32.0);
        let weights = x.map(|v| av_x + v.abs());
        (scales[j], mins[j]) = make_qkx2_quants(x, &weights, l);
    }
    let (head, qs) = out.split_at_mut(16);
    let Ok(head) = <&mut [u8; 16]>::try_from(head) else {
        return;
    };
    let (d, dm) = quantize_scales(&scales, &mins, head);
    requantize(x, &d, &dm, &mut l);
    pack_quants(&l, qs);
}

/// Encodes whole blocks, widening each block's values to `f32` first; `out` holds 144 bytes
/// per 256 values (checked by the caller; any excess is not written).
pub(crate) fn encode_blocks<E: Element>(input: &[E::Raw], out: &mut [u8]) {
    let (blocks, _) = input.as_chunks::<BLOCK_VALUES>();
    let (outs, _) = out.as_chunks_mut::<BLOCK_BYTES>();
    for (block, out) in blocks.iter().zip(outs) {
        encode_block(&block.map(E::widen), out);
    }
}

/// Correctly rounded `f32` square root: the hardware instruction with `std`, `libm` without it
/// (both are exact to the last bit, as C's `sqrtf` is).
#[inline(always)]
pub(crate) fn sqrt(v: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        v.sqrt()
    }
    #[cfg(not(feature = "std"))]
    {
        libm::sqrtf(v)
    }
}
