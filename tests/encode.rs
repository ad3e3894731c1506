//! Encoding: the argument checks, every kernel against the scalar kernel on random finite
//! input (quickcheck), f16 and bf16 input against their widened `f32`, and what decoding the
//! bytes gives back.
//!
//! Case count: `Q4K_QUICKCHECK_TESTS`, else `QUICKCHECK_TESTS`, else 200.

mod common;

use common::{available_kernels, check, kernels_here};
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Encoder, Error, Kernel};
use quickcheck::{Arbitrary, Gen};

fn below(g: &mut Gen, n: usize) -> usize {
    (u32::arbitrary(g) as usize) % n
}

/// A uniform value in [-1, 1).
fn unit(g: &mut Gen) -> f32 {
    (u32::arbitrary(g) >> 8) as f32 / (1 << 23) as f32 * 2.0 - 1.0
}

/// A power of ten from 1e-45 to 1e38, biased to the ordinary range.
fn magnitude(g: &mut Gen) -> f32 {
    let exponent = match below(g, 3) {
        0 => below(g, 84) as i32 - 45,
        _ => below(g, 9) as i32 - 6,
    };
    10f64.powi(exponent) as f32
}

/// A finite f32 from random bits (the exponent kept below all-ones).
fn finite_bits(g: &mut Gen) -> f32 {
    let bits = u32::arbitrary(g);
    let v = f32::from_bits(bits);
    if v.is_finite() {
        v
    } else {
        f32::from_bits(bits & 0xFF7F_FFFF)
    }
}

/// One block of 256 finite values from a mix of generators: noise at any magnitude (tiny,
/// subnormal, huge enough that the sums overflow), outliers, constants (zero, negative zero,
/// per sub-block), all positive or all negative, integers and half-integers (ties of the
/// rounding), sparse, and random bit patterns.
#[derive(Clone, Debug)]
struct AnyBlock(Vec<f32>);

impl Arbitrary for AnyBlock {
    fn arbitrary(g: &mut Gen) -> Self {
        let scale = magnitude(g);
        let v: Vec<f32> = match below(g, 10) {
            0 => (0..BLOCK_VALUES).map(|_| unit(g) * scale).collect(),
            1 => (0..BLOCK_VALUES)
                .map(|_| {
                    let outlier = if below(g, 32) == 0 { 40.0 } else { 1.0 };
                    unit(g) * unit(g) * scale * outlier
                })
                .collect(),
            2 => {
                let c = *g
                    .choose(&[0.0, -0.0, 1.0, -3.5, scale, -scale])
                    .unwrap_or(&0.0);
                vec![c; BLOCK_VALUES]
            }
            3 => {
                let per: Vec<f32> = (0..8).map(|_| unit(g) * scale).collect();
                (0..BLOCK_VALUES).map(|i| per[i / 32]).collect()
            }
            4 => (0..BLOCK_VALUES).map(|_| unit(g).abs() * scale).collect(),
            5 => (0..BLOCK_VALUES).map(|_| -unit(g).abs() * scale).collect(),
            6 => {
                let step = scale;
                let half = if bool::arbitrary(g) { 0.5 } else { 0.0 };
                (0..BLOCK_VALUES)
                    .map(|_| (below(g, 16) as f32 - 4.0 + half) * step)
                    .collect()
            }
            7 => (0..BLOCK_VALUES)
                .map(|_| {
                    if below(g, 10) == 0 {
                        unit(g) * scale
                    } else {
                        0.0
                    }
                })
                .collect(),
            8 => (0..BLOCK_VALUES).map(|_| finite_bits(g)).collect(),
            _ => (0..BLOCK_VALUES)
                .map(|_| match below(g, 4) {
                    0 => 0.0,
                    1 => -0.0,
                    2 => f32::from_bits(below(g, 8) as u32), // subnormals
                    _ => unit(g) * magnitude(g),
                })
                .collect(),
        };
        // Products of huge values can overflow: keep them at the largest finite magnitude.
        AnyBlock(
            v.into_iter()
                .map(|v| {
                    if v.is_finite() {
                        v
                    } else {
                        f32::MAX.copysign(v)
                    }
                })
                .collect(),
        )
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        // Simpler blocks: zeros in one half, or every value rounded to a small integer.
        let mut candidates = Vec::new();
        for half in [0..128, 128..256] {
            if self.0[half.clone()].iter().any(|&v| v != 0.0) {
                let mut b = self.0.clone();
                b[half].fill(0.0);
                candidates.push(AnyBlock(b));
            }
        }
        Box::new(candidates.into_iter())
    }
}

