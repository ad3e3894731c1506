//! The portable scalar decode kernel.
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
    let scales = pairs.map(|(sc, _)| d * f32::from(sc));
    let mins = pairs.map(|(_, m)| dmin * f32::from(m));
    let (groups, _) = out.as_chunks_mut::<64>();
    let (quant_groups, _) = block.quants().as_chunks::<32>();
    for (g, (group, quants)) in groups.iter_mut().zip(quant_groups).enumerate() {
        // Split the 32 bytes into 64 nibbles first, in output order: a byte loop that the
        // compiler turns into a few wide masks and shifts.
        let mut nibbles = [0u8; 64];
        let (low, high) = nibbles.split_at_mut(32);
        for ((lo, hi), &q) in low.iter_mut().zip(high.iter_mut()).zip(quants) {
            *lo = q & 0x0F;
            *hi = q >> 4;
        }
        for (half, (values, nibbles)) in group
            .as_chunks_mut::<32>()
            .0
            .iter_mut()
            .zip(nibbles.as_chunks::<32>().0)
            .enumerate()
        {
            let (scale, min) = (scales[2 * g + half], mins[2 * g + half]);
            for (value, &q) in values.iter_mut().zip(nibbles) {
                *value = scale * f32::from(q) - min;
            }
        }
    }
}

/// Decodes whole blocks; `out` must hold 256 values per block (checked by the caller, and any
/// excess on either side is simply not written).
///
/// Never inlined: compiled on its own, the block loop is vectorised for the baseline target;
/// inlined into the dispatch it was left scalar in some builds (4x slower with `parallel`).
#[inline(never)]
pub(crate) fn decode_blocks(blocks: &[BlockQ4K], out: &mut [f32]) {
    let (outs, _) = out.as_chunks_mut::<BLOCK_VALUES>();
    for (block, out) in blocks.iter().zip(outs) {
        decode_block(block, out);
    }
}
