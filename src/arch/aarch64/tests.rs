//! The NEON kernel against the scalar oracle, bit for bit.

extern crate std;

use std::println;

use crate::test_rng::Rng;
use crate::{BLOCK_BYTES, BLOCK_VALUES, Kernel, decode_with};

/// Most blocks decoded in one call by these tests.
const MAX_BLOCKS: usize = 40;

/// `true` when both are the same bits, or both NaN.
fn same(neon: f32, scalar: f32) -> bool {
    neon.to_bits() == scalar.to_bits() || (neon.is_nan() && scalar.is_nan())
}

/// Decodes `input` with both kernels into `output[out_offset..]` and compares every value and the
/// untouched margins; returns the number of NaNs whose bits differ (allowed, counted).
fn compare(input: &[u8], out_offset: usize, neon: &mut [f32], scalar: &mut [f32]) -> usize {
    const SENTINEL: f32 = -1234.5;
    let values = input.len() / BLOCK_BYTES * BLOCK_VALUES;
    neon.fill(SENTINEL);
    scalar.fill(SENTINEL);
    let range = out_offset..out_offset + values;
    decode_with(Kernel::Neon, input, &mut neon[range.clone()]).unwrap();
    decode_with(Kernel::Scalar, input, &mut scalar[range.clone()]).unwrap();
    let mut nan_payloads = 0;
    for (i, (&n, &s)) in neon.iter().zip(scalar.iter()).enumerate() {
        assert!(
            same(n, s),
            "value {i} (output offset {out_offset}, {} blocks): neon {n:e} ({:#010x}), scalar {s:e} ({:#010x})",
            input.len() / BLOCK_BYTES,
            n.to_bits(),
            s.to_bits(),
        );
        if !range.contains(&i) {
            assert_eq!(
                n.to_bits(),
                SENTINEL.to_bits(),
                "neon wrote outside its output"
            );
        }
        nan_payloads += usize::from(n.to_bits() != s.to_bits());
    }
    nan_payloads
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
fn test_imp_001_neon_is_available_and_best() {
    println!("best kernel: {}", Kernel::best());
    assert!(Kernel::Neon.is_available());
    assert_eq!(Kernel::best(), Kernel::Neon);
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
fn test_imp_001_neon_matches_scalar_on_random_blocks() {
    println!(
        "comparing kernel {} against {}",
        Kernel::Neon,
        Kernel::Scalar
    );
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut input = [0u8; MAX_BLOCKS * BLOCK_BYTES + 3];
    let mut neon = [0f32; MAX_BLOCKS * BLOCK_VALUES + 8];
    let mut scalar = [0f32; MAX_BLOCKS * BLOCK_VALUES + 8];
    let mut compared = 0;
    let mut nan_payloads = 0;
    for blocks in 0..=MAX_BLOCKS {
        for in_offset in 0..4 {
            for out_offset in 0..8 {
                let input = &mut input[in_offset..in_offset + blocks * BLOCK_BYTES];
                rng.fill(input);
                for block in input.chunks_exact_mut(BLOCK_BYTES) {
                    block[0..2].copy_from_slice(&rng.f16().to_le_bytes());
                    block[2..4].copy_from_slice(&rng.f16().to_le_bytes());
                }
                let len = blocks * BLOCK_VALUES + 8;
                nan_payloads += compare(input, out_offset, &mut neon[..len], &mut scalar[..len]);
                compared += blocks * BLOCK_VALUES;
            }
        }
    }
    println!("{compared} values identical ({nan_payloads} NaNs with other payload bits)");
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
fn test_imp_001_neon_matches_scalar_for_every_f16_scale() {
    // Every f16 pattern as d (with dmin = the pattern mirrored) and as dmin, with random scales
    // and quants: covers zeros, subnormals, infinities and NaNs of both widenings.
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let mut input = [0u8; MAX_BLOCKS * BLOCK_BYTES];
    let mut neon = [0f32; MAX_BLOCKS * BLOCK_VALUES];
    let mut scalar = [0f32; MAX_BLOCKS * BLOCK_VALUES];
    let mut nan_payloads = 0;
    let mut bits = 0u32;
    while bits <= 0xFFFF {
        rng.fill(&mut input);
        for block in input.chunks_exact_mut(BLOCK_BYTES) {
            let d = bits as u16;
            block[0..2].copy_from_slice(&d.to_le_bytes());
            block[2..4].copy_from_slice(&d.reverse_bits().to_le_bytes());
            bits += 1;
        }
        nan_payloads += compare(&input, 0, &mut neon, &mut scalar);
    }
    println!("every f16 scale identical ({nan_payloads} NaNs with other payload bits)");
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
fn test_imp_001_neon_known_block() {
    // d = 1.0, dmin = 0.5, every scale 1 and min 2 (with the top bits of sc/m 4..8 clear), and
    // quant q at value 16 * j + q for sub-block half j: value = q - 1.
    let mut bytes = [0u8; BLOCK_BYTES];
    bytes[0..2].copy_from_slice(&0x3C00u16.to_le_bytes());
    bytes[2..4].copy_from_slice(&0x3800u16.to_le_bytes());
    bytes[4..8].fill(1);
    bytes[8..12].fill(2);
    bytes[12..16].fill(0x21);
    for (i, byte) in bytes[16..].iter_mut().enumerate() {
        let q = (i % 16) as u8;
        *byte = q | (q << 4);
    }
    let mut out = [0f32; BLOCK_VALUES];
    decode_with(Kernel::Neon, &bytes, &mut out).unwrap();
    for (i, v) in out.iter().enumerate() {
        assert_eq!(*v, (i % 16) as f32 - 1.0, "value {i}");
    }
}
