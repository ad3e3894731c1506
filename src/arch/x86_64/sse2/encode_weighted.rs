//! The SSE2 weighted encoder: four sub-blocks side by side, one per lane, through the lane
//! algorithm of `arch::encode_weighted`.

use super::encode::Sse2;
use crate::arch::encode_weighted::encode_blocks;

/// Encodes the whole blocks of `input` into `out` (as many as both hold), as
/// `scalar::encode_weighted::encode_blocks` does, with the same bytes.
///
/// # Safety
///
/// The CPU must support SSE2.
#[target_feature(enable = "sse2")]
pub(crate) unsafe fn encode(input: &[f32], importance: &[f32], first: usize, out: &mut [u8]) {
    // SAFETY: the caller guarantees SSE2.
    let s = unsafe { Sse2::new() };
    encode_blocks(s, input, importance, first, out);
}
