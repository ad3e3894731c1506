//! The AVX-512F weighted encoder: sixteen sub-blocks (two blocks) side by side, one per lane,
//! through the lane algorithm of `arch::encode_weighted`.

use core::arch::x86_64::*;

use crate::arch::encode_weighted::encode_blocks;
use crate::arch::weighted_lanes::{Lanes, ROW};

/// AVX-512F lane operations; a value exists only where AVX-512F is available.
#[derive(Clone, Copy)]
pub(crate) struct Avx512(());

/// The first of the sixteen lanes a row access covers: `at`, kept inside the row.
#[inline(always)]
fn start(at: usize) -> usize {
    at.min(ROW - 16)
}

// SAFETY: N is 16, and `Avx512` values are made only by `encode`, which requires AVX-512F.
unsafe impl Lanes for Avx512 {
    const N: usize = 16;
    type F = __m512;
    type M = __mmask16;

    #[inline(always)]
    fn splat(self, v: f32) -> __m512 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    fn load(self, row: &[f32; ROW], at: usize) -> __m512 {
        // SAFETY: AVX-512F is available; `start(at) + 16 <= ROW`, so the floats are in `row`.
        unsafe { _mm512_loadu_ps(row.as_ptr().add(start(at))) }
    }
    #[inline(always)]
    fn store(self, v: __m512, row: &mut [f32; ROW], at: usize) {
        // SAFETY: AVX-512F is available; `start(at) + 16 <= ROW`, so the floats are in `row`.
        unsafe { _mm512_storeu_ps(row.as_mut_ptr().add(start(at)), v) }
    }
    #[inline(always)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt(self, a: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_sqrt_ps(a) }
    }
    #[inline(always)]
    fn neg(self, a: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe {
            _mm512_castsi512_ps(_mm512_xor_si512(
                _mm512_castps_si512(a),
                _mm512_set1_epi32(i32::MIN),
            ))
        }
    }
    #[inline(always)]
    fn abs(self, a: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_abs_ps(a) }
    }
    #[inline(always)]
    fn min_c(self, a: __m512, b: __m512) -> __m512 {
        // `vminps` is `a < b ? a : b` exactly (the second operand on ties, zeros and NaN).
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_min_ps(a, b) }
    }
    #[inline(always)]
    fn max_c(self, a: __m512, b: __m512) -> __m512 {
        // `vmaxps` is `a > b ? a : b` exactly.
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    fn round_even(self, a: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    fn nearest_level15(self, a: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe {
            let v = _mm512_castps_si512(_mm512_add_ps(a, _mm512_set1_ps(12_582_912.0)));
            let l = _mm512_sub_epi32(
                _mm512_and_si512(v, _mm512_set1_epi32(0x007F_FFFF)),
                _mm512_set1_epi32(0x0040_0000),
            );
            let l = _mm512_min_epi32(
                _mm512_max_epi32(l, _mm512_setzero_si512()),
                _mm512_set1_epi32(15),
            );
            _mm512_cvtepi32_ps(l)
        }
    }
    #[inline(always)]
    fn lt(self, a: __m512, b: __m512) -> __mmask16 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    fn gt(self, a: __m512, b: __m512) -> __mmask16 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b) }
    }
    #[inline(always)]
    fn le(self, a: __m512, b: __m512) -> __mmask16 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_cmp_ps_mask::<_CMP_LE_OQ>(a, b) }
    }
    #[inline(always)]
    fn eq(self, a: __m512, b: __m512) -> __mmask16 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a, b) }
    }
    #[inline(always)]
    fn and(self, a: __mmask16, b: __mmask16) -> __mmask16 {
        a & b
    }
    #[inline(always)]
    fn and_not(self, a: __mmask16, b: __mmask16) -> __mmask16 {
        a & !b
    }
    #[inline(always)]
    fn or(self, a: __mmask16, b: __mmask16) -> __mmask16 {
        a | b
    }
    #[inline(always)]
    fn select(self, m: __mmask16, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (a value of `Self` exists).
        unsafe { _mm512_mask_blend_ps(m, b, a) }
    }
    #[inline(always)]
    fn any(self, m: __mmask16) -> bool {
        m != 0
    }
    #[inline(always)]
    fn all(self, m: __mmask16) -> bool {
        m == 0xFFFF
    }
}

/// Encodes the whole blocks of `input` into `out` (as many as both hold), as
/// `scalar::encode_weighted::encode_blocks` does, with the same bytes.
///
/// # Safety
///
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn encode(input: &[f32], importance: &[f32], first: usize, out: &mut [u8]) {
    encode_blocks(Avx512(()), input, importance, first, out);
}
