//! The importance-weighted encoder: every kernel gives llama.cpp's bytes (tests/vectors/llama)
//! and the scalar kernel's bytes on inputs of many kinds (quickcheck), rows are independent, and
//! every bad argument is refused with the output untouched.
//!
//! Case count: `Q4K_QUICKCHECK_TESTS`, else `QUICKCHECK_TESTS`, else 200.

mod common;

use common::llama::encode_weighted_cases;
use common::{assert_same, available_kernels, check, unavailable_kernels};
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Error, Kernel, encode_weighted, encode_weighted_with};
use quickcheck::{Arbitrary, Gen};

/// A byte no encoder writes into every position of an output.
const UNTOUCHED: u8 = 0xA5;

/// xorshift64*, for inputs derived from one quickcheck seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Roughly standard normal (Box-Muller).
    fn gauss(&mut self) -> f32 {
        let a = self.unit().max(1e-7);
        let b = self.unit();
        (-2.0 * a.ln()).sqrt() * (core::f32::consts::TAU * b).cos()
    }
}

/// Kinds of input value, one per sub-block or per row: the shapes real weights have, and the
/// corners of the search (flat sub-blocks, halfway values, tiny and huge magnitudes, values
/// whose search leaves the fast rounding range).
fn value(rng: &mut Rng, kind: u8, i: usize) -> f32 {
    let sub = i / 32;
    match kind % 16 {
        0 => rng.gauss(),
        1 if rng.next().is_multiple_of(50) => rng.gauss() * 30.0,
        1 => rng.gauss(),
        2 => {
            let g = rng.gauss();
            g * g * g * 5.0
        }
        3 => 0.0,
        4 => 0.37,
        5 => (sub as f32 - 3.5) * 0.25,
        6 => rng.gauss() * 1e-6,
        7 => rng.gauss() * 1e4,
        8 => rng.unit() + 0.01,
        9 => -rng.unit() - 0.01,
        10 => ((rng.next() % 16) as f32 + 0.5) * 0.125 - 1.0,
        11 if rng.next().is_multiple_of(3) => 0.0,
        11 => rng.gauss(),
        12 => rng.gauss() * 1e30,
        13 => f32::from_bits((rng.next() as u32) & 0x807F_FFFF), // zeros and subnormals
        14 => f32::MAX * (rng.unit() - 0.5),
        _ => rng.gauss() * 1e-20,
    }
}

/// Kinds of importance value: random positive, with zeros, constant, large, tiny, spread over
/// many orders of magnitude.
fn importance_value(rng: &mut Rng, kind: u8) -> f32 {
    match kind % 7 {
        0 => rng.unit() * 10.0,
        1 if rng.next().is_multiple_of(4) => 0.0,
        1 => rng.unit(),
        2 => 1.0,
        3 => rng.gauss().abs() * 1e6,
        4 if rng.next().is_multiple_of(2) => -0.0,
        4 => rng.unit() * 1e-30,
        5 => (rng.unit() * 20.0).exp(),
        _ => 0.0,
    }
}

/// One encode call: `rows` rows of `blocks_per_row` blocks.
#[derive(Clone, Debug)]
struct Case {
    input: Vec<f32>,
    importance: Vec<f32>,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let blocks_per_row = 1 + usize::arbitrary(g) % 7;
        let rows = 1 + usize::arbitrary(g) % 4;
        let mut rng = Rng(u64::arbitrary(g) | 1);
        let row = blocks_per_row * BLOCK_VALUES;
        let importance_kind = u8::arbitrary(g);
        let importance = (0..row)
            .map(|_| importance_value(&mut rng, importance_kind))
            .collect();
        let per_sub_block = bool::arbitrary(g);
        let row_kind = u8::arbitrary(g);
        let mut sub_kind = row_kind;
        let mut input = Vec::with_capacity(rows * row);
        for i in 0..rows * row {
            if per_sub_block && i % 32 == 0 {
                sub_kind = (rng.next() % 16) as u8;
            }
            // Now and then a value straight from quickcheck (finite ones only).
            let v = if rng.next().is_multiple_of(64) {
                let v = f32::arbitrary(g);
                if v.is_finite() { v } else { 0.0 }
            } else {
                value(&mut rng, sub_kind, i)
            };
            input.push(v);
        }
        Case { input, importance }
    }
}

