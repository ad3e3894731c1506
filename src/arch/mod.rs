//! Instruction-set specific kernels. Each submodule holds only `#[target_feature]` code; the
//! choice between them is made once per call, in the dispatch of each operation.

#[cfg(all(
    target_arch = "aarch64",
    target_feature = "neon",
    target_endian = "little"
))]
pub(crate) mod aarch64;
#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(
        target_arch = "aarch64",
        target_feature = "neon",
        target_endian = "little"
    )
))]
pub(crate) mod prepared;
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
}
