//! The Q8_K entry points: `quantize_q8k`, `dot_q8k(_with)`, `matvec_q8k(_with)` and
//! `matvec_q8k_parallel(_with)` (every kernel, available or not; a three-thread pool, with
//! matrices large enough to be split). Lengths near and off the valid ones; results compared
//! bit for bit with the scalar kernel, outputs checked untouched on error. A matrix large enough
//! to be split (over `MATVEC_PARALLEL_THRESHOLD_BYTES`) is compared with the same kernel's
//! serial product instead, which the small cases compare with the scalar kernel: the scalar
//! kernel under the fuzzer's instrumentation takes tens of milliseconds over a megabyte, and
//! the target ran about a dozen inputs a second when every large case went through it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use q4k::{BLOCK_BYTES, BlockQ8K, Error, Kernel};
use q4k_fuzz::{Reader, SENTINEL};
use rayon::{ThreadPool, ThreadPoolBuilder};

fn pool() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("pool")
    })
}

/// `len` bytes: the pattern repeated (zeros if it is empty).
fn repeat(pattern: &[u8], len: usize) -> Vec<u8> {
    if pattern.is_empty() {
        return vec![0; len];
    }
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        let n = pattern.len().min(len - bytes.len());
        bytes.extend_from_slice(&pattern[..n]);
    }
    bytes
}

fn same(got: f32, want: f32) -> bool {
    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
}

/// A small signed change of a length: -2..=2, or 0 for most cases.
fn delta(byte: u8) -> isize {
    if byte < 0xC0 {
        0
    } else {
        isize::from(byte % 5) - 2
    }
}

fn quantize(reader: &mut Reader<'_>) {
    let blocks = usize::from(reader.u8() % 4);
    let len = (256 * blocks).saturating_add_signed(delta(reader.u8()));
    let floats: Vec<f32> = repeat(reader.rest(), 4 * len)
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let sentinel = BlockQ8K::new(f32::from_bits(SENTINEL), [0x5A; 256], [0x5A5A; 16]);
    let mut out = vec![sentinel; blocks];
    let result = q4k::quantize_q8k(&floats, &mut out);
    let expected = if floats.len() != 256 * blocks {
        Err(Error::QuantizeLength {
            expected: 256 * blocks,
            actual: floats.len(),
        })
    } else if let Some(index) = floats.iter().position(|x| !x.is_finite()) {
        Err(Error::NonFinite { index })
    } else {
        Ok(())
    };
    assert_eq!(result, expected);
    if result.is_err() {
        assert!(out.iter().all(|b| b.to_bytes() == sentinel.to_bytes()));
        return;
    }
    for (block, x) in out.iter().zip(floats.chunks_exact(256)) {
        let sum: i32 = block.quants().iter().map(|&q| i32::from(q)).sum();
        let bsum: i32 = block.block_sums().iter().map(|&s| i32::from(s)).sum();
        assert_eq!(sum, bsum, "block sums add up to the quants");
        let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
        if amax == 0.0 {
            assert_eq!(block.to_bytes(), BlockQ8K::ZERO.to_bytes());
        } else {
            assert!(block.quants().iter().all(|&q| q != -128));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let entry = reader.u8();
    if entry % 4 == 3 {
        quantize(&mut reader);
        return;
    }
    let kernel = reader.kernel();
    let cols = usize::from(reader.u8() % 6);
    // The parallel entry point, on a matrix at or just past the size where it splits the rows,
    // with a SIMD kernel (the split is the same for every kernel, and the scalar one is slow).
    let large = entry % 4 == 1 && entry & 0x80 != 0 && cols > 0 && kernel != Kernel::Scalar;
    let rows = if large {
        let threshold_blocks = q4k::MATVEC_PARALLEL_THRESHOLD_BYTES.div_ceil(BLOCK_BYTES);
        threshold_blocks.div_ceil(cols) + usize::from(reader.u8() % 32)
    } else {
        usize::from(reader.u8() % 8)
    };
    let weight_delta = delta(reader.u8());
    let rows_delta = delta(reader.u8());
    let act_len = usize::from(reader.u8()) * 8;
    let act_pattern = reader.take(act_len);
    let activations: Vec<BlockQ8K> = repeat(act_pattern, cols * 292)
        .chunks_exact(292)
        .map(|c| BlockQ8K::from_bytes(c.try_into().unwrap()))
        .collect();
    let weights = repeat(
        reader.rest(),
        (rows * cols * BLOCK_BYTES).saturating_add_signed(weight_delta),
    );
    let out_len = rows.saturating_add_signed(rows_delta);
    let row_bytes = cols * BLOCK_BYTES;
    let length_error =
        (Some(weights.len()) != row_bytes.checked_mul(out_len)).then_some(Error::WeightsLength {
            len: weights.len(),
            rows: out_len,
            row_bytes,
        });
    let mut out = vec![f32::from_bits(SENTINEL); out_len];
    let result = match entry % 4 {
        0 => q4k::matvec_q8k_with(kernel, &weights, &activations, &mut out),
        1 => pool()
            .install(|| q4k::matvec_q8k_parallel_with(kernel, &weights, &activations, &mut out)),
        _ => match q4k::dot_q8k_with(kernel, &weights, &activations) {
            Ok(y) => {
                assert_eq!(weights.len(), row_bytes);
                let want = q4k::dot_q8k_with(Kernel::Scalar, &weights, &activations).unwrap();
                assert!(same(y, want), "{kernel} dot: {y:e} vs {want:e}");
                return;
            }
            Err(e) => {
                if weights.len() != row_bytes {
                    assert_eq!(
                        e,
                        Error::WeightsLength {
                            len: weights.len(),
                            rows: 1,
                            row_bytes
                        }
                    );
                } else {
                    assert_eq!(e, Error::KernelUnavailable { kernel });
                }
                return;
            }
        },
    };
    let expected = match length_error {
        Some(e) => Err(e),
        None if !kernel.is_available() => Err(Error::KernelUnavailable { kernel }),
        None => Ok(()),
    };
    assert_eq!(result, expected, "{kernel} {rows}x{cols}");
    if result.is_err() {
        assert!(out.iter().all(|v| v.to_bits() == SENTINEL));
        return;
    }
    let mut want = vec![0f32; out_len];
    let reference = if large { kernel } else { Kernel::Scalar };
    q4k::matvec_q8k_with(reference, &weights, &activations, &mut want).unwrap();
    for (r, (&g, &w)) in out.iter().zip(&want).enumerate() {
        assert!(same(g, w), "{kernel} row {r}: {g:e} vs {w:e}");
    }
});
