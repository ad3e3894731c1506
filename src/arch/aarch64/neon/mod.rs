//! Advanced SIMD (NEON) kernels, little-endian only, and the pieces of a block's decoding
//! they share.

pub(crate) mod decode;
pub(crate) mod decode_half;
pub(crate) mod dot;
pub(crate) mod dot_f32;
pub(crate) mod encode;
pub(crate) mod encode_weighted;

use core::arch::aarch64::*;

use crate::BlockQ4K;

/// The block's 128 quant bytes as four groups of 32, each two vectors of 16 (group `g` holds
/// sub-block `2g` in the low nibbles and `2g + 1` in the high ones).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn quant_groups(block: &BlockQ4K) -> [(uint8x16_t, uint8x16_t); 4] {
    let quants = block.quants().as_ptr();
    // SAFETY: NEON is enabled here and `quants` points to the block's 128 readable quant bytes;
    // these read bytes 0..64 and 64..128.
    let (first, second) = unsafe { (vld1q_u8_x4(quants), vld1q_u8_x4(quants.add(64))) };
    [
        (first.0, first.1),
        (first.2, first.3),
        (second.0, second.1),
        (second.2, second.3),
    ]
}
