//! `matvec_f32` against the limit of reading the weights, and the accuracy of `dot_f32`.
//!
//! ```text
//! cargo run --release --features parallel --example matvec_f32
//! cargo run --release --features parallel --example matvec_f32 -- --quick
//! ```
//!
//! 1. Accuracy: `matvec_f32` of 4096 random rows of 4096 values (realistic f16 scales, normal
//!    activations) against an `f64` dot product of the decoded weights; max and median
//!    relative error.
//! 2. Speed, one thread: `matvec_f32` with each kernel and a read-only loop over the same weight
//!    bytes (wide loads folded into one register), in round-robin in one process, at 1 MiB and
//!    256 MiB of weights. Median and min-max of the samples; GB = 10^9 bytes of weights.
//! 3. With `--features parallel`: `matvec_f32_parallel` in pools of one and two threads at
//!    32 MiB (wall-clock time), in blocks of calls back to back, one pool at a time: sampled one
//!    call at a time in turn, a pool's workers fall asleep while the other pool runs and can
//!    wake up on one core, where two threads run as fast as one (see
//!    `common/pools.rs`). Each sample records the cores the process had, so that a sample in
//!    which another process took a core is told apart.
//!
//! Single-thread samples are timed with the thread's CPU time where Linux reports it
//! (`CLOCK_THREAD_CPUTIME_ID`), so that a sample in which the thread was preempted by other
//! work on a busy machine does not count the time it waited; `--wall` times them with the wall
//! clock instead.

use std::hint::black_box;
#[cfg(feature = "parallel")]
use std::time::Duration;
use std::time::Instant;

use q4k::{BLOCK_BYTES, BLOCK_VALUES, Kernel};

#[path = "common/data.rs"]
mod data;

use data::{Rng, random_blocks};

#[path = "common/measure.rs"]
mod measure;

use measure::{read_all, stats};

#[path = "common/clock.rs"]
mod clock;

#[cfg(feature = "parallel")]
#[path = "common/pools.rs"]
mod pools;

#[cfg(feature = "parallel")]
use pools::{print_pools, thread_pools, time_pools};

/// A clock for samples: this thread's CPU time in seconds (Linux), or the wall clock.
#[derive(Clone, Copy)]
enum Clock {
    Cpu,
    Wall,
}

impl Clock {
    /// The CPU clock where it can be read, else the wall clock.
    fn pick(wall: bool) -> Clock {
        if !wall && thread_cpu_seconds().is_some() {
            Clock::Cpu
        } else {
            Clock::Wall
        }
    }

    /// Times one call of `run`.
    fn time(self, run: &mut dyn FnMut()) -> f64 {
        match self {
            Clock::Cpu => {
                let start = thread_cpu_seconds().unwrap_or(0.0);
                run();
                thread_cpu_seconds().unwrap_or(0.0) - start
            }
            Clock::Wall => {
                let start = Instant::now();
                run();
                start.elapsed().as_secs_f64()
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Clock::Cpu => "thread CPU time",
            Clock::Wall => "wall clock",
        }
    }
}

/// The calling thread's CPU time so far (`CLOCK_THREAD_CPUTIME_ID`), on Linux.
fn thread_cpu_seconds() -> Option<f64> {
    clock::seconds(clock::THREAD_CPU)
}

/// A contender: a name and one call of it.
type Contender<'a> = (String, Box<dyn FnMut() + 'a>);

