//! The aarch64 Advanced SIMD (NEON) kernel.
//!
//! # Design: a 16-entry table per sub-block, looked up byte plane by byte plane
//!
//! A sub-block has 32 values but only 16 possible ones, `(d * sc) * q - dmin * m` for q in
//! 0..16. So instead of widening every quant to f32 (UXTL twice, UCVTF, FMUL, FSUB: about 17
//! instructions per 16 values), each block:
//!
//! 1. loads its first 16 bytes once and computes all eight scales `d * sc` and mins `dmin * m`
//!    in vectors (f16 widening by shift and a multiply by 2^112, six-bit unpacking by EXT, TRN2,
//!    SLI; about 30 instructions);
//! 2. builds the eight 16-entry f32 tables with FMUL by element and FSUB (`q * scale - min`: an
//!    exact product, then one rounding, the scalar kernel's operations in its order, so even NaN
//!    payloads come out the same) and stores them to a 512-byte scratch array with ST1;
//! 3. reads each table back with LD4, which splits it into four *byte planes* (plane `b` holds
//!    byte `b` of each of the 16 entries), so that a single-register TBL indexed by 16 nibbles
//!    fetches byte `b` of 16 results at once;
//! 4. writes the four looked-up planes with ST4, which interleaves them back into 16
//!    little-endian f32.
//!
//! Per 16 values that is one AND or USHR for the nibbles, four TBL and one ST4. The table costs
//! 9 instructions per sub-block plus ST1 and LD4; LD4 is the cheapest transpose from f32 lanes
//! to byte planes (UZP1/UZP2 in registers would take 8 instructions per table).
//!
//! Measured from the generated assembly (`cargo rustc --release --target
//! aarch64-unknown-linux-gnu --lib -- --emit asm`, counting the block loop from its label to its
//! back branch; rustc 1.95): **245 instructions per 256-value block**: 64 TBL, 16 ST4, 8 LD4,
//! 8 ST1; 32 FMUL + 32 FSUB + 8 DUP for the tables; 10 AND + 10 USHR; about 35 for the scales
//! and mins; 18 integer ADD (ST4 has no immediate-offset form, so most stores get their address
//! from an ADD) and the loop control. Widening every quant instead comes to about 300 by a
//! count by hand (17 per 16 values plus the same header). Neither has been timed on ARM hardware
//! yet: ST4 and LD4 split into several micro-ops on most cores, so the count is a guide, not
//! a throughput figure.
//!
//! Stores are always ordinary: NEON has no practical non-temporal store for this (STNP is only
//! a hint, pairs of registers, immediate offsets), so [`Stores`](crate::Stores) has no effect
//! on this kernel.
//!
//! The f16 widening multiplies f32 subnormals, so like all Rust float code it relies on the
//! default floating-point environment (FPCR.FZ clear).

use core::arch::aarch64::*;

use super::quant_groups;
use crate::{BLOCK_VALUES, BlockQ4K};

/// The quant values 0..=15, the multipliers of one sub-block's 16-entry table.
pub(crate) const QUANT_VALUES: [f32; 16] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
];

/// Decodes whole blocks; `out` holds 256 values per block (excess on either side is not
/// written).
///
/// A safe `#[target_feature]` function: it has no precondition beyond NEON itself, so code
/// compiled with NEON calls it directly, and other code calls it in an `unsafe` block after
/// checking [`has_neon`](crate::arch::aarch64::has_neon).
// Called once per slice; kept out of line so profilers and symbol checks see the kernel.
#[inline(never)]
#[target_feature(enable = "neon")]
pub(crate) fn decode(blocks: &[BlockQ4K], out: &mut [f32]) {
    debug_assert_eq!(out.len(), blocks.len() * BLOCK_VALUES);
    // The eight 16-entry tables of the current block, written as f32 and read back as bytes.
    let mut tables = [[0f32; 16]; 8];
    let (outs, _) = out.as_chunks_mut::<BLOCK_VALUES>();
    for (block, out) in blocks.iter().zip(outs) {
        decode_block(block, out, &mut tables);
    }
}

