//! The SSE2 encoder: the lane-parallel encoder of `arch::encode` with 4 sub-blocks per 128-bit
//! vector.

use core::arch::x86_64::*;

use crate::arch::encode::encode_blocks;
use crate::arch::lanes::{Lanes, Row};
use crate::encode::Element;

/// Proof that the CPU has SSE2: made only by [`Sse2::new`].
#[derive(Clone, Copy)]
pub(crate) struct Sse2(());

impl Sse2 {
    /// # Safety
    ///
    /// The CPU must support SSE2.
    #[inline(always)]
    pub(crate) unsafe fn new() -> Self {
        Sse2(())
    }
}

impl Lanes for Sse2 {
    const LANES: usize = 4;
    type F = __m128;
    type M = __m128;

    #[inline(always)]
    fn splat(self, v: f32) -> __m128 {
        // SAFETY: an `Sse2` exists only where SSE2 is present (`Sse2::new`).
        unsafe { _mm_set1_ps(v) }
    }
    #[inline(always)]
    fn load(self, row: &Row, part: usize) -> __m128 {
        let lanes = &row[part * 4..][..4];
        // SAFETY: SSE2 is present (`Sse2::new`); `lanes` holds the 4 floats read.
        unsafe { _mm_loadu_ps(lanes.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: __m128, row: &mut Row, part: usize) {
        let lanes = &mut row[part * 4..][..4];
        // SAFETY: SSE2 is present (`Sse2::new`); `lanes` holds the 4 floats written.
        unsafe { _mm_storeu_ps(lanes.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn add(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_div_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt(self, a: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_sqrt_ps(a) }
    }
    #[inline(always)]
    fn abs(self, a: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_andnot_ps(_mm_set1_ps(-0.0), a) }
    }
    #[inline(always)]
    fn min(self, x: __m128, m: __m128) -> __m128 {
        // `minps` returns its first operand where it is less, else the second.
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_min_ps(x, m) }
    }
    #[inline(always)]
    fn max(self, x: __m128, m: __m128) -> __m128 {
        // `maxps` returns its first operand where it is greater, else the second.
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_max_ps(x, m) }
    }
    #[inline(always)]
    fn gt(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_cmpgt_ps(a, b) }
    }
    #[inline(always)]
    fn lt(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_cmplt_ps(a, b) }
    }
    #[inline(always)]
    fn eq(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_cmpeq_ps(a, b) }
    }
    #[inline(always)]
    fn and(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_and_ps(a, b) }
    }
    #[inline(always)]
    fn select(self, m: __m128, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b)) }
    }
    #[inline(always)]
    fn quant(self, v: __m128) -> __m128 {
        // SSE2 has no 32-bit integer min/max: clamp after the exact conversion, where the
        // integers (below 2^22 in magnitude) are exact floats.
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe {
            let t = _mm_castps_si128(_mm_add_ps(v, _mm_set1_ps(12_582_912.0)));
            let i = _mm_sub_epi32(
                _mm_and_si128(t, _mm_set1_epi32(0x007F_FFFF)),
                _mm_set1_epi32(0x0040_0000),
            );
            let f = _mm_cvtepi32_ps(i);
            _mm_max_ps(_mm_min_ps(f, _mm_set1_ps(15.0)), _mm_setzero_ps())
        }
    }
    #[inline(always)]
    fn neg(self, a: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_xor_ps(a, _mm_set1_ps(-0.0)) }
    }
    #[inline(always)]
    fn round_even(self, a: __m128) -> __m128 {
        // For |a| < 2^22, `a + 1.5 * 2^23` lies where floats are the integers, so the add
        // rounds to nearest even and the subtraction is exact.
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe {
            let m = _mm_set1_ps(12_582_912.0);
            _mm_sub_ps(_mm_add_ps(a, m), m)
        }
    }
    #[inline(always)]
    fn or(self, a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_or_ps(a, b) }
    }
    #[inline(always)]
    fn all(self, m: __m128) -> bool {
        // SAFETY: SSE2 is present (`Sse2::new`).
        unsafe { _mm_movemask_ps(m) == 0xF }
    }
}

/// Encodes `min(input.len() / 256, out.len() / 144)` blocks.
///
/// # Safety
///
/// The CPU must support SSE2.
#[target_feature(enable = "sse2")]
pub(crate) unsafe fn encode<E: Element>(input: &[E::Raw], out: &mut [u8]) {
    // SAFETY: the caller guarantees SSE2.
    let s = unsafe { Sse2::new() };
    encode_blocks::<Sse2, E>(s, input, out);
}
