//! The portable scalar kernel decoding to f16 or bf16.
//!
//! A 32-value sub-block has only 16 distinct values, `(d * scale) * q - (dmin * min)` for q in
//! 0..16, computed as in `decode` (the same `f32` operations in the same order), so each block
//! rounds its eight 16-entry tables once and looks every value up.

use crate::decode_half::Half;
use crate::f16::{f32_to_bf16_bits, f32_to_f16_bits};
use crate::{BLOCK_VALUES, BlockQ4K};

/// The eight 16-entry tables of one block, rounded by `round`:
/// `tables[j][q] = round((d * sc[j]) * q - dmin * m[j])`.
#[inline(always)]
fn tables(block: &BlockQ4K, round: impl Fn(f32) -> u16) -> [[u16; 16]; 8] {
    let (d, dmin) = (block.d(), block.dmin());
    let mut tables = [[0u16; 16]; 8];
    for (table, (sc, m)) in tables.iter_mut().zip(block.scales_and_mins()) {
        let (scale, min) = (d * f32::from(sc), dmin * f32::from(m));
        for (q, entry) in (0u8..).zip(table.iter_mut()) {
            *entry = round(scale * f32::from(q) - min);
        }
    }
    tables
}

/// Decodes one block into 256 half-width values.
#[inline]
pub(crate) fn decode_block(block: &BlockQ4K, out: &mut [u16; BLOCK_VALUES], half: Half) {
    // One instance per format, not a function pointer: the rounding inlines into the loop.
    let tables = match half {
        Half::F16 => tables(block, f32_to_f16_bits),
        Half::Bf16 => tables(block, f32_to_bf16_bits),
    };
    let (groups, _) = out.as_chunks_mut::<64>();
    let (quant_groups, _) = block.quants().as_chunks::<32>();
    for (g, (group, quants)) in groups.iter_mut().zip(quant_groups).enumerate() {
        let (low, high) = group.split_at_mut(32);
        let (low_table, high_table) = (&tables[2 * g], &tables[2 * g + 1]);
        for ((lo, hi), &q) in low.iter_mut().zip(high).zip(quants) {
            *lo = low_table[usize::from(q & 0x0F)];
            *hi = high_table[usize::from(q >> 4)];
        }
    }
}

/// Decodes whole blocks; `out` must hold 256 values per block (checked by the caller, and any
/// excess on either side is simply not written).
pub(crate) fn decode_blocks(blocks: &[BlockQ4K], out: &mut [u16], half: Half) {
    let (outs, _) = out.as_chunks_mut::<BLOCK_VALUES>();
    for (block, out) in blocks.iter().zip(outs) {
        decode_block(block, out, half);
    }
}
