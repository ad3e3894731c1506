//! The AVX2 `f32` dot product: the documented 16 lanes are two vectors, lanes 0..8 and 8..16.
//!
//! Each weight is decode's `(d * sc) * q - dmin * m` (the product is exact, so the fused
//! multiply-subtract rounds once, like decode), multiplied by its activation and added in the
//! order of [`dot_f32`](fn@crate::dot_f32), one pair of sub-blocks at a time.

use core::arch::x86_64::*;

use super::{weights, widen_quants};
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
        let mut a = a.as_ptr();
        let mut quants = block.quants().as_ptr();
        // Sub-blocks 2g and 2g + 1, added lane by lane.
        let mut pair = |g: usize| {
            // SAFETY: `quants` points to the block's 128 quant bytes (passed through
            // `in_order` unchanged), and the callers pass `g < 4`.
            let q = unsafe { widen_quants(quants, g) };
            let sub_block = |j: usize| {
                let w = weights(&scales, q, j);
                let p = core::array::from_fn::<__m256, 4, _>(|c| {
                    // SAFETY: `a` points to the block's 256 activations (passed through
                    // `in_order` unchanged), and `32 * j + 8 * c + 8 <= 256`.
                    _mm256_mul_ps(w[c], unsafe { _mm256_loadu_ps(a.add(32 * j + 8 * c)) })
                });
                // Values 0..8 and 16..24 of the sub-block are lanes 0..8, 8..16 and 24..32
                // lanes 8..16.
                add([p[0], p[1]], [p[2], p[3]])
            };
            in_order(
                add(sub_block(2 * g), sub_block(2 * g + 1)),
                &mut a,
                &mut quants,
            )
        };
        let p0 = pair(0);
        let p1 = pair(1);
        let p2 = pair(2);
        let p3 = pair(3);
        acc = add(acc, add(add(p0, p1), add(p2, p3)));
    }
    let h8 = _mm256_add_ps(acc[0], acc[1]);
    let h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps::<1>(h8));
    reduce_h4(h4)
}

/// `r`, and the addresses the next pair of sub-blocks reads through, passed unchanged through
/// an empty `asm!`: that pair's loads then wait for `r`, so the compiler works through the block
/// one pair at a time. Left to itself it computed all 32 weight vectors of a block first and
/// spilled most of them to the stack (on Zen 3, 1.11-1.17x faster with this, in cache and at
/// 256 MiB).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn in_order(r: Lanes, a: &mut *const f32, quants: &mut *const u8) -> Lanes {
    let [mut r0, mut r1] = r;
    let (mut a_addr, mut quants_addr) = (a.addr(), quants.addr());
    // SAFETY: the template is empty: nothing is read, written or changed.
    unsafe {
        core::arch::asm!(
            "/* {0} {1} {2} {3} */",
            inout(ymm_reg) r0,
            inout(ymm_reg) r1,
            inout(reg) a_addr,
            inout(reg) quants_addr,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    // The same addresses, with the pointers' own provenance.
    *a = a.with_addr(a_addr);
    *quants = quants.with_addr(quants_addr);
    [r0, r1]
}
