//! The portable scalar kernel: the fallback on every target and the oracle for every SIMD kernel.
//!
//! Written for clarity and for the auto-vectoriser: fixed-size arrays so that no bounds check
//! survives, and one straight loop per 32-value sub-block computing
//! `(d * scale) * q - (dmin * min)` in `f32`, with no fused multiply-add, exactly as the
//! reference does.

use crate::{BLOCK_VALUES, BlockQ4K};

/// Decodes one block into 256 values.
#[inline]
pub(crate) fn decode_block(block: &BlockQ4K, out: &mut [f32; BLOCK_VALUES]) {
    let d = block.d();
    let dmin = block.dmin();
    let pairs = block.scales_and_mins();
    let (groups, _) = out.as_chunks_mut::<64>();
    let (quant_groups, _) = block.quants().as_chunks::<32>();
    for (g, (group, quants)) in groups.iter_mut().zip(quant_groups).enumerate() {
        let (sc_lo, m_lo) = pairs[2 * g];
        let (sc_hi, m_hi) = pairs[2 * g + 1];
        let (scale_lo, min_lo) = (d * f32::from(sc_lo), dmin * f32::from(m_lo));
        let (scale_hi, min_hi) = (d * f32::from(sc_hi), dmin * f32::from(m_hi));
        let (low, high) = group.split_at_mut(32);
        for ((lo, hi), &q) in low.iter_mut().zip(high.iter_mut()).zip(quants) {
            *lo = scale_lo * f32::from(q & 0x0F) - min_lo;
            *hi = scale_hi * f32::from(q >> 4) - min_hi;
        }
    }
}

/// Decodes whole blocks; `out` must hold 256 values per block (checked by the caller, and any
/// excess on either side is simply not written).
pub(crate) fn decode_blocks(blocks: &[BlockQ4K], out: &mut [f32]) {
    let (outs, _) = out.as_chunks_mut::<BLOCK_VALUES>();
    for (block, out) in blocks.iter().zip(outs) {
        decode_block(block, out);
    }
}
