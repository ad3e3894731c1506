//! The NEON weighted encoder: four sub-blocks side by side, one per lane, through the lane
//! algorithm of `arch::encode_weighted`. NEON's `fmin`/`fmax` order -0 below +0, unlike C's
//! ternaries, so the C minimum and maximum are a compare and a select.

use core::arch::aarch64::*;

use crate::arch::encode_weighted::encode_blocks;
use crate::arch::weighted_lanes::{Lanes, ROW};

/// NEON lane operations; a value exists only where NEON is available.
#[derive(Clone, Copy)]
pub(crate) struct Neon(());

/// The first of the four lanes a row access covers: `at`, kept inside the row.
#[inline(always)]
fn start(at: usize) -> usize {
    at.min(ROW - 4)
}

// SAFETY: N is 4, and `Neon` values are made only by `encode`, which requires NEON.
unsafe impl Lanes for Neon {
    const N: usize = 4;
    type F = float32x4_t;
    type M = uint32x4_t;

    #[inline(always)]
    fn splat(self, v: f32) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vdupq_n_f32(v) }
    }
    #[inline(always)]
    fn load(self, row: &[f32; ROW], at: usize) -> float32x4_t {
        // SAFETY: NEON is available; `start(at) + 4 <= ROW`, so the four floats are in `row`.
        unsafe { vld1q_f32(row.as_ptr().add(start(at))) }
    }
    #[inline(always)]
    fn store(self, v: float32x4_t, row: &mut [f32; ROW], at: usize) {
        // SAFETY: NEON is available; `start(at) + 4 <= ROW`, so the four floats are in `row`.
        unsafe { vst1q_f32(row.as_mut_ptr().add(start(at)), v) }
    }
    #[inline(always)]
    fn add(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vaddq_f32(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vsubq_f32(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vmulq_f32(a, b) }
    }
    #[inline(always)]
    fn div(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vdivq_f32(a, b) }
    }
    #[inline(always)]
    fn sqrt(self, a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vsqrtq_f32(a) }
    }
    #[inline(always)]
    fn neg(self, a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vnegq_f32(a) }
    }
    #[inline(always)]
    fn abs(self, a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vabsq_f32(a) }
    }
    #[inline(always)]
    fn min_c(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vbslq_f32(vcltq_f32(a, b), a, b) }
    }
    #[inline(always)]
    fn max_c(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vbslq_f32(vcgtq_f32(a, b), a, b) }
    }
    #[inline(always)]
    fn round_even(self, a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vrndnq_f32(a) }
    }
    #[inline(always)]
    fn nearest_level15(self, a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe {
            let v = vreinterpretq_s32_f32(vaddq_f32(a, vdupq_n_f32(12_582_912.0)));
            let l = vsubq_s32(
                vandq_s32(v, vdupq_n_s32(0x007F_FFFF)),
                vdupq_n_s32(0x0040_0000),
            );
            let l = vminq_s32(vmaxq_s32(l, vdupq_n_s32(0)), vdupq_n_s32(15));
            vcvtq_f32_s32(l)
        }
    }
    #[inline(always)]
    fn lt(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vcltq_f32(a, b) }
    }
    #[inline(always)]
    fn gt(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vcgtq_f32(a, b) }
    }
    #[inline(always)]
    fn le(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vcleq_f32(a, b) }
    }
    #[inline(always)]
    fn eq(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vceqq_f32(a, b) }
    }
    #[inline(always)]
    fn and(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vandq_u32(a, b) }
    }
    #[inline(always)]
    fn and_not(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vbicq_u32(a, b) }
    }
    #[inline(always)]
    fn or(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vorrq_u32(a, b) }
    }
    #[inline(always)]
    fn select(self, m: uint32x4_t, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vbslq_f32(m, a, b) }
    }
    #[inline(always)]
    fn any(self, m: uint32x4_t) -> bool {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vmaxvq_u32(m) != 0 }
    }
    #[inline(always)]
    fn all(self, m: uint32x4_t) -> bool {
        // SAFETY: NEON is available (a value of `Self` exists).
        unsafe { vminvq_u32(m) != 0 }
    }
}

/// Encodes the whole blocks of `input` into `out` (as many as both hold), as
/// `scalar::encode_weighted::encode_blocks` does, with the same bytes.
///
/// # Safety
///
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn encode(input: &[f32], importance: &[f32], first: usize, out: &mut [u8]) {
    encode_blocks(Neon(()), input, importance, first, out);
}