fn encoded(kernel: Kernel, case: &Case) -> Vec<u8> {
    let mut out = vec![UNTOUCHED; case.input.len() / BLOCK_VALUES * BLOCK_BYTES];
    encode_weighted_with(kernel, &case.input, &case.importance, &mut out).unwrap();
    out
}

/// The first block where two encodings differ.
fn first_different_block(got: &[u8], want: &[u8]) -> Option<usize> {
    got.chunks(BLOCK_BYTES)
        .zip(want.chunks(BLOCK_BYTES))
        .position(|(g, w)| g != w)
}

#[test]
#[cfg_attr(miri, ignore = "quickcheck is too slow under Miri")]
fn every_kernel_gives_the_scalar_bytes() {
    available_kernels("every_kernel_gives_the_scalar_bytes");
    fn property(case: Case) -> bool {
        let want = encoded(Kernel::Scalar, &case);
        let kernels = Kernel::ALL.iter().filter(|k| k.is_available());
        for &kernel in kernels {
            let got = encoded(kernel, &case);
            if let Some(b) = first_different_block(&got, &want) {
                eprintln!("{kernel}: block {b} differs from the scalar kernel's");
                return false;
            }
        }
        #[cfg(feature = "parallel")]
        {
            let mut got = vec![UNTOUCHED; want.len()];
            q4k::encode_weighted_parallel(&case.input, &case.importance, &mut got).unwrap();
            if let Some(b) = first_different_block(&got, &want) {
                eprintln!("parallel: block {b} differs from the scalar kernel's");
                return false;
            }
        }
        true
    }
    check(
        "every_kernel_gives_the_scalar_bytes",
        property as fn(Case) -> bool,
    );
}

/// Every kernel, and the parallel encoder, gives the bytes of llama.cpp's `quantize_q4_K` with
/// importance weights, and so decodes to the values llama.cpp decodes those bytes to (the
/// reconstruction error is llama.cpp's).
#[test]
#[cfg_attr(
    miri,
    ignore = "runs the SIMD kernels; see scalar_kernel_gives_llama_bytes"
)]
fn every_kernel_gives_llama_bytes() {
    let kernels = available_kernels("every_kernel_gives_llama_bytes");
    let cases = encode_weighted_cases();
    let mut blocks = 0;
    for case in &cases {
        assert_eq!(
            case.input.len(),
            case.nrow * case.n_per_row,
            "{}",
            case.name
        );
        for &kernel in &kernels {
            let mut got = vec![UNTOUCHED; case.expected.len()];
            encode_weighted_with(kernel, &case.input, &case.weights, &mut got).unwrap();
            if let Some(b) = first_different_block(&got, &case.expected) {
                panic!(
                    "{kernel}: {}: block {b} differs from llama.cpp's",
                    case.name
                );
            }
            blocks += got.len() / BLOCK_BYTES;
            let mut decoded = vec![0f32; case.input.len()];
            q4k::decode_with(kernel, &got, &mut decoded).unwrap();
            assert_same(&decoded, &case.decoded, &format!("{kernel}: {}", case.name));
        }
        #[cfg(feature = "parallel")]
        {
            let mut got = vec![UNTOUCHED; case.expected.len()];
            q4k::encode_weighted_parallel(&case.input, &case.weights, &mut got).unwrap();
            assert_eq!(got, case.expected, "parallel: {}", case.name);
        }
    }
    eprintln!("{} cases, {blocks} blocks matched llama.cpp", cases.len());
    assert!(cases.len() >= 20 && blocks > 0);
}

/// The scalar kernel on llama.cpp's cases; under Miri, the first block of every sixth case (a
/// row's first block uses the first 256 importance values only, so it is a one-block row).
#[test]
fn scalar_kernel_gives_llama_bytes() {
    for case in encode_weighted_cases()
        .iter()
        .step_by(if cfg!(miri) { 6 } else { 1 })
    {
        let (values, row) = if cfg!(miri) {
            (BLOCK_VALUES, BLOCK_VALUES)
        } else {
            (case.input.len(), case.n_per_row)
        };
        let expected = &case.expected[..values / BLOCK_VALUES * BLOCK_BYTES];
        let mut got = vec![UNTOUCHED; expected.len()];
        encode_weighted_with(
            Kernel::Scalar,
            &case.input[..values],
            &case.weights[..row],
            &mut got,
        )
        .unwrap();
        assert_eq!(first_different_block(&got, expected), None, "{}", case.name);
    }
}