/// Decodes one block into 256 values, using `tables` as scratch space.
#[inline]
#[target_feature(enable = "neon")]
fn decode_block(block: &BlockQ4K, out: &mut [f32; BLOCK_VALUES], tables: &mut [[f32; 16]; 8]) {
    let bytes = core::ptr::from_ref(block).cast::<u8>();
    // SAFETY: NEON is enabled here and `bytes` points to the 144 readable bytes of `block`;
    // this reads the first 16 (d, dmin and the 12 packed scale bytes).
    let head = unsafe { vld1q_u8(bytes) };
    let (scale, min) = scales_and_mins(head);

    // SAFETY: NEON is enabled here and `QUANT_VALUES` is 16 readable f32.
    let quant_values = unsafe { vld1q_f32_x4(QUANT_VALUES.as_ptr()) };
    let [t0, t1, t2, t3, t4, t5, t6, t7] = tables;
    sub_block_table::<0>(t0, scale[0], min[0], quant_values);
    sub_block_table::<1>(t1, scale[0], min[0], quant_values);
    sub_block_table::<2>(t2, scale[0], min[0], quant_values);
    sub_block_table::<3>(t3, scale[0], min[0], quant_values);
    sub_block_table::<0>(t4, scale[1], min[1], quant_values);
    sub_block_table::<1>(t5, scale[1], min[1], quant_values);
    sub_block_table::<2>(t6, scale[1], min[1], quant_values);
    sub_block_table::<3>(t7, scale[1], min[1], quant_values);

    let groups = quant_groups(block);
    let low_nibble = vdupq_n_u8(0x0F);
    let (group_outs, _) = out.as_chunks_mut::<64>();
    let (table_pairs, _) = tables.as_chunks::<2>();
    for ((&(q0, q1), out), [low_table, high_table]) in
        groups.iter().zip(group_outs).zip(table_pairs)
    {
        let out = out.as_mut_ptr().cast::<u8>();
        let low = byte_planes(low_table);
        let high = byte_planes(high_table);
        // SAFETY: `out` is the 256 writable bytes of this group's 64 values; each call writes
        // the 64 bytes starting at offset 0, 64, 128 or 192.
        unsafe {
            lookup_store(low, vandq_u8(q0, low_nibble), out);
            lookup_store(low, vandq_u8(q1, low_nibble), out.add(64));
            lookup_store(high, vshrq_n_u8::<4>(q0), out.add(128));
            lookup_store(high, vshrq_n_u8::<4>(q1), out.add(192));
        }
    }
}

/// The eight sub-block scales `d * sc` and mins `dmin * m` (sub-blocks 0..4, 4..8), from the
/// first 16 bytes of a block.
#[inline]
#[target_feature(enable = "neon")]
pub(crate) fn scales_and_mins(head: uint8x16_t) -> ([float32x4_t; 2], [float32x4_t; 2]) {
    // d and dmin, widened from f16 in lanes 0 and 1.
    let d_dmin = f16_to_f32(vget_low_u16(vreinterpretq_u16_u8(head)));

    // In 32-bit words, head is [d dmin, s0..4, s4..8, s8..12]. The six-bit scales and mins, as
    // laid out in docs/format.md, are built as the words [sc0..4, m0..4, sc4..8, m4..8]: the first
    // two are s0..4 and s4..8 masked to six bits, the last two the low and the high nibbles of
    // s8..12 with the top two bits of s0..4 and of s4..8 inserted above them (SLI).
    let low = vextq_u8::<4>(head, head);
    let top = vshrq_n_u8::<6>(vextq_u8::<12>(head, head));
    let nibbles = vreinterpretq_u8_u32(vtrn2q_u32(
        vreinterpretq_u32_u8(vandq_u8(head, vdupq_n_u8(0x0F))),
        vreinterpretq_u32_u8(vshrq_n_u8::<4>(head)),
    ));
    let high = vsliq_n_u8::<4>(nibbles, top);
    let six_bit = vandq_u8(
        vreinterpretq_u8_u64(vcopyq_laneq_u64::<1, 1>(
            vreinterpretq_u64_u8(low),
            vreinterpretq_u64_u8(high),
        )),
        vdupq_n_u8(63),
    );

    let low = vmovl_u8(vget_low_u8(six_bit));
    let high = vmovl_high_u8(six_bit);
    let sc = [
        vcvtq_f32_u32(vmovl_u16(vget_low_u16(low))),
        vcvtq_f32_u32(vmovl_u16(vget_low_u16(high))),
    ];
    let m = [
        vcvtq_f32_u32(vmovl_high_u16(low)),
        vcvtq_f32_u32(vmovl_high_u16(high)),
    ];
    // Both products are exact (11-bit by 6-bit significands), as in the scalar kernel.
    let scale = [
        vmulq_laneq_f32::<0>(sc[0], d_dmin),
        vmulq_laneq_f32::<0>(sc[1], d_dmin),
    ];
    let min = [
        vmulq_laneq_f32::<1>(m[0], d_dmin),
        vmulq_laneq_f32::<1>(m[1], d_dmin),
    ];
    (scale, min)
}

