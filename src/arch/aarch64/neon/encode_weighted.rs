//! The NEON weighted encoder: four sub-blocks side by side, one per lane, through the lane
//! algorithm of `arch::encode_weighted`. NEON's `fmin`/`fmax` order -0 below +0, unlike C's
//! ternaries, so the C minimum and maximum are a compare and a select.

use super::encode::Neon;
use crate::arch::encode_weighted::encode_blocks;

/// Encodes the whole blocks of `input` into `out` (as many as both hold), as
/// `scalar::encode_weighted::encode_blocks` does, with the same bytes.
///
/// # Safety
///
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn encode(input: &[f32], importance: &[f32], first: usize, out: &mut [u8]) {
    // SAFETY: the caller guarantees NEON.
    let s = unsafe { Neon::new() };
    encode_blocks(s, input, importance, first, out);
}
