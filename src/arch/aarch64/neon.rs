//! The aarch64 Advanced SIMD (NEON) kernel.
//!
//! DESIGN-PLACEHOLDER

use core::arch::aarch64::*;

use crate::{BLOCK_VALUES, BlockQ4K};

/// The quant values 0..=15, the multipliers of one sub-block's 16-entry table.
const QUANT_VALUES: [f32; 16] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
];

/// Header bytes (d, dmin, then `s[0..12]` at 4..16) that hold the low six bits of each scale
/// (lanes 0..4: `s[0..4]`) and min (lanes 8..12: `s[4..8]`), and the two top bits of the
/// scales 4..8 (lanes 4..8: `s[0..4]`) and mins 4..8 (lanes 12..16: `s[4..8]`).
const PICK_LOW_AND_TOP: [u8; 16] = [4, 5, 6, 7, 4, 5, 6, 7, 8, 9, 10, 11, 8, 9, 10, 11];
/// Shift per lane of those bytes: keep the low six bits in place, move the top two to bits 4..6.
const SHIFT_LOW_AND_TOP: [i8; 16] = [0, 0, 0, 0, -2, -2, -2, -2, 0, 0, 0, 0, -2, -2, -2, -2];
/// Mask per lane after that shift.
const MASK_LOW_AND_TOP: [u8; 16] = [
    63, 63, 63, 63, 0x30, 0x30, 0x30, 0x30, 63, 63, 63, 63, 0x30, 0x30, 0x30, 0x30,
];
/// Shift per lane of the header's upper half (`s[4..12]`, repeated twice): scales 4..8 take the
/// low nibble of `s[8..12]` (lanes 4..8), mins 4..8 the high nibble (lanes 12..16).
const SHIFT_NIBBLE: [i8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -4, -4, -4, -4];
/// Mask per lane after that shift; lanes 0..4 and 8..12 take nothing from the nibbles.
const MASK_NIBBLE: [u8; 16] = [0, 0, 0, 0, 15, 15, 15, 15, 0, 0, 0, 0, 15, 15, 15, 15];
/// XOR into the widened f16 pair `[d, dmin, _, _]` to negate `dmin` (its f16 sign bit).
const NEGATE_DMIN: [u32; 4] = [0, 0x8000, 0, 0];

/// Decodes whole blocks; `out` holds 256 values per block (excess on either side is not
/// written).
///
/// Calling it is `unsafe` outside NEON code: the caller guarantees the CPU has NEON.
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
    let (scale, neg_min) = scales_and_mins(head);

    // SAFETY: NEON is enabled here and `QUANT_VALUES` is 16 readable f32.
    let quant_values = unsafe { vld1q_f32_x4(QUANT_VALUES.as_ptr()) };
    let [t0, t1, t2, t3, t4, t5, t6, t7] = tables;
    sub_block_table::<0>(t0, scale[0], neg_min[0], quant_values);
    sub_block_table::<1>(t1, scale[0], neg_min[0], quant_values);
    sub_block_table::<2>(t2, scale[0], neg_min[0], quant_values);
    sub_block_table::<3>(t3, scale[0], neg_min[0], quant_values);
    sub_block_table::<0>(t4, scale[1], neg_min[1], quant_values);
    sub_block_table::<1>(t5, scale[1], neg_min[1], quant_values);
    sub_block_table::<2>(t6, scale[1], neg_min[1], quant_values);
    sub_block_table::<3>(t7, scale[1], neg_min[1], quant_values);

    let quants = block.quants().as_ptr();
    // SAFETY: NEON is enabled here and `quants` points to the block's 128 readable quant bytes;
    // these read bytes 0..64 and 64..128.
    let (first, second) = unsafe { (vld1q_u8_x4(quants), vld1q_u8_x4(quants.add(64))) };
    let groups = [
        (first.0, first.1),
        (first.2, first.3),
        (second.0, second.1),
        (second.2, second.3),
    ];
    let low_nibble = vdupq_n_u8(0x0F);
    let (group_outs, _) = out.as_chunks_mut::<64>();
    let (table_pairs, _) = tables.as_chunks::<2>();
    for ((&(q0, q1), out), [low_table, high_table]) in groups.iter().zip(group_outs).zip(table_pairs)
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

