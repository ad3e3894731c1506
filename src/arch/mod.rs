//! Instruction-set specific kernels. Each submodule holds only `#[target_feature]` code; the
//! choice between them is made once per call, in the dispatch of each operation.

#[cfg(all(
    target_arch = "aarch64",
    target_feature = "neon",
    target_endian = "little"
))]
pub(crate) mod aarch64;

/// Declares modules compiled only where some SIMD kernel family is (x86_64 with SSE2, or
/// little-endian aarch64 with NEON): the code the kernels of several families share.
macro_rules! simd_modules {
    ($($name:ident),* $(,)?) => {
        $(
            #[cfg(any(
                all(target_arch = "x86_64", target_feature = "sse2"),
                all(target_arch = "aarch64", target_feature = "neon", target_endian = "little")
            ))]
            pub(crate) mod $name;
        )*
    };
}

simd_modules!(encode, encode_weighted, lanes, prepared, search);

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
pub(crate) mod x86_64;

#[cfg(test)]
mod tests {
    use std::vec::Vec;
    use std::{eprintln, vec};

    use crate::test_rng::Rng;
    use crate::{BLOCK_BYTES, BLOCK_VALUES, Decoder, Kernel, Stores, blocks, scalar};

    /// Marks output floats a kernel must not touch.
    const GUARD: u32 = 0x7FC0_DEAD;

    /// Every SIMD kernel this CPU (or build) has, against the scalar kernel, bit for bit:
    /// random blocks, many block counts, input offsets 0..4 bytes, output offsets 0..16 floats
    /// from a 64-byte boundary, cached and streaming stores. NaN must match NaN.
    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
    fn test_imp_001_simd_kernels_match_scalar_bit_for_bit() {
        let kernels: Vec<Kernel> = Kernel::ALL
            .iter()
            .copied()
            .filter(|k| *k != Kernel::Scalar && k.is_available())
            .collect();
        eprintln!(
            "SIMD kernels tested against scalar: {kernels:?} (best: {})",
            Kernel::best()
        );
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let counts = [0usize, 1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 64];
        let max_blocks = 64;
        let mut raw = vec![0u8; max_blocks * BLOCK_BYTES + 3];
        let mut expected = vec![0f32; max_blocks * BLOCK_VALUES];
        // 16 spare floats on each side of the largest output, plus room to reach a 64-byte
        // boundary.
        let mut buffer = vec![0f32; max_blocks * BLOCK_VALUES + 48];
        let mut runs = 0usize;
        for round in 0..4 {
            for &count in &counts {
                for in_offset in 0..4 {
                    let bytes = &mut raw[in_offset..in_offset + count * BLOCK_BYTES];
                    for block in bytes.chunks_exact_mut(BLOCK_BYTES) {
                        rng.block(block);
                    }
                    let input = &raw[in_offset..in_offset + count * BLOCK_BYTES];
                    let values = count * BLOCK_VALUES;
                    scalar::decode::decode_blocks(blocks(input).unwrap(), &mut expected[..values]);
                    for &kernel in &kernels {
                        for out_offset in 0..16 {
                            for stores in [Stores::Cached, Stores::Streaming] {
                                let base = buffer.as_ptr().align_offset(64);
                                let start = base + 16 + out_offset;
                                buffer.fill(f32::from_bits(GUARD));
                                Decoder::new()
                                    .kernel(kernel)
                                    .stores(stores)
                                    .decode(input, &mut buffer[start..start + values])
                                    .unwrap();
                                runs += 1;
                                let what = || {
                                    std::format!(
                                        "{kernel} {stores:?} round {round} blocks {count} \
                                         input offset {in_offset} output offset {out_offset}"
                                    )
                                };
                                for (i, (got, want)) in buffer[start..start + values]
                                    .iter()
                                    .zip(&expected[..values])
                                    .enumerate()
                                {
                                    assert!(
                                        got.to_bits() == want.to_bits()
                                            || (got.is_nan() && want.is_nan()),
                                        "{}: value {i}: got {got:?} ({:#010x}), want {want:?} ({:#010x})",
                                        what(),
                                        got.to_bits(),
                                        want.to_bits()
                                    );
                                }
                                let outside =
                                    buffer[..start].iter().chain(&buffer[start + values..]);
                                assert!(
                                    outside.into_iter().all(|v| v.to_bits() == GUARD),
                                    "{}: wrote outside the output",
                                    what()
                                );
                            }
                        }
                    }
                }
            }
        }
        eprintln!("{runs} kernel runs matched the scalar kernel");
    }

