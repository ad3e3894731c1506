//! The AVX2 half kernel (AVX2, FMA and F16C): the f32 kernel's arithmetic, eight values per
//! step, then each pair of vectors rounded to sixteen 16-bit values and stored at once.
//!
//! binary16 rounds with `vcvtps2ph`; bfloat16 with an exact integer rounding (AVX2 has no
//! bfloat16 conversion). Ordinary stores are unaligned; streaming stores are used when the
//! output starts on a 32-byte boundary, and ordinary stores otherwise.

use core::arch::x86_64::*;

use super::{weights, widen_group};
use crate::BlockQ4K;
use crate::arch::x86_64::{BlockScales, HalfLoop, has_finite_scales, run_half_loop};
use crate::decode_half::Half;

/// 16-bit values per store.
const LANES: usize = 16;

/// Decodes `min(blocks.len(), out.len() / 256)` blocks into `out`, with non-temporal stores if
/// `streaming` and `out` is 32-byte aligned.
///
/// # Safety
///
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn decode(blocks: &[BlockQ4K], out: &mut [u16], half: Half, streaming: bool) {
    let loops: [HalfLoop; 4] = [
        blocks_loop::<true, false>,
        blocks_loop::<true, true>,
        blocks_loop::<false, false>,
        blocks_loop::<false, true>,
    ];
    // SAFETY: AVX2, FMA and F16C are enabled here, so every loop can run; the streaming ones
    // get a 32-byte aligned `dst`, as they need.
    unsafe { run_half_loop(blocks, out, half, streaming, 32, loops) };
}

/// The block loop: binary16 if `F16`, else bfloat16; non-temporal stores if `STREAM`.
///
/// # Safety
///
/// The CPU must support AVX2, FMA and F16C; `dst` must be valid for writes of
/// `256 * blocks.len()` values, and 32-byte aligned if `STREAM`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn blocks_loop<const F16: bool, const STREAM: bool>(blocks: &[BlockQ4K], dst: *mut u16) {
    let mut next = dst;
    for block in blocks {
        let scales = BlockScales::new(block);
        let finite = has_finite_scales(block);
        for g in 0..4 {
            let q = widen_group(block, g);
            for half in 0..2 {
                let values = weights(&scales, q, 2 * g + half);
                for pair in [[values[0], values[1]], [values[2], values[3]]] {
                    let bits = if F16 {
                        const ROUND: i32 = _MM_FROUND_TO_NEAREST_INT;
                        in_register(_mm256_set_m128i(
                            _mm256_cvtps_ph::<ROUND>(pair[1]),
                            _mm256_cvtps_ph::<ROUND>(pair[0]),
                        ))
                    } else {
                        // Lanes [a0..4, b0..4 | a4..8, b4..8] after the in-lane pack; the
                        // permute puts the quarters in order.
                        let packed = if finite {
                            _mm256_packus_epi32(
                                bf16_bits_not_nan(pair[0]),
                                bf16_bits_not_nan(pair[1]),
                            )
                        } else {
                            _mm256_packus_epi32(bf16_bits(pair[0]), bf16_bits(pair[1]))
                        };
                        _mm256_permute4x64_epi64::<0b11_01_10_00>(packed)
                    };
                    // SAFETY: 16 of the values the caller has room for; 32-byte aligned when
                    // streaming, since `dst` is and every store is 32 bytes.
                    unsafe {
                        if STREAM {
                            _mm256_stream_si256(next.cast(), bits);
                        } else {
                            _mm256_storeu_si256(next.cast(), bits);
                        }
                    }
                    next = next.wrapping_add(LANES);
                }
            }
        }
    }
}

/// Eight `f32` that are not NaN rounded to bfloat16 bits (in the low half of each 32-bit
/// lane), round to nearest, ties to even: [`bf16_bits`] without its NaN case (infinities round
/// to themselves either way).
#[target_feature(enable = "avx2")]
#[inline]
fn bf16_bits_not_nan(v: __m256) -> __m256i {
    let bits = _mm256_castps_si256(v);
    let odd = _mm256_and_si256(_mm256_srli_epi32::<16>(bits), _mm256_set1_epi32(1));
    let biased = _mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7FFF)), odd);
    _mm256_srli_epi32::<16>(biased)
}

/// Eight `f32` rounded to bfloat16 bits (in the low half of each 32-bit lane) by integer
/// arithmetic, exactly as `f32_to_bf16_bits`.
#[target_feature(enable = "avx2")]
#[inline]
fn bf16_bits(v: __m256) -> __m256i {
    let bits = _mm256_castps_si256(v);
    let magnitude = _mm256_and_si256(bits, _mm256_set1_epi32(0x7FFF_FFFF));
    let nan = _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7F80_0000));
    let quiet = _mm256_or_si256(_mm256_srli_epi32::<16>(bits), _mm256_set1_epi32(0x40));
    _mm256_blendv_epi8(bf16_bits_not_nan(v), quiet, nan)
}

/// `v`, passed unchanged through an empty `asm!`, so that the compiler stores it as one vector.
/// Left to itself it folds the two binary16 conversions into their stores (`vcvtps2ph` to
/// memory), which on Zen 3 ran at 0.65x and 0.69x the speed of this form (16 KiB and 1 MiB)
/// when the output starts two bytes past a four-byte boundary, and at 1.00x and 0.93x when it
/// is aligned.
#[target_feature(enable = "avx2")]
#[inline]
fn in_register(v: __m256i) -> __m256i {
    let mut v = v;
    // SAFETY: the template is empty: nothing is read, written or changed.
    unsafe {
        core::arch::asm!("/* {0} */", inout(ymm_reg) v, options(pure, nomem, nostack, preserves_flags));
    }
    v
}
