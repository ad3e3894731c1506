//! q4k's importance-weighted encoder against llama.cpp's `quantize_q4_K` with an importance
//! vector, side by side in one process: single thread, then `encode_weighted_parallel` with two
//! threads against one on a 4096 x 4096 matrix.
//!
//!     cargo run --release --bin encode_weighted

use std::time::Duration;

use q4k::Kernel;
use q4k_llama_bench::clock;
use q4k_llama_bench::llama::{self, Q4K_BLOCK_BYTES, QK_K};
use q4k_llama_bench::pools::{print_pools, thread_pools, time_pools};
use q4k_llama_bench::timing::{Rng, RoundRobin, Spread, cpu_model, importance, weights};

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

    // The same pair on the thread's CPU time, which leaves out the time the thread waited for a
    // core: on a machine shared with other work, the fairer single-thread ratio.
    let mut ratios = Vec::new();
    let (mut c_times, mut q_times) = (Vec::new(), Vec::new());
    for round in 0..15 {
        let mut c = || {
            cpu_seconds(|| {
                for _ in 0..4 {
                    llama::quantize_q4k(&values, &mut theirs, n_per_row, Some(&imatrix));
                }
            })
        };
        let mut q = || {
            cpu_seconds(|| {
                for _ in 0..4 {
                    q4k::encode_weighted(&values, &imatrix, &mut ours).unwrap();
                }
            })
        };
        let (tc, tq) = if round % 2 == 0 {
            (c(), q())
        } else {
            let tq = q();
            (c(), tq)
        };
        c_times.push(tc);
        q_times.push(tq);
        ratios.push(tc / tq);
    }
    let per_second = |t: f64| 4.0 * values.len() as f64 / t / 1e6;
    let c_rate = Spread::of(&c_times).map(per_second);
    let q_rate = Spread::of(&q_times).map(per_second);
    let ratio = Spread::of(&ratios);
    println!(
        "  thread CPU time: llama.cpp {:.2} ({:.2}..{:.2}) M values/s, q4k {:.2} ({:.2}..{:.2}) \
         M values/s, q4k {:.2}x ({:.2}..{:.2}) faster",
        c_rate.median,
        c_rate.min,
        c_rate.max,
        q_rate.median,
        q_rate.min,
        q_rate.max,
        ratio.median,
        ratio.min,
        ratio.max
    );

    // Two threads against one on a 4096 x 4096 matrix, each pool timed in blocks of calls
    // back to back (see `pools`).
    let n = 4096;
    let matrix = weights(&mut rng, n * n);
    let imatrix = importance(&mut rng, n);
    let mut outs = vec![vec![0u8; matrix.len() / QK_K * Q4K_BLOCK_BYTES]; 2];
    let pools = thread_pools(&[1, 2]);
    let (blocks, calls, warm_up) = (4, 3, Duration::from_millis(200));
    let samples = time_pools(&pools, blocks, calls, warm_up, &mut |i| {
        q4k::encode_weighted_parallel(&matrix, &imatrix, &mut outs[i]).unwrap();
    });
    println!(
        "encode_weighted_parallel ({kernel}), {n} x {n} matrix | {} | {blocks} blocks of {calls} \
         calls per pool, each after {} ms of calls",
        cpu_model(),
        warm_up.as_millis()
    );
    print_pools(matrix.len() as f64 / 1e6, "M values/s", &samples);
}

/// The CPU time the calling thread spends in `f`, in seconds (`CLOCK_THREAD_CPUTIME_ID`).
fn cpu_seconds(f: impl FnOnce()) -> f64 {
    let now = || clock::seconds(clock::THREAD_CPU).expect("clock_gettime failed");
    let start = now();
    f();
    now() - start
}