/// A fixed sample of blocks of every kind, with every importance kind, through every
/// kernel.
#[test]
#[cfg_attr(miri, ignore = "too slow under Miri")]
fn every_kernel_gives_the_scalar_bytes_on_every_kind() {
    let kernels = available_kernels("every_kernel_gives_the_scalar_bytes_on_every_kind");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let row = 4 * BLOCK_VALUES;
    for importance_kind in 0..7 {
        let importance: Vec<f32> = (0..row)
            .map(|_| importance_value(&mut rng, importance_kind))
            .collect();
        let mut input = vec![0.0f32; 16 * row];
        let mut kind = 0;
        for (i, v) in input.iter_mut().enumerate() {
            // One kind per block (a block's sigma2 ties its sub-blocks together), the kinds in
            // turn.
            if i % BLOCK_VALUES == 0 {
                kind = (i / BLOCK_VALUES) as u8;
            }
            *v = value(&mut rng, kind, i);
        }
        let case = Case { input, importance };
        let want = encoded(Kernel::Scalar, &case);
        for &kernel in &kernels {
            let got = encoded(kernel, &case);
            assert_eq!(
                first_different_block(&got, &want),
                None,
                "{kernel}, importance kind {importance_kind}"
            );
        }
    }
}

/// The parallel encoder splits a large input across threads and gives the serial bytes, for
/// every kernel and row lengths that do and do not divide its tasks.
#[cfg(feature = "parallel")]
#[test]
#[cfg_attr(miri, ignore = "too slow under Miri")]
fn parallel_gives_the_serial_bytes() {
    let kernels = available_kernels("parallel_gives_the_serial_bytes");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let mut rng = Rng(0x5851_F42D_4C95_7F2D);
    for blocks_per_row in [1usize, 3, 16, 40] {
        let row = blocks_per_row * BLOCK_VALUES;
        let rows = 80usize.div_ceil(blocks_per_row);
        let importance: Vec<f32> = (0..row).map(|_| importance_value(&mut rng, 0)).collect();
        let input: Vec<f32> = (0..rows * row).map(|i| value(&mut rng, 1, i)).collect();
        let len = rows * blocks_per_row * BLOCK_BYTES;
        for &kernel in &kernels {
            let mut serial = vec![UNTOUCHED; len];
            encode_weighted_with(kernel, &input, &importance, &mut serial).unwrap();
            let mut parallel = vec![UNTOUCHED; len];
            pool.install(|| {
                q4k::encode_weighted_parallel_with(kernel, &input, &importance, &mut parallel)
            })
            .unwrap();
            assert_eq!(
                first_different_block(&parallel, &serial),
                None,
                "{kernel}, {blocks_per_row} blocks per row"
            );
        }
        // The scan for non-finite input is split too: the first bad index is still found, and
        // nothing is written.
        for first in [0, 5000, input.len() - 1] {
            let mut bad = input.clone();
            bad[first] = f32::NAN;
            bad[(first + 9000).min(input.len() - 1)] = f32::INFINITY;
            let mut out = vec![UNTOUCHED; len];
            let got = pool.install(|| q4k::encode_weighted_parallel(&bad, &importance, &mut out));
            assert_eq!(got, Err(Error::NonFinite { index: first }));
            assert!(out.iter().all(|&b| b == UNTOUCHED), "wrote on error");
        }
    }
}