/// 1..=5 blocks (odd counts leave the widest kernels a half-filled vector).
#[derive(Clone, Debug)]
struct Values(Vec<f32>);

impl Arbitrary for Values {
    fn arbitrary(g: &mut Gen) -> Self {
        let count = 1 + below(g, 5);
        Values((0..count).flat_map(|_| AnyBlock::arbitrary(g).0).collect())
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let blocks: Vec<Vec<f32>> = self.0.chunks(BLOCK_VALUES).map(<[f32]>::to_vec).collect();
        let mut smaller = Vec::new();
        for i in 0..blocks.len() {
            if blocks.len() > 1 {
                let mut b = blocks.clone();
                b.remove(i);
                smaller.push(Values(b.concat()));
            }
            for simpler in AnyBlock(blocks[i].clone()).shrink() {
                let mut b = blocks.clone();
                b[i] = simpler.0;
                smaller.push(Values(b.concat()));
            }
        }
        Box::new(smaller.into_iter())
    }
}

fn encoded(kernel: Kernel, x: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; x.len() / BLOCK_VALUES * BLOCK_BYTES];
    Encoder::new()
        .kernel(kernel)
        .encode(x, &mut out)
        .unwrap_or_else(|e| panic!("{kernel}: {e}"));
    out
}

/// The first block whose bytes differ, if any.
fn first_block_difference(got: &[u8], want: &[u8]) -> Option<usize> {
    got.chunks(BLOCK_BYTES)
        .zip(want.chunks(BLOCK_BYTES))
        .position(|(g, w)| g != w)
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot execute SIMD intrinsics; too slow for the search"
)]
fn test_imp_001_every_kernel_matches_scalar() {
    available_kernels("every_kernel_matches_scalar");
    check(
        "every_kernel_matches_scalar",
        (|x: Values| {
            let want = encoded(Kernel::Scalar, &x.0);
            kernels_here().into_iter().all(|kernel| {
                let got = encoded(kernel, &x.0);
                match first_block_difference(&got, &want) {
                    None => true,
                    Some(b) => {
                        eprintln!("{kernel}: block {b} differs from the scalar kernel");
                        false
                    }
                }
            })
        }) as fn(Values) -> bool,
    );
}

/// Every kernel on a fixed set of blocks that reach the C's corner cases, two at a time and
/// alone: all zeros, a zero sub-block next to ordinary ones, values whose sums overflow to
/// infinity, scales that round to f16 zero or infinity, subnormals.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
fn test_imp_001_corner_blocks_every_kernel() {
    let kernels = available_kernels("corner_blocks_every_kernel");
    let ramp = |scale: f32| -> Vec<f32> {
        (0..BLOCK_VALUES)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * scale)
            .collect()
    };
    let mut blocks: Vec<Vec<f32>> = vec![
        vec![0.0; 256],
        vec![-0.0; 256],
        vec![7.0; 256],
        vec![-7.0; 256],
        ramp(1.0),
        ramp(1e-7),
        ramp(1e-30),
        ramp(1e17),
        ramp(1e19),
        ramp(3e36),
        (0..256).map(|i| f32::from_bits(i as u32 % 5)).collect(),
        (0..256)
            .map(|i| if i < 32 { 0.0 } else { ramp(1.0)[i] })
            .collect(),
        (0..256)
            .map(|i| if i % 32 == 5 { 1e6 } else { 0.001 })
            .collect(),
        (0..256)
            .map(|i| [f32::MAX, -f32::MAX, 0.0][i % 3])
            .collect(),
    ];
    // Each block also next to an ordinary one, so the widest kernels see it in either half.
    let mut values: Vec<f32> = Vec::new();
    for b in &blocks {
        values.extend(b);
        values.extend(ramp(0.25));
        values.extend(b);
    }
    blocks.clear();
    let want = encoded(Kernel::Scalar, &values);
    for kernel in kernels {
        let got = encoded(kernel, &values);
        assert_eq!(
            first_block_difference(&got, &want),
            None,
            "{kernel} differs from the scalar kernel"
        );
        // One block at a time as well.
        for (x, w) in values.chunks(256).zip(want.chunks(144)) {
            assert_eq!(encoded(kernel, x), w, "{kernel}, one block alone");
        }
    }
}

