//! AVX2 (with FMA) kernels, and the pieces of a block's decoding they share.

pub(crate) mod decode;
pub(crate) mod decode_half;
pub(crate) mod dot;
pub(crate) mod dot_f32;
pub(crate) mod encode;
pub(crate) mod encode_weighted;

use core::arch::x86_64::*;

use crate::BlockQ4K;
use crate::arch::x86_64::BlockScales;

/// The 32 weights of sub-block `j` (`j % 2` picks the nibbles), from the widened quant bytes
/// `q` of its group: `fmsub(q, d * sc[j], dmin * m[j])`, eight values per vector.
///
/// `d * sc` and `dmin * m` are exact (the small integers broadcast from memory, a load, rather
/// than from a register, a shuffle), so the fused multiply-subtract has the reference's bits.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn weights(s: &BlockScales, q: [__m256i; 4], j: usize) -> [__m256; 4] {
    let scale = _mm256_mul_ps(_mm256_set1_ps(s.d), _mm256_set1_ps(s.sc(j)));
    let min = _mm256_mul_ps(_mm256_set1_ps(s.dmin), _mm256_set1_ps(s.m(j)));
    q.map(|q| {
        let q = if j & 1 == 0 {
            _mm256_and_si256(q, _mm256_set1_epi32(0x0F))
        } else {
            _mm256_srli_epi32::<4>(q)
        };
        _mm256_fmsub_ps(_mm256_cvtepi32_ps(q), scale, min)
    })
}

/// Quant bytes `32 * g ..` of `block`, eight per vector zero-extended to 32-bit lanes (group
/// `g` holds sub-block `2g` in the low nibbles and `2g + 1` in the high ones).
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn widen_group(block: &BlockQ4K, g: usize) -> [__m256i; 4] {
    // SAFETY: a block's quants are 128 readable bytes, and `g & 3 < 4`.
    unsafe { widen_quants(block.quants().as_ptr(), g & 3) }
}

/// [`widen_group`] from a pointer to a block's 128 quant bytes.
///
/// # Safety
///
/// `quants` must be readable for 128 bytes, and `g < 4`.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) unsafe fn widen_quants(quants: *const u8, g: usize) -> [__m256i; 4] {
    core::array::from_fn(|c| {
        // SAFETY: bytes `32g + 8c .. 32g + 8c + 8` lie inside the 128 (the caller's guarantee);
        // the load has no alignment requirement.
        _mm256_cvtepu8_epi32(unsafe { _mm_loadl_epi64(quants.add(32 * g + 8 * c).cast()) })
    })
}
