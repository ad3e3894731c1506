//! `matvec_q8k` throughput against the limit: a read-only loop over the same weight bytes.
//!
//! ```text
//! cargo run --release --example matvec
//! cargo run --release --features parallel --example matvec -- --quick
//! ```
//!
//! In one process, single thread, round-robin with a warm-up call before each sample:
//! - at 1 MiB and 256 MiB of Q4_K weights, 4096 columns and 28672 (rows longer than the
//!   kernels' 64-block activation chunk, as in a 70B model's FFN down projection), and at
//!   256 MiB 14336 columns (an 8B model's down projection), every
//!   available kernel of `matvec_q8k_with` beside a loop that reads the same bytes with the
//!   widest loads and folds them into one register;
//! - `quantize_q8k` of a 4096-value row beside a 4096 x 4096 `matvec_q8k`;
//! - with `--features parallel`: `matvec_q8k_parallel` in pools of 1 and 2 threads at 32 MiB,
//!   wall-clock time, and the read loop split over the same pools' threads (at 32 MiB, about
//!   the L3 of the machines measured, the shared limit of the threads).
//!
//! Reports the median and the min-max spread of the samples, in GB/s of weights (GB = 10^9
//! bytes) and weights/s.
//!
//! The pools are timed in blocks, not call by call in turn: a block is one `install` of one
//! pool, 100 ms of calls, then 20 timed calls back to back; the pools take turns by block.
//! Rayon puts the workers of an idle pool to sleep after a short spin, and the call that wakes
//! them can find them on one core, where Linux may leave them for tens of milliseconds: timed
//! one call at a time, each pool idle while the other ran, two threads often measured about as
//! fast as one. Back to back, the workers stay awake and spread over the cores, as in a program
//! that keeps its pool busy. Each sample also records the cores the process had during the
//! call (its CPU time over the wall-clock time), since another process can take one of a small
//! machine's cores away: the report gives, beside the median of all samples, the median of
//! those in which the pool had a core per thread (`common/pools.rs`).

use std::hint::black_box;
#[cfg(feature = "parallel")]
use std::time::Duration;
use std::time::Instant;

use q4k::{BLOCK_BYTES, BLOCK_VALUES, BlockQ8K, Kernel};

#[path = "common/measure.rs"]
mod measure;

use measure::{Stats, read_all, stats};

#[cfg(feature = "parallel")]
#[path = "common/clock.rs"]
mod clock;

#[cfg(feature = "parallel")]
#[path = "common/pools.rs"]
mod pools;

#[cfg(feature = "parallel")]
use pools::{print_pools, thread_pools, time_pools};
#[cfg(feature = "parallel")]
use rayon::prelude::*;

const COLS: usize = 4096;
/// Rows longer than the kernels' 64-block activation chunk (16384 values).
const LONG_COLS: usize = 28672;
/// Columns of a mid-size model's FFN down projection (Llama-3-8B, Mistral-7B): one
/// activation chunk, but past the length where the kernels multiply several rows side by side.
const MID_COLS: usize = 14336;
const ROW_BYTES: usize = COLS / BLOCK_VALUES * BLOCK_BYTES;

/// Deterministic weights with realistic f16 scales (about 1e-3..1e-1) and random quants.
fn weights(bytes: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut w = vec![0u8; bytes];
    for chunk in w.chunks_mut(8) {
        let r = next().to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    for block in w.chunks_exact_mut(BLOCK_BYTES) {
        for field in [0, 2] {
            let r = next();
            let bits = (0x1400 + (r % 0x1000)) as u16;
            block[field..field + 2].copy_from_slice(&bits.to_le_bytes());
        }
    }
    w
}

fn activations(cols: usize) -> Vec<BlockQ8K> {
    let x: Vec<f32> = (0..cols)
        .map(|i| ((i * 7919) % 2001) as f32 / 1000.0 - 1.0)
        .collect();
    let mut a = vec![BlockQ8K::ZERO; cols / BLOCK_VALUES];
    q4k::quantize_q8k(&x, &mut a).unwrap();
    a
}

/// A named closure to time.
type Contender<'a> = (String, Box<dyn FnMut() + 'a>);

/// Times each contender `rounds` times in round-robin (shuffled order per round), a warm-up
/// call before each sample; returns seconds per call.
fn round_robin(contenders: &mut [Contender<'_>], rounds: usize) -> Vec<Stats> {
    let mut samples = vec![Vec::new(); contenders.len()];
    let mut order: Vec<usize> = (0..contenders.len()).collect();
    let mut seed = 12345u64;
    for _ in 0..rounds {
        for i in (1..order.len()).rev() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            order.swap(i, (seed >> 33) as usize % (i + 1));
        }
        for &i in &order {
            let f = &mut contenders[i].1;
            f();
            let start = Instant::now();
            f();
            samples[i].push(start.elapsed().as_secs_f64());
        }
    }
    samples.into_iter().map(stats).collect()
}

fn gbs(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / seconds / 1e9
}

