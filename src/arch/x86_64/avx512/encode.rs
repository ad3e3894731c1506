//! The AVX-512F encoder: the lane-parallel encoder of `arch::encode` with 16 sub-blocks (two
//! blocks) per 512-bit vector.

use core::arch::x86_64::*;

use crate::arch::encode::encode_blocks;
use crate::arch::lanes::{CHUNK_SUB_BLOCKS, Lanes, Row};
use crate::encode::Element;

/// Proof that the CPU has AVX-512F: made only by [`Avx512::new`].
#[derive(Clone, Copy)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// # Safety
    ///
    /// The CPU must support AVX-512F.
    #[inline(always)]
    pub(crate) unsafe fn new() -> Self {
        Avx512(())
    }
}

impl Lanes for Avx512 {
    const LANES: usize = 16;
    type F = __m512;
    type M = __mmask16;

    #[inline(always)]
    fn splat(self, v: f32) -> __m512 {
        // SAFETY: an `Avx512` exists only where AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    fn load(self, row: &Row, part: usize) -> __m512 {
        let lanes = &row[part * 16..][..16];
        // SAFETY: AVX-512F is present (`Avx512::new`); `lanes` holds the 16 floats read.
        unsafe { _mm512_loadu_ps(lanes.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: __m512, row: &mut Row, part: usize) {
        let lanes = &mut row[part * 16..][..16];
        // SAFETY: AVX-512F is present (`Avx512::new`); `lanes` holds the 16 floats written.
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt(self, a: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_sqrt_ps(a) }
    }
    #[inline(always)]
    fn abs(self, a: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_abs_ps(a) }
    }
    #[inline(always)]
    fn min(self, x: __m512, m: __m512) -> __m512 {
        // `vminps` returns its first operand where it is less, else the second.
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_min_ps(x, m) }
    }
    #[inline(always)]
    fn max(self, x: __m512, m: __m512) -> __m512 {
        // `vmaxps` returns its first operand where it is greater, else the second.
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_max_ps(x, m) }
    }
    #[inline(always)]
    fn gt(self, a: __m512, b: __m512) -> __mmask16 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b) }
    }
    #[inline(always)]
    fn lt(self, a: __m512, b: __m512) -> __mmask16 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    fn eq(self, a: __m512, b: __m512) -> __mmask16 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a, b) }
    }
    #[inline(always)]
    fn and(self, a: __mmask16, b: __mmask16) -> __mmask16 {
        a & b
    }
    #[inline(always)]
    fn select(self, m: __mmask16, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_mask_blend_ps(m, b, a) }
    }
    #[inline(always)]
    fn quant(self, v: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe {
            let t = _mm512_castps_si512(_mm512_add_ps(v, _mm512_set1_ps(12_582_912.0)));
            let i = _mm512_sub_epi32(
                _mm512_and_si512(t, _mm512_set1_epi32(0x007F_FFFF)),
                _mm512_set1_epi32(0x0040_0000),
            );
            let i = _mm512_max_epi32(
                _mm512_min_epi32(i, _mm512_set1_epi32(15)),
                _mm512_setzero_si512(),
            );
            // The 16 possible quants looked up rather than converted: the permute runs beside
            // the additions that bound this loop.
            let table = _mm512_setr_ps(
                0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0,
                15.0,
            );
            _mm512_permutexvar_ps(i, table)
        }
    }
    #[inline(always)]
    fn store_quants(self, v: __m512, row: &mut [u8; CHUNK_SUB_BLOCKS], part: usize) {
        let lanes = &mut row[part * 16..][..16];
        // SAFETY: AVX-512F is present (`Avx512::new`); `lanes` holds the 16 bytes written.
        unsafe {
            let bytes = _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v));
            _mm_storeu_si128(lanes.as_mut_ptr().cast(), bytes);
        }
    }
    #[inline(always)]
    fn neg(self, a: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe {
            _mm512_castsi512_ps(_mm512_xor_si512(
                _mm512_castps_si512(a),
                _mm512_set1_epi32(i32::MIN),
            ))
        }
    }
    #[inline(always)]
    fn round_even(self, a: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (`Avx512::new`).
        unsafe { _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    fn or(self, a: __mmask16, b: __mmask16) -> __mmask16 {
        a | b
    }
    #[inline(always)]
    fn all(self, m: __mmask16) -> bool {
        m == 0xFFFF
    }
}

/// Encodes `min(input.len() / 256, out.len() / 144)` blocks.
///
/// # Safety
///
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn encode<E: Element>(input: &[E::Raw], out: &mut [u8]) {
    // SAFETY: the caller guarantees AVX-512F.
    let s = unsafe { Avx512::new() };
    encode_blocks::<Avx512, E>(s, input, out);
}
