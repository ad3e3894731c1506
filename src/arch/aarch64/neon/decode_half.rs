//! The aarch64 Advanced SIMD (NEON) half kernel: the f32 kernel's 16-entry tables, rounded to
//! 16-bit values and looked up byte plane by byte plane.
//!
//! Each block computes its eight 16-entry `f32` tables as the f32 kernel does, rounds them
//! (binary16 with FCVTN, bfloat16 with an exact integer rounding) and splits each rounded table
//! into its two byte planes with UZP1/UZP2, in registers. Then every 16 values cost one AND or
//! USHR for the nibbles, two TBL and one ST2, which interleaves the planes back into 16
//! little-endian 16-bit values. Rounding a table entry rounds every value that takes it, so the
//! bits are those of rounding each decoded `f32`.
//!
//! FCVTN is part of the base Advanced SIMD instruction set; its intrinsic needs the unstable
//! `f16` type, so it is written as inline assembly. It rounds in the mode of FPCR (to nearest,
//! ties to even, by default), gives infinity for values beyond binary16 and a quiet NaN for a
//! NaN. Like all Rust float code, this relies on the default floating-point environment.
//!
//! Stores are always ordinary, as in the f32 kernel.

use core::arch::aarch64::*;
use core::arch::asm;

use super::quant_groups;
use crate::arch::aarch64::neon::decode::{QUANT_VALUES, scales_and_mins, table_entries};
use crate::decode_half::Half;
use crate::{BLOCK_VALUES, BlockQ4K};

/// Decodes whole blocks; `out` holds 256 values per block (excess on either side is not
/// written).
///
/// A safe `#[target_feature]` function: it has no precondition beyond NEON itself.
#[inline(never)]
#[target_feature(enable = "neon")]
pub(crate) fn decode(blocks: &[BlockQ4K], out: &mut [u16], half: Half) {
    debug_assert_eq!(out.len(), blocks.len() * BLOCK_VALUES);
    match half {
        Half::F16 => blocks_loop::<true>(blocks, out),
        Half::Bf16 => blocks_loop::<false>(blocks, out),
    }
}

/// The block loop: binary16 if `F16`, else bfloat16.
#[inline]
#[target_feature(enable = "neon")]
fn blocks_loop<const F16: bool>(blocks: &[BlockQ4K], out: &mut [u16]) {
    // SAFETY: NEON is enabled here and `QUANT_VALUES` is 16 readable f32.
    let quant_values = unsafe { vld1q_f32_x4(QUANT_VALUES.as_ptr()) };
    let (outs, _) = out.as_chunks_mut::<BLOCK_VALUES>();
    for (block, out) in blocks.iter().zip(outs) {
        let bytes = core::ptr::from_ref(block).cast::<u8>();
        // SAFETY: NEON is enabled here and `bytes` points to the 144 readable bytes of
        // `block`; this reads the first 16 (d, dmin and the 12 packed scale bytes).
        let head = unsafe { vld1q_u8(bytes) };
        let ([s0, s1], [m0, m1]) = scales_and_mins(head);
        let planes = [
            byte_planes::<F16>(table_entries::<0>(s0, m0, quant_values)),
            byte_planes::<F16>(table_entries::<1>(s0, m0, quant_values)),
            byte_planes::<F16>(table_entries::<2>(s0, m0, quant_values)),
            byte_planes::<F16>(table_entries::<3>(s0, m0, quant_values)),
            byte_planes::<F16>(table_entries::<0>(s1, m1, quant_values)),
            byte_planes::<F16>(table_entries::<1>(s1, m1, quant_values)),
            byte_planes::<F16>(table_entries::<2>(s1, m1, quant_values)),
            byte_planes::<F16>(table_entries::<3>(s1, m1, quant_values)),
        ];
        let groups = quant_groups(block);
        let low_nibble = vdupq_n_u8(0x0F);
        let (group_outs, _) = out.as_chunks_mut::<64>();
        let (plane_pairs, _) = planes.as_chunks::<2>();
        for ((&(q0, q1), out), &[low, high]) in groups.iter().zip(group_outs).zip(plane_pairs) {
            let out = out.as_mut_ptr().cast::<u8>();
            // SAFETY: `out` is the 128 writable bytes of this group's 64 values; each call
            // writes the 32 bytes starting at offset 0, 32, 64 or 96.
            unsafe {
                lookup_store(low, vandq_u8(q0, low_nibble), out);
                lookup_store(low, vandq_u8(q1, low_nibble), out.add(32));
                lookup_store(high, vshrq_n_u8::<4>(q0), out.add(64));
                lookup_store(high, vshrq_n_u8::<4>(q1), out.add(96));
            }
        }
    }
}

