//! The AVX-512F `f32` dot product: the documented 16 lanes are one vector.
//!
//! Each weight comes from decode's 16-entry sub-block tables (`vpermps` with the zero-extended
//! quant bytes as indices, so the weight has decode's bits), is multiplied by its activation
//! and added in the order of [`dot_f32`](fn@crate::dot_f32): a tree per block, one dependent add
//! per block.

use core::arch::x86_64::*;

use super::decode::tables;
use crate::arch::prepared::Prefetch;
use crate::arch::x86_64::{DotPrefetch, prefetch_ahead, reduce_h4};
use crate::dot_f32::for_each_row;
use crate::{BLOCK_VALUES, BlockQ4K};

/// Writes, for each `out[r]`, row `r` of `blocks` (`activations.len() / 256` blocks per row)
/// times `activations`; rows beyond either length are not touched.
///
/// # Safety
///
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn matvec(blocks: &[BlockQ4K], activations: &[f32], out: &mut [f32]) {
    let prefetch = DotPrefetch::for_this_cpu().f32;
    for_each_row(blocks, activations, out, |row, a| dot(row, a, prefetch));
}

/// One row times the activations, in the documented order.
#[target_feature(enable = "avx512f")]
#[inline]
fn dot(row: &[BlockQ4K], activations: &[[f32; BLOCK_VALUES]], prefetch: Prefetch) -> f32 {
    let mut acc = _mm512_setzero_ps();
    for (block, a) in row.iter().zip(activations) {
        // SAFETY: AVX-512F is enabled here.
        let tables = unsafe { tables(block) };
        prefetch_ahead(block, prefetch);
        let quants = block.quants().as_ptr();
        let a = a.as_ptr();
        let mut t = [_mm512_setzero_ps(); 8];
        for g in 0..4 {
            // SAFETY: `32 * g + 32 <= 128`, so both 16-byte loads stay inside the quants.
            let (lo, hi) = unsafe {
                (
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(quants.add(32 * g).cast())),
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(quants.add(32 * g + 16).cast())),
                )
            };
            // `vpermps` reads only the low four index bits: the low nibble needs no mask.
            let w = [
                _mm512_permutexvar_ps(lo, tables[2 * g]),
                _mm512_permutexvar_ps(hi, tables[2 * g]),
                _mm512_permutexvar_ps(_mm512_srli_epi32::<4>(lo), tables[2 * g + 1]),
                _mm512_permutexvar_ps(_mm512_srli_epi32::<4>(hi), tables[2 * g + 1]),
            ];
            // SAFETY: `64 * g + 64 <= 256`: the four 16-float loads stay inside the block's
            // activations.
            let p = unsafe {
                [
                    _mm512_mul_ps(w[0], _mm512_loadu_ps(a.add(64 * g))),
                    _mm512_mul_ps(w[1], _mm512_loadu_ps(a.add(64 * g + 16))),
                    _mm512_mul_ps(w[2], _mm512_loadu_ps(a.add(64 * g + 32))),
                    _mm512_mul_ps(w[3], _mm512_loadu_ps(a.add(64 * g + 48))),
                ]
            };
            t[2 * g] = _mm512_add_ps(p[0], p[1]);
            t[2 * g + 1] = _mm512_add_ps(p[2], p[3]);
        }
        let u = _mm512_add_ps(
            _mm512_add_ps(_mm512_add_ps(t[0], t[1]), _mm512_add_ps(t[2], t[3])),
            _mm512_add_ps(_mm512_add_ps(t[4], t[5]), _mm512_add_ps(t[6], t[7])),
        );
        acc = _mm512_add_ps(acc, u);
    }
    let h8 = _mm256_add_ps(
        _mm512_castps512_ps256(acc),
        _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(acc))),
    );
    let h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps::<1>(h8));
    reduce_h4(h4)
}
