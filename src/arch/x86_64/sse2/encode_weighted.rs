//! The SSE2 weighted encoder: four sub-blocks side by side, one per lane, through the lane
//! algorithm of `arch::encode_weighted`. SSE2 has no rounding instruction and no 32-bit integer
//! min/max: rounding goes through the float adder as llama.cpp's `nearest_int` does, the
//! clamps through compares.

use core::arch::x86_64::*;

use crate::arch::encode_weighted::encode_blocks;
use crate::arch::weighted_lanes::{Lanes, ROW};

/// SSE2 lane operations; a value exists only where SSE2 is available.
#[derive(Clone, Copy)]
pub(crate) struct Sse2(());

/// The first of the four lanes a row access covers: `at`, kept inside the row.
#[inline(always)]
fn start(at: usize) -> usize {
    at.min(ROW - 4)
}

/// `1.5 * 2^23`: added to a float of magnitude below `2^22`, rounds it to an integer.
const MAGIC: f32 = 12_582_912.0;

// SAFETY: N is 4, and `Sse2` values are made only by `encode`, which requires SSE2.
unsafe impl Lanes for Sse2 {
    const N: usize = 4;
    type F = __m128;
    type M = __m128;

    #[inline(always)]
    fn splat(self, v: f32) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_set1_ps(v) }
    }
    #[inline(always)]
    fn load(self, row: &[f32; ROW], at: usize) -> __m128 {
        // SAFETY: SSE2 is available; `start(at) + 4 <= ROW`, so the four floats are in `row`.
        unsafe { _mm_loadu_ps(row.as_ptr().add(start(at))) }
    }
    #[inline(always)]
    fn store(self, v: __m128, row: &mut [f32; ROW], at: usize) {
        // SAFETY: SSE2 is available; `start(at) + 4 <= ROW`, so the four floats are in `row`.
        unsafe { _mm_storeu_ps(row.as_mut_ptr().add(start(at)), v) }
    }
    #[inline(always)]
    fn add(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_div_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt(self, a: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_sqrt_ps(a) }
    }
    #[inline(always)]
    fn neg(self, a: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_xor_ps(a, _mm_set1_ps(-0.0)) }
    }
    #[inline(always)]
    fn abs(self, a: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_andnot_ps(_mm_set1_ps(-0.0), a) }
    }
    #[inline(always)]
    fn min_c(self, a: __m128, b: __m128) -> __m128 {
        // `minps` is `a < b ? a : b` exactly (the second operand on ties, zeros and NaN).
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_min_ps(a, b) }
    }
    #[inline(always)]
    fn max_c(self, a: __m128, b: __m128) -> __m128 {
        // `maxps` is `a > b ? a : b` exactly.
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_max_ps(a, b) }
    }
    #[inline(always)]
    fn round_even(self, a: __m128) -> __m128 {
        // For |a| < 2^22, `a + 1.5 * 2^23` lies where floats are the integers, so the add
        // rounds to nearest even and the subtraction is exact.
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe {
            let m = _mm_set1_ps(MAGIC);
            _mm_sub_ps(_mm_add_ps(a, m), m)
        }
    }
    #[inline(always)]
    fn nearest_level15(self, a: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe {
            let v = _mm_castps_si128(_mm_add_ps(a, _mm_set1_ps(MAGIC)));
            let l = _mm_sub_epi32(
                _mm_and_si128(v, _mm_set1_epi32(0x007F_FFFF)),
                _mm_set1_epi32(0x0040_0000),
            );
            // max(l, 0), then min(l, 15), through compares.
            let l = _mm_andnot_si128(_mm_cmplt_epi32(l, _mm_setzero_si128()), l);
            let fifteen = _mm_set1_epi32(15);
            let over = _mm_cmpgt_epi32(l, fifteen);
            let l = _mm_or_si128(_mm_and_si128(over, fifteen), _mm_andnot_si128(over, l));
            _mm_cvtepi32_ps(l)
        }
    }
    #[inline(always)]
    fn lt(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_cmplt_ps(a, b) }
    }
    #[inline(always)]
    fn gt(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_cmpgt_ps(a, b) }
    }
    #[inline(always)]
    fn le(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_cmple_ps(a, b) }
    }
    #[inline(always)]
    fn eq(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_cmpeq_ps(a, b) }
    }
    #[inline(always)]
    fn and(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_and_ps(a, b) }
    }
    #[inline(always)]
    fn and_not(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_andnot_ps(b, a) }
    }
    #[inline(always)]
    fn or(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_or_ps(a, b) }
    }
    #[inline(always)]
    fn select(self, m: __m128, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b)) }
    }
    #[inline(always)]
    fn any(self, m: __m128) -> bool {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_movemask_ps(m) != 0 }
    }
    #[inline(always)]
    fn all(self, m: __m128) -> bool {
        // SAFETY: SSE2 is available (a value of `Self` exists).
        unsafe { _mm_movemask_ps(m) == 0xF }
    }
}

/// Encodes the whole blocks of `input` into `out` (as many as both hold), as
/// `scalar::encode_weighted::encode_blocks` does, with the same bytes.
///
/// # Safety
///
/// The CPU must support SSE2.
#[target_feature(enable = "sse2")]
pub(crate) unsafe fn encode(input: &[f32], importance: &[f32], first: usize, out: &mut [u8]) {
    encode_blocks(Sse2(()), input, importance, first, out);
}
