//! The SSE2 `f32` dot product: the documented 16 lanes are four vectors of four.
//!
//! Each weight is decode's `(d * sc) * q - dmin * m` (an exact multiply, then one rounded
//! subtract), multiplied by its activation and added in the order of
//! [`dot_f32`](fn@crate::dot_f32).

use core::arch::x86_64::*;

use super::{load_group, quants, scale_and_min, weight};
use crate::arch::prepared::Prefetch;
use crate::arch::x86_64::{BlockScales, DotPrefetch, prefetch_ahead, reduce_h4};
use crate::dot_f32::for_each_row;
use crate::{BLOCK_VALUES, BlockQ4K};

/// Sixteen lanes as four vectors.
type Lanes = [__m128; 4];

/// Writes, for each `out[r]`, row `r` of `blocks` (`activations.len() / 256` blocks per row)
/// times `activations`; rows beyond either length are not touched.
///
/// # Safety
///
/// The CPU must support SSE2 (every x86_64 CPU does).
#[target_feature(enable = "sse2")]
pub(crate) unsafe fn matvec(blocks: &[BlockQ4K], activations: &[f32], out: &mut [f32]) {
    let prefetch = DotPrefetch::for_this_cpu().f32;
    for_each_row(blocks, activations, out, |row, a| dot(row, a, prefetch));
}

/// Lane-wise sum of two sets of 16 lanes.
#[target_feature(enable = "sse2")]
#[inline]
fn add(x: Lanes, y: Lanes) -> Lanes {
    core::array::from_fn(|r| _mm_add_ps(x[r], y[r]))
}

/// One row times the activations, in the documented order.
#[target_feature(enable = "sse2")]
#[inline]
fn dot(row: &[BlockQ4K], activations: &[[f32; BLOCK_VALUES]], prefetch: Prefetch) -> f32 {
    let mut acc = [_mm_setzero_ps(); 4];
    for (block, a) in row.iter().zip(activations) {
        prefetch_ahead(block, prefetch);
        let scales = BlockScales::new(block);
        let a = a.as_ptr();
        let mut t = [[_mm_setzero_ps(); 4]; 8];
        for g in 0..4 {
            let bytes = load_group(block, g);
            for half in 0..2 {
                let j = 2 * g + half;
                // Values `16 * c ..` of the sub-block, as lanes 0..16.
                let scale_min = scale_and_min(&scales, j);
                let p = bytes.map(|bytes| quants(bytes, j));
                let products = core::array::from_fn::<Lanes, 2, _>(|c| {
                    core::array::from_fn(|r| {
                        // SAFETY: `32 * j + 16 * c + 4 * r + 4 <= 256`: the load stays
                        // inside the block's activations.
                        _mm_mul_ps(weight(p[c][r], scale_min), unsafe {
                            _mm_loadu_ps(a.add(32 * j + 16 * c + 4 * r))
                        })
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
    let h8 = [_mm_add_ps(acc[0], acc[2]), _mm_add_ps(acc[1], acc[3])];
    reduce_h4(_mm_add_ps(h8[0], h8[1]))
}