/// f16 input gives the bytes of its exact `f32` widening, with every kernel; so does bf16.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
fn test_imp_001_f16_and_bf16_inputs_encode_as_widened() {
    available_kernels("f16_and_bf16_inputs_encode_as_widened");
    check(
        "f16_and_bf16_inputs_encode_as_widened",
        (|seed: u64, count: u8| {
            let count = 1 + usize::from(count % 5);
            let mut state = seed;
            let mut next = || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 48) as u16
            };
            let halves: Vec<u16> = (0..count * BLOCK_VALUES)
                .map(|_| {
                    let h = next();
                    if h & 0x7C00 == 0x7C00 { h & 0xBFFF } else { h }
                })
                .collect();
            let brains: Vec<u16> = (0..count * BLOCK_VALUES)
                .map(|_| {
                    let b = next();
                    if b & 0x7F80 == 0x7F80 { b & 0xBFFF } else { b }
                })
                .collect();
            let half_f32: Vec<f32> = halves.iter().map(|&h| q4k::f16_to_f32(h)).collect();
            let brain_f32: Vec<f32> = brains
                .iter()
                .map(|&b| f32::from_bits(u32::from(b) << 16))
                .collect();
            let want_half = encoded(Kernel::Scalar, &half_f32);
            let want_brain = encoded(Kernel::Scalar, &brain_f32);
            kernels_here().into_iter().all(|kernel| {
                let encoder = Encoder::new().kernel(kernel);
                let mut got = vec![0u8; count * BLOCK_BYTES];
                encoder.encode_f16(&halves, &mut got).is_ok()
                    && got == want_half
                    && encoder.encode_bf16(&brains, &mut got).is_ok()
                    && got == want_brain
            })
        }) as fn(u64, u8) -> bool,
    );
}

#[test]
fn test_imp_001_wrong_lengths_are_errors_and_leave_the_output() {
    for kernel in available_kernels("wrong_lengths") {
        let encoder = Encoder::new().kernel(kernel);
        for (values, bytes) in [
            (255, 144),
            (257, 144),
            (256, 143),
            (256, 145),
            (512, 144),
            (0, 1),
        ] {
            let x = vec![1.0f32; values];
            let mut out = vec![0xA5u8; bytes];
            let err = encoder.encode(&x, &mut out);
            assert_eq!(
                err,
                Err(Error::EncodeLength {
                    values,
                    output: bytes
                }),
                "{kernel}"
            );
            let message = err.unwrap_err().to_string();
            assert!(
                message.contains(&values.to_string()) && message.contains(&bytes.to_string()),
                "{message}"
            );
            assert!(out.iter().all(|&b| b == 0xA5), "{kernel}: output written");
            let halves = vec![0x3C00u16; values];
            assert!(encoder.encode_f16(&halves, &mut out).is_err());
            assert!(encoder.encode_bf16(&halves, &mut out).is_err());
            assert!(out.iter().all(|&b| b == 0xA5), "{kernel}: output written");
        }
        // Empty in, empty out is fine.
        assert_eq!(encoder.encode(&[], &mut []), Ok(()));
    }
}

