//! llama.cpp alone: how fast its functions run here, single thread, as built by build.rs
//! (`-O3 -march=native`). The figures q4k's own comparisons are measured against.
//!
//!     cargo run --release --bin baseline

use q4k_llama_bench::llama::{self, Q4K_BLOCK_BYTES, Q8K_BLOCK_BYTES, QK_K};
use q4k_llama_bench::timing::{
    Rng, RoundRobin, activations, importance, realistic_q4k_blocks, weights,
};

fn main() {
    let mut rng = Rng::new(42);

    // Dot products: 1 MiB of weights (rows of 4096 values), in cache.
    let row_values = 4096;
    let row_blocks = row_values / QK_K;
    let rows = (1 << 20) / (row_blocks * Q4K_BLOCK_BYTES);
    let matrix = realistic_q4k_blocks(&mut rng, rows * row_blocks);
    let x = activations(&mut rng, row_values);
    let mut q8 = vec![0u8; row_blocks * Q8K_BLOCK_BYTES];
    llama::quantize_row_q8k(&x, &mut q8);
    let mut out = vec![0.0f32; rows];
    let mut bench = RoundRobin::new(&format!(
        "llama.cpp dot products: {rows} rows x {row_values} values, {} bytes of Q4_K",
        matrix.len()
    ));
    bench.add("ggml_vec_dot_q4_K_q8_K (AVX2) per row", || {
        llama::matvec_q4k_q8k(&matrix, &q8, &mut out);
        out[0]
    });
    bench.add("ggml_vec_dot_q4_K_q8_K_generic per row", || {
        matrix
            .chunks_exact(row_blocks * Q4K_BLOCK_BYTES)
            .map(|row| llama::vec_dot_q4k_q8k_generic(row, &q8))
            .sum::<f32>()
    });
    let report = bench.run();
    report.print(Some((matrix.len() as f64 / 1e9, "GB/s of weights")));
    report.print(Some(((rows * row_values) as f64 / 1e9, "G weights/s")));

    // Activation quantization, one 4096-value row.
    let mut bench = RoundRobin::new("llama.cpp quantize_row_q8_K: 4096 values");
    bench.add("quantize_row_q8_K", || {
        llama::quantize_row_q8k(&x, &mut q8);
        q8[0]
    });
    bench
        .run()
        .print(Some((row_values as f64 / 1e6, "M values/s")));

    // Encoders: 16 rows of 4096 weights (256 KiB of f32).
    let n_per_row = 4096;
    let values = weights(&mut rng, 16 * n_per_row);
    let imatrix = importance(&mut rng, n_per_row);
    let mut encoded = vec![0u8; values.len() / QK_K * Q4K_BLOCK_BYTES];
    let mut encoded_weighted = encoded.clone();
    let mut bench = RoundRobin::new(&format!("llama.cpp Q4_K encoders: {} values", values.len()));
    bench.add("quantize_row_q4_K_ref", || {
        llama::quantize_row_q4k_ref(&values, &mut encoded);
        encoded[0]
    });
    bench.add("quantize_q4_K with importance", || {
        llama::quantize_q4k(&values, &mut encoded_weighted, n_per_row, Some(&imatrix));
        encoded_weighted[0]
    });
    let report = bench.run();
    report.print(Some((values.len() as f64 / 1e6, "M values/s")));

    // Decode of the 1 MiB matrix.
    let mut decoded = vec![0.0f32; matrix.len() / Q4K_BLOCK_BYTES * QK_K];
    let mut bench = RoundRobin::new(&format!(
        "llama.cpp dequantize_row_q4_K: {} bytes of Q4_K",
        matrix.len()
    ));
    bench.add("dequantize_row_q4_K", || {
        llama::dequantize_row_q4k(&matrix, &mut decoded);
        decoded[0]
    });
    bench
        .run()
        .print(Some((matrix.len() as f64 / 1e9, "GB/s of input")));
}
