//! The SSE2 dot-product kernel: the reference's own shape. Eight 16-bit products per vector
//! are one chunk of eight values, so lane `l` of every vector already is lane `l` of the
//! reference; chunks of a sub-block are added in 16 bits, then weighted by the scale in 32.
//!
//! The eight float lanes are two `__m128`, a multiply then an add per block, as in the C.

use core::arch::x86_64::*;

use crate::arch::x86_64::{f16_to_f32_branchless, scales_and_mins_u64, sum_i32x4};
use crate::dot::for_each_row;
use crate::{BlockQ4K, BlockQ8K};

/// `out[r] = dot(row r, activations)` for the rows of `activations.len()` blocks in `weights`.
///
/// # Safety
///
/// The CPU must support SSE2 (every x86_64 CPU does); `weights` must hold `out.len()` whole
/// rows.
#[target_feature(enable = "sse2")]
pub(crate) unsafe fn matvec(weights: &[BlockQ4K], activations: &[BlockQ8K], out: &mut [f32]) {
    for_each_row(weights, activations, out, |row, a| dot(row, a));
}

/// One row.
#[target_feature(enable = "sse2")]
fn dot(row: &[BlockQ4K], activations: &[BlockQ8K]) -> f32 {
    let mut sums_low = _mm_setzero_ps();
    let mut sums_high = _mm_setzero_ps();
    let mut sumf = 0f32;
    let zero = _mm_setzero_si128();
    let low_nibbles = _mm_set1_epi8(0x0F);
    for (x, y) in row.iter().zip(activations) {
        let (scales, mins) = scales_and_mins_u64(x);
        let scales = scales.to_le_bytes();
        let q4 = x.quants().as_ptr();
        let q8 = y.quants().as_ptr();
        let mut aux_low = zero;
        let mut aux_high = zero;
        for g in 0..4 {
            // SAFETY: group `g` is 32 readable quant bytes at `32 * g`.
            let (r0, r1) = unsafe {
                (
                    _mm_loadu_si128(q4.add(32 * g).cast()),
                    _mm_loadu_si128(q4.add(32 * g + 16).cast()),
                )
            };
            let nibbles = [
                [
                    _mm_and_si128(r0, low_nibbles),
                    _mm_and_si128(r1, low_nibbles),
                ],
                [
                    _mm_and_si128(_mm_srli_epi16::<4>(r0), low_nibbles),
                    _mm_and_si128(_mm_srli_epi16::<4>(r1), low_nibbles),
                ],
            ];
            // The 16-bit lane sums of sub-blocks 2g and 2g + 1.
            let mut p = [zero; 2];
            for (half, nibbles) in nibbles.iter().enumerate() {
                let base = 64 * g + 32 * half;
                for (k, &n) in nibbles.iter().enumerate() {
                    // SAFETY: activation quants `base + 16k .. base + 16k + 16` are readable.
                    let a = unsafe { _mm_loadu_si128(q8.add(base + 16 * k).cast()) };
                    let a_low = _mm_srai_epi16::<8>(_mm_unpacklo_epi8(a, a));
                    let a_high = _mm_srai_epi16::<8>(_mm_unpackhi_epi8(a, a));
                    let q_low = _mm_unpacklo_epi8(n, zero);
                    let q_high = _mm_unpackhi_epi8(n, zero);
                    p[half] = _mm_add_epi16(p[half], _mm_mullo_epi16(q_low, a_low));
                    p[half] = _mm_add_epi16(p[half], _mm_mullo_epi16(q_high, a_high));
                }
            }
            // Words (scale 2g, scale 2g + 1) against (p0[l], p1[l]): one 32-bit lane each.
            let s = i32::from(scales[2 * g]) | (i32::from(scales[2 * g + 1]) << 16);
            let s = _mm_set1_epi32(s);
            aux_low = _mm_add_epi32(aux_low, _mm_madd_epi16(_mm_unpacklo_epi16(p[0], p[1]), s));
            aux_high = _mm_add_epi32(aux_high, _mm_madd_epi16(_mm_unpackhi_epi16(p[0], p[1]), s));
        }
        let sumi = min_sum(mins, y.block_sums());
        let (d_bits, dmin_bits) = x.d_dmin_bits();
        let d = _mm_set1_ps(f16_to_f32_branchless(d_bits) * y.d());
        sums_low = _mm_add_ps(sums_low, _mm_mul_ps(d, _mm_cvtepi32_ps(aux_low)));
        sums_high = _mm_add_ps(sums_high, _mm_mul_ps(d, _mm_cvtepi32_ps(aux_high)));
        let dmin = f16_to_f32_branchless(dmin_bits) * y.d();
        sumf -= dmin * sumi as f32;
    }
    let mut sums = [0f32; 8];
    // SAFETY: `sums` is eight writable floats.
    unsafe {
        _mm_storeu_ps(sums.as_mut_ptr(), sums_low);
        _mm_storeu_ps(sums.as_mut_ptr().add(4), sums_high);
    }
    for sum in sums {
        sumf += sum;
    }
    sumf
}

/// `Σ bsums[k] * mins[k / 2]`, exact.
#[target_feature(enable = "sse2")]
fn min_sum(mins: u64, bsums: &[i16; 16]) -> i32 {
    let m = _mm_unpacklo_epi8(_mm_cvtsi64_si128(mins as i64), _mm_setzero_si128());
    // SAFETY: `bsums` is 32 readable bytes.
    let (b0, b1) = unsafe {
        (
            _mm_loadu_si128(bsums.as_ptr().cast()),
            _mm_loadu_si128(bsums.as_ptr().add(8).cast()),
        )
    };
    let s = _mm_add_epi32(
        _mm_madd_epi16(_mm_unpacklo_epi16(m, m), b0),
        _mm_madd_epi16(_mm_unpackhi_epi16(m, m), b1),
    );
    sum_i32x4(s)
}
