//! The llama.cpp reference vectors (`tests/vectors/llama/`) parse, hold what their README says,
//! and q4k's decoder reproduces llama.cpp's `dequantize_row_q4_K` of every encoded row.

mod common;

use common::llama::{
    self, BLOCK_VALUES, Q4K_BLOCK_BYTES, Q8K_BLOCK_BYTES, dot_cases, encode_cases,
    encode_weighted_cases, q8k_cases, q8k_fields,
};
use common::{assert_same, available_kernels, decode_reference_all};
use q4k::Kernel;

/// Checks one Q8_K block as `quantize_row_q8_K_ref` defines it: block sums are the sums of the
/// quants, quants lie in -127..=127, and an all-zero block is all zero.
fn check_q8k_block(block: &[u8], what: &str) {
    let (d, qs, bsums) = q8k_fields(block);
    for (j, (sum, group)) in bsums.iter().zip(qs.chunks_exact(16)).enumerate() {
        let want: i32 = group.iter().map(|&q| i32::from(q)).sum();
        assert_eq!(i32::from(*sum), want, "{what}: block sum {j}");
    }
    assert!(qs.iter().all(|&q| q >= -127), "{what}: a quant is -128");
    if d == 0.0 {
        assert!(
            qs.iter().all(|&q| q == 0),
            "{what}: d = 0 with nonzero quants"
        );
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "data checks only: no q4k code runs, and Miri is slow at parsing"
)]
fn q8k_cases_hold_llama_quantizations() {
    let cases = q8k_cases();
    assert!(cases.len() >= 10, "{} Q8_K cases", cases.len());
    for case in &cases {
        assert_eq!(case.input.len() % BLOCK_VALUES, 0, "{}", case.name);
        let blocks = case.input.len() / BLOCK_VALUES;
        assert!(blocks > 0, "{}: empty", case.name);
        assert_eq!(
            case.expected.len(),
            blocks * Q8K_BLOCK_BYTES,
            "{}",
            case.name
        );
        for (b, (x, block)) in case
            .input
            .chunks_exact(BLOCK_VALUES)
            .zip(case.expected.chunks_exact(Q8K_BLOCK_BYTES))
            .enumerate()
        {
            let what = format!("{} block {b}", case.name);
            check_q8k_block(block, &what);
            assert!(x.iter().all(|v| v.is_finite()), "{what}: non-finite input");
            let (d, _, _) = q8k_fields(block);
            // The first value of largest magnitude sets the scale, d = max / -127: opposite sign.
            let first_max = x
                .iter()
                .fold(0.0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
            if first_max == 0.0 {
                assert_eq!(d.to_bits(), 0, "{what}: all-zero block has d = {d}");
            } else {
                assert!(
                    d != 0.0 && d.is_sign_negative() != first_max.is_sign_negative(),
                    "{what}: d = {d} for largest value {first_max}"
                );
            }
        }
    }
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    for kind in [
        "zeros",
        "zero_block_in_middle",
        "tie_positive_first",
        "tie_negative_first",
    ] {
        assert!(names.contains(&kind), "no Q8_K case {kind}: {names:?}");
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "data checks only: no q4k code runs, and Miri is slow at parsing"
)]
fn dot_cases_are_consistent() {
    let cases = dot_cases();
    let mut lengths: Vec<usize> = cases.iter().map(llama::DotCase::blocks).collect();
    lengths.sort_unstable();
    lengths.dedup();
    assert_eq!(lengths, [1, 2, 3, 16], "row lengths");
    for case in &cases {
        assert_eq!(
            case.q4k.len(),
            case.blocks() * Q4K_BLOCK_BYTES,
            "{}",
            case.name
        );
        assert_eq!(
            case.q8k.len(),
            case.blocks() * Q8K_BLOCK_BYTES,
            "{}",
            case.name
        );
        for (b, block) in case.q8k.chunks_exact(Q8K_BLOCK_BYTES).enumerate() {
            check_q8k_block(block, &format!("{} Q8_K block {b}", case.name));
        }
    }
    // The special scales reach the result: NaN and infinity both occur, and finite rows too.
    let results: Vec<f32> = cases.iter().map(llama::DotCase::result).collect();
    assert!(results.iter().any(|r| r.is_nan()), "no NaN result");
    assert!(
        results.iter().any(|r| r.is_infinite()),
        "no infinite result"
    );
    assert!(
        results.iter().filter(|r| r.is_finite()).count() > cases.len() / 2,
        "most results should be finite"
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "data checks only: no q4k code runs, and Miri is slow at parsing"
)]
fn encode_cases_are_consistent() {
    let plain = encode_cases();
    assert!(plain.len() >= 15, "{} encode cases", plain.len());
    for case in &plain {
        let blocks = case.input.len() / BLOCK_VALUES;
        assert!(blocks > 0, "{}: empty", case.name);
        assert_eq!(
            case.expected.len(),
            blocks * Q4K_BLOCK_BYTES,
            "{}",
            case.name
        );
        assert_eq!(case.decoded.len(), case.input.len(), "{}", case.name);
        assert!(case.input.iter().all(|v| v.is_finite()), "{}", case.name);
    }
    let weighted = encode_weighted_cases();
    assert!(weighted.len() >= 15, "{} weighted cases", weighted.len());
    for case in &weighted {
        let values = case.nrow * case.n_per_row;
        assert!(values > 0, "{}: empty", case.name);
        assert_eq!(case.input.len(), values, "{}", case.name);
        assert_eq!(case.weights.len(), case.n_per_row, "{}", case.name);
        assert_eq!(
            case.expected.len(),
            values / BLOCK_VALUES * Q4K_BLOCK_BYTES,
            "{}",
            case.name
        );
        assert_eq!(case.decoded.len(), values, "{}", case.name);
        assert!(case.input.iter().all(|v| v.is_finite()), "{}", case.name);
        assert!(
            case.weights.iter().all(|w| w.is_finite() && *w >= 0.0),
            "{}: importance must be finite and non-negative",
            case.name
        );
    }
    assert!(
        weighted.iter().any(|c| c.weights.contains(&0.0)),
        "no importance vector with zeros"
    );
}

/// Every encoded row (both encoders), as `(name, bytes, llama.cpp's decode)`.
fn encoded_rows() -> Vec<(String, Vec<u8>, Vec<f32>)> {
    let plain = encode_cases()
        .into_iter()
        .map(|c| (c.name, c.expected, c.decoded));
    let weighted = encode_weighted_cases()
        .into_iter()
        .map(|c| (format!("{} (weighted)", c.name), c.expected, c.decoded));
    plain.chain(weighted).collect()
}

fn check_decodes(kernels: &[Kernel]) {
    let rows = encoded_rows();
    assert!(!rows.is_empty());
    for (name, bytes, want) in &rows {
        // llama.cpp's decode agrees with the decoder written from the format description.
        assert_same(
            &decode_reference_all(bytes),
            want,
            &format!("{name}: reference decoder"),
        );
        for &kernel in kernels {
            let mut got = vec![0.0f32; want.len()];
            q4k::decode_with(kernel, bytes, &mut got).unwrap();
            assert_same(&got, want, &format!("{name}: {kernel} kernel"));
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "SIMD kernels")]
fn every_kernel_decodes_encoded_rows_as_llama() {
    check_decodes(&available_kernels("llama vectors decode"));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "too slow to interpret; tests/reference.rs runs the scalar decode under Miri"
)]
fn scalar_kernel_decodes_encoded_rows_as_llama() {
    eprintln!("llama vectors decode: kernel scalar");
    check_decodes(&[Kernel::Scalar]);
}
