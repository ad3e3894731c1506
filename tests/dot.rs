//! Q8_K quantization and the Q4_K x Q8_K dot products: every kernel against an independent
//! transcription of llama.cpp's generic C, bit for bit; `matvec` against `dot`; the parallel
//! form against the serial one; every length error, with the output untouched.

mod common;

use common::{
    dot_kernels, f16_reference, pseudo_random_bytes, quant_reference, realistic_blocks,
    unavailable_kernels, unpack_scales,
};
use q4k::{BLOCK_BYTES, BlockQ8K, Error, Kernel};
use quickcheck::TestResult;

/// `ggml_vec_dot_q4_K_q8_K_generic`, written again from the format description: per block the
/// eight exact lane sums and the min sum, then the float lanes, then the lanes in order.
fn reference_dot(weights: &[u8], activations: &[BlockQ8K]) -> f32 {
    assert_eq!(weights.len(), activations.len() * BLOCK_BYTES);
    let mut sums = [0f32; 8];
    let mut sumf = 0f32;
    for (x, y) in weights.chunks_exact(BLOCK_BYTES).zip(activations) {
        let (sc, m) = unpack_scales(&x[4..16]);
        let mut aux32 = [0i32; 8];
        for i in 0..256 {
            let q4 = i32::from(quant_reference(&x[16..144], i));
            let q8 = i32::from(y.quants()[i]);
            aux32[i % 8] += i32::from(sc[i / 32]) * (q4 * q8);
        }
        let mut sumi = 0i32;
        for (k, &bsum) in y.block_sums().iter().enumerate() {
            sumi += i32::from(bsum) * i32::from(m[k / 2]);
        }
        let d = f16_reference(u16::from_le_bytes([x[0], x[1]])) * y.d();
        for l in 0..8 {
            sums[l] += d * aux32[l] as f32;
        }
        let dmin = f16_reference(u16::from_le_bytes([x[2], x[3]])) * y.d();
        sumf -= dmin * sumi as f32;
    }
    for sum in sums {
        sumf += sum;
    }
    sumf
}

/// Same bits, or both NaN (NaN payloads are not specified).
fn same(got: f32, want: f32) -> bool {
    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
}

/// Activation blocks of every kind, chosen by `seed`: quantized from realistic values, from
/// values with huge and tiny magnitudes, or any 292 bytes at all (NaN scales and sums that do
/// not match the quants included).
fn activations(seed: u64, count: usize) -> Vec<BlockQ8K> {
    let bytes = pseudo_random_bytes(seed ^ 0xA5A5, count * 292 + 8 * count * 256);
    let (raw, values) = bytes.split_at(count * 292);
    let values: Vec<f32> = values
        .chunks_exact(8)
        .map(|c| {
            let r = u64::from_le_bytes(c.try_into().unwrap());
            match seed % 3 {
                0 => (r % 20_001) as f32 / 10_000.0 - 1.0,
                1 => {
                    let f = f32::from_bits(r as u32);
                    if f.is_finite() { f } else { 0.0 }
                }
                _ => 0.0,
            }
        })
        .collect();
    let mut blocks = vec![BlockQ8K::ZERO; count];
    q4k::quantize_q8k(&values, &mut blocks).unwrap();
    for (i, block) in blocks.iter_mut().enumerate() {
        // Every third block (shifted by the seed) is raw bytes instead.
        if (i as u64).wrapping_add(seed).is_multiple_of(3) {
            let bytes: [u8; 292] = raw[292 * i..292 * (i + 1)].try_into().unwrap();
            *block = BlockQ8K::from_bytes(bytes);
        }
    }
    blocks
}

/// Weight bytes: realistic blocks, or any bytes (f16 NaN, infinities, subnormals), by seed.
fn weights(seed: u64, blocks: usize) -> Vec<u8> {
    if seed.is_multiple_of(2) {
        realistic_blocks(seed, blocks)
    } else {
        pseudo_random_bytes(seed, blocks * BLOCK_BYTES)
    }
}