#[test]
fn test_imp_001_non_finite_values_are_errors_and_leave_the_output() {
    for kernel in available_kernels("non_finite") {
        let encoder = Encoder::new().kernel(kernel);
        for bad in [0usize, 1, 255, 256, 700, 1023] {
            for value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut x: Vec<f32> = (0..1024).map(|i| i as f32 * 0.01).collect();
                x[bad] = value;
                x[1023.min(bad + 3)] = f32::NAN;
                let mut out = vec![0xA5u8; 4 * BLOCK_BYTES];
                let err = encoder.encode(&x, &mut out);
                assert_eq!(err, Err(Error::NonFinite { index: bad }), "{kernel}");
                assert!(err.unwrap_err().to_string().contains(&bad.to_string()));
                assert!(out.iter().all(|&b| b == 0xA5), "{kernel}: output written");
            }
            let mut halves = vec![0x3C00u16; 1024];
            halves[bad] = 0x7C00;
            let mut brains = vec![0x3F80u16; 1024];
            brains[bad] = 0xFFC1;
            let mut out = vec![0xA5u8; 4 * BLOCK_BYTES];
            assert_eq!(
                encoder.encode_f16(&halves, &mut out),
                Err(Error::NonFinite { index: bad })
            );
            assert_eq!(
                encoder.encode_bf16(&brains, &mut out),
                Err(Error::NonFinite { index: bad })
            );
            assert!(out.iter().all(|&b| b == 0xA5), "{kernel}: output written");
        }
    }
}

#[test]
fn test_imp_001_unavailable_kernels_are_errors() {
    for kernel in common::unavailable_kernels() {
        let x = [0.5f32; 256];
        let mut out = [0xA5u8; BLOCK_BYTES];
        assert_eq!(
            Encoder::new().kernel(kernel).encode(&x, &mut out),
            Err(Error::KernelUnavailable { kernel })
        );
        assert!(out.iter().all(|&b| b == 0xA5));
    }
}

/// Properties of the output that hold for the C's algorithm whatever the input: a constant
/// block that is zero or negative decodes exactly, and every value decodes to within
/// one quantization step plus the f16 rounding of its sub-block's range.
#[test]
#[cfg_attr(miri, ignore = "too slow under Miri")]
fn test_imp_001_constant_blocks_round_trip() {
    for c in [0.0f32, -0.0, -1.0, -0.125, -1000.0] {
        let x = vec![c; BLOCK_VALUES];
        let mut out = [0u8; BLOCK_BYTES];
        q4k::encode(&x, &mut out).unwrap();
        let mut back = [0f32; BLOCK_VALUES];
        q4k::decode(&out, &mut back).unwrap();
        // A constant c <= 0 is its own minimum: scale 0, dmin = f16(-c / 63), m = 63.
        let want = -(q4k::f16_to_f32(half_of(-c / 63.0)) * 63.0);
        assert!(
            back.iter().all(|&v| v == want),
            "{c}: decoded {} want {want}",
            back[0]
        );
    }
}

/// f32 to f16 bits, round to nearest even, for the values the test above needs (normal range).
fn half_of(v: f32) -> u16 {
    if v == 0.0 {
        return 0;
    }
    let bits = v.to_bits();
    let exponent = ((bits >> 23) & 0xFF) as i32 - 127 + 15;
    assert!((1..31).contains(&exponent), "{v} is not a normal f16");
    let mantissa = bits & 0x7F_FFFF;
    let mut h = ((exponent as u32) << 10) | (mantissa >> 13);
    let rest = mantissa & 0x1FFF;
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    h as u16
}

