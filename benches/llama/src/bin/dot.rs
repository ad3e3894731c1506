//! q4k's Q8_K dot products beside llama.cpp's, in one process, single thread: a 1 MiB Q4_K
//! matrix (in cache) times one Q8_K vector, with rows of 4096 values, then of 28672 (longer than
//! the 64-block chunk in which q4k's SIMD kernels rearrange the activations). llama.cpp runs
//! `ggml_vec_dot_q4_K_q8_K` (its AVX2 code, `-O3 -march=native`) per row; q4k runs
//! `matvec_q8k` with each available kernel, and `dot_q8k` per row with the best one. Both start
//! from the same Q8_K bytes, checked equal to `quantize_q8k`'s first.
//!
//!     cargo run --release --bin dot

use q4k::{BlockQ8K, Kernel};
use q4k_llama_bench::llama::{self, Q4K_BLOCK_BYTES, Q8K_BLOCK_BYTES, QK_K};
use q4k_llama_bench::timing::{Rng, RoundRobin, activations, cpu_model, realistic_q4k_blocks};

fn main() {
    for row_values in [4096, 28672] {
        compare(row_values);
    }
}

/// llama.cpp against q4k on about 1 MiB of rows of `row_values` values.
fn compare(row_values: usize) {
    let mut rng = Rng::new(42);
    let row_blocks = row_values / QK_K;
    let rows = (1 << 20) / (row_blocks * Q4K_BLOCK_BYTES);
    let matrix = realistic_q4k_blocks(&mut rng, rows * row_blocks);
    let x = activations(&mut rng, row_values);
    let mut q8 = vec![0u8; row_blocks * Q8K_BLOCK_BYTES];
    llama::quantize_row_q8k(&x, &mut q8);
    let mut blocks = vec![BlockQ8K::ZERO; row_blocks];
    q4k::quantize_q8k(&x, &mut blocks).expect("finite activations");
    assert_eq!(q4k::q8k_as_bytes(&blocks), &q8[..], "the same Q8_K bytes");

    let kernels: Vec<Kernel> = Kernel::ALL
        .iter()
        .copied()
        .filter(|k| k.is_available() && *k != Kernel::Scalar)
        .collect();
    println!(
        "CPU: {}; q4k kernels {kernels:?}, best {}",
        cpu_model(),
        Kernel::best()
    );
    #[cfg(target_arch = "x86_64")]
    println!(
        "  avx512vnni: {}, avx512vbmi: {}, gfni: {} (the avx512 kernel's sub-features)",
        std::is_x86_feature_detected!("avx512vnni"),
        std::is_x86_feature_detected!("avx512vbmi"),
        std::is_x86_feature_detected!("gfni")
    );
    let mut llama_out = vec![0f32; rows];
    let mut dot_out = vec![0f32; rows];
    let dot_name = format!("q4k dot_q8k per row {}", Kernel::best());
    let mut outs = vec![vec![0f32; rows]; kernels.len()];
    let mut bench = RoundRobin::new(&format!(
        "Q4_K x Q8_K: {rows} rows x {row_values} values, {} bytes of Q4_K",
        matrix.len()
    ));
    bench.add("llama.cpp ggml_vec_dot_q4_K_q8_K per row", || {
        llama::matvec_q4k_q8k(&matrix, &q8, &mut llama_out);
        llama_out[0]
    });
    let names: Vec<String> = kernels
        .iter()
        .map(|k| format!("q4k matvec_q8k {k}"))
        .collect();
    for ((&kernel, out), name) in kernels.iter().zip(outs.iter_mut()).zip(&names) {
        let (matrix, blocks) = (&matrix, &blocks);
        bench.add(name, move || {
            q4k::matvec_q8k_with(kernel, matrix, blocks, out).expect("whole rows");
            out[0]
        });
    }
    bench.add(&dot_name, || {
        for (row, y) in matrix
            .chunks_exact(row_blocks * Q4K_BLOCK_BYTES)
            .zip(dot_out.iter_mut())
        {
            *y = q4k::dot_q8k(row, &blocks).expect("a whole row");
        }
        dot_out[0]
    });
    let report = bench.run();
    report.print(Some((matrix.len() as f64 / 1e9, "GB/s of weights")));
    report.print(Some(((rows * row_values) as f64 / 1e9, "G weights/s")));
    for name in names.iter().chain([&dot_name]) {
        report.print_ratio(name, "llama.cpp ggml_vec_dot_q4_K_q8_K per row");
    }
    assert_eq!(
        dot_out, outs[0],
        "dot_q8k per row gives matvec_q8k's results"
    );
    // llama.cpp's AVX2 code sums in another float order than its generic C: it differs from
    // q4k (which follows the generic C) in the last bits of most rows.
    let q4k_out = &outs[0];
    let differ = llama_out
        .iter()
        .zip(q4k_out)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    let worst = llama_out
        .iter()
        .zip(q4k_out)
        .map(|(a, b)| ((a - b) / b).abs())
        .fold(0f32, f32::max);
    println!(
        "rows where llama.cpp's AVX2 result differs from q4k's: {differ} of {rows} (at most {worst:.1e} relative)"
    );
}
