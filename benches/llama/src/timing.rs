//! Side-by-side timing in one process, and random realistic inputs.
//!
//! ```no_run
//! use q4k_llama_bench::timing::{RoundRobin, Rng, activations};
//! let mut rng = Rng::new(1);
//! let x = activations(&mut rng, 4096);
//! let mut bench = RoundRobin::new("sum of 4096 values");
//! bench.add("iterator", || x.iter().sum::<f32>());
//! bench.add("loop", || { let mut s = 0.0f32; for v in &x { s += v; } s });
//! let report = bench.run();
//! report.print(Some((4096.0, "values/s")));
//! report.print_ratio("loop", "iterator");
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

/// The CPU's model name from `/proc/cpuinfo`, or `"unknown CPU"`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

struct Contender<'a> {
    name: String,
    run: Box<dyn FnMut() + 'a>,
    /// Calls per timed sample, calibrated so that a sample lasts at least `min_sample`.
    calls: u64,
}

/// Runs several contenders in rounds. In every round the order is shuffled, and each contender
/// is warmed (its data brought back into cache after the others ran) and then timed for one
/// sample of many calls. One sample per contender per round.
pub struct RoundRobin<'a> {
    title: String,
    rounds: usize,
    min_sample: Duration,
    seed: u64,
    contenders: Vec<Contender<'a>>,
}

impl<'a> RoundRobin<'a> {
    /// 15 rounds of samples of at least 20 ms each.
    pub fn new(title: &str) -> Self {
        RoundRobin {
            title: title.to_string(),
            rounds: 15,
            min_sample: Duration::from_millis(20),
            seed: 0x5EED,
            contenders: Vec::new(),
        }
    }

    /// Number of rounds (samples per contender).
    pub fn rounds(mut self, rounds: usize) -> Self {
        self.rounds = rounds.max(1);
        self
    }

    /// The shortest duration of one sample; calls are repeated until a sample lasts that long.
    pub fn min_sample(mut self, min_sample: Duration) -> Self {
        self.min_sample = min_sample;
        self
    }

    /// Adds a contender. Its result goes through `black_box`, so returning what it computed
    /// keeps the work from being optimised away.
    pub fn add<R>(&mut self, name: &str, mut f: impl FnMut() -> R + 'a) -> &mut Self {
        self.contenders.push(Contender {
            name: name.to_string(),
            run: Box::new(move || {
                black_box(f());
            }),
            calls: 1,
        });
        self
    }

    /// Calibrates every contender, runs the rounds and returns the timings. Consumes the
    /// runner, so the data its closures borrowed is free again afterwards.
    pub fn run(mut self) -> Report {
        for c in &mut self.contenders {
            c.calls = calibrate(&mut c.run, self.min_sample);
        }
        let mut seconds = vec![Vec::with_capacity(self.rounds); self.contenders.len()];
        let mut rng = Rng::new(self.seed);
        let mut order: Vec<usize> = (0..self.contenders.len()).collect();
        for _ in 0..self.rounds {
            rng.shuffle(&mut order);
            for &i in &order {
                let c = &mut self.contenders[i];
                for _ in 0..c.calls.div_ceil(4) {
                    (c.run)();
                }
                let start = Instant::now();
                for _ in 0..c.calls {
                    (c.run)();
                }
                seconds[i].push(start.elapsed().as_secs_f64() / c.calls as f64);
            }
        }
        Report {
            title: self.title.clone(),
            cpu: cpu_model(),
            results: self
                .contenders
                .iter()
                .zip(seconds)
                .map(|(c, seconds)| Timing {
                    name: c.name.clone(),
                    calls_per_sample: c.calls,
                    seconds,
                })
                .collect(),
        }
    }
}

/// Calls per sample so that one sample lasts at least `min_sample` (after one warm-up call).
fn calibrate(run: &mut dyn FnMut(), min_sample: Duration) -> u64 {
    run();
    let mut calls = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..calls {
            run();
        }
        let elapsed = start.elapsed();
        if elapsed >= min_sample || calls >= 1 << 40 {
            return calls;
        }
        // Aim a little past the target, at most 10x more per step.
        let factor = (min_sample.as_secs_f64() * 1.2 / elapsed.as_secs_f64().max(1e-9)).min(10.0);
        calls = ((calls as f64 * factor).ceil() as u64).max(calls + 1);
    }
}

/// Median, minimum and maximum of a set of samples.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
}

impl Spread {
    /// The spread of `samples` (not empty).
    pub fn of(samples: &[f64]) -> Spread {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Spread {
            median,
            min: sorted[0],
            max: sorted[n - 1],
        }
    }

    /// `f` applied to every figure (min and max swap places if `f` is decreasing).
    pub fn map(self, f: impl Fn(f64) -> f64) -> Spread {
        let (a, b) = (f(self.min), f(self.max));
        Spread {
            median: f(self.median),
            min: a.min(b),
            max: a.max(b),
        }
    }
}