/// Every available kernel, on a `rows` x `cols` matrix: `matvec_q8k_with` and `dot_q8k_with`
/// give the reference's bits for every row.
fn check_every_kernel(seed: u64, rows: usize, cols: usize) -> Result<(), String> {
    let w = weights(seed, rows * cols);
    let a = activations(seed, cols);
    let want: Vec<f32> = (0..rows)
        .map(|r| reference_dot(&w[r * cols * BLOCK_BYTES..(r + 1) * cols * BLOCK_BYTES], &a))
        .collect();
    let kernels = if cfg!(miri) {
        vec![Kernel::Scalar]
    } else {
        Kernel::ALL
            .iter()
            .copied()
            .filter(|k| k.is_available())
            .collect()
    };
    for &kernel in &kernels {
        let mut got = vec![f32::from_bits(0x7FA5_A5A5); rows];
        q4k::matvec_q8k_with(kernel, &w, &a, &mut got).map_err(|e| e.to_string())?;
        for (r, (&g, &x)) in got.iter().zip(&want).enumerate() {
            if !same(g, x) {
                return Err(format!(
                    "{kernel} matvec seed {seed} {rows}x{cols} row {r}: got {g:e} ({:#010x}) want {x:e} ({:#010x})",
                    g.to_bits(),
                    x.to_bits()
                ));
            }
            let row = &w[r * cols * BLOCK_BYTES..(r + 1) * cols * BLOCK_BYTES];
            let d = q4k::dot_q8k_with(kernel, row, &a).map_err(|e| e.to_string())?;
            if !same(d, x) {
                return Err(format!(
                    "{kernel} dot seed {seed} {rows}x{cols} row {r}: {d:e} vs {x:e}"
                ));
            }
        }
    }
    Ok(())
}

#[test]
#[cfg_attr(
    miri,
    ignore = "SIMD kernels and quickcheck are too slow or unsupported under Miri"
)]
fn every_kernel_matches_the_reference_bit_for_bit() {
    dot_kernels("every_kernel_matches_the_reference_bit_for_bit");
    fn property(seed: u64, rows: u8, cols: u8) -> TestResult {
        // 0..=8 rows; 0..=69 blocks per row, across the 64-block preparation chunk.
        match check_every_kernel(seed, usize::from(rows % 9), usize::from(cols % 70)) {
            Ok(()) => TestResult::passed(),
            Err(e) => TestResult::error(e),
        }
    }
    common::check(
        "every_kernel_matches_the_reference_bit_for_bit",
        property as fn(u64, u8, u8) -> TestResult,
    );
}

#[test]
#[cfg_attr(miri, ignore = "SIMD kernels are not supported under Miri")]
fn edge_shapes_on_every_kernel() {
    dot_kernels("edge_shapes_on_every_kernel");
    for (rows, cols) in [
        (0, 0),
        (3, 0),
        (0, 5),
        (1, 1),
        (1, 64),
        (2, 65),
        (1, 129),
        (40, 2),
    ] {
        for seed in 0..6 {
            check_every_kernel(seed, rows, cols).unwrap();
        }
    }
}

/// Rows longer than the 64-block preparation chunk, which the SIMD kernels run in groups of
/// 32 rows sharing each prepared chunk, with finite results only (the shapes above mostly end
/// in NaN on rows this long, which would hide a wrong block).
#[test]
#[cfg_attr(miri, ignore = "SIMD kernels are not supported under Miri")]
fn long_rows_on_every_kernel() {
    let kernels = dot_kernels("long_rows_on_every_kernel");
    for (rows, cols) in [(1, 129), (32, 66), (33, 65), (65, 129), (3, 200)] {
        for seed in 0..3u64 {
            let w = common::realistic_blocks(seed, rows * cols);
            let values: Vec<f32> = common::pseudo_random_bytes(seed ^ 0x5A, cols * 256 * 4)
                .chunks_exact(4)
                .map(|c| {
                    (u32::from_le_bytes(c.try_into().unwrap()) % 20_001) as f32 / 10_000.0 - 1.0
                })
                .collect();
            let mut a = vec![BlockQ8K::ZERO; cols];
            q4k::quantize_q8k(&values, &mut a).unwrap();
            let want: Vec<f32> = w
                .chunks_exact(cols * BLOCK_BYTES)
                .map(|row| reference_dot(row, &a))
                .collect();
            assert!(want.iter().all(|x| x.is_finite()), "{want:?}");
            for &kernel in &kernels {
                let mut got = vec![f32::NAN; rows];
                q4k::matvec_q8k_with(kernel, &w, &a, &mut got).unwrap();
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "{kernel} {rows} x {cols}, seed {seed}"
                );
            }
        }
    }
}

