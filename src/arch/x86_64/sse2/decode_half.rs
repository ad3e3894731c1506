//! The SSE2 half kernel: the f32 kernel's arithmetic, four values per vector, rounded to
//! 16-bit values by exact integer arithmetic (SSE2 has no conversion to either format), eight
//! values per store.
//!
//! Streaming stores are used when the output starts on a 16-byte boundary, ordinary stores
//! otherwise.

use core::arch::x86_64::*;

use super::{load_group, quants, scale_and_min, weight};
use crate::BlockQ4K;
use crate::arch::x86_64::{BlockScales, HalfLoop, has_finite_scales, run_half_loop};
use crate::decode_half::Half;

/// 16-bit values per store.
const LANES: usize = 8;

/// Decodes `min(blocks.len(), out.len() / 256)` blocks into `out`, with non-temporal stores if
/// `streaming` and `out` is 16-byte aligned.
///
/// # Safety
///
/// The CPU must support SSE2 (every x86_64 CPU does).
#[target_feature(enable = "sse2")]
pub(crate) unsafe fn decode(blocks: &[BlockQ4K], out: &mut [u16], half: Half, streaming: bool) {
    let loops: [HalfLoop; 4] = [
        blocks_loop::<true, false>,
        blocks_loop::<true, true>,
        blocks_loop::<false, false>,
        blocks_loop::<false, true>,
    ];
    // SAFETY: SSE2 is enabled here, so every loop can run; the streaming ones get a
    // 16-byte aligned `dst`, as they need.
    unsafe { run_half_loop(blocks, out, half, streaming, 16, loops) };
}

/// The block loop: binary16 if `F16`, else bfloat16; non-temporal stores if `STREAM`.
///
/// # Safety
///
/// The CPU must support SSE2; `dst` must be valid for writes of `256 * blocks.len()` values,
/// and 16-byte aligned if `STREAM`.
#[target_feature(enable = "sse2")]
unsafe fn blocks_loop<const F16: bool, const STREAM: bool>(blocks: &[BlockQ4K], dst: *mut u16) {
    let mut next = dst;
    for block in blocks {
        let scales = BlockScales::new(block);
        let finite = has_finite_scales(block);
        for g in 0..4 {
            let bytes = load_group(block, g);
            for half in 0..2 {
                let j = 2 * g + half;
                let scale_min = scale_and_min(&scales, j);
                for bytes in bytes {
                    let weights = quants(bytes, j).map(|q| weight(q, scale_min));
                    // Each lane's 16 bits sign-extended, so that the saturating `packs` keeps
                    // them.
                    let rounded = if F16 {
                        weights.map(|v| sign_extend(f16_bits(v)))
                    } else if finite {
                        weights.map(|v| bf16_bits_not_nan(v))
                    } else {
                        weights.map(|v| bf16_bits(v))
                    };
                    for pair in [[rounded[0], rounded[1]], [rounded[2], rounded[3]]] {
                        let packed = _mm_packs_epi32(pair[0], pair[1]);
                        // SAFETY: 8 of the values the caller has room for; 16-byte aligned
                        // when streaming, since `dst` is and every store is 16 bytes.
                        unsafe {
                            if STREAM {
                                _mm_stream_si128(next.cast(), packed);
                            } else {
                                _mm_storeu_si128(next.cast(), packed);
                            }
                        }
                        next = next.wrapping_add(LANES);
                    }
                }
            }
        }
    }
}

/// The low 16 bits of each lane, sign-extended, so that the saturating `packs` keeps them.
#[target_feature(enable = "sse2")]
#[inline]
fn sign_extend(v: __m128i) -> __m128i {
    _mm_srai_epi32::<16>(_mm_slli_epi32::<16>(v))
}

/// `mask ? a : b`, lane by lane (`mask` lanes all ones or all zeros).
#[target_feature(enable = "sse2")]
#[inline]
fn select(mask: __m128i, a: __m128i, b: __m128i) -> __m128i {
    _mm_or_si128(_mm_and_si128(mask, a), _mm_andnot_si128(mask, b))
}

