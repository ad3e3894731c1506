//! The NEON `f32` dot product: the documented 16 lanes are four vectors of four.
//!
//! Each weight is decode's `(d * sc) * q - dmin * m` (an exact multiply, then one rounded
//! subtract), multiplied by its activation and added in the order of
//! [`dot_f32`](fn@crate::dot_f32).

use core::arch::aarch64::*;

use super::decode::scales_and_mins;
use crate::dot_f32::for_each_row;
use crate::{BLOCK_VALUES, BlockQ4K};

/// Sixteen lanes as four vectors.
type Lanes = [float32x4_t; 4];

/// Writes, for each `out[r]`, row `r` of `blocks` (`activations.len() / 256` blocks per row)
/// times `activations`; rows beyond either length are not touched.
#[target_feature(enable = "neon")]
pub(crate) fn matvec(blocks: &[BlockQ4K], activations: &[f32], out: &mut [f32]) {
    for_each_row(blocks, activations, out, |row, a| dot(row, a));
}

/// Lane-wise sum of two sets of 16 lanes.
#[target_feature(enable = "neon")]
#[inline]
fn add(x: Lanes, y: Lanes) -> Lanes {
    core::array::from_fn(|r| vaddq_f32(x[r], y[r]))
}

/// Sixteen quants (each 0..16) as four vectors of four `f32`.
#[target_feature(enable = "neon")]
#[inline]
fn widen(q: uint8x16_t) -> Lanes {
    let (low, high) = (vmovl_u8(vget_low_u8(q)), vmovl_high_u8(q));
    [
        vcvtq_f32_u32(vmovl_u16(vget_low_u16(low))),
        vcvtq_f32_u32(vmovl_high_u16(low)),
        vcvtq_f32_u32(vmovl_u16(vget_low_u16(high))),
        vcvtq_f32_u32(vmovl_high_u16(high)),
    ]
}

/// One row times the activations, in the documented order.
#[target_feature(enable = "neon")]
#[inline]
fn dot(row: &[BlockQ4K], activations: &[[f32; BLOCK_VALUES]]) -> f32 {
    let mut acc = [vdupq_n_f32(0.0); 4];
    for (block, a) in row.iter().zip(activations) {
        let bytes = core::ptr::from_ref(block).cast::<u8>();
        // SAFETY: `bytes` points to the 144 readable bytes of `block`; this reads the first 16.
        let head = unsafe { vld1q_u8(bytes) };
        let (scale, min) = scales_and_mins(head);
        let (mut scales, mut mins) = ([0f32; 8], [0f32; 8]);
        // SAFETY: each store writes 4 floats into an array of 8, at offsets 0 and 4.
        unsafe {
            vst1q_f32(scales.as_mut_ptr(), scale[0]);
            vst1q_f32(scales.as_mut_ptr().add(4), scale[1]);
            vst1q_f32(mins.as_mut_ptr(), min[0]);
            vst1q_f32(mins.as_mut_ptr().add(4), min[1]);
        }
        let a = a.as_ptr();
        let mut t = [[vdupq_n_f32(0.0); 4]; 8];
        for g in 0..4 {
            // SAFETY: the quants are bytes 16..144 of the block and `16 + 32 * g + 32 <= 144`.
            let bytes = unsafe {
                [
                    vld1q_u8(bytes.add(16 + 32 * g)),
                    vld1q_u8(bytes.add(32 + 32 * g)),
                ]
            };
            for half in 0..2 {
                let j = 2 * g + half;
                let (scale, min) = (vdupq_n_f32(scales[j]), vdupq_n_f32(mins[j]));
                let products = core::array::from_fn::<Lanes, 2, _>(|c| {
                    let q = if half == 0 {
                        vandq_u8(bytes[c], vdupq_n_u8(0x0F))
                    } else {
                        vshrq_n_u8::<4>(bytes[c])
                    };
                    let q = widen(q);
                    core::array::from_fn(|r| {
                        let w = vsubq_f32(vmulq_f32(q[r], scale), min);
                        // SAFETY: `32 * j + 16 * c + 4 * r + 4 <= 256`: the load stays inside
                        // the block's activations.
                        vmulq_f32(w, unsafe { vld1q_f32(a.add(32 * j + 16 * c + 4 * r)) })
                    })
                });
                t[j] = add(products[0], products[1]);
            }
        }
        let u = add(
            add(add(t[0], t[1]), add(t[2], t[3])),
            add(add(t[4], t[5]), add(t[6], t[7])),
        );
        acc = add(acc, u);
    }
    let h4 = vaddq_f32(vaddq_f32(acc[0], acc[2]), vaddq_f32(acc[1], acc[3]));
    let h2 = vadd_f32(vget_low_f32(h4), vget_high_f32(h4));
    vget_lane_f32::<0>(h2) + vget_lane_f32::<1>(h2)
}