/// A table's 16 entries rounded (binary16 if `F16`, else bfloat16), as its two byte planes:
/// the low bytes of the 16 values, then the high bytes.
#[inline]
#[target_feature(enable = "neon")]
fn byte_planes<const F16: bool>(entries: float32x4x4_t) -> uint8x16x2_t {
    let (a, b) = if F16 {
        (
            f16_bits(entries.0, entries.1),
            f16_bits(entries.2, entries.3),
        )
    } else {
        (
            bf16_bits(entries.0, entries.1),
            bf16_bits(entries.2, entries.3),
        )
    };
    let (a, b) = (vreinterpretq_u8_u16(a), vreinterpretq_u8_u16(b));
    uint8x16x2_t(vuzp1q_u8(a, b), vuzp2q_u8(a, b))
}

/// Eight `f32` (`low`, then `high`) rounded to binary16 bits by FCVTN and FCVTN2.
#[inline]
#[target_feature(enable = "neon")]
fn f16_bits(low: float32x4_t, high: float32x4_t) -> uint16x8_t {
    let bits: uint16x8_t;
    // SAFETY: FCVTN and FCVTN2 are base Advanced SIMD instructions, and NEON is enabled here;
    // they read the two input registers and write only the output register (`out`, so not
    // shared with an input), with no memory access.
    unsafe {
        asm!(
            "fcvtn {bits:v}.4h, {low:v}.4s",
            "fcvtn2 {bits:v}.8h, {high:v}.4s",
            bits = out(vreg) bits,
            low = in(vreg) low,
            high = in(vreg) high,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    bits
}

/// Eight `f32` (`low`, then `high`) rounded to bfloat16 bits by integer arithmetic, exactly as
/// `f32_to_bf16_bits`: add `0x7FFF` plus the lowest kept bit and keep the top half (SHRN); a
/// NaN keeps its top half with the quiet bit set.
#[inline]
#[target_feature(enable = "neon")]
fn bf16_bits(low: float32x4_t, high: float32x4_t) -> uint16x8_t {
    let round = |v: float32x4_t| {
        let bits = vreinterpretq_u32_f32(v);
        let odd = vandq_u32(vshrq_n_u32::<16>(bits), vdupq_n_u32(1));
        let rounded = vaddq_u32(bits, vaddq_u32(odd, vdupq_n_u32(0x7FFF)));
        let magnitude = vandq_u32(bits, vdupq_n_u32(0x7FFF_FFFF));
        let nan = vcgtq_u32(magnitude, vdupq_n_u32(0x7F80_0000));
        vbslq_u32(nan, vorrq_u32(bits, vdupq_n_u32(0x0040_0000)), rounded)
    };
    vshrn_high_n_u32::<16>(vshrn_n_u32::<16>(round(low)), round(high))
}

/// Looks up 16 quants (0..16) in the byte planes of a table and writes the 16 values to `out`.
///
/// # Safety
///
/// `out` must be valid for writing 32 bytes (no alignment needed).
#[inline]
#[target_feature(enable = "neon")]
unsafe fn lookup_store(planes: uint8x16x2_t, quants: uint8x16_t, out: *mut u8) {
    let bytes = uint8x16x2_t(vqtbl1q_u8(planes.0, quants), vqtbl1q_u8(planes.1, quants));
    // SAFETY: NEON is enabled here and the caller guarantees 32 writable bytes at `out`; ST2
    // interleaves the planes back into 16 little-endian 16-bit values.
    unsafe { vst2q_u8(out, bytes) }
}