/// `encode_parallel` gives the bytes of `encode`, in pools of one and two threads, at block
/// counts around the task size; its errors are those of `encode`, with the output untouched.
#[cfg(feature = "parallel")]
#[test]
#[cfg_attr(miri, ignore = "too slow under Miri")]
fn test_imp_001_parallel_encode_matches_serial() {
    let kernel = Kernel::best();
    eprintln!("parallel_encode_matches_serial: kernel {kernel}");
    let pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool")
    };
    for blocks in [0usize, 1, 5, 16, 17, 33, 64, 203] {
        let x: Vec<f32> = (0..blocks * BLOCK_VALUES)
            .map(|i| ((i * 7919 % 1013) as f32 - 500.0) * 0.01)
            .collect();
        let want = encoded(kernel, &x);
        let halves: Vec<u16> = (0..blocks * BLOCK_VALUES)
            .map(|i| (i * 40_503 % 0x7C00) as u16)
            .collect();
        let mut want_half = vec![0u8; want.len()];
        q4k::encode_f16(&halves, &mut want_half).unwrap();
        for threads in [1, 2] {
            pool(threads).install(|| {
                let mut got = vec![0u8; want.len()];
                q4k::encode_parallel(&x, &mut got).unwrap();
                assert!(got == want, "{blocks} blocks, {threads} threads");
                Encoder::new()
                    .encode_f16_parallel(&halves, &mut got)
                    .unwrap();
                assert!(got == want_half, "f16, {blocks} blocks, {threads} threads");
                if blocks > 0 {
                    let mut bad = x.clone();
                    let index = bad.len() - 1;
                    bad[index] = f32::NAN;
                    let mut out = vec![0xA5u8; want.len()];
                    assert_eq!(
                        q4k::encode_parallel(&bad, &mut out),
                        Err(Error::NonFinite { index })
                    );
                    assert!(out.iter().all(|&b| b == 0xA5));
                    assert!(q4k::encode_parallel(&x, &mut out[1..]).is_err());
                }
            });
        }
    }
}

/// Every kernel reproduces llama.cpp's bytes (`quantize_row_q4_K_ref`, built without fused
/// multiply-adds) for every reference row, as `f32`, and as f16/bf16 where the row is exactly
/// representable in them.
#[test]
#[cfg_attr(miri, ignore = "too slow under Miri; see the scalar test below")]
fn test_imp_001_every_kernel_reproduces_llama_bytes() {
    let cases = common::llama::encode_cases();
    assert!(!cases.is_empty());
    for kernel in available_kernels("every_kernel_reproduces_llama_bytes") {
        let encoder = Encoder::new().kernel(kernel);
        let mut blocks = 0;
        for case in &cases {
            let mut got = vec![0xA5u8; case.expected.len()];
            encoder.encode(&case.input, &mut got).unwrap();
            if let Some(b) = first_block_difference(&got, &case.expected) {
                panic!(
                    "{kernel}: case {}: block {b} of {} differs from llama.cpp's",
                    case.name,
                    got.len() / BLOCK_BYTES
                );
            }
            blocks += got.len() / BLOCK_BYTES;
            let halves: Option<Vec<u16>> = case.input.iter().map(|&v| exact_f16(v)).collect();
            if let Some(halves) = halves {
                got.fill(0xA5);
                encoder.encode_f16(&halves, &mut got).unwrap();
                assert!(got == case.expected, "{kernel}: case {} as f16", case.name);
            }
            let brains: Option<Vec<u16>> = case
                .input
                .iter()
                .map(|&v| (v.to_bits() & 0xFFFF == 0).then_some((v.to_bits() >> 16) as u16))
                .collect();
            if let Some(brains) = brains {
                got.fill(0xA5);
                encoder.encode_bf16(&brains, &mut got).unwrap();
                assert!(got == case.expected, "{kernel}: case {} as bf16", case.name);
            }
        }
        eprintln!("{kernel}: {} cases, {blocks} blocks identical", cases.len());
    }
}

/// The scalar kernel alone on the first block of every case (of the first few under Miri).
#[test]
fn test_imp_001_scalar_kernel_reproduces_llama_bytes() {
    let cases = common::llama::encode_cases();
    let count = if cfg!(miri) { 3 } else { cases.len() };
    for case in &cases[..count] {
        let mut got = [0u8; BLOCK_BYTES];
        q4k::encode_with(Kernel::Scalar, &case.input[..BLOCK_VALUES], &mut got).unwrap();
        assert_eq!(got[..], case.expected[..BLOCK_BYTES], "case {}", case.name);
    }
}

/// Decoding what q4k encodes gives exactly llama.cpp's `dequantize_row_q4_K` of its own bytes:
/// the same reconstruction, value for value.
#[test]
#[cfg_attr(miri, ignore = "too slow under Miri")]
fn test_imp_001_decode_of_encode_is_llamas_reconstruction() {
    for case in common::llama::encode_cases() {
        let mut blocks = vec![0u8; case.expected.len()];
        q4k::encode(&case.input, &mut blocks).unwrap();
        let mut back = vec![0f32; case.input.len()];
        q4k::decode(&blocks, &mut back).unwrap();
        common::assert_same(&back, &case.decoded, &case.name);
    }
}