/// Widens four f16 values to f32, exactly: the same values as [`crate::f16_to_f32`], and NaN
/// for NaN.
#[inline]
#[target_feature(enable = "neon")]
fn f16_to_f32(half: uint16x4_t) -> float32x4_t {
    // Sign at bit 31, exponent at 30..26, mantissa at 25..16; the arithmetic shift moves
    // exponent and mantissa to where an f32 has them, and the BIC clears the copies of the sign.
    let top = vreinterpretq_s32_u32(vshll_n_u16::<16>(half));
    let bits = vbicq_u32(
        vreinterpretq_u32_s32(vshrq_n_s32::<3>(top)),
        vdupq_n_u32(0x7 << 28),
    );
    // Rebias the exponent from 15 to 127 by a multiply with 2^112: exact for normals, and the
    // f16 subnormals (here f32 subnormals) come out normalised.
    let finite = vmulq_f32(
        vreinterpretq_f32_u32(bits),
        vdupq_n_f32(f32::from_bits((127 + 112) << 23)),
    );
    // Exponent 31 (infinity or NaN) lands at 2^16 or above: set the f32 exponent to all ones
    // (bit 23 is already set), keeping sign and mantissa.
    let special = vcageq_f32(finite, vdupq_n_f32(65536.0));
    let special_bits = vorrq_u32(bits, vdupq_n_u32(0x7F << 24));
    vreinterpretq_f32_u32(vbslq_u32(
        special,
        special_bits,
        vreinterpretq_u32_f32(finite),
    ))
}

/// Writes the 16-entry table `(d * sc) * q - dmin * m` (q in 0..16) of the sub-block in lane
/// `LANE` of `scale` and `min`.
#[inline]
#[target_feature(enable = "neon")]
fn sub_block_table<const LANE: i32>(
    table: &mut [f32; 16],
    scale: float32x4_t,
    min: float32x4_t,
    quant_values: float32x4x4_t,
) {
    let entries = table_entries::<LANE>(scale, min, quant_values);
    // SAFETY: NEON is enabled here and `table` is 16 writable f32.
    unsafe { vst1q_f32_x4(table.as_mut_ptr(), entries) }
}

/// The 16 entries `(d * sc) * q - dmin * m` (q in 0..16) of the sub-block in lane `LANE` of
/// `scale` and `min`, four to a vector.
#[inline]
#[target_feature(enable = "neon")]
pub(crate) fn table_entries<const LANE: i32>(
    scale: float32x4_t,
    min: float32x4_t,
    quant_values: float32x4x4_t,
) -> float32x4x4_t {
    // The scalar kernel's operations in its order: an exact product, then one rounding.
    let min = vdupq_laneq_f32::<LANE>(min);
    float32x4x4_t(
        vsubq_f32(vmulq_laneq_f32::<LANE>(quant_values.0, scale), min),
        vsubq_f32(vmulq_laneq_f32::<LANE>(quant_values.1, scale), min),
        vsubq_f32(vmulq_laneq_f32::<LANE>(quant_values.2, scale), min),
        vsubq_f32(vmulq_laneq_f32::<LANE>(quant_values.3, scale), min),
    )
}

/// The four byte planes of a 16-entry f32 table: plane `b` holds byte `b` of each entry.
#[inline]
#[target_feature(enable = "neon")]
fn byte_planes(table: &[f32; 16]) -> uint8x16x4_t {
    // SAFETY: NEON is enabled here and `table` is 64 readable bytes, what LD4 reads.
    unsafe { vld4q_u8(table.as_ptr().cast::<u8>()) }
}

/// Looks up 16 quants (0..16) in the byte planes of a table and writes the 16 f32 values to
/// `out`.
///
/// # Safety
///
/// `out` must be valid for writing 64 bytes (no alignment needed).
#[inline]
#[target_feature(enable = "neon")]
unsafe fn lookup_store(planes: uint8x16x4_t, quants: uint8x16_t, out: *mut u8) {
    let bytes = uint8x16x4_t(
        vqtbl1q_u8(planes.0, quants),
        vqtbl1q_u8(planes.1, quants),
        vqtbl1q_u8(planes.2, quants),
        vqtbl1q_u8(planes.3, quants),
    );
    // SAFETY: NEON is enabled here and the caller guarantees 64 writable bytes at `out`; ST4
    // interleaves the planes back into 16 little-endian f32.
    unsafe { vst4q_u8(out, bytes) }
}