#[test]
fn scalar_matches_the_reference() {
    // The scalar kernel alone, small enough for Miri.
    for seed in 0..4 {
        let (rows, cols) = (2, 3);
        let w = weights(seed, rows * cols);
        let a = activations(seed, cols);
        let mut got = [0f32; 2];
        q4k::matvec_q8k_with(Kernel::Scalar, &w, &a, &mut got).unwrap();
        for r in 0..rows {
            let want = reference_dot(&w[r * cols * BLOCK_BYTES..(r + 1) * cols * BLOCK_BYTES], &a);
            assert!(same(got[r], want), "seed {seed} row {r}");
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "SIMD kernels are not supported under Miri")]
fn extreme_values_stay_exact_in_the_lanes() {
    // Every quant 15, every scale and min 63, every activation -128: the largest lane sums
    // (4 * 8 * 15 * 63 * 128 in magnitude, still below 2^24) and block sums of -2048.
    let mut block = [0xFFu8; BLOCK_BYTES];
    block[0..2].copy_from_slice(&0x3C00u16.to_le_bytes());
    block[2..4].copy_from_slice(&0x3C00u16.to_le_bytes());
    let a = [BlockQ8K::new(1.0, [-128; 256], [-2048; 16])];
    let want = reference_dot(&block, &a);
    assert_eq!(want, -(256.0 * 15.0 * 63.0 * 128.0) + 16.0 * 2048.0 * 63.0);
    for kernel in dot_kernels("extreme_values_stay_exact_in_the_lanes") {
        assert_eq!(
            q4k::dot_q8k_with(kernel, &block, &a).unwrap().to_bits(),
            want.to_bits()
        );
    }
}

#[test]
#[cfg_attr(miri, ignore = "SIMD kernels are not supported under Miri")]
fn sub_block_sums_at_the_edge_of_16_bits() {
    // The x86 SIMD kernels add each pair of block sums into one 16-bit sub-block sum when every
    // pair of the block fits, and use the sixteen sums otherwise. Pairs at both edges of 16
    // bits (32767 and -32768 fit, 32768 does not), with every min 63.
    let fits: [i16; 16] = [
        16383, 16384, -16384, -16384, 32767, 0, -32768, 0, 0, 32767, 0, -32768, 100, -100, 2048,
        -2048,
    ];
    // (Overflows of both signs would cancel in a wrapped sum, the mins being equal.)
    let overflows: [i16; 16] = [
        16384, 16384, -16384, -16384, 32767, 1, -32768, 0, 1, 32767, 0, 0, 0, 0, 0, 0,
    ];
    let quants = pseudo_random_bytes(7, 4 * 256);
    let block = |k: usize, bsums: [i16; 16]| {
        let qs: [i8; 256] = core::array::from_fn(|i| quants[256 * k + i] as i8);
        BlockQ8K::new(0.5 + k as f32, qs, bsums)
    };
    let mut reversed = fits;
    reversed.reverse();
    let all_fit = [
        block(0, fits),
        block(1, [0; 16]),
        block(2, reversed),
        block(3, core::array::from_fn(|k| fits[k ^ 1])),
    ];
    let mut one_overflows = all_fit;
    one_overflows[2] = block(2, overflows);
    let mut weights = realistic_blocks(11, 4);
    for x in weights.chunks_exact_mut(BLOCK_BYTES) {
        x[4..16].fill(0xFF);
    }
    for (name, a) in [("all fit", all_fit), ("one overflows", one_overflows)] {
        let want = reference_dot(&weights, &a);
        assert!(want.is_finite(), "{name}: {want}");
        for kernel in dot_kernels("sub_block_sums_at_the_edge_of_16_bits") {
            let got = q4k::dot_q8k_with(kernel, &weights, &a).unwrap();
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{kernel}, {name}: {got} vs {want}"
            );
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "the best kernel is a SIMD one")]
fn the_default_entry_points_match_their_with_forms() {
    let w = weights(7, 6 * 3);
    let a = activations(7, 3);
    let mut best = [0f32; 6];
    let mut with = [0f32; 6];
    q4k::matvec_q8k(&w, &a, &mut best).unwrap();
    q4k::matvec_q8k_with(Kernel::best(), &w, &a, &mut with).unwrap();
    assert_eq!(best.map(f32::to_bits), with.map(f32::to_bits));
    for (r, &y) in best.iter().enumerate() {
        let row = &w[r * 3 * BLOCK_BYTES..(r + 1) * 3 * BLOCK_BYTES];
        assert!(same(q4k::dot_q8k(row, &a).unwrap(), y));
    }
}

#[test]
fn length_errors_name_both_lengths_and_leave_the_output_untouched() {
    let a = activations(1, 2);
    let row = 2 * BLOCK_BYTES;
    let w = vec![0u8; 5 * row + 1];
    for kernel in core::iter::once(None).chain(Kernel::ALL.iter().copied().map(Some)) {
        let matvec = |w: &[u8], a: &[BlockQ8K], out: &mut [f32]| match kernel {
            None => q4k::matvec_q8k(w, a, out),
            Some(k) => q4k::matvec_q8k_with(k, w, a, out),
        };
        let dot = |w: &[u8], a: &[BlockQ8K]| match kernel {
            None => q4k::dot_q8k(w, a),
            Some(k) => q4k::dot_q8k_with(k, w, a),
        };
        // (weight bytes, output length): not whole rows, or whole rows of the wrong count.
        let cases = [
            (5 * row + 1, 5),
            (5 * row - 1, 5),
            (BLOCK_BYTES, 1),
            (5 * row, 4),
            (5 * row, 6),
            (0, 1),
        ];
        for (len, rows) in cases {
            let want = Error::WeightsLength {
                len,
                rows,
                row_bytes: row,
            };
            let mut out = vec![f32::from_bits(0x7FA5_A5A5); rows];
            assert_eq!(
                matvec(&w[..len], &a, &mut out),
                Err(want),
                "{kernel:?} {len} {rows}"
            );
            assert!(out.iter().all(|v| v.to_bits() == 0x7FA5_A5A5));
            let message = want.to_string();
            assert!(
                message.contains(&len.to_string())
                    && message.contains(&rows.to_string())
                    && message.contains(&row.to_string()),
                "{message}"
            );
        }
        // No activations: the weights must be empty too.
        let mut out = [1.0f32; 3];
        assert_eq!(
            matvec(&w[..1], &[], &mut out),
            Err(Error::WeightsLength {
                len: 1,
                rows: 3,
                row_bytes: 0
            })
        );
        assert_eq!(out, [1.0; 3]);
        for len in [0, row - 1, row + 1, 2 * row] {
            assert_eq!(
                dot(&w[..len], &a),
                Err(Error::WeightsLength {
                    len,
                    rows: 1,
                    row_bytes: row
                })
            );
        }
    }
    for kernel in unavailable_kernels() {
        let mut out = [1.0f32; 5];
        assert_eq!(
            q4k::matvec_q8k_with(kernel, &w[..5 * row], &a, &mut out),
            Err(Error::KernelUnavailable { kernel })
        );
        assert_eq!(out, [1.0; 5]);
    }
}

#[test]
#[cfg_attr(miri, ignore = "SIMD kernels are not supported under Miri")]
fn no_activations_give_zeros() {
    for kernel in dot_kernels("no_activations_give_zeros") {
        let mut out = [f32::NAN; 4];
        q4k::matvec_q8k_with(kernel, &[], &[], &mut out).unwrap();
        assert_eq!(out.map(f32::to_bits), [0; 4]);
        assert_eq!(q4k::dot_q8k_with(kernel, &[], &[]).unwrap().to_bits(), 0);
    }
}

#[test]
fn quantize_rejects_bad_lengths_and_non_finite_input_untouched() {
    let sentinel = BlockQ8K::new(3.0, [7; 256], [112; 16]);
    let mut out = [sentinel; 2];
    let input = vec![0.5f32; 768];
    for len in [0, 1, 255, 256, 511, 513, 768] {
        assert_eq!(
            q4k::quantize_q8k(&input[..len], &mut out),
            Err(Error::QuantizeLength {
                expected: 512,
                actual: len
            })
        );
        assert!(out.iter().all(|b| b.to_bytes() == sentinel.to_bytes()));
    }
    let mut input = vec![0.5f32; 512];
    for (index, bad) in [
        (0, f32::NAN),
        (300, f32::INFINITY),
        (511, f32::NEG_INFINITY),
        (17, -f32::NAN),
    ] {
        input[index] = bad;
        input[511] = if index == 511 { bad } else { f32::NAN };
        let first = index.min(511);
        assert_eq!(
            q4k::quantize_q8k(&input, &mut out),
            Err(Error::NonFinite { index: first })
        );
        assert!(out.iter().all(|b| b.to_bytes() == sentinel.to_bytes()));
        input[index] = 0.5;
        input[511] = 0.5;
    }
    q4k::quantize_q8k(&input, &mut out).unwrap();
    assert!(out.iter().all(|b| b.quants().iter().all(|&q| q == -127)));
}

#[test]
fn quantize_zero_blocks_have_zero_sums() {
    let mut out = [BlockQ8K::new(1.0, [1; 256], [16; 16])];
    let mut input = [0.0f32; 256];
    input[9] = -0.0;
    q4k::quantize_q8k(&input, &mut out).unwrap();
    assert_eq!(out[0].to_bytes(), BlockQ8K::ZERO.to_bytes());
}

#[cfg(feature = "parallel")]
mod parallel {
    use super::*;
    use common::pool;

    #[test]
    #[cfg_attr(miri, ignore = "too large for Miri")]
    fn parallel_matches_serial() {
        let threshold_rows = q4k::MATVEC_PARALLEL_THRESHOLD_BYTES / (16 * BLOCK_BYTES);
        for kernel in dot_kernels("parallel_matches_serial") {
            for (rows, cols) in [
                (threshold_rows - 1, 16),
                (threshold_rows + 3, 16),
                (3 * threshold_rows, 16),
                (40, 70),
                (2000, 5),
                // Long rows (multiplied eight side by side on x86) past the threshold, in tasks
                // of whole groups of eight and a shorter last one.
                (150, 64),
            ] {
                let w = weights(rows as u64, rows * cols);
                let a = activations(rows as u64, cols);
                let mut serial = vec![0f32; rows];
                q4k::matvec_q8k_with(kernel, &w, &a, &mut serial).unwrap();
                for threads in [1, 2, 3] {
                    let mut par = vec![f32::NAN; rows];
                    pool(threads)
                        .install(|| q4k::matvec_q8k_parallel_with(kernel, &w, &a, &mut par))
                        .unwrap();
                    assert!(
                        serial.iter().zip(&par).all(|(s, p)| same(*s, *p)),
                        "{kernel} {rows}x{cols} {threads} threads"
                    );
                }
                let mut par = vec![f32::NAN; rows];
                if kernel == Kernel::best() {
                    q4k::matvec_q8k_parallel(&w, &a, &mut par).unwrap();
                    assert!(serial.iter().zip(&par).all(|(s, p)| same(*s, *p)));
                }
            }
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "too large for Miri")]
    fn parallel_errors_leave_the_output_untouched() {
        let a = activations(2, 16);
        let w = vec![0u8; 1000 * 16 * BLOCK_BYTES];
        let mut out = vec![2.0f32; 999];
        assert_eq!(
            q4k::matvec_q8k_parallel(&w, &a, &mut out),
            Err(Error::WeightsLength {
                len: w.len(),
                rows: 999,
                row_bytes: 16 * BLOCK_BYTES
            })
        );
        assert_eq!(
            q4k::matvec_q8k_parallel(&w[1..], &a, &mut out),
            Err(Error::WeightsLength {
                len: w.len() - 1,
                rows: 999,
                row_bytes: 16 * BLOCK_BYTES
            })
        );
        for kernel in unavailable_kernels() {
            let mut out = vec![2.0f32; 1000];
            assert_eq!(
                q4k::matvec_q8k_parallel_with(kernel, &w, &a, &mut out),
                Err(Error::KernelUnavailable { kernel })
            );
            assert!(out.iter().all(|&v| v == 2.0));
        }
        assert!(out.iter().all(|&v| v == 2.0));
    }
}

#[cfg(feature = "bytemuck")]
#[test]
fn bytemuck_views_q8k_blocks_like_q8k_blocks() {
    let blocks = activations(3, 4);
    let bytes: &[u8] = bytemuck::cast_slice(&blocks);
    assert_eq!(bytes, q4k::q8k_as_bytes(&blocks));
    let back: &[BlockQ8K] = bytemuck::cast_slice(bytes);
    assert_eq!(q4k::q8k_as_bytes(back), q4k::q8k_as_bytes(&blocks));
    let zero: BlockQ8K = bytemuck::Zeroable::zeroed();
    assert_eq!(zero.to_bytes(), BlockQ8K::ZERO.to_bytes());
}

#[cfg(feature = "zerocopy")]
#[test]
fn zerocopy_views_q8k_blocks_like_q8k_blocks() {
    use zerocopy::{FromBytes, IntoBytes};
    let blocks = activations(5, 3);
    let bytes = blocks.as_bytes();
    assert_eq!(bytes, q4k::q8k_as_bytes(&blocks));
    let view = <[BlockQ8K]>::ref_from_bytes(bytes).unwrap();
    assert_eq!(q4k::q8k_as_bytes(view), bytes);
    // Aligned to 4 like the `f32` inside, as `q8k_blocks` requires.
    let shifted = [&[0u8; 4][..], bytes].concat();
    let start = shifted.as_ptr().align_offset(4);
    let misaligned = &shifted[start + 1..start + 1 + 292];
    assert!(<[BlockQ8K]>::ref_from_bytes(misaligned).is_err());
    assert!(q4k::q8k_blocks(misaligned).is_err());
}
