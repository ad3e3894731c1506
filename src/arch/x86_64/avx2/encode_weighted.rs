//! The AVX2 weighted encoder: eight sub-blocks (one block) side by side, one per lane, through
//! the lane algorithm of `arch::encode_weighted`. It needs AVX2 only (no FMA: the reference
//! rounds every product on its own).

use super::encode::Avx2;
use crate::arch::encode_weighted::encode_blocks;

/// Encodes the whole blocks of `input` into `out` (as many as both hold), as
/// `scalar::encode_weighted::encode_blocks` does, with the same bytes.
///
/// # Safety
///
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn encode(input: &[f32], importance: &[f32], first: usize, out: &mut [u8]) {
    // SAFETY: the caller guarantees AVX2.
    let s = unsafe { Avx2::new() };
    encode_blocks(s, input, importance, first, out);
}
