//! The AVX-512F weighted encoder: sixteen sub-blocks (two blocks) side by side, one per lane,
//! through the lane algorithm of `arch::encode_weighted`.

use super::encode::Avx512;
use crate::arch::encode_weighted::encode_blocks;

/// Encodes the whole blocks of `input` into `out` (as many as both hold), as
/// `scalar::encode_weighted::encode_blocks` does, with the same bytes.
///
/// # Safety
///
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn encode(input: &[f32], importance: &[f32], first: usize, out: &mut [u8]) {
    // SAFETY: the caller guarantees AVX-512F.
    let s = unsafe { Avx512::new() };
    encode_blocks(s, input, importance, first, out);
}
