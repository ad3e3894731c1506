//! The SSE2 `f32` dot product: the documented 16 lanes are four vectors of four.
//!
//! Each weight is decode's `(d * sc) * q - dmin * m` (an exact multiply, then one rounded
//! subtract), multiplied by its activation and added in the order of
//! [`dot_f32`](fn@crate::dot_f32).

use core::arch::x86_64::*;

use super::{load_quants, quants, scale_and_min, weight};
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
        let mut a = a.as_ptr();
        let mut quants_at = block.quants().as_ptr();
        // Sub-blocks 2g and 2g + 1, added lane by lane.
        let mut pair = |g: usize| {
            // SAFETY: `quants_at` points to the block's 128 quant bytes (passed through
            // `in_order` unchanged), and the callers pass `g < 4`.
            let bytes = unsafe { load_quants(quants_at, g) };
            let sub_block = |j: usize| {
                // Values `16 * c ..` of the sub-block, as lanes 0..16.
                let scale_min = scale_and_min(&scales, j);
                let p = bytes.map(|bytes| quants(bytes, j));
                let products = core::array::from_fn::<Lanes, 2, _>(|c| {
                    core::array::from_fn(|r| {
                        // SAFETY: `a` points to the block's 256 activations (passed through
                        // `in_order` unchanged), and `32 * j + 16 * c + 4 * r + 4 <= 256`.
                        _mm_mul_ps(weight(p[c][r], scale_min), unsafe {
                            _mm_loadu_ps(a.add(32 * j + 16 * c + 4 * r))
                        })
                    })
                });
                add(products[0], products[1])
            };
            in_order(
                add(sub_block(2 * g), sub_block(2 * g + 1)),
                &mut a,
                &mut quants_at,
            )
        };
        let p0 = pair(0);
        let p1 = pair(1);
        let p2 = pair(2);
        let p3 = pair(3);
        acc = add(acc, add(add(p0, p1), add(p2, p3)));
    }
    let h8 = [_mm_add_ps(acc[0], acc[2]), _mm_add_ps(acc[1], acc[3])];
    reduce_h4(_mm_add_ps(h8[0], h8[1]))
}

/// `r`, and the addresses the next pair of sub-blocks reads through, passed unchanged through
/// an empty `asm!`, as in the AVX2 kernel: the compiler then works through the block one pair
/// at a time instead of computing every weight first and spilling them. Under Miri, which runs
/// this kernel (SSE2 is in every x86_64 build) but no `asm!`, everything passes through as is.
#[target_feature(enable = "sse2")]
#[inline]
#[cfg_attr(miri, allow(unused_mut))]
fn in_order(r: Lanes, a: &mut *const f32, quants: &mut *const u8) -> Lanes {
    let [mut r0, mut r1, mut r2, mut r3] = r;
    let (mut a_addr, mut quants_addr) = (a.addr(), quants.addr());
    #[cfg(not(miri))]
    // SAFETY: the template is empty: nothing is read, written or changed.
    unsafe {
        core::arch::asm!(
            "/* {0} {1} {2} {3} {4} {5} */",
            inout(xmm_reg) r0,
            inout(xmm_reg) r1,
            inout(xmm_reg) r2,
            inout(xmm_reg) r3,
            inout(reg) a_addr,
            inout(reg) quants_addr,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    // The same addresses, with the pointers' own provenance.
    *a = a.with_addr(a_addr);
    *quants = quants.with_addr(quants_addr);
    [r0, r1, r2, r3]
}
