//! The portable dot product of Q4_K weights with Q8_K activations: llama.cpp's
//! `ggml_vec_dot_q4_K_q8_K_generic`, statement by statement, each float operation rounded on
//! its own.

use crate::dot::for_each_row;
use crate::{BLOCK_VALUES, BlockQ4K, BlockQ8K};

/// One row of Q4_K blocks times as many Q8_K blocks.
pub(crate) fn dot(row: &[BlockQ4K], activations: &[BlockQ8K]) -> f32 {
    let mut sums = [0f32; 8];
    let mut sumf = 0f32;
    for (x, y) in row.iter().zip(activations) {
        // The 256 4-bit quants in value order: per 64 values, 32 low nibbles then 32 high.
        let mut aux8 = [0i8; BLOCK_VALUES];
        let (groups, _) = aux8.as_chunks_mut::<64>();
        let (quants, _) = x.quants().as_chunks::<32>();
        for (a, q4) in groups.iter_mut().zip(quants) {
            for (l, &q) in q4.iter().enumerate() {
                a[l] = (q & 0x0F) as i8;
                a[l + 32] = (q >> 4) as i8;
            }
        }
        let pairs = x.scales_and_mins();
        let bsums = y.block_sums();
        let mut sumi = 0i32;
        for (j, &bsum) in bsums.iter().enumerate() {
            sumi += i32::from(bsum) * i32::from(pairs[j / 2].1);
        }
        // aux32[l] sums the products of the values whose index is l mod 8, each weighted by its
        // sub-block's scale.
        let mut aux32 = [0i32; 8];
        let (q8_chunks, _) = y.quants().as_chunks::<8>();
        let (a_chunks, _) = aux8.as_chunks::<8>();
        for (k, (q8, a)) in q8_chunks.iter().zip(a_chunks).enumerate() {
            let scale = i32::from(pairs[k / 4].0);
            for l in 0..8 {
                let aux16 = i16::from(q8[l]) * i16::from(a[l]);
                aux32[l] += scale * i32::from(aux16);
            }
        }
        let d = x.d() * y.d();
        for (sum, &aux) in sums.iter_mut().zip(&aux32) {
            *sum += d * aux as f32;
        }
        let dmin = x.dmin() * y.d();
        sumf -= dmin * sumi as f32;
    }
    for sum in sums {
        sumf += sum;
    }
    sumf
}

/// `out[r] = dot(row r, activations)` for the rows of `activations.len()` blocks each in
/// `weights` (lengths checked by the caller; with no activations every row is empty).
pub(crate) fn matvec(weights: &[BlockQ4K], activations: &[BlockQ8K], out: &mut [f32]) {
    for_each_row(weights, activations, out, dot);
}
