//! q4k's importance-weighted encoder against llama.cpp's `quantize_q4_K` with an importance
//! vector, side by side in one process: single thread, then `encode_weighted_parallel` with two
//! threads against one on a 4096 x 4096 matrix.
//!
//!     cargo run --release --bin encode_weighted

use q4k::Kernel;
use q4k_llama_bench::llama::{self, Q4K_BLOCK_BYTES, QK_K};
use q4k_llama_bench::timing::{Rng, RoundRobin, importance, weights};

fn main() {
    let mut rng = Rng::new(7);
    let kernel = Kernel::best();
    eprintln!("q4k kernel: {kernel}");

    // Single thread: 16 rows of 4096 weights (256 KiB of f32), as llama.cpp's baseline.
    let n_per_row = 4096;
    let values = weights(&mut rng, 16 * n_per_row);
    let imatrix = importance(&mut rng, n_per_row);
    let mut ours = vec![0u8; values.len() / QK_K * Q4K_BLOCK_BYTES];
    let mut theirs = ours.clone();
    llama::quantize_q4k(&values, &mut theirs, n_per_row, Some(&imatrix));
    q4k::encode_weighted(&values, &imatrix, &mut ours).unwrap();
    let same = ours
        .chunks(Q4K_BLOCK_BYTES)
        .zip(theirs.chunks(Q4K_BLOCK_BYTES))
        .filter(|(a, b)| a == b)
        .count();
    // llama.cpp here is built with -march=native and GNU C's FMA contraction, so a few blocks
    // differ from the C as written (which q4k reproduces; see tests/vectors/llama).
    eprintln!(
        "{same} of {} blocks identical to this FMA-contracted llama.cpp build",
        ours.len() / Q4K_BLOCK_BYTES
    );
    let mut bench = RoundRobin::new(&format!(
        "Q4_K encoding with an importance vector, one thread: {} values",
        values.len()
    ));
    bench.add("llama.cpp quantize_q4_K", || {
        llama::quantize_q4k(&values, &mut theirs, n_per_row, Some(&imatrix));
        theirs[0]
    });
    let name = format!("q4k encode_weighted ({kernel})");
    bench.add(&name, || {
        q4k::encode_weighted(&values, &imatrix, &mut ours).unwrap();
        ours[0]
    });
    let report = bench.run();
    report.print(Some((values.len() as f64 / 1e6, "M values/s")));
    report.print_ratio(&name, "llama.cpp quantize_q4_K");

    // Two threads against one on a 4096 x 4096 matrix.
    let n = 4096;
    let matrix = weights(&mut rng, n * n);
    let imatrix = importance(&mut rng, n);
    let mut out_one = vec![0u8; matrix.len() / QK_K * Q4K_BLOCK_BYTES];
    let mut out_two = out_one.clone();
    let pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    };
    let (one, two) = (pool(1), pool(2));
    let mut bench = RoundRobin::new(&format!(
        "encode_weighted_parallel ({kernel}), {n} x {n} matrix"
    ))
    .rounds(7);
    bench.add("1 thread", || {
        one.install(|| q4k::encode_weighted_parallel(&matrix, &imatrix, &mut out_one).unwrap());
        out_one[0]
    });
    bench.add("2 threads", || {
        two.install(|| q4k::encode_weighted_parallel(&matrix, &imatrix, &mut out_two).unwrap());
        out_two[0]
    });
    let report = bench.run();
    report.print(Some((matrix.len() as f64 / 1e6, "M values/s")));
    report.print_ratio("2 threads", "1 thread");
}