/// The samples of one contender.
#[derive(Clone, Debug)]
pub struct Timing {
    /// The contender's name.
    pub name: String,
    /// Calls timed together in one sample.
    pub calls_per_sample: u64,
    /// Seconds per call, one figure per round, in round order.
    pub seconds: Vec<f64>,
}

impl Timing {
    /// Seconds per call: median, min, max.
    pub fn spread(&self) -> Spread {
        Spread::of(&self.seconds)
    }

    /// Units per second, for `units_per_call` units of work per call.
    pub fn throughput(&self, units_per_call: f64) -> Spread {
        self.spread().map(|s| units_per_call / s)
    }
}

/// The result of [`RoundRobin::run`].
#[derive(Clone, Debug)]
pub struct Report {
    /// The title given to [`RoundRobin::new`].
    pub title: String,
    /// The CPU's model name.
    pub cpu: String,
    /// One timing per contender, in the order they were added.
    pub results: Vec<Timing>,
}

impl Report {
    /// The timing of the contender called `name`.
    pub fn get(&self, name: &str) -> &Timing {
        self.results
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no contender {name:?}"))
    }

    /// How many times faster `fast` is than `slow`: `time(slow) / time(fast)` within each round
    /// (both ran in that round, close in time), then median, min and max over the rounds.
    pub fn speedup(&self, fast: &str, slow: &str) -> Spread {
        let (f, s) = (self.get(fast), self.get(slow));
        let ratios: Vec<f64> = f
            .seconds
            .iter()
            .zip(&s.seconds)
            .map(|(f, s)| s / f)
            .collect();
        Spread::of(&ratios)
    }

    /// Prints the title, the CPU and one line per contender: time per call, and throughput if
    /// `throughput` gives the units of work per call and their name (e.g. `(bytes / 1e9,
    /// "GB/s")`). Median first, then (min..max).
    pub fn print(&self, throughput: Option<(f64, &str)>) {
        let rounds = self.results.first().map_or(0, |t| t.seconds.len());
        println!(
            "{} | {} | {rounds} rounds, order shuffled per round",
            self.title, self.cpu
        );
        let width = self.results.iter().map(|t| t.name.len()).max().unwrap_or(0);
        for t in &self.results {
            let s = t.spread();
            print!(
                "  {:width$}  {} ({}..{}) per call",
                t.name,
                human_seconds(s.median),
                human_seconds(s.min),
                human_seconds(s.max)
            );
            if let Some((units, name)) = throughput {
                let r = t.throughput(units);
                print!("  {:.3} ({:.3}..{:.3}) {name}", r.median, r.min, r.max);
            }
            println!();
        }
    }

    /// Prints [`Report::speedup`] of `fast` over `slow`.
    pub fn print_ratio(&self, fast: &str, slow: &str) {
        let r = self.speedup(fast, slow);
        println!(
            "  {fast} / {slow}: {:.2}x ({:.2}..{:.2}) faster",
            r.median, r.min, r.max
        );
    }
}

/// `seconds` with a readable unit (ns, µs, ms or s).
pub fn human_seconds(seconds: f64) -> String {
    if seconds < 1e-6 {
        format!("{:.1} ns", seconds * 1e9)
    } else if seconds < 1e-3 {
        format!("{:.2} µs", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{seconds:.2} s")
    }
}

/// A small deterministic generator (splitmix64) for benchmark inputs.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Approximately standard normal (the sum of 12 uniforms, minus 6).
    pub fn normal(&mut self) -> f32 {
        (0..12).map(|_| self.uniform()).sum::<f32>() - 6.0
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }

    /// A positive f16 (its bits) in `[2^-10, 2^-3)`, about 1e-3 to 1e-1, log-uniform in its
    /// exponent: a realistic Q4_K `d` or `dmin`.
    pub fn realistic_f16(&mut self) -> u16 {
        let exponent = 5 + self.below(7) as u16;
        (exponent << 10) | (self.next_u64() & 0x3FF) as u16
    }
}

/// `blocks` realistic Q4_K blocks: `d` and `dmin` from [`Rng::realistic_f16`], random scales,
/// mins and quants.
pub fn realistic_q4k_blocks(rng: &mut Rng, blocks: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; blocks * crate::llama::Q4K_BLOCK_BYTES];
    for block in bytes.chunks_exact_mut(crate::llama::Q4K_BLOCK_BYTES) {
        let d = rng.realistic_f16();
        let dmin = rng.realistic_f16();
        block[..2].copy_from_slice(&d.to_le_bytes());
        block[2..4].copy_from_slice(&dmin.to_le_bytes());
        for b in &mut block[4..] {
            *b = rng.next_u64() as u8;
        }
    }
    bytes
}

/// `n` activations, approximately normal with unit variance.
pub fn activations(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.normal()).collect()
}

/// `n` weights as a model holds them: normal, scaled by 0.02.
pub fn weights(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.normal() * 0.02).collect()
}

/// An importance vector of `n` positive values spread over several decades, like an imatrix.
pub fn importance(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u = rng.uniform();
            0.001 + u * u * u * u * 50.0
        })
        .collect()
}