/// The parallel f16 and bf16 encoders split a large input across threads and give the bytes
/// of the serial ones; the first non-finite value is found and nothing written.
#[cfg(feature = "parallel")]
#[test]
#[cfg_attr(miri, ignore = "too slow under Miri")]
fn parallel_f16_and_bf16_give_the_serial_bytes() {
    type Narrow = (
        &'static str,
        fn(f32) -> u16,
        fn(&[u16], &[f32], &mut [u8]) -> Result<(), Error>,
        fn(&[u16], &[f32], &mut [u8]) -> Result<(), Error>,
        u16,
    );
    let narrow: [Narrow; 2] = [
        (
            "f16",
            f16_bits,
            q4k::encode_weighted_f16,
            q4k::encode_weighted_f16_parallel,
            0x7C00,
        ),
        (
            "bf16",
            |v| (v.to_bits() >> 16) as u16,
            q4k::encode_weighted_bf16,
            q4k::encode_weighted_bf16_parallel,
            0x7F80,
        ),
    ];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for blocks_per_row in [3usize, 40] {
        let row = blocks_per_row * BLOCK_VALUES;
        let rows = 80usize.div_ceil(blocks_per_row);
        let importance: Vec<f32> = (0..row).map(|_| importance_value(&mut rng, 0)).collect();
        let values: Vec<f32> = (0..rows * row).map(|i| value(&mut rng, 1, i)).collect();
        let len = rows * blocks_per_row * BLOCK_BYTES;
        for (name, to_bits, serial, parallel, infinity) in narrow {
            let bits: Vec<u16> = values.iter().map(|&v| to_bits(v)).collect();
            let mut want = vec![UNTOUCHED; len];
            serial(&bits, &importance, &mut want).unwrap();
            let mut got = vec![UNTOUCHED; len];
            pool.install(|| parallel(&bits, &importance, &mut got))
                .unwrap();
            assert_eq!(
                first_different_block(&got, &want),
                None,
                "{name}, {blocks_per_row} blocks per row"
            );
            let first = bits.len() - 3000;
            let mut bad = bits.clone();
            bad[first] = infinity | 1;
            bad[first + 1000] = infinity;
            let mut out = vec![UNTOUCHED; len];
            assert_eq!(
                pool.install(|| parallel(&bad, &importance, &mut out)),
                Err(Error::NonFinite { index: first }),
                "{name}"
            );
            assert!(
                out.iter().all(|&b| b == UNTOUCHED),
                "{name}: wrote on error"
            );
        }
        #[cfg(feature = "half")]
        {
            let halves: Vec<half::bf16> = values.iter().map(|&v| half::bf16::from_f32(v)).collect();
            let mut want = vec![UNTOUCHED; len];
            q4k::encode_weighted_half(&halves, &importance, &mut want).unwrap();
            let mut got = vec![UNTOUCHED; len];
            pool.install(|| q4k::encode_weighted_half_parallel(&halves, &importance, &mut got))
                .unwrap();
            assert_eq!(first_different_block(&got, &want), None, "half::bf16");
        }
    }
}

/// Rows are encoded on their own: a call over several rows gives the bytes of one call per row.
#[test]
#[cfg_attr(miri, ignore = "too slow under Miri")]
fn rows_are_independent() {
    let kernels = available_kernels("rows_are_independent");
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    // Three blocks per row: rows start at every position of a pair of blocks.
    let row = 3 * BLOCK_VALUES;
    let importance: Vec<f32> = (0..row).map(|_| importance_value(&mut rng, 0)).collect();
    let input: Vec<f32> = (0..5 * row).map(|i| value(&mut rng, 1, i)).collect();
    for &kernel in &kernels {
        let mut whole = vec![UNTOUCHED; 5 * 3 * BLOCK_BYTES];
        encode_weighted_with(kernel, &input, &importance, &mut whole).unwrap();
        for (r, (x, got)) in input
            .chunks(row)
            .zip(whole.chunks(3 * BLOCK_BYTES))
            .enumerate()
        {
            let mut alone = vec![UNTOUCHED; 3 * BLOCK_BYTES];
            encode_weighted_with(kernel, x, &importance, &mut alone).unwrap();
            assert_eq!(got, &alone[..], "{kernel}: row {r}");
        }
    }
}

/// The importance vector matters: weighting half of each sub-block much more than the other
/// changes the encoding of typical data, and every kernel agrees on how.
#[test]
#[cfg_attr(miri, ignore = "too slow under Miri")]
fn importance_changes_the_encoding() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let input: Vec<f32> = (0..4 * BLOCK_VALUES).map(|_| rng.gauss()).collect();
    let flat = vec![1.0f32; BLOCK_VALUES];
    let skewed: Vec<f32> = (0..BLOCK_VALUES)
        .map(|i| if i % 32 < 16 { 100.0 } else { 0.01 })
        .collect();
    let mut a = vec![0u8; 4 * BLOCK_BYTES];
    let mut b = vec![0u8; 4 * BLOCK_BYTES];
    encode_weighted(&input, &flat, &mut a).unwrap();
    encode_weighted(&input, &skewed, &mut b).unwrap();
    assert_ne!(a, b);
}

