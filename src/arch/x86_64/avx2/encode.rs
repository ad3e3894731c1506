//! The AVX2 encoder: the lane-parallel encoder of `arch::encode` with the 8 sub-blocks of a
//! block in one 256-bit vector. Uses no FMA: the reference rounds every product.

use core::arch::x86_64::*;

use crate::arch::encode::encode_blocks;
use crate::arch::lanes::{CHUNK_SUB_BLOCKS, Lanes, Row};
use crate::encode::Element;

/// Proof that the CPU has AVX2: made only by [`Avx2::new`].
#[derive(Clone, Copy)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[inline(always)]
    pub(crate) unsafe fn new() -> Self {
        Avx2(())
    }
}

impl Lanes for Avx2 {
    const LANES: usize = 8;
    type F = __m256;
    type M = __m256;

    #[inline(always)]
    fn splat(self, v: f32) -> __m256 {
        // SAFETY: an `Avx2` exists only where AVX2 is present (`Avx2::new`).
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    fn load(self, row: &Row, part: usize) -> __m256 {
        let lanes = &row[part * 8..][..8];
        // SAFETY: AVX2 is present (`Avx2::new`); `lanes` holds the 8 floats read.
        unsafe { _mm256_loadu_ps(lanes.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: __m256, row: &mut Row, part: usize) {
        let lanes = &mut row[part * 8..][..8];
        // SAFETY: AVX2 is present (`Avx2::new`); `lanes` holds the 8 floats written.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt(self, a: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_sqrt_ps(a) }
    }
    #[inline(always)]
    fn abs(self, a: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), a) }
    }
    #[inline(always)]
    fn min(self, x: __m256, m: __m256) -> __m256 {
        // `vminps` returns its first operand where it is less, else the second.
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_min_ps(x, m) }
    }
    #[inline(always)]
    fn max(self, x: __m256, m: __m256) -> __m256 {
        // `vmaxps` returns its first operand where it is greater, else the second.
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_max_ps(x, m) }
    }
    #[inline(always)]
    fn gt(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_cmp_ps::<_CMP_GT_OQ>(a, b) }
    }
    #[inline(always)]
    fn lt(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    fn eq(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_cmp_ps::<_CMP_EQ_OQ>(a, b) }
    }
    #[inline(always)]
    fn and(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_and_ps(a, b) }
    }
    #[inline(always)]
    fn select(self, m: __m256, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_blendv_ps(b, a, m) }
    }
    #[inline(always)]
    fn quant(self, v: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe {
            let t = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12_582_912.0)));
            let i = _mm256_sub_epi32(
                _mm256_and_si256(t, _mm256_set1_epi32(0x007F_FFFF)),
                _mm256_set1_epi32(0x0040_0000),
            );
            let i = _mm256_max_epi32(
                _mm256_min_epi32(i, _mm256_set1_epi32(15)),
                _mm256_setzero_si256(),
            );
            _mm256_cvtepi32_ps(i)
        }
    }
    #[inline(always)]
    fn store_quants(self, v: __m256, row: &mut [u8; CHUNK_SUB_BLOCKS], part: usize) {
        let lanes = &mut row[part * 8..][..8];
        // SAFETY: AVX2 is present (`Avx2::new`); `lanes` holds the 8 bytes written.
        unsafe {
            let i = _mm256_cvttps_epi32(v);
            let words =
                _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256::<1>(i));
            _mm_storel_epi64(lanes.as_mut_ptr().cast(), _mm_packus_epi16(words, words));
        }
    }
    #[inline(always)]
    fn neg(self, a: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_xor_ps(a, _mm256_set1_ps(-0.0)) }
    }
    #[inline(always)]
    fn round_even(self, a: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    fn or(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_or_ps(a, b) }
    }
    #[inline(always)]
    fn all(self, m: __m256) -> bool {
        // SAFETY: AVX2 is present (`Avx2::new`).
        unsafe { _mm256_movemask_ps(m) == 0xFF }
    }
}

/// Encodes `min(input.len() / 256, out.len() / 144)` blocks.
///
/// # Safety
///
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn encode<E: Element>(input: &[E::Raw], out: &mut [u8]) {
    // SAFETY: the caller guarantees AVX2.
    let s = unsafe { Avx2::new() };
    encode_blocks::<Avx2, E>(s, input, out);
}
