//! What the matrix-vector examples share: the read-only limit they compare against (every
//! weight byte read once with the widest loads the CPU has, folded into one register), the
//! summary of a contender's samples, the CPU clocks, and the timing of thread pools against
//! each other.

/// Median and extremes of a contender's samples.
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// The median, min and max of `samples` (not empty).
pub fn stats(mut samples: Vec<f64>) -> Stats {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    Stats {
        median: samples[n / 2],
        min: samples[0],
        max: samples[n - 1],
    }
}

/// Reads every byte once with the widest loads the CPU has, folding them into one register.
pub fn read_all(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was detected on this CPU.
            return unsafe { read_avx512(bytes) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was detected on this CPU.
            return unsafe { read_avx2(bytes) };
        }
    }
    bytes
        .chunks_exact(8)
        .fold(0, |acc, c| acc ^ u64::from_le_bytes(c.try_into().unwrap()))
}

/// # Safety
///
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn read_avx512(bytes: &[u8]) -> u64 {
    use core::arch::x86_64::*;
    let mut acc = [_mm512_setzero_si512(); 4];
    let (lines, _) = bytes.as_chunks::<256>();
    for line in lines {
        for (k, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `64 * k + 64 <= 256`: the load stays inside `line`.
            let v = unsafe { _mm512_loadu_si512(line.as_ptr().add(64 * k).cast()) };
            *acc = _mm512_xor_si512(*acc, v);
        }
    }
    let all = _mm512_xor_si512(
        _mm512_xor_si512(acc[0], acc[1]),
        _mm512_xor_si512(acc[2], acc[3]),
    );
    _mm512_reduce_add_epi64(all) as u64
}

/// # Safety
///
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn read_avx2(bytes: &[u8]) -> u64 {
    use core::arch::x86_64::*;
    let mut acc = [_mm256_setzero_si256(); 4];
    let (lines, _) = bytes.as_chunks::<128>();
    for line in lines {
        for (k, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `32 * k + 32 <= 128`: the load stays inside `line`.
            let v = unsafe { _mm256_loadu_si256(line.as_ptr().add(32 * k).cast()) };
            *acc = _mm256_xor_si256(*acc, v);
        }
    }
    let all = _mm256_xor_si256(
        _mm256_xor_si256(acc[0], acc[1]),
        _mm256_xor_si256(acc[2], acc[3]),
    );
    _mm256_extract_epi64::<0>(all) as u64 ^ _mm256_extract_epi64::<3>(all) as u64
}

/// The value of the clock `clock` (a `clockid_t`: 2 is the process's CPU time, 3 the calling
/// thread's) in seconds, on 64-bit Linux.
#[cfg_attr(not(feature = "parallel"), allow(dead_code))]
pub fn clock_seconds(clock: i32) -> Option<f64> {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    {
        #[repr(C)]
        struct Timespec {
            seconds: i64,
            nanoseconds: i64,
        }
        unsafe extern "C" {
            fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
        }
        let mut time = Timespec {
            seconds: 0,
            nanoseconds: 0,
        };
        // SAFETY: `time` is a valid, writable `struct timespec` (two 64-bit fields on 64-bit
        // Linux), the one thing `clock_gettime` writes.
        let status = unsafe { clock_gettime(clock, &mut time) };
        (status == 0).then_some(time.seconds as f64 + time.nanoseconds as f64 * 1e-9)
    }
    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    {
        let _ = clock;
        None
    }
}

/// `clockid_t` of the CPU time of the whole process.
#[cfg(feature = "parallel")]
const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;

/// One pool's samples from [`time_pools`].
#[cfg(feature = "parallel")]
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
/// `warm_up` (at least once), then times `calls` calls back to back, each with the cores the
/// process had during it (its CPU time over the wall-clock time; none where that cannot be read).
///
/// Why blocks: rayon puts a pool's idle workers to sleep after a short spin, and the call that
/// wakes them can find them on one core, where Linux may leave them for tens of milliseconds;
/// timed one call at a time, each pool idle while the other ran, two threads often measured
/// as fast as one. Back to back, the workers stay awake, as in a program that keeps its pool
/// busy, and the warm-up lets the scheduler spread them first. Why the cores: on a small
/// machine another process can take a core away during a sample.
#[cfg(feature = "parallel")]
pub fn time_pools(
    pools: &[rayon::ThreadPool],
    blocks: usize,
    calls: usize,
    warm_up: std::time::Duration,
    call: &mut (dyn FnMut(usize) + Send),
) -> Vec<PoolSamples> {
    use std::time::Instant;
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
                    let cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
                    let start = Instant::now();
                    call(i);
                    let seconds = start.elapsed().as_secs_f64();
                    samples.seconds.push(seconds);
                    if let (Some(before), Some(after)) =
                        (cpu, clock_seconds(CLOCK_PROCESS_CPUTIME_ID))
                    {
                        samples.cores.push((after - before) / seconds);
                    }
                }
            });
        }
    }
    samples
}

/// Prints each pool's GB/s of `bytes` per call (median and min-max), the cores it had on
/// average, and the median of the samples in which it had a core per thread (at least 0.9);
/// then the speed-up of the last pool over the first, over all samples and over those.
#[cfg(feature = "parallel")]
pub fn print_pools(bytes: usize, pools: &[PoolSamples]) {
    let gbs = |seconds: f64| bytes as f64 / seconds / 1e9;
    // Per pool: the median seconds of all samples and of those with a core per thread.
    let mut medians: Vec<(f64, Option<f64>)> = Vec::new();
    for pool in pools {
        let all = stats(pool.seconds.clone());
        print!(
            "  {} thread(s): {:6.2} GB/s ({:.2}-{:.2})",
            pool.threads,
            gbs(all.median),
            gbs(all.max),
            gbs(all.min),
        );
        if pool.cores.is_empty() {
            println!(", cores in use unknown");
            medians.push((all.median, None));
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
        let full = (!full.is_empty()).then(|| stats(full).median);
        match full {
            Some(full) => println!(": {:.2} GB/s", gbs(full)),
            None => println!(),
        }
        medians.push((all.median, full));
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