/// Runs `encode_weighted_with` for every kernel (and the parallel version) on an output full
/// of [`UNTOUCHED`], and checks that each gives `want` and leaves the output alone.
#[track_caller]
fn assert_refused(input: &[f32], importance: &[f32], out_len: usize, want: Error) {
    for &kernel in Kernel::ALL {
        let mut out = vec![UNTOUCHED; out_len];
        let got = encode_weighted_with(kernel, input, importance, &mut out);
        assert_eq!(got, Err(want), "{kernel}");
        assert!(out.iter().all(|&b| b == UNTOUCHED), "{kernel} wrote");
    }
    let mut out = vec![UNTOUCHED; out_len];
    assert_eq!(encode_weighted(input, importance, &mut out), Err(want));
    #[cfg(feature = "parallel")]
    assert_eq!(
        q4k::encode_weighted_parallel(input, importance, &mut out),
        Err(want)
    );
    assert!(out.iter().all(|&b| b == UNTOUCHED), "wrote on error");
}

#[test]
fn wrong_lengths_are_refused() {
    let x = vec![0.5f32; 2 * BLOCK_VALUES];
    let w = vec![1.0f32; 2 * BLOCK_VALUES];
    for len in [0, 1, 255, 257, 300] {
        assert_refused(&x, &w[..len], 288, Error::ImportanceLength { len });
    }
    // 512 values are not whole rows of 768 (nor 768 values rows of 512).
    let w3 = vec![1.0f32; 3 * BLOCK_VALUES];
    assert_refused(&x, &w3, 288, Error::InputRows { len: 512, row: 768 });
    let x3 = vec![0.5f32; 3 * BLOCK_VALUES];
    assert_refused(&x3, &w, 432, Error::InputRows { len: 768, row: 512 });
    for actual in [0, 143, 287, 289, 432] {
        assert_refused(
            &x,
            &w,
            actual,
            Error::EncodeLength {
                values: 512,
                output: actual,
            },
        );
    }
}

