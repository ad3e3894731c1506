//! The AVX2 `f32` dot product: the documented 16 lanes are two vectors, lanes 0..8 and 8..16.
//!
//! Each weight is decode's `(d * sc) * q - dmin * m` (the product is exact, so the fused
//! multiply-subtract rounds once, like decode), multiplied by its activation and added in the
//! order of [`dot_f32`](fn@crate::dot_f32).

use core::arch::x86_64::*;

use super::{weights, widen_group};
use crate::arch::prepared::Prefetch;
use crate::arch::x86_64::BlockScales;
use crate::arch::x86_64::{DotPrefetch, prefetch_ahead, reduce_h4};
use crate::dot_f32::for_each_row;
use crate::{BLOCK_VALUES, BlockQ4K};

/// Sixteen lanes as two vectors.
type Lanes = [__m256; 2];

/// Writes, for each `out[r]`, row `r` of `blocks` (`activations.len() / 256` blocks per row)
/// times `activations`; rows beyond either length are not touched.
///
/// # Safety
///
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn matvec(blocks: &[BlockQ4K], activations: &[f32], out: &mut [f32]) {
    let prefetch = DotPrefetch::for_this_cpu().f32;
    for_each_row(blocks, activations, out, |row, a| dot(row, a, prefetch));
}

/// Lane-wise sum of two sets of 16 lanes.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn add(x: Lanes, y: Lanes) -> Lanes {
    [_mm256_add_ps(x[0], y[0]), _mm256_add_ps(x[1], y[1])]
}

/// One row times the activations, in the documented order.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn dot(row: &[BlockQ4K], activations: &[[f32; BLOCK_VALUES]], prefetch: Prefetch) -> f32 {
    let mut acc = [_mm256_setzero_ps(); 2];
    for (block, a) in row.iter().zip(activations) {
        prefetch_ahead(block, prefetch);
        let scales = BlockScales::new(block);
        let a = a.as_ptr();
        let mut t = [[_mm256_setzero_ps(); 2]; 8];
        for g in 0..4 {
            let q = widen_group(block, g);
            for half in 0..2 {
                let j = 2 * g + half;
                let w = weights(&scales, q, 2 * g + half);
                let p = core::array::from_fn::<__m256, 4, _>(|c| {
                    // SAFETY: `32 * j + 8 * c + 8 <= 256`: the load stays inside the block's
                    // activations.
                    _mm256_mul_ps(w[c], unsafe { _mm256_loadu_ps(a.add(32 * j + 8 * c)) })
                });
                // Values 0..8 and 16..24 of the sub-block are lanes 0..8, 8..16 and 24..32
                // lanes 8..16.
                t[j] = add([p[0], p[1]], [p[2], p[3]]);
            }
        }
        let u = add(
            add(add(t[0], t[1]), add(t[2], t[3])),
            add(add(t[4], t[5]), add(t[6], t[7])),
        );
        acc = add(acc, u);
    }
    let h8 = _mm256_add_ps(acc[0], acc[1]);
    let h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps::<1>(h8));
    reduce_h4(h4)
}
