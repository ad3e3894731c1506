//! The NEON dot-product kernels.
//!
//! - [`matvec`], plain Advanced SIMD: the reference's own shape. `SMULL`/`SMLAL` of eight
//!   bytes give eight 16-bit products, one chunk of eight values, so lane `l` of each vector is
//!   lane `l` of the reference; the four chunks of a sub-block add up in 16 bits, and `SMLAL`
//!   by the scale accumulates them in 32.
//! - [`matvec_dotprod`], with `SDOT` (Armv8.2 dot product, inline assembly because its
//!   intrinsic is not stable): one `TBL` per 16 weight bytes puts the four values of a lane side
//!   by side, as in the prepared activations, and `SDOT` then yields each sub-block's exact sum
//!   per lane, weighted by the scale with `MLA`.
//!
//! The eight float lanes are two `float32x4_t`, a multiply then an add per block, as in the C.

use core::arch::aarch64::*;
use core::arch::asm;

use crate::arch::prepared::{self, Prepared, RowState};
use crate::dot::for_each_row;
use crate::{BlockQ4K, BlockQ8K};

/// `out[r] = dot(row r, activations)` for the rows of `activations.len()` blocks in `weights`.
///
/// # Safety
///
/// The CPU must support NEON; `weights` must hold `out.len()` whole rows.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn matvec(weights: &[BlockQ4K], activations: &[BlockQ8K], out: &mut [f32]) {
    for_each_row(weights, activations, out, |row, a| dot(row, a));
}

