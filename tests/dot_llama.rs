//! `quantize_q8k` and every dot-product kernel against llama.cpp's own results
//! (`tests/vectors/llama/`, computed by its C built `-ffp-contract=off`): the Q8_K bytes byte
//! for byte, the dot products bit for bit.

mod common;

use common::llama::{Q8K_BLOCK_BYTES, dot_cases, q8k_cases};
use q4k::BlockQ8K;

fn q8k_blocks_of(bytes: &[u8]) -> Vec<BlockQ8K> {
    bytes
        .chunks_exact(Q8K_BLOCK_BYTES)
        .map(|c| BlockQ8K::from_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
#[cfg_attr(miri, ignore = "Miri is slow at parsing the vector files")]
fn quantize_q8k_matches_llama_byte_for_byte() {
    let cases = q8k_cases();
    for case in &cases {
        let mut blocks = vec![BlockQ8K::ZERO; case.input.len() / 256];
        q4k::quantize_q8k(&case.input, &mut blocks).unwrap();
        assert_eq!(
            q4k::q8k_as_bytes(&blocks),
            &case.expected[..],
            "{}",
            case.name
        );
        // The bytes read back through the view are the same blocks.
        assert_eq!(
            q4k::q8k_as_bytes(&q8k_blocks_of(&case.expected)),
            &case.expected[..]
        );
    }
    eprintln!("{} Q8_K cases match llama.cpp byte for byte", cases.len());
}

#[test]
#[cfg_attr(miri, ignore = "SIMD kernels are not supported under Miri")]
fn every_kernel_matches_llama_dot_bit_for_bit() {
    let kernels = common::dot_kernels("every_kernel_matches_llama_dot_bit_for_bit");
    let cases = dot_cases();
    for case in &cases {
        let activations = q8k_blocks_of(&case.q8k);
        let want = case.result();
        for &kernel in &kernels {
            let got = q4k::dot_q8k_with(kernel, &case.q4k, &activations).unwrap();
            assert!(
                common::same(got, want),
                "{kernel} {}: got {got:e} ({:#010x}), llama.cpp {want:e} ({:#010x})",
                case.name,
                got.to_bits(),
                want.to_bits()
            );
            let mut out = [0f32; 1];
            q4k::matvec_q8k_with(kernel, &case.q4k, &activations, &mut out).unwrap();
            assert!(common::same(out[0], want), "{kernel} {} matvec", case.name);
        }
    }
    eprintln!("{} dot cases match llama.cpp on {kernels:?}", cases.len());
}

#[test]
#[cfg_attr(miri, ignore = "SIMD kernels are not supported under Miri")]
fn matvec_of_rows_sharing_activations_matches_llama() {
    // Rows whose Q8_K activations are the same bytes form one matrix.
    let cases = dot_cases();
    let mut groups = 0;
    for (i, first) in cases.iter().enumerate() {
        let rows: Vec<_> = cases.iter().filter(|c| c.q8k == first.q8k).collect();
        if rows.len() < 2 || cases[..i].iter().any(|c| c.q8k == first.q8k) {
            continue;
        }
        groups += 1;
        let weights: Vec<u8> = rows.iter().flat_map(|c| c.q4k.iter().copied()).collect();
        let activations = q8k_blocks_of(&first.q8k);
        for kernel in common::dot_kernels("matvec_of_rows_sharing_activations") {
            let mut out = vec![0f32; rows.len()];
            q4k::matvec_q8k_with(kernel, &weights, &activations, &mut out).unwrap();
            for (row, (&got, case)) in out.iter().zip(&rows).enumerate() {
                assert!(
                    common::same(got, case.result()),
                    "{kernel} row {row} {}",
                    case.name
                );
            }
        }
    }
    assert!(groups > 0, "no cases share their activations");
}