/// The eight sub-block scales `d * sc` (sub-blocks 0..4, 4..8) and the eight negated mins
/// `-(dmin * m)`, from the first 16 bytes of a block.
#[inline]
#[target_feature(enable = "neon")]
fn scales_and_mins(head: uint8x16_t) -> ([float32x4_t; 2], [float32x4_t; 2]) {
    // d and -dmin, widened from f16 in lanes 0 and 1.
    // SAFETY: NEON is enabled here and the constant is 4 readable u32.
    let negate_dmin = unsafe { vld1q_u32(NEGATE_DMIN.as_ptr()) };
    let half = veorq_u32(
        vmovl_u16(vget_low_u16(vreinterpretq_u16_u8(head))),
        negate_dmin,
    );
    let d_neg_dmin = f16_to_f32(half);

    // The six-bit scales (lanes 0..8) and mins (lanes 8..16), as laid out in FORMAT.md.
    // SAFETY: NEON is enabled here and each constant is 16 readable bytes.
    let (pick, shift, mask, shift_nibble, mask_nibble) = unsafe {
        (
            vld1q_u8(PICK_LOW_AND_TOP.as_ptr()),
            vld1q_s8(SHIFT_LOW_AND_TOP.as_ptr()),
            vld1q_u8(MASK_LOW_AND_TOP.as_ptr()),
            vld1q_s8(SHIFT_NIBBLE.as_ptr()),
            vld1q_u8(MASK_NIBBLE.as_ptr()),
        )
    };
    let low_and_top = vandq_u8(vshlq_u8(vqtbl1q_u8(head, pick), shift), mask);
    let upper = vreinterpretq_u8_u64(vdupq_laneq_u64::<1>(vreinterpretq_u64_u8(head)));
    let nibbles = vandq_u8(vshlq_u8(upper, shift_nibble), mask_nibble);
    let six_bit = vorrq_u8(low_and_top, nibbles);

    let sc = vmovl_u8(vget_low_u8(six_bit));
    let m = vmovl_high_u8(six_bit);
    let sc = [
        vcvtq_f32_u32(vmovl_u16(vget_low_u16(sc))),
        vcvtq_f32_u32(vmovl_high_u16(sc)),
    ];
    let m = [
        vcvtq_f32_u32(vmovl_u16(vget_low_u16(m))),
        vcvtq_f32_u32(vmovl_high_u16(m)),
    ];
    // Both products are exact (11-bit by 6-bit significands), as in the scalar kernel.
    let scale = [
        vmulq_laneq_f32::<0>(sc[0], d_neg_dmin),
        vmulq_laneq_f32::<0>(sc[1], d_neg_dmin),
    ];
    let neg_min = [
        vmulq_laneq_f32::<1>(m[0], d_neg_dmin),
        vmulq_laneq_f32::<1>(m[1], d_neg_dmin),
    ];
    (scale, neg_min)
}

/// Widens the f16 in the low half of each lane to f32, exactly (the same values as
/// [`crate::f16_to_f32`], NaN payloads included).
#[inline]
#[target_feature(enable = "neon")]
fn f16_to_f32(half: uint32x4_t) -> float32x4_t {
    // f16 sign at bit 31.
    let top = vshlq_n_u32::<16>(half);
    // Exponent and mantissa where an f32 has them, exponent still biased by 15.
    let magnitude = vshrq_n_u32::<4>(vshlq_n_u32::<17>(half));
    // Rebias by a multiply with 2^112: exact for normals, and f16 subnormals (here f32
    // subnormals) come out normalised.
    let finite = vmulq_f32(
        vreinterpretq_f32_u32(magnitude),
        vdupq_n_f32(f32::from_bits((127 + 112) << 23)),
    );
    // Exponent 31: infinity or NaN, payload kept.
    let special = vcgeq_u32(magnitude, vdupq_n_u32(0x1F << 23));
    let special_bits = vorrq_u32(magnitude, vdupq_n_u32(0xFF << 23));
    let absolute = vbslq_u32(special, special_bits, vreinterpretq_u32_f32(finite));
    vreinterpretq_f32_u32(vbslq_u32(vdupq_n_u32(1 << 31), top, absolute))
}

/// Writes the 16-entry table `(d * sc) * q - dmin * m` (q in 0..16) of the sub-block in lane
/// `LANE` of `scale` and `neg_min`.
#[inline]
#[target_feature(enable = "neon")]
fn sub_block_table<const LANE: i32>(
    table: &mut [f32; 16],
    scale: float32x4_t,
    neg_min: float32x4_t,
    quant_values: float32x4x4_t,
) {
    // `scale * q` is exact, so the fused multiply-add rounds exactly once, like the scalar
    // kernel's subtraction.
    let neg_min = vdupq_laneq_f32::<LANE>(neg_min);
    let entries = float32x4x4_t(
        vfmaq_laneq_f32::<LANE>(neg_min, quant_values.0, scale),
        vfmaq_laneq_f32::<LANE>(neg_min, quant_values.1, scale),
        vfmaq_laneq_f32::<LANE>(neg_min, quant_values.2, scale),
        vfmaq_laneq_f32::<LANE>(neg_min, quant_values.3, scale),
    );
    // SAFETY: NEON is enabled here and `table` is 16 writable f32.
    unsafe { vst1q_f32_x4(table.as_mut_ptr(), entries) }
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