/// Four `f32` rounded to binary16 bits (in the low half of each 32-bit lane), exactly as
/// `f32_to_f16_bits`.
///
/// Normal results drop 13 bits of the rebiased `f32` with round half to even by integer
/// addition; subnormal results come from adding 0.5, which rounds the value to a multiple of
/// 2^-24 in the default rounding mode, and reading the multiple off the low bits.
#[target_feature(enable = "sse2")]
#[inline]
fn f16_bits(v: __m128) -> __m128i {
    let bits = _mm_castps_si128(v);
    let magnitude = _mm_and_si128(bits, _mm_set1_epi32(0x7FFF_FFFF));
    let sign = _mm_srli_epi32::<16>(_mm_andnot_si128(_mm_set1_epi32(0x7FFF_FFFF), bits));
    // Normal: rebias from 127 to 15 and round off 13 bits, half to even.
    let odd = _mm_and_si128(_mm_srli_epi32::<13>(magnitude), _mm_set1_epi32(1));
    let rebias = _mm_set1_epi32(0x0FFF - (112 << 23));
    let normal = _mm_srli_epi32::<13>(_mm_add_epi32(_mm_add_epi32(magnitude, rebias), odd));
    // Subnormal: the float sum rounds to a multiple of 2^-24, the ulp of 0.5.
    let half = _mm_set1_epi32(0x3F00_0000);
    let sum = _mm_add_ps(_mm_castsi128_ps(magnitude), _mm_castsi128_ps(half));
    let subnormal = _mm_sub_epi32(_mm_castps_si128(sum), half);
    let small = _mm_cmplt_epi32(magnitude, _mm_set1_epi32(0x3880_0000));
    let finite = select(small, subnormal, normal);
    // 2^16 and above: infinity; NaN: the quiet NaN.
    let large = _mm_cmpgt_epi32(magnitude, _mm_set1_epi32(0x477F_FFFF));
    let nan = _mm_cmpgt_epi32(magnitude, _mm_set1_epi32(0x7F80_0000));
    let special = select(nan, _mm_set1_epi32(0x7E00), _mm_set1_epi32(0x7C00));
    _mm_or_si128(select(large, special, finite), sign)
}

/// Four `f32` that are not NaN rounded to bfloat16 bits (round to nearest, ties to even),
/// sign-extended from the high half of each 32-bit lane by the last, arithmetic shift:
/// [`bf16_bits`] without its NaN case.
#[target_feature(enable = "sse2")]
#[inline]
fn bf16_bits_not_nan(v: __m128) -> __m128i {
    let bits = _mm_castps_si128(v);
    let odd = _mm_and_si128(_mm_srli_epi32::<16>(bits), _mm_set1_epi32(1));
    let biased = _mm_add_epi32(_mm_add_epi32(bits, _mm_set1_epi32(0x7FFF)), odd);
    _mm_srai_epi32::<16>(biased)
}

/// Four `f32` rounded to bfloat16 bits, sign-extended from the high half of each 32-bit lane
/// (as the saturating `packs` needs them), exactly as `f32_to_bf16_bits`: a NaN quieted,
/// anything else as [`bf16_bits_not_nan`] rounds it.
#[target_feature(enable = "sse2")]
#[inline]
fn bf16_bits(v: __m128) -> __m128i {
    let bits = _mm_castps_si128(v);
    let magnitude = _mm_and_si128(bits, _mm_set1_epi32(0x7FFF_FFFF));
    let nan = _mm_cmpgt_epi32(magnitude, _mm_set1_epi32(0x7F80_0000));
    let quiet = _mm_or_si128(_mm_srai_epi32::<16>(bits), _mm_set1_epi32(0x40));
    select(nan, quiet, bf16_bits_not_nan(v))
}
