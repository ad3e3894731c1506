//! Calls every llama.cpp function once on random data and prints what it returned: proof that
//! the C linked and agrees with q4k where the two must agree (the decode).
//!
//!     cargo run --release --bin sanity

use q4k_llama_bench::llama::{self, Q4K_BLOCK_BYTES, Q8K_BLOCK_BYTES, QK_K};
use q4k_llama_bench::timing::{
    Rng, activations, cpu_model, importance, realistic_q4k_blocks, weights,
};

fn main() {
    println!("CPU: {}", cpu_model());
    println!("q4k decode kernel: {}", q4k::Kernel::best());
    let mut rng = Rng::new(7);

    let blocks = 16;
    let q4 = realistic_q4k_blocks(&mut rng, blocks);
    let x = activations(&mut rng, blocks * QK_K);
    let mut q8 = vec![0u8; blocks * Q8K_BLOCK_BYTES];
    llama::quantize_row_q8k(&x, &mut q8);
    let d = f32::from_le_bytes(q8[..4].try_into().unwrap());
    println!(
        "quantize_row_q8_K: {blocks} blocks, first d = {d:e}, first quants {:?}",
        &q8[4..8]
    );

    let arch = llama::vec_dot_q4k_q8k(&q4, &q8);
    let generic = llama::vec_dot_q4k_q8k_generic(&q4, &q8);
    // The same product in f64 from q4k's decode and the Q8_K values.
    let mut w = vec![0.0f32; blocks * QK_K];
    q4k::decode(&q4, &mut w).unwrap();
    let exact: f64 = q8
        .chunks_exact(Q8K_BLOCK_BYTES)
        .zip(w.chunks_exact(QK_K))
        .map(|(b, w)| {
            let d = f64::from(f32::from_le_bytes(b[..4].try_into().unwrap()));
            b[4..260]
                .iter()
                .zip(w)
                .map(|(&q, &w)| d * f64::from(q as i8) * f64::from(w))
                .sum::<f64>()
        })
        .sum();
    println!(
        "ggml_vec_dot_q4_K_q8_K: {arch:e} (generic {generic:e}; f64 of the same blocks {exact:e}, \
         relative error {:.1e})",
        ((f64::from(arch) - exact) / exact).abs()
    );
    let mut out = vec![0.0f32; 3];
    let rows: Vec<u8> = [&q4[..], &q4[..], &q4[..]].concat();
    llama::matvec_q4k_q8k(&rows, &q8, &mut out);
    assert!(
        out.iter().all(|r| r.to_bits() == arch.to_bits()),
        "matvec rows {out:?}"
    );
    println!("matvec of 3 equal rows: {out:?}");

    let n_per_row = 1024;
    let values = weights(&mut rng, 2 * n_per_row);
    let bytes = values.len() / QK_K * Q4K_BLOCK_BYTES;
    let mut reference = vec![0u8; bytes];
    llama::quantize_row_q4k_ref(&values, &mut reference);
    let mut plain = vec![0u8; bytes];
    llama::quantize_q4k(&values, &mut plain, n_per_row, None);
    assert_eq!(
        reference, plain,
        "quantize_q4_K without weights is quantize_row_q4_K_ref"
    );
    let imatrix = importance(&mut rng, n_per_row);
    let mut weighted = vec![0u8; bytes];
    llama::quantize_q4k(&values, &mut weighted, n_per_row, Some(&imatrix));
    let differing = reference
        .chunks_exact(Q4K_BLOCK_BYTES)
        .zip(weighted.chunks_exact(Q4K_BLOCK_BYTES))
        .filter(|(a, b)| a != b)
        .count();
    println!(
        "quantize_row_q4_K_ref == quantize_q4_K(NULL) on {} values; with an importance vector \
         {differing} of {} blocks differ",
        values.len(),
        bytes / Q4K_BLOCK_BYTES
    );

    for (name, encoded) in [("reference", &reference), ("weighted", &weighted)] {
        let mut theirs = vec![0.0f32; values.len()];
        llama::dequantize_row_q4k(encoded, &mut theirs);
        let mut ours = vec![0.0f32; values.len()];
        q4k::decode(encoded, &mut ours).unwrap();
        assert!(
            theirs
                .iter()
                .zip(&ours)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "dequantize_row_q4_K and q4k::decode differ"
        );
        let rms = (values
            .iter()
            .zip(&theirs)
            .map(|(v, d)| f64::from(v - d).powi(2))
            .sum::<f64>()
            / values.len() as f64)
            .sqrt();
        println!("dequantize_row_q4_K ({name}) == q4k::decode, bit for bit; rms error {rms:.3e}");
    }
}
