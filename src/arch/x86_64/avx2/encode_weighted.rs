//! The AVX2 weighted encoder: eight sub-blocks (one block) side by side, one per lane, through
//! the lane algorithm of `arch::encode_weighted`. It needs AVX2 only (no FMA: the reference
//! rounds every product on its own).

use core::arch::x86_64::*;

use crate::arch::encode_weighted::encode_blocks;
use crate::arch::weighted_lanes::{Lanes, ROW};

/// AVX2 lane operations; a value exists only where AVX2 is available.
#[derive(Clone, Copy)]
pub(crate) struct Avx2(());

/// The first of the eight lanes a row access covers: `at`, kept inside the row.
#[inline(always)]
fn start(at: usize) -> usize {
    at.min(ROW - 8)
}

// SAFETY: N is 8, and `Avx2` values are made only by `encode`, which requires AVX2.
unsafe impl Lanes for Avx2 {
    const N: usize = 8;
    type F = __m256;
    type M = __m256;

    #[inline(always)]
    fn splat(self, v: f32) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    fn load(self, row: &[f32; ROW], at: usize) -> __m256 {
        // SAFETY: AVX2 is available; `start(at) + 8 <= ROW`, so the eight floats are in `row`.
        unsafe { _mm256_loadu_ps(row.as_ptr().add(start(at))) }
    }
    #[inline(always)]
    fn store(self, v: __m256, row: &mut [f32; ROW], at: usize) {
        // SAFETY: AVX2 is available; `start(at) + 8 <= ROW`, so the eight floats are in `row`.
        unsafe { _mm256_storeu_ps(row.as_mut_ptr().add(start(at)), v) }
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt(self, a: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_sqrt_ps(a) }
    }
    #[inline(always)]
    fn neg(self, a: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_xor_ps(a, _mm256_set1_ps(-0.0)) }
    }
    #[inline(always)]
    fn abs(self, a: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), a) }
    }
    #[inline(always)]
    fn min_c(self, a: __m256, b: __m256) -> __m256 {
        // `vminps` is `a < b ? a : b` exactly (the second operand on ties, zeros and NaN).
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_min_ps(a, b) }
    }
    #[inline(always)]
    fn max_c(self, a: __m256, b: __m256) -> __m256 {
        // `vmaxps` is `a > b ? a : b` exactly.
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_max_ps(a, b) }
    }
    #[inline(always)]
    fn round_even(self, a: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    fn nearest_level15(self, a: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe {
            let v = _mm256_castps_si256(_mm256_add_ps(a, _mm256_set1_ps(12_582_912.0)));
            let l = _mm256_sub_epi32(
                _mm256_and_si256(v, _mm256_set1_epi32(0x007F_FFFF)),
                _mm256_set1_epi32(0x0040_0000),
            );
            let l = _mm256_min_epi32(
                _mm256_max_epi32(l, _mm256_setzero_si256()),
                _mm256_set1_epi32(15),
            );
            _mm256_cvtepi32_ps(l)
        }
    }
    #[inline(always)]
    fn lt(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    fn gt(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_cmp_ps::<_CMP_GT_OQ>(a, b) }
    }
    #[inline(always)]
    fn le(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_cmp_ps::<_CMP_LE_OQ>(a, b) }
    }
    #[inline(always)]
    fn eq(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_cmp_ps::<_CMP_EQ_OQ>(a, b) }
    }
    #[inline(always)]
    fn and(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_and_ps(a, b) }
    }
    #[inline(always)]
    fn and_not(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_andnot_ps(b, a) }
    }
    #[inline(always)]
    fn or(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_or_ps(a, b) }
    }
    #[inline(always)]
    fn select(self, m: __m256, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_blendv_ps(b, a, m) }
    }
    #[inline(always)]
    fn any(self, m: __m256) -> bool {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_movemask_ps(m) != 0 }
    }
    #[inline(always)]
    fn all(self, m: __m256) -> bool {
        // SAFETY: AVX2 is available (a value of `Self` exists).
        unsafe { _mm256_movemask_ps(m) == 0xFF }
    }
}

/// Encodes the whole blocks of `input` into `out` (as many as both hold), as
/// `scalar::encode_weighted::encode_blocks` does, with the same bytes.
///
/// # Safety
///
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn encode(input: &[f32], importance: &[f32], first: usize, out: &mut [u8]) {
    encode_blocks(Avx2(()), input, importance, first, out);
}