fn report(label: &str, bytes: usize, s: &Stats, limit: Option<&Stats>) {
    let weights = bytes as f64 / BLOCK_BYTES as f64 * BLOCK_VALUES as f64;
    let ratio = limit.map_or(String::new(), |l| {
        format!("  {:.2}x read", l.median / s.median)
    });
    println!(
        "  {label:<22} {:7.2} GB/s ({:6.2}-{:6.2})  {:6.2} G weights/s{ratio}",
        gbs(bytes, s.median),
        gbs(bytes, s.max),
        gbs(bytes, s.min),
        weights / s.median / 1e9,
    );
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    println!(
        "CPU: {}; best kernel: {}; single thread unless stated",
        cpu_model(),
        Kernel::best()
    );
    #[cfg(target_arch = "x86_64")]
    println!(
        "  avx512vnni: {}, avx512bw: {}, avx512vbmi: {}, gfni: {}",
        std::is_x86_feature_detected!("avx512vnni"),
        std::is_x86_feature_detected!("avx512bw"),
        std::is_x86_feature_detected!("avx512vbmi"),
        std::is_x86_feature_detected!("gfni")
    );
    let a = activations(COLS);
    let kernels: Vec<Kernel> = Kernel::ALL
        .iter()
        .copied()
        .filter(|k| k.is_available())
        .collect();

    for (label, bytes, cols, rounds) in [
        ("1 MiB", 1 << 20, COLS, if quick { 50 } else { 400 }),
        ("256 MiB", 256 << 20, COLS, if quick { 3 } else { 15 }),
        ("256 MiB", 256 << 20, MID_COLS, if quick { 3 } else { 15 }),
        ("1 MiB", 1 << 20, LONG_COLS, if quick { 50 } else { 400 }),
        ("256 MiB", 256 << 20, LONG_COLS, if quick { 3 } else { 15 }),
    ] {
        let row_bytes = cols / BLOCK_VALUES * BLOCK_BYTES;
        let rows = bytes / row_bytes;
        let w = weights(rows * row_bytes);
        let a = activations(cols);
        let bytes = w.len();
        let mut outs: Vec<Vec<f32>> = kernels.iter().map(|_| vec![0f32; rows]).collect();
        let mut contenders: Vec<Contender<'_>> = vec![(
            "read loop".into(),
            Box::new(|| {
                black_box(read_all(black_box(&w)));
            }),
        )];
        for (&kernel, out) in kernels.iter().zip(outs.iter_mut()) {
            if kernel == Kernel::Scalar && bytes > 1 << 20 {
                continue;
            }
            let (w, a) = (&w, &a);
            contenders.push((
                format!("matvec_q8k {kernel}"),
                Box::new(move || {
                    q4k::matvec_q8k_with(kernel, black_box(w), a, out).unwrap();
                }),
            ));
        }
        let results = round_robin(&mut contenders, rounds);
        println!("{label} of weights ({rows} x {cols}), {rounds} samples each:");
        for ((name, _), s) in contenders.iter().zip(&results) {
            report(name, bytes, s, (name != "read loop").then_some(&results[0]));
        }
    }

    {
        let rows = 4096;
        let w = weights(rows * ROW_BYTES);
        let x: Vec<f32> = (0..COLS).map(|i| (i as f32).sin()).collect();
        let mut q = vec![BlockQ8K::ZERO; COLS / BLOCK_VALUES];
        let mut out = vec![0f32; rows];
        let mut contenders: Vec<Contender<'_>> = vec![
            (
                "quantize_q8k 4096".into(),
                Box::new(|| q4k::quantize_q8k(black_box(&x), &mut q).unwrap()),
            ),
            (
                "matvec_q8k 4096x4096".into(),
                Box::new(|| q4k::matvec_q8k(black_box(&w), &a, &mut out).unwrap()),
            ),
        ];
        let results = round_robin(&mut contenders, if quick { 30 } else { 300 });
        println!(
            "quantize_q8k of a 4096-value row: {:.2} us (min {:.2}, max {:.2}); 4096 x 4096 matvec_q8k: {:.1} us; ratio {:.2}%",
            results[0].median * 1e6,
            results[0].min * 1e6,
            results[0].max * 1e6,
            results[1].median * 1e6,
            100.0 * results[0].median / results[1].median
        );
    }

    #[cfg(feature = "parallel")]
    {
        let rows = (32 << 20) / ROW_BYTES;
        let w = weights(rows * ROW_BYTES);
        // Pools 0 and 1 run the product, 2 and 3 the read loop split over their threads (the
        // limit once the threads share the memory bandwidth), all taking turns by block.
        let pools = thread_pools(&[1, 2, 1, 2]);
        let mut outs = vec![vec![0f32; rows]; 2];
        let (blocks, calls, warm_up) = (if quick { 6 } else { 30 }, 20, Duration::from_millis(100));
        let samples = time_pools(&pools, blocks, calls, warm_up, &mut |i| {
            if i < 2 {
                q4k::matvec_q8k_parallel(black_box(&w), &a, &mut outs[i]).unwrap();
            } else {
                let part = w.len().div_ceil(rayon::current_num_threads());
                let folded = w
                    .par_chunks(part)
                    .map(|c| read_all(black_box(c)))
                    .reduce(|| 0, |x, y| x ^ y);
                black_box(folded);
            }
        });
        let (product, read) = samples.split_at(2);
        println!(
            "matvec_q8k_parallel at 32 MiB ({rows} x {COLS}), {blocks} blocks of {calls} calls per \
             pool, each after {} ms of calls:",
            warm_up.as_millis()
        );
        print_pools(w.len() as f64 / 1e9, "GB/s", product);
        println!("the read loop over the same bytes, split over the pool's threads:");
        print_pools(w.len() as f64 / 1e9, "GB/s", read);
    }
}
