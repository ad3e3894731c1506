//! The portable `f32` dot product: the documented summation order of
//! [`dot_f32`](fn@crate::dot_f32), written out one lane at a time.
//!
//! Each block is decoded exactly as [`decode`](fn@crate::decode) does it, then every product and
//! every sum is rounded on its own, in the order below; no fused multiply-add.

use super::decode::decode_block;
use crate::dot_f32::for_each_row;
use crate::{BLOCK_VALUES, BlockQ4K};

/// Lanes of the order: one AVX-512 vector, two AVX2 vectors, four SSE2 or NEON vectors.
const LANES: usize = 16;

/// One block's contribution to the 16 lanes: lane `j` of sub-block `s` is
/// `t[s] = w[32s + j] * a[32s + j] + w[32s + 16 + j] * a[32s + 16 + j]`, and the block gives
/// `((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7))`.
#[inline]
fn block_lanes(w: &[f32; BLOCK_VALUES], a: &[f32; BLOCK_VALUES]) -> [f32; LANES] {
    let mut t = [[0f32; LANES]; 8];
    for (s, t) in t.iter_mut().enumerate() {
        let (w, a) = (&w[32 * s..32 * s + 32], &a[32 * s..32 * s + 32]);
        for (j, t) in t.iter_mut().enumerate() {
            *t = w[j] * a[j] + w[16 + j] * a[16 + j];
        }
    }
    core::array::from_fn(|j| {
        ((t[0][j] + t[1][j]) + (t[2][j] + t[3][j])) + ((t[4][j] + t[5][j]) + (t[6][j] + t[7][j]))
    })
}

/// The final reduction of the 16 lanes: halves added lane by lane, 16 -> 8 -> 4 -> 2 -> 1.
#[inline]
fn reduce(acc: [f32; LANES]) -> f32 {
    let h8: [f32; 8] = core::array::from_fn(|j| acc[j] + acc[j + 8]);
    let h4: [f32; 4] = core::array::from_fn(|j| h8[j] + h8[j + 4]);
    let h2: [f32; 2] = core::array::from_fn(|j| h4[j] + h4[j + 2]);
    h2[0] + h2[1]
}

/// One row of blocks times the activations, a block's worth each (any excess on either side is
/// ignored).
fn dot(row: &[BlockQ4K], activations: &[[f32; BLOCK_VALUES]]) -> f32 {
    let mut acc = [0f32; LANES];
    let mut w = [0f32; BLOCK_VALUES];
    for (block, a) in row.iter().zip(activations) {
        decode_block(block, &mut w);
        let u = block_lanes(&w, a);
        for (acc, u) in acc.iter_mut().zip(u) {
            *acc += u;
        }
    }
    reduce(acc)
}

/// `out.len()` rows of `activations.len() / 256` blocks each, back to back in `blocks`
/// (checked by the caller).
pub(crate) fn matvec(blocks: &[BlockQ4K], activations: &[f32], out: &mut [f32]) {
    for_each_row(blocks, activations, out, dot);
}
