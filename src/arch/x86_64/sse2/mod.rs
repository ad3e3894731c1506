//! SSE2 kernels, baseline on every x86_64 CPU whose float ABI uses SSE, and the pieces of a
//! block's decoding they share.

pub(crate) mod decode;
pub(crate) mod decode_half;
pub(crate) mod dot;
pub(crate) mod dot_f32;
pub(crate) mod encode;
pub(crate) mod encode_weighted;

use core::arch::x86_64::*;

use crate::BlockQ4K;
use crate::arch::x86_64::BlockScales;

/// Quant bytes `32 * g ..` of `block` as two vectors of 16 (group `g` holds sub-block `2g` in
/// the low nibbles and `2g + 1` in the high ones).
#[target_feature(enable = "sse2")]
#[inline]
pub(crate) fn load_group(block: &BlockQ4K, g: usize) -> [__m128i; 2] {
    // SAFETY: a block's quants are 128 readable bytes, and `g & 3 < 4`.
    unsafe { load_quants(block.quants().as_ptr(), g & 3) }
}

/// [`load_group`] from a pointer to a block's 128 quant bytes.
///
/// # Safety
///
/// `quants` must be readable for 128 bytes, and `g < 4`.
#[target_feature(enable = "sse2")]
#[inline]
pub(crate) unsafe fn load_quants(quants: *const u8, g: usize) -> [__m128i; 2] {
    // SAFETY: bytes `32g + 16c .. 32g + 16c + 16` lie inside the 128 (the caller's guarantee);
    // the load has no alignment requirement.
    core::array::from_fn(|c| unsafe { _mm_loadu_si128(quants.add(32 * g + 16 * c).cast()) })
}

/// Widens 16 bytes (each at most 0x0F) to four vectors of four `f32`.
#[target_feature(enable = "sse2")]
#[inline]
fn widen(bytes: __m128i) -> [__m128; 4] {
    let zero = _mm_setzero_si128();
    let (low, high) = (
        _mm_unpacklo_epi8(bytes, zero),
        _mm_unpackhi_epi8(bytes, zero),
    );
    [
        _mm_cvtepi32_ps(_mm_unpacklo_epi16(low, zero)),
        _mm_cvtepi32_ps(_mm_unpackhi_epi16(low, zero)),
        _mm_cvtepi32_ps(_mm_unpacklo_epi16(high, zero)),
        _mm_cvtepi32_ps(_mm_unpackhi_epi16(high, zero)),
    ]
}

/// `d * sc[j]` and `dmin * m[j]` (both exact) broadcast.
#[target_feature(enable = "sse2")]
#[inline]
pub(crate) fn scale_and_min(s: &BlockScales, j: usize) -> (__m128, __m128) {
    (_mm_set1_ps(s.d * s.sc(j)), _mm_set1_ps(s.dmin * s.m(j)))
}

/// Sixteen quants of sub-block `j` (`j % 2` picks the nibbles) from 16 quant bytes of its
/// group, as four vectors of four `f32`.
#[target_feature(enable = "sse2")]
#[inline]
pub(crate) fn quants(bytes: __m128i, j: usize) -> [__m128; 4] {
    let nibble = _mm_set1_epi8(0x0F);
    widen(if j & 1 == 0 {
        _mm_and_si128(bytes, nibble)
    } else {
        _mm_and_si128(_mm_srli_epi16::<4>(bytes), nibble)
    })
}

/// The weight of quant `q` (from [`quants`]) with [`scale_and_min`]'s `(scale, min)`:
/// `scale * q - min`, an exact multiply then one rounded subtract, as in the reference.
#[target_feature(enable = "sse2")]
#[inline]
pub(crate) fn weight(q: __m128, (scale, min): (__m128, __m128)) -> __m128 {
    _mm_sub_ps(_mm_mul_ps(q, scale), min)
}