    /// Every SIMD kernel's half decode (binary16 and bfloat16), against the scalar half
    /// kernel, bit for bit (NaN matches NaN), and against the scalar `f32` decode rounded by
    /// the scalar rounding: random blocks, many block counts, input offsets 0..2, output
    /// offsets 0..40 values from a 64-byte boundary, cached and streaming stores.
    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
    fn test_imp_002_simd_half_kernels_match_scalar_bit_for_bit() {
        use crate::decode_half::Half;
        use crate::f16::{f32_to_bf16_bits, f32_to_f16_bits};
        const GUARD: u16 = 0x7DAD;
        let kernels: Vec<Kernel> = Kernel::ALL
            .iter()
            .copied()
            .filter(|k| k.is_available())
            .collect();
        eprintln!("half kernels tested against scalar: {kernels:?}");
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let counts = [0usize, 1, 2, 3, 5, 8, 17];
        let max_blocks = 17;
        let mut raw = vec![0u8; max_blocks * BLOCK_BYTES + 2];
        let mut wide = vec![0f32; max_blocks * BLOCK_VALUES];
        let mut expected = vec![0u16; max_blocks * BLOCK_VALUES];
        let mut buffer = vec![0u16; max_blocks * BLOCK_VALUES + 128];
        let is_nan = |half: Half, bits: u16| match half {
            Half::F16 => bits & 0x7C00 == 0x7C00 && bits & 0x03FF != 0,
            Half::Bf16 => bits & 0x7F80 == 0x7F80 && bits & 0x007F != 0,
        };
        let mut runs = 0usize;
        for round in 0..3 {
            for &count in &counts {
                for in_offset in 0..2 {
                    let bytes = &mut raw[in_offset..in_offset + count * BLOCK_BYTES];
                    for block in bytes.chunks_exact_mut(BLOCK_BYTES) {
                        rng.block(block);
                    }
                    let input = &raw[in_offset..in_offset + count * BLOCK_BYTES];
                    let values = count * BLOCK_VALUES;
                    scalar::decode::decode_blocks(blocks(input).unwrap(), &mut wide[..values]);
                    for half in [Half::F16, Half::Bf16] {
                        let round_f32 = match half {
                            Half::F16 => f32_to_f16_bits,
                            Half::Bf16 => f32_to_bf16_bits,
                        };
                        scalar::decode_half::decode_blocks(
                            blocks(input).unwrap(),
                            &mut expected[..values],
                            half,
                        );
                        for (i, (&got, &f)) in expected.iter().zip(&wide[..values]).enumerate() {
                            let want = round_f32(f);
                            assert!(
                                got == want || (is_nan(half, got) && is_nan(half, want)),
                                "scalar {half:?} value {i}: {got:#06x}, rounded f32 {want:#06x}"
                            );
                        }
                        for &kernel in &kernels {
                            for out_offset in (0..40).step_by(if count > 3 { 3 } else { 1 }) {
                                for stores in [Stores::Cached, Stores::Streaming] {
                                    let base = buffer.as_ptr().align_offset(64);
                                    let start = base + 32 + out_offset;
                                    buffer.fill(GUARD);
                                    let decoder = Decoder::new().kernel(kernel).stores(stores);
                                    let out = &mut buffer[start..start + values];
                                    match half {
                                        Half::F16 => decoder.decode_f16(input, out),
                                        Half::Bf16 => decoder.decode_bf16(input, out),
                                    }
                                    .unwrap();
                                    runs += 1;
                                    for (i, (&got, &want)) in buffer[start..start + values]
                                        .iter()
                                        .zip(&expected[..values])
                                        .enumerate()
                                    {
                                        assert!(
                                            got == want
                                                || (is_nan(half, got) && is_nan(half, want)),
                                            "{kernel} {half:?} {stores:?} round {round} blocks \
                                             {count} in +{in_offset} out +{out_offset}: value \
                                             {i}: got {got:#06x}, want {want:#06x}"
                                        );
                                    }
                                    let outside =
                                        buffer[..start].iter().chain(&buffer[start + values..]);
                                    assert!(
                                        outside.into_iter().all(|&v| v == GUARD),
                                        "{kernel} {half:?} {stores:?} out +{out_offset}: wrote \
                                         outside the output"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
        eprintln!("{runs} half kernel runs matched the scalar kernel");
    }
}
