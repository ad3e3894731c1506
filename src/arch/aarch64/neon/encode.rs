//! The NEON encoder: the lane-parallel encoder of `arch::encode` with 4 sub-blocks per 128-bit
//! vector (two vectors per block). Uses no fused multiply-add: the reference rounds every
//! product.

use core::arch::aarch64::*;

use crate::arch::encode::encode_blocks;
use crate::arch::lanes::{Lanes, Row};
use crate::encode::Element;

/// Proof that the CPU has NEON: made only by [`Neon::new`].
#[derive(Clone, Copy)]
pub(crate) struct Neon(());

impl Neon {
    /// # Safety
    ///
    /// The CPU must support NEON.
    #[inline(always)]
    pub(crate) unsafe fn new() -> Self {
        Neon(())
    }
}

impl Lanes for Neon {
    const LANES: usize = 4;
    type F = float32x4_t;
    type M = uint32x4_t;

    #[inline(always)]
    fn splat(self, v: f32) -> float32x4_t {
        // SAFETY: a `Neon` exists only where NEON is present (`Neon::new`).
        unsafe { vdupq_n_f32(v) }
    }
    #[inline(always)]
    fn load(self, row: &Row, part: usize) -> float32x4_t {
        let lanes = &row[part * 4..][..4];
        // SAFETY: NEON is present (`Neon::new`); `lanes` holds the 4 floats read.
        unsafe { vld1q_f32(lanes.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: float32x4_t, row: &mut Row, part: usize) {
        let lanes = &mut row[part * 4..][..4];
        // SAFETY: NEON is present (`Neon::new`); `lanes` holds the 4 floats written.
        unsafe { vst1q_f32(lanes.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn add(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vaddq_f32(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vsubq_f32(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vmulq_f32(a, b) }
    }
    #[inline(always)]
    fn div(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vdivq_f32(a, b) }
    }
    #[inline(always)]
    fn sqrt(self, a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vsqrtq_f32(a) }
    }
    #[inline(always)]
    fn abs(self, a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vabsq_f32(a) }
    }
    #[inline(always)]
    fn min(self, x: float32x4_t, m: float32x4_t) -> float32x4_t {
        // Not `vminq_f32`, which orders -0 below +0: a compare and a select, as the C does.
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vbslq_f32(vcltq_f32(x, m), x, m) }
    }
    #[inline(always)]
    fn max(self, x: float32x4_t, m: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vbslq_f32(vcgtq_f32(x, m), x, m) }
    }
    #[inline(always)]
    fn gt(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vcgtq_f32(a, b) }
    }
    #[inline(always)]
    fn lt(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vcltq_f32(a, b) }
    }
    #[inline(always)]
    fn eq(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vceqq_f32(a, b) }
    }
    #[inline(always)]
    fn and(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vandq_u32(a, b) }
    }
    #[inline(always)]
    fn select(self, m: uint32x4_t, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vbslq_f32(m, a, b) }
    }
    #[inline(always)]
    fn quant(self, v: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe {
            let t = vreinterpretq_s32_f32(vaddq_f32(v, vdupq_n_f32(12_582_912.0)));
            let i = vsubq_s32(
                vandq_s32(t, vdupq_n_s32(0x007F_FFFF)),
                vdupq_n_s32(0x0040_0000),
            );
            let i = vmaxq_s32(vminq_s32(i, vdupq_n_s32(15)), vdupq_n_s32(0));
            vcvtq_f32_s32(i)
        }
    }
    #[inline(always)]
    fn neg(self, a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vnegq_f32(a) }
    }
    #[inline(always)]
    fn round_even(self, a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vrndnq_f32(a) }
    }
    #[inline(always)]
    fn or(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vorrq_u32(a, b) }
    }
    #[inline(always)]
    fn all(self, m: uint32x4_t) -> bool {
        // SAFETY: NEON is present (`Neon::new`).
        unsafe { vminvq_u32(m) != 0 }
    }
}

/// Encodes `min(input.len() / 256, out.len() / 144)` blocks.
///
/// # Safety
///
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn encode<E: Element>(input: &[E::Raw], out: &mut [u8]) {
    // SAFETY: the caller guarantees NEON.
    let s = unsafe { Neon::new() };
    encode_blocks::<Neon, E>(s, input, out);
}
