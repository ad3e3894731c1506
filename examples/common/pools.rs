//! Thread pools timed against each other (`--features parallel`); shared by the examples and
//! the llama.cpp benchmarks (`benches/llama`), which declare `clock` (`common/clock.rs`) beside
//! it at their root.
//!
//! The pools are timed in blocks, not call by call in turn: a block is one `install` of one
//! pool, a warm-up of calls, then timed calls back to back; the pools take turns by block.
//! Rayon puts the workers of an idle pool to sleep after a short spin, and the call that wakes
//! them can find them on one core, where Linux may leave them for tens of milliseconds: timed
//! one call at a time, each pool idle while the other ran, two threads often measured about as
//! fast as one. Back to back, the workers stay awake, as in a program that keeps its pool busy,
//! and the warm-up lets the scheduler spread them over the cores first.
//!
//! Each sample also records the cores the process had during the call (its CPU time over the
//! wall-clock time), since another process can take one of a small machine's cores away: the
//! report gives, beside the median of all samples, the median of those in which the pool had a
//! core per thread.

use std::time::{Duration, Instant};

use crate::clock;

/// A pool of each size in `threads`.
pub fn thread_pools(threads: &[usize]) -> Vec<rayon::ThreadPool> {
    threads
        .iter()
        .map(|&n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .expect("thread pool")
        })
        .collect()
}

/// One pool's samples from [`time_pools`].
pub struct PoolSamples {
    /// The pool's threads.
    pub threads: usize,
    /// Wall-clock seconds of each call.
    pub seconds: Vec<f64>,
    /// The process's CPU seconds per wall-clock second during each call: the cores its threads
    /// had (empty where the process's CPU time cannot be read).
    pub cores: Vec<f64>,
}

/// Times `call(i)` on each pool `pools[i]`, one pool at a time, in `blocks` blocks per pool
/// (the pools' order rotated each round): a block is one `install` that calls `call` for
/// `warm_up` (at least once), then times `calls` calls back to back.
pub fn time_pools(
    pools: &[rayon::ThreadPool],
    blocks: usize,
    calls: usize,
    warm_up: Duration,
    call: &mut (dyn FnMut(usize) + Send),
) -> Vec<PoolSamples> {
    let mut samples: Vec<PoolSamples> = pools
        .iter()
        .map(|pool| PoolSamples {
            threads: pool.current_num_threads(),
            seconds: Vec::new(),
            cores: Vec::new(),
        })
        .collect();
    for round in 0..blocks {
        for k in 0..pools.len() {
            let i = (k + round) % pools.len();
            let samples = &mut samples[i];
            let call = &mut *call;
            pools[i].install(|| {
                let start = Instant::now();
                call(i);
                while start.elapsed() < warm_up {
                    call(i);
                }
                for _ in 0..calls {
                    let cpu = clock::seconds(clock::PROCESS_CPU);
                    let start = Instant::now();
                    call(i);
                    let seconds = start.elapsed().as_secs_f64();
                    samples.seconds.push(seconds);
                    if let (Some(before), Some(after)) = (cpu, clock::seconds(clock::PROCESS_CPU)) {
                        samples.cores.push((after - before) / seconds);
                    }
                }
            });
        }
    }
    samples
}

/// The median of `samples` (not empty).
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Prints each pool's throughput, `work` units (named `unit`, e.g. `"GB/s"`) per call: the
/// median with the min-max, the cores the pool had on average, and the median of the samples
/// in which it had a core per thread (at least 0.9 each); then the speed-up of the last pool
/// over the first, over all samples and over those.
pub fn print_pools(work: f64, unit: &str, pools: &[PoolSamples]) {
    let rate = |seconds: f64| work / seconds;
    // Per pool: the median seconds of all samples and of those with a core per thread.
    let mut medians: Vec<(f64, Option<f64>)> = Vec::new();
    for pool in pools {
        let all = median(pool.seconds.clone());
        let (fastest, slowest) = pool
            .seconds
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &s| {
                (lo.min(s), hi.max(s))
            });
        print!(
            "  {} thread(s): {:.2} {unit} ({:.2}-{:.2})",
            pool.threads,
            rate(all),
            rate(slowest),
            rate(fastest),
        );
        if pool.cores.is_empty() {
            println!(", cores in use unknown");
            medians.push((all, None));
            continue;
        }
        let full: Vec<f64> = pool
            .seconds
            .iter()
            .zip(&pool.cores)
            .filter(|&(_, &cores)| cores >= 0.9 * pool.threads as f64)
            .map(|(&seconds, _)| seconds)
            .collect();
        let cores = pool.cores.iter().sum::<f64>() / pool.cores.len() as f64;
        print!(
            ", {cores:.2} cores in use; {} of {} samples on {} core(s)",
            full.len(),
            pool.seconds.len(),
            pool.threads
        );
        let full = (!full.is_empty()).then(|| median(full));
        match full {
            Some(full) => println!(": {:.2} {unit}", rate(full)),
            None => println!(),
        }
        medians.push((all, full));
    }
    if let (Some(first), Some(last), true) = (medians.first(), medians.last(), pools.len() > 1) {
        print!(
            "  {} threads / {} thread(s): {:.2}x over all samples",
            pools[pools.len() - 1].threads,
            pools[0].threads,
            first.0 / last.0
        );
        match (first.1, last.1) {
            (Some(one), Some(many)) => {
                println!(
                    ", {:.2}x over the samples with a core per thread",
                    one / many
                )
            }
            _ => println!(),
        }
    }
}