/// `v` as f16 bits if it is exactly representable (normal or zero), else `None`.
fn exact_f16(v: f32) -> Option<u16> {
    if v == 0.0 {
        return Some(if v.is_sign_negative() { 0x8000 } else { 0 });
    }
    let h = half_of_checked(v)?;
    (q4k::f16_to_f32(h).to_bits() == v.to_bits()).then_some(h)
}

fn half_of_checked(v: f32) -> Option<u16> {
    let bits = v.to_bits();
    let exponent = ((bits >> 23) & 0xFF) as i32 - 127 + 15;
    if !(1..31).contains(&exponent) || bits & 0x1FFF != 0 {
        return None;
    }
    let sign = ((bits >> 16) & 0x8000) as u16;
    Some(sign | ((exponent as u16) << 10) | ((bits >> 13) & 0x3FF) as u16)
}

/// Every kernel encodes (both encoders) on a thread with a 1 MiB stack, half of what std gives
/// a spawned thread: in an unoptimised build the SIMD search's frame grows with every variant
/// inlined into it, and once passed 2 MiB.
#[test]
fn encoders_fit_a_small_thread_stack() {
    let x: Vec<f32> = (0..2 * BLOCK_VALUES)
        .map(|i| (i as f32 * 0.37).sin())
        .collect();
    let importance = vec![1.0f32; BLOCK_VALUES];
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            for kernel in available_kernels("encoders_fit_a_small_thread_stack") {
                let mut out = [0u8; 2 * BLOCK_BYTES];
                q4k::encode_with(kernel, &x, &mut out).unwrap();
                q4k::encode_weighted_with(kernel, &x, &importance, &mut out).unwrap();
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

/// `encode_half` (and its `Encoder` and parallel forms) on `half` values: the bytes of `encode`
/// on the values `half` widens them to, for both types; a NaN is an error at its index, with
/// the output untouched.
#[cfg(feature = "half")]
#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
fn half_types_encode_as_their_widened_values() {
    const UNTOUCHED: u8 = 0xA5;
    let blocks = 40;
    let values: Vec<f32> = (0..blocks * BLOCK_VALUES)
        .map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 0.003 * (1.0 + (i / 256) as f32))
        .collect();
    let f16s: Vec<half::f16> = values.iter().map(|&v| half::f16::from_f32(v)).collect();
    let bf16s: Vec<half::bf16> = values.iter().map(|&v| half::bf16::from_f32(v)).collect();
    let widened_f16: Vec<f32> = f16s.iter().map(|h| h.to_f32()).collect();
    let widened_bf16: Vec<f32> = bf16s.iter().map(|h| h.to_f32()).collect();
    let len = blocks * BLOCK_BYTES;
    for (name, want, got) in [
        ("f16", &widened_f16, {
            let mut out = vec![UNTOUCHED; len];
            q4k::encode_half(&f16s, &mut out).unwrap();
            out
        }),
        ("bf16", &widened_bf16, {
            let mut out = vec![UNTOUCHED; len];
            Encoder::new().encode_half(&bf16s, &mut out).unwrap();
            out
        }),
    ] {
        let mut expected = vec![0u8; len];
        q4k::encode(want, &mut expected).unwrap();
        assert_eq!(got, expected, "{name}");
        #[cfg(feature = "parallel")]
        {
            let mut parallel = vec![UNTOUCHED; len];
            if name == "f16" {
                Encoder::new().encode_half_parallel(&f16s, &mut parallel)
            } else {
                Encoder::new().encode_half_parallel(&bf16s, &mut parallel)
            }
            .unwrap();
            assert_eq!(parallel, expected, "{name} parallel");
        }
    }
    let mut bad = f16s.clone();
    bad[300] = half::f16::NAN;
    let mut out = vec![UNTOUCHED; len];
    assert_eq!(
        q4k::encode_half(&bad, &mut out),
        Err(Error::NonFinite { index: 300 })
    );
    assert!(out.iter().all(|&b| b == UNTOUCHED));
}