#[test]
fn bad_values_are_refused_at_the_first_bad_index() {
    let row = 2 * BLOCK_VALUES;
    let x = vec![0.5f32; 2 * row];
    let w = vec![1.0f32; row];
    let out = 4 * BLOCK_BYTES;
    for (index, v) in [(0, f32::NAN), (5, f32::INFINITY), (511, f32::NEG_INFINITY)] {
        let mut bad = w.clone();
        bad[index] = v;
        bad[511.min(index + 3)] = f32::NAN;
        assert_refused(&x, &bad, out, Error::ImportanceNonFinite { index });
    }
    for (index, v) in [(0, -1.0f32), (300, -1e-30), (511, -f32::MIN_POSITIVE)] {
        let mut bad = w.clone();
        bad[index] = v;
        assert_refused(&x, &bad, out, Error::NegativeImportance { index });
    }
    // The first bad importance value decides the error.
    let mut bad = w.clone();
    bad[7] = -2.0;
    bad[9] = f32::NAN;
    assert_refused(&x, &bad, out, Error::NegativeImportance { index: 7 });
    bad[3] = f32::INFINITY;
    assert_refused(&x, &bad, out, Error::ImportanceNonFinite { index: 3 });
    // Input values: the first non-finite one, in any row; importance is checked first.
    for index in [0, 63, 64, 700, 1023] {
        for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut bad = x.clone();
            bad[index] = v;
            bad[1023.min(index + 1)] = f32::NAN;
            assert_refused(&bad, &w, out, Error::NonFinite { index });
            let mut both = w.clone();
            both[100] = f32::NAN;
            assert_refused(&bad, &both, out, Error::ImportanceNonFinite { index: 100 });
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs the SIMD kernels")]
fn zero_and_negative_zero_importance_are_accepted() {
    let x: Vec<f32> = (0..BLOCK_VALUES).map(|i| (i as f32 * 0.1).sin()).collect();
    for w in [0.0f32, -0.0] {
        let mut out = vec![UNTOUCHED; BLOCK_BYTES];
        encode_weighted(&x, &vec![w; BLOCK_VALUES], &mut out).unwrap();
        let mut scalar = vec![0u8; BLOCK_BYTES];
        encode_weighted_with(Kernel::Scalar, &x, &vec![w; BLOCK_VALUES], &mut scalar).unwrap();
        assert_eq!(out, scalar);
    }
}

/// The scalar kernel, small enough for Miri: the decoded block is close to its input.
#[test]
fn scalar_round_trip_is_close() {
    let x: Vec<f32> = (0..BLOCK_VALUES).map(|i| (i as f32 * 0.37).sin()).collect();
    let w: Vec<f32> = (0..BLOCK_VALUES).map(|i| 1.0 + (i % 7) as f32).collect();
    let mut block = vec![UNTOUCHED; BLOCK_BYTES];
    encode_weighted_with(Kernel::Scalar, &x, &w, &mut block).unwrap();
    let mut back = vec![0f32; BLOCK_VALUES];
    q4k::decode_with(Kernel::Scalar, &block, &mut back).unwrap();
    // Sixteen levels over a range of 2 per sub-block: steps of about 0.13.
    for (i, (a, b)) in x.iter().zip(&back).enumerate() {
        assert!((a - b).abs() < 0.1, "value {i}: {a} became {b}");
    }
}

#[test]
fn no_rows_is_fine() {
    let mut out: [u8; 0] = [];
    for &kernel in available_kernels("no_rows_is_fine").iter() {
        encode_weighted_with(kernel, &[], &[1.0; BLOCK_VALUES], &mut out).unwrap();
    }
}

#[test]
fn unavailable_kernels_are_refused_after_the_checks() {
    let x = vec![0.5f32; BLOCK_VALUES];
    let w = vec![1.0f32; BLOCK_VALUES];
    for kernel in unavailable_kernels() {
        let mut out = vec![UNTOUCHED; BLOCK_BYTES];
        assert_eq!(
            encode_weighted_with(kernel, &x, &w, &mut out),
            Err(Error::KernelUnavailable { kernel })
        );
        assert!(out.iter().all(|&b| b == UNTOUCHED));
        // Bad lengths are reported before availability.
        assert_eq!(
            encode_weighted_with(kernel, &x, &w, &mut out[..1]),
            Err(Error::EncodeLength {
                values: BLOCK_VALUES,
                output: 1
            })
        );
    }
}

#[test]
fn errors_name_what_is_wrong() {
    let cases = [
        (Error::ImportanceLength { len: 300 }, "300"),
        (Error::InputRows { len: 700, row: 512 }, "700"),
        (Error::ImportanceNonFinite { index: 78 }, "78"),
        (Error::NegativeImportance { index: 79 }, "79"),
    ];
    for (error, number) in cases {
        let text = error.to_string();
        assert!(text.contains(number), "{text}");
    }
}

/// f16 and bf16 input: the bytes of widening to `f32` first, across the entry points' internal
/// chunks and rows that do not line up with them.
#[test]
#[cfg_attr(miri, ignore = "runs the SIMD kernels")]
fn f16_and_bf16_inputs_give_the_bytes_of_widened_input() {
    let mut rng = Rng(0x1405_7B7E_F767_814F);
    let row = 3 * BLOCK_VALUES;
    let importance: Vec<f32> = (0..row).map(|_| importance_value(&mut rng, 0)).collect();
    let values: Vec<f32> = (0..7 * row).map(|i| value(&mut rng, 1, i)).collect();
    let len = 7 * 3 * BLOCK_BYTES;
    type Narrow = (&'static str, fn(f32) -> u16, fn(u16) -> f32);
    let narrow: [Narrow; 2] = [
        ("f16", f16_bits, q4k::f16_to_f32),
        (
            "bf16",
            |v| (v.to_bits() >> 16) as u16,
            |b| f32::from_bits(u32::from(b) << 16),
        ),
    ];
    for (name, to_bits, widen) in narrow {
        let bits: Vec<u16> = values.iter().map(|&v| to_bits(v)).collect();
        let wide: Vec<f32> = bits.iter().map(|&b| widen(b)).collect();
        let mut want = vec![0u8; len];
        encode_weighted(&wide, &importance, &mut want).unwrap();
        let mut got = vec![UNTOUCHED; len];
        let encode = if name == "f16" {
            q4k::encode_weighted_f16
        } else {
            q4k::encode_weighted_bf16
        };
        encode(&bits, &importance, &mut got).unwrap();
        assert_eq!(first_different_block(&got, &want), None, "{name}");

        // Errors: the first non-finite value, bad lengths; the output untouched.
        let inf = if name == "f16" { 0x7C00 } else { 0x7F80 };
        let mut bad = bits.clone();
        bad[1000] = inf | 0x8000;
        bad[1001] = inf | 1;
        let mut out = vec![UNTOUCHED; len];
        assert_eq!(
            encode(&bad, &importance, &mut out),
            Err(Error::NonFinite { index: 1000 }),
            "{name}"
        );
        assert_eq!(
            encode(&bits[..256], &importance[..256], &mut out[..143]),
            Err(Error::EncodeLength {
                values: 256,
                output: 143
            }),
            "{name}"
        );
        assert_eq!(
            encode(&bits, &importance[..100], &mut out),
            Err(Error::ImportanceLength { len: 100 }),
            "{name}"
        );
        assert_eq!(
            encode(&bits[..300], &importance, &mut out),
            Err(Error::InputRows { len: 300, row }),
            "{name}"
        );
        assert!(out.iter().all(|&b| b == UNTOUCHED), "{name} wrote on error");
    }
}

/// f32 to f16 bits, rounding to nearest even (values in f16's normal range or zero).
fn f16_bits(v: f32) -> u16 {
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let a = v.abs();
    if a < 6.2e-5 {
        return sign;
    }
    let a = a.min(65504.0);
    let exponent = ((a.to_bits() >> 23) as i32) - 127;
    let mantissa = a.to_bits() & 0x7F_FFFF;
    let (keep, rest) = (mantissa >> 13, mantissa & 0x1FFF);
    let mut h = (((exponent + 15) as u32) << 10) | keep;
    if rest > 0x1000 || (rest == 0x1000 && keep & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}

/// `encode_weighted_half` on `half` values: the bytes of `encode_weighted` on the values `half`
/// widens them to, for both types; an infinity is an error at its index, output untouched.
#[cfg(feature = "half")]
#[test]
fn half_types_encode_weighted_as_their_widened_values() {
    let mut rng = Rng(0x6A1F_0C3D_55E2_9B47);
    let row = 2 * BLOCK_VALUES;
    let importance: Vec<f32> = (0..row).map(|_| importance_value(&mut rng, 0)).collect();
    let values: Vec<f32> = (0..3 * row).map(|i| value(&mut rng, 1, i)).collect();
    let len = 3 * 2 * BLOCK_BYTES;
    let f16s: Vec<half::f16> = values.iter().map(|&v| half::f16::from_f32(v)).collect();
    let bf16s: Vec<half::bf16> = values.iter().map(|&v| half::bf16::from_f32(v)).collect();
    let widened: [Vec<f32>; 2] = [
        f16s.iter().map(|h| h.to_f32()).collect(),
        bf16s.iter().map(|h| h.to_f32()).collect(),
    ];
    let mut got = [vec![UNTOUCHED; len], vec![UNTOUCHED; len]];
    q4k::encode_weighted_half(&f16s, &importance, &mut got[0]).unwrap();
    q4k::encode_weighted_half(&bf16s, &importance, &mut got[1]).unwrap();
    for (name, (got, wide)) in ["f16", "bf16"].iter().zip(got.iter().zip(&widened)) {
        let mut want = vec![0u8; len];
        encode_weighted(wide, &importance, &mut want).unwrap();
        assert_eq!(first_different_block(got, &want), None, "{name}");
    }
    let mut bad = bf16s.clone();
    bad[700] = half::bf16::NEG_INFINITY;
    let mut out = vec![UNTOUCHED; len];
    assert_eq!(
        q4k::encode_weighted_half(&bad, &importance, &mut out),
        Err(Error::NonFinite { index: 700 })
    );
    assert!(out.iter().all(|&b| b == UNTOUCHED));
}