/// Times the contenders in round-robin (order rotated each round, one warm-up call before each
/// sample) and prints weight GB/s and weights/s for each, with the ratio to the first.
fn race(
    title: &str,
    clock: Clock,
    weight_bytes: usize,
    rounds: usize,
    contenders: &mut [Contender<'_>],
) {
    let weights = weight_bytes as f64 / BLOCK_BYTES as f64 * BLOCK_VALUES as f64;
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for round in 0..rounds {
        for k in 0..contenders.len() {
            let i = (k + round) % contenders.len();
            let run = &mut contenders[i].1;
            run();
            samples[i].push(clock.time(run));
        }
    }
    println!(
        "\n{title} ({rounds} samples each, {}, GB = 1e9 bytes of weights)",
        clock.name()
    );
    println!(
        "  {:<28} {:>10} {:>19} {:>12} {:>8}",
        "contender", "GB/s", "min-max GB/s", "G weights/s", "ratio"
    );
    let mut first = None;
    for ((name, _), samples) in contenders.iter().zip(samples) {
        let s = stats(samples);
        let gbs = |t: f64| weight_bytes as f64 / t / 1e9;
        let ratio = first.map_or(1.0, |f| s.median.recip() / f);
        first.get_or_insert(s.median.recip());
        println!(
            "  {:<28} {:>10.2} {:>8.2} - {:>8.2} {:>12.2} {:>7.2}x",
            name,
            gbs(s.median),
            gbs(s.max),
            gbs(s.min),
            weights / s.median / 1e9,
            ratio
        );
    }
}

fn accuracy() {
    let (rows, columns) = (4096, 4096);
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let weights = random_blocks(&mut rng, rows * columns / BLOCK_VALUES);
    let activations: Vec<f32> = (0..columns).map(|_| rng.normal()).collect();
    let mut out = vec![0f32; rows];
    q4k::matvec_f32(&weights, &activations, &mut out).unwrap();
    let row_bytes = columns / BLOCK_VALUES * BLOCK_BYTES;
    let mut decoded = vec![0f32; columns];
    let mut relative = Vec::with_capacity(rows);
    let mut to_magnitude = Vec::with_capacity(rows);
    for (r, &got) in out.iter().enumerate() {
        q4k::decode(&weights[r * row_bytes..(r + 1) * row_bytes], &mut decoded).unwrap();
        let products = decoded
            .iter()
            .zip(&activations)
            .map(|(&w, &a)| f64::from(w) * f64::from(a));
        let (exact, magnitude) = products.fold((0.0, 0.0), |(s, m), p| (s + p, m + p.abs()));
        let error = (f64::from(got) - exact).abs();
        relative.push(error / exact.abs());
        to_magnitude.push(error / magnitude);
    }
    let (relative, to_magnitude) = (stats(relative), stats(to_magnitude));
    println!(
        "accuracy: {rows} rows x {columns} columns, f16 d/dmin 2^-10..2^-3, activations N(0, 1), \
         kernel {}",
        Kernel::best()
    );
    println!(
        "  |got - f64| / |f64|:        median {:.2e}, max {:.2e}",
        relative.median, relative.max
    );
    println!(
        "  |got - f64| / sum |w * a|:  median {:.2e}, max {:.2e}  (f32 epsilon 1.19e-7)",
        to_magnitude.median, to_magnitude.max
    );
}

fn speed(label: &str, clock: Clock, weight_bytes: usize, rounds: usize, kernels: &[Kernel]) {
    let columns = 4096;
    let row_bytes = columns / BLOCK_VALUES * BLOCK_BYTES;
    let rows = weight_bytes / row_bytes;
    let mut rng = Rng(0xC0FF_EE00_1234_5678);
    let weights = random_blocks(&mut rng, rows * columns / BLOCK_VALUES);
    let activations: Vec<f32> = (0..columns).map(|_| rng.normal()).collect();
    let mut contenders: Vec<Contender<'_>> = vec![(
        "read loop (limit)".into(),
        Box::new(|| {
            black_box(read_all(black_box(&weights)));
        }),
    )];
    for &kernel in kernels {
        let mut out = vec![0f32; rows];
        let (weights, activations) = (&weights, &activations);
        contenders.push((
            format!("matvec_f32 {kernel}"),
            Box::new(move || {
                q4k::matvec_f32_with(kernel, weights, activations, black_box(&mut out)).unwrap();
            }),
        ));
    }
    race(
        &format!(
            "{label}: {rows} x {columns} ({:.1} MiB of weights), one thread",
            weights.len() as f64 / (1 << 20) as f64
        ),
        clock,
        weights.len(),
        rounds,
        &mut contenders,
    );
}

#[cfg(feature = "parallel")]
fn parallel(blocks: usize) {
    let columns = 4096;
    let row_bytes = columns / BLOCK_VALUES * BLOCK_BYTES;
    let rows = (32 << 20) / row_bytes;
    let mut rng = Rng(0xFEED_FACE_0000_0001);
    let weights = random_blocks(&mut rng, rows * columns / BLOCK_VALUES);
    let activations: Vec<f32> = (0..columns).map(|_| rng.normal()).collect();
    let pools = thread_pools(&[1, 2]);
    let mut outs = vec![vec![0f32; rows]; pools.len()];
    let (calls, warm_up) = (20, Duration::from_millis(100));
    let samples = time_pools(&pools, blocks, calls, warm_up, &mut |i| {
        q4k::matvec_f32_parallel(&weights, &activations, black_box(&mut outs[i])).unwrap();
    });
    println!(
        "\nparallel: {rows} x {columns} ({:.1} MiB of weights), kernel {}, {blocks} blocks of \
         {calls} calls per pool, each after {} ms of calls (wall clock)",
        weights.len() as f64 / (1 << 20) as f64,
        Kernel::best(),
        warm_up.as_millis()
    );
    print_pools(weights.len() as f64 / 1e9, "GB/s", &samples);
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let kernels: Vec<Kernel> = Kernel::ALL
        .iter()
        .copied()
        .filter(|k| k.is_available())
        .collect();
    println!(
        "kernels available: {:?}; best: {}",
        kernels.iter().map(|k| k.name()).collect::<Vec<_>>(),
        Kernel::best()
    );
    accuracy();
    let scale = if quick { 1 } else { 4 };
    let clock = Clock::pick(std::env::args().any(|a| a == "--wall"));
    speed("in cache", clock, 1 << 20, 50 * scale, &kernels);
    let fast: Vec<Kernel> = kernels
        .iter()
        .copied()
        .filter(|&k| k == Kernel::best() || k == Kernel::Avx2)
        .collect();
    speed("DRAM", clock, 256 << 20, 5 * scale, &fast);
    #[cfg(feature = "parallel")]
    parallel(6 * scale);
}