/// One row, without `SDOT`.
#[target_feature(enable = "neon")]
fn dot(row: &[BlockQ4K], activations: &[BlockQ8K]) -> f32 {
    let mut sums = [vdupq_n_f32(0.0); 2];
    let mut sumf = 0f32;
    let low_nibbles = vdupq_n_u8(0x0F);
    for (x, y) in row.iter().zip(activations) {
        let pairs = x.scales_and_mins();
        let q4 = x.quants().as_ptr();
        let q8 = y.quants().as_ptr();
        let mut aux = [vdupq_n_s32(0); 2];
        for g in 0..4 {
            // SAFETY: group `g` is 32 readable quant bytes at `32 * g`.
            let raw = unsafe { [vld1q_u8(q4.add(32 * g)), vld1q_u8(q4.add(32 * g + 16))] };
            for half in 0..2 {
                let j = 2 * g + half;
                let nibbles = raw.map(|r| {
                    vreinterpretq_s8_u8(if half == 0 {
                        vandq_u8(r, low_nibbles)
                    } else {
                        vshrq_n_u8::<4>(r)
                    })
                });
                // SAFETY: the activation quants of sub-block `j` are 32 readable bytes.
                let a = unsafe { [vld1q_s8(q8.add(32 * j)), vld1q_s8(q8.add(32 * j + 16))] };
                let mut p = vmull_s8(vget_low_s8(nibbles[0]), vget_low_s8(a[0]));
                p = vmlal_high_s8(p, nibbles[0], a[0]);
                p = vmlal_s8(p, vget_low_s8(nibbles[1]), vget_low_s8(a[1]));
                p = vmlal_high_s8(p, nibbles[1], a[1]);
                let scale = i16::from(pairs[j].0);
                aux[0] = vmlal_n_s16(aux[0], vget_low_s16(p), scale);
                aux[1] = vmlal_high_n_s16(aux[1], p, scale);
            }
        }
        let sumi = min_sum(&pairs, y.block_sums());
        let d = x.d() * y.d();
        for (sum, aux) in sums.iter_mut().zip(aux) {
            *sum = vaddq_f32(*sum, vmulq_n_f32(vcvtq_f32_s32(aux), d));
        }
        let dmin = x.dmin() * y.d();
        sumf -= dmin * sumi as f32;
    }
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` is eight writable floats.
    unsafe {
        vst1q_f32(lanes.as_mut_ptr(), sums[0]);
        vst1q_f32(lanes.as_mut_ptr().add(4), sums[1]);
    }
    for sum in lanes {
        sumf += sum;
    }
    sumf
}

/// `out[r] = dot(row r, activations)` with `SDOT`.
///
/// # Safety
///
/// The CPU must support NEON and the dot-product extension; `weights` must hold `out.len()`
/// whole rows.
#[target_feature(enable = "neon,dotprod")]
pub(crate) unsafe fn matvec_dotprod(
    weights: &[BlockQ4K],
    activations: &[BlockQ8K],
    out: &mut [f32],
) {
    prepared::matvec(
        weights,
        activations,
        out,
        prepared::Prefetch::Off,
        |s, d| transpose_sub_block(s, d),
        |row, prepared, state| {
            // SAFETY: NEON and dotprod are enabled in the enclosing function.
            unsafe { blocks_dotprod(row, prepared, state) }
        },
    );
}

/// `TBL` indices that gather bytes `l, l + 8, l + 16, l + 24` of 32 into dword `l`, for lanes
/// 0..4 and 4..8.
const TRANSPOSE: [[u8; 16]; 2] = {
    let mut t = [[0u8; 16]; 2];
    let mut i = 0;
    while i < 32 {
        let (l, c) = (i / 4, i % 4);
        t[l / 4][4 * (l % 4) + c] = (l + 8 * c) as u8;
        i += 1;
    }
    t
};

/// [`prepared::transpose_sub_block`] in two `TBL`s.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn transpose_sub_block(src: &[i8; 32], dst: &mut [i8; 32]) {
    // SAFETY: `src` is 32 readable bytes, `dst` 32 writable ones, and `TRANSPOSE` two arrays
    // of 16 readable bytes.
    unsafe {
        let table = vld1q_s8_x2(src.as_ptr());
        vst1q_s8(
            dst.as_mut_ptr(),
            vqtbl2q_s8(table, vld1q_u8(TRANSPOSE[0].as_ptr())),
        );
        vst1q_s8(
            dst.as_mut_ptr().add(16),
            vqtbl2q_s8(table, vld1q_u8(TRANSPOSE[1].as_ptr())),
        );
    }
}

/// The block loop of one row over matching chunks of weights and prepared activations.
///
/// # Safety
///
/// The CPU must support NEON and the dot-product extension.
#[target_feature(enable = "neon,dotprod")]
#[inline]
unsafe fn blocks_dotprod(row: &[BlockQ4K], prepared: &[Prepared], state: &mut RowState) {
    // SAFETY: `state.sums` is eight readable floats.
    let mut sums = unsafe {
        [
            vld1q_f32(state.sums.as_ptr()),
            vld1q_f32(state.sums.as_ptr().add(4)),
        ]
    };
    let mut sumf = state.sumf;
    let low_nibbles = vdupq_n_u8(0x0F);
    // SAFETY: `TRANSPOSE` is two arrays of 16 readable bytes.
    let transpose = unsafe {
        [
            vld1q_u8(TRANSPOSE[0].as_ptr()),
            vld1q_u8(TRANSPOSE[1].as_ptr()),
        ]
    };
    for (x, y) in row.iter().zip(prepared) {
        let pairs = x.scales_and_mins();
        let q4 = x.quants().as_ptr();
        let q8 = y.qs.as_ptr();
        let mut aux = [vdupq_n_s32(0); 2];
        for g in 0..4 {
            // SAFETY: group `g` is 32 readable quant bytes at `32 * g`.
            let raw =
                unsafe { uint8x16x2_t(vld1q_u8(q4.add(32 * g)), vld1q_u8(q4.add(32 * g + 16))) };
            // Lanes 0..4 and 4..8, four values each.
            let t = transpose.map(|idx| vqtbl2q_u8(raw, idx));
            for half in 0..2 {
                let j = 2 * g + half;
                // The slot of sub-block j in the prepared quants (see `prepared`).
                let slot = (j / 4) * 4 + (j % 2) * 2 + (j / 2) % 2;
                let scale = i32::from(pairs[j].0);
                for (lanes, &t) in t.iter().enumerate() {
                    let q = vreinterpretq_s8_u8(if half == 0 {
                        vandq_u8(t, low_nibbles)
                    } else {
                        vshrq_n_u8::<4>(t)
                    });
                    // SAFETY: slot `slot` is 32 readable prepared bytes; this reads 16.
                    let a = unsafe { vld1q_s8(q8.add(32 * slot + 16 * lanes)) };
                    // SAFETY: NEON and dotprod are enabled here.
                    let p = unsafe { sdot(vdupq_n_s32(0), q, a) };
                    aux[lanes] = vmlaq_n_s32(aux[lanes], p, scale);
                }
            }
        }
        let sumi = min_sum(&pairs, &y.bsums);
        let d = x.d() * y.d;
        for (sum, aux) in sums.iter_mut().zip(aux) {
            *sum = vaddq_f32(*sum, vmulq_n_f32(vcvtq_f32_s32(aux), d));
        }
        let dmin = x.dmin() * y.d;
        sumf -= dmin * sumi as f32;
    }
    // SAFETY: `state.sums` is eight writable floats.
    unsafe {
        vst1q_f32(state.sums.as_mut_ptr(), sums[0]);
        vst1q_f32(state.sums.as_mut_ptr().add(4), sums[1]);
    }
    state.sumf = sumf;
}

/// `acc + Σ` of each four neighbouring byte products, per 32-bit lane (`SDOT`).
///
/// # Safety
///
/// The CPU must support the dot-product extension.
#[target_feature(enable = "neon,dotprod")]
#[inline]
unsafe fn sdot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: SDOT only reads and writes these three vector registers; the caller guarantees
    // the dot-product extension.
    unsafe {
        asm!(
            "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    acc
}

/// `Σ bsums[k] * mins[k / 2]`, exact, from the block's `(scale, min)` pairs.
#[target_feature(enable = "neon")]
#[inline]
fn min_sum(pairs: &[(u8, u8); 8], bsums: &[i16; 16]) -> i32 {
    let mins = pairs.map(|(_, m)| m);
    // SAFETY: `mins` is 8 readable bytes and `bsums` 16 readable i16.
    let (m, b) = unsafe { (vld1_u8(mins.as_ptr()), vld1q_s16_x2(bsums.as_ptr())) };
    let m = vmovl_u8(m);
    let m_low = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(m)));
    let m_high = vreinterpretq_s32_u32(vmovl_high_u16(m));
    // Sums of neighbouring block sums (2i, 2i + 1): the ones min i multiplies.
    let products = vaddq_s32(
        vmulq_s32(m_low, vpaddlq_s16(b.0)),
        vmulq_s32(m_high, vpaddlq_s16(b.1)),
    );
    vaddvq_s32(products)
}
