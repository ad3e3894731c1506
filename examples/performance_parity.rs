//! Decode throughput against the physical limit: a store loop writing the same output size.
//!
//! ```text
//! cargo run --release --example performance_parity
//! cargo run --release --example performance_parity -- --sizes 16k,1m --quick
//! ```
//!
//! For each input size, every available kernel, `decode`, the store policies, `decode_f16` and
//! `decode_bf16` (with their store policies), and (at 16 KiB and 1 MiB) unaligned outputs of
//! each format are timed in round-robin with plain-store and streaming-store loops of the `f32`
//! and of the half-width output size, in the same process, so the ratios survive the drift of a
//! shared machine. Each row reports the median of many samples and the min–max
//! spread; GB = 10^9 bytes. A closing section checks the project's throughput targets.
//!
//! Options (arguments, or the environment variable in brackets):
//!
//! - `--sizes LIST` (`Q4K_PERF_SIZES`): comma-separated input sizes; a number with suffix `b`
//!   (blocks), `k` (KiB), `m` (MiB) or nothing (bytes). Default `1b,64b,16k,1m,10m,100m`.
//! - `--quick` (`Q4K_PERF_QUICK=1`): a short time budget per size, for a smoke run.
//! - `--budget SECONDS` (`Q4K_PERF_BUDGET`): time budget per size (default 2, quick 0.3).

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use q4k::{BLOCK_BYTES, BLOCK_VALUES, Decoder, Kernel, Stores};

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
    /// Input sizes in blocks, with their labels.
    sizes: Vec<(String, usize)>,
    quick: bool,
    budget_seconds: f64,
}

fn parse_size(token: &str) -> Option<(String, usize)> {
    let token = token.trim().to_ascii_lowercase();
    let (digits, unit) = match token.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => token.split_at(at),
        None => (token.as_str(), ""),
    };
    let number: usize = digits.parse().ok()?;
    let (label, blocks) = match unit {
        "b" => (
            format!("{number} block{}", if number == 1 { "" } else { "s" }),
            number,
        ),
        "k" | "kib" => (format!("{number} KiB"), number * 1024 / BLOCK_BYTES),
        "m" | "mib" => (format!("{number} MiB"), number * 1024 * 1024 / BLOCK_BYTES),
        "" => (format!("{number} B"), number / BLOCK_BYTES),
        _ => return None,
    };
    (blocks > 0).then_some((label, blocks))
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: performance_parity [--sizes 1b,64b,16k,1m,10m,100m] [--quick] [--budget SECONDS]"
    );
    ExitCode::FAILURE
}

fn options() -> Result<Options, ExitCode> {
    let mut sizes =
        std::env::var("Q4K_PERF_SIZES").unwrap_or_else(|_| String::from("1b,64b,16k,1m,10m,100m"));
    let mut quick = std::env::var("Q4K_PERF_QUICK").is_ok_and(|v| v != "0" && !v.is_empty());
    let mut budget = std::env::var("Q4K_PERF_BUDGET").ok();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--sizes" => sizes = args.next().ok_or_else(usage)?,
            "--budget" => budget = Some(args.next().ok_or_else(usage)?),
            // `cargo bench` style flags passed through by habit are ignored.
            "--bench" => {}
            _ => return Err(usage()),
        }
    }
    let sizes = sizes
        .split(',')
        .filter(|token| !token.trim().is_empty())
        .map(|token| parse_size(token).ok_or(token.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|token| {
            eprintln!("cannot read size {token:?}");
            usage()
        })?;
    let budget_seconds = match budget {
        Some(text) => text.parse().map_err(|_| usage())?,
        None if quick => 0.3,
        None => 2.0,
    };
    Ok(Options {
        sizes,
        quick,
        budget_seconds,
    })
}

// ---------------------------------------------------------------------------------------------
// Realistic random blocks

#[path = "common/data.rs"]
mod data;

/// `blocks` random blocks: realistic `d`/`dmin`, random packed scales and quants.
fn random_blocks(blocks: usize) -> Vec<u8> {
    data::random_blocks(&mut data::Rng(0x9E37_79B9_7F4A_7C15), blocks)
}

// ---------------------------------------------------------------------------------------------
// Store baselines: the fastest way to write the same number of bytes.

#[path = "common/store.rs"]
mod store;

// ---------------------------------------------------------------------------------------------
// What is timed

/// A half-width output format.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Half {
    F16,
    Bf16,
}

impl Half {
    fn name(self) -> &'static str {
        match self {
            Half::F16 => "f16",
            Half::Bf16 => "bf16",
        }
    }

    fn decode(self, decoder: Decoder, input: &[u8], out: &mut [u16]) -> Result<(), q4k::Error> {
        match self {
            Half::F16 => decoder.decode_f16(input, out),
            Half::Bf16 => decoder.decode_bf16(input, out),
        }
    }
}

/// One row of a table.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Case {
    PlainStore,
    StreamStore,
    /// The store loops over the bytes of the half-width output (half the `f32` output).
    PlainStoreHalf,
    StreamStoreHalf,
    /// `decode_with(kernel)`, store policy `Auto`.
    Kernel(Kernel),
    /// `q4k::decode`.
    Decode,
    /// The best kernel with a forced store policy.
    Stores(Stores),
    /// The best kernel writing to an output this many bytes past a 64-byte boundary.
    Offset(usize),
    /// `decode_f16` / `decode_bf16` with a store policy (`Auto`: the plain call).
    HalfDecode(Half, Stores),
    /// The best kernel's half decode to an output this many bytes past a 64-byte boundary.
    HalfOffset(Half, usize),
    /// `decode_parallel` in the global pool (`None`) or a pool of this many threads.
    #[cfg(feature = "parallel")]
    Parallel(Option<usize>),
}

impl Case {
    fn label(self) -> String {
        match self {
            Case::PlainStore => String::from("plain store"),
            Case::StreamStore => String::from("streaming store"),
            Case::Kernel(kernel) => format!("decode_with({kernel})"),
            Case::Decode => String::from("decode"),
            Case::Stores(stores) => format!("{} {stores:?}", Kernel::best()),
            Case::Offset(bytes) => format!("{} out +{bytes} B", Kernel::best()),
            Case::PlainStoreHalf => String::from("plain store, half size"),
            Case::StreamStoreHalf => String::from("streaming store, half size"),
            Case::HalfDecode(half, Stores::Auto) => format!("decode_{}", half.name()),
            Case::HalfDecode(half, stores) => format!("decode_{} {stores:?}", half.name()),
            Case::HalfOffset(half, bytes) => format!("decode_{} out +{bytes} B", half.name()),
            #[cfg(feature = "parallel")]
            Case::Parallel(None) => {
                format!("decode_parallel ({} thr)", rayon::current_num_threads())
            }
            #[cfg(feature = "parallel")]
            Case::Parallel(Some(threads)) => format!("parallel pool {threads} thr"),
        }
    }

    fn is_decode(self) -> bool {
        !matches!(
            self,
            Case::PlainStore | Case::StreamStore | Case::PlainStoreHalf | Case::StreamStoreHalf
        )
    }

    /// Bytes per output value: 2 for the half-width rows, 4 otherwise.
    fn value_bytes(self) -> usize {
        match self {
            Case::PlainStoreHalf
            | Case::StreamStoreHalf
            | Case::HalfDecode(..)
            | Case::HalfOffset(..) => 2,
            _ => 4,
        }
    }
}

/// Everything the cases share: buffers and thread pools.
struct Bench {
    isa: store::Isa,
    input: Vec<u8>,
    /// The output of the largest size, plus room to start at a 64-byte boundary and beyond.
    output: Vec<f32>,
    /// Index of the first 64-byte aligned element of `output`.
    aligned: usize,
    /// The half-width output of the largest size, with the same room.
    half_output: Vec<u16>,
    /// Index of the first 64-byte aligned element of `half_output`.
    half_aligned: usize,
    #[cfg(feature = "parallel")]
    pools: Vec<(usize, rayon::ThreadPool)>,
}

impl Bench {
    /// Output slice for `values` values starting `offset_bytes` past the aligned start.
    fn out(&mut self, values: usize, offset_bytes: usize) -> &mut [f32] {
        let start = self.aligned + offset_bytes / 4;
        &mut self.output[start..start + values]
    }

    /// Runs `case` `warm` times untimed, then `iters` times timed, on the first `blocks`
    /// blocks; returns the seconds of the timed calls.
    ///
    /// A pool's calls, untimed and timed, run in one `install`: between `install`s rayon's
    /// workers go to sleep, and the call that wakes them can find them on one core.
    fn time(
        &mut self,
        case: Case,
        blocks: usize,
        warm: usize,
        iters: usize,
    ) -> Result<f64, q4k::Error> {
        let values = blocks * BLOCK_VALUES;
        let isa = self.isa;
        let half_case = match case {
            Case::HalfDecode(half, stores) => Some((half, stores, 0)),
            Case::HalfOffset(half, bytes) => Some((half, Stores::Auto, bytes)),
            _ => None,
        };
        let offset = match case {
            Case::Offset(bytes) => bytes,
            _ => 0,
        };
        let input = &self.input[..blocks * BLOCK_BYTES];
        let start = self.aligned + offset / 4;
        let out = &mut self.output[start..start + values];
        let half_start = self.half_aligned + half_case.map_or(0, |(_, _, bytes)| bytes / 2);
        let half_out = &mut self.half_output[half_start..half_start + values];
        let mut call = || -> Result<(), q4k::Error> {
            if let Some((half, stores, _)) = half_case {
                half.decode(Decoder::new().stores(stores), input, half_out)?;
                black_box(&mut *half_out);
                return Ok(());
            }
            match case {
                Case::PlainStore => isa.plain(out, 1.0),
                Case::StreamStore => isa.stream(out, 1.0),
                Case::PlainStoreHalf => isa.plain(&mut out[..values / 2], 1.0),
                Case::StreamStoreHalf => isa.stream(&mut out[..values / 2], 1.0),
                Case::HalfDecode(..) | Case::HalfOffset(..) => unreachable!("handled above"),
                Case::Kernel(kernel) => q4k::decode_with(kernel, input, out)?,
                Case::Decode => q4k::decode(input, out)?,
                Case::Stores(stores) => Decoder::new().stores(stores).decode(input, out)?,
                Case::Offset(_) => q4k::decode_with(Kernel::best(), input, out)?,
                #[cfg(feature = "parallel")]
                Case::Parallel(_) => q4k::decode_parallel(input, out)?,
            }
            black_box(&mut *out);
            Ok(())
        };
        let mut run = || -> Result<f64, q4k::Error> {
            for _ in 0..warm {
                call()?;
            }
            let start = Instant::now();
            for _ in 0..iters {
                call()?;
            }
            Ok(start.elapsed().as_secs_f64())
        };
        #[cfg(feature = "parallel")]
        if let Case::Parallel(Some(threads)) = case {
            let pool = &self.pools.iter().find(|(n, _)| *n == threads).unwrap().1;
            return pool.install(run);
        }
        run()
    }
}

/// Median, fastest and slowest seconds per call.
#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(samples: &mut [f64]) -> Stats {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let median = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    };
    Stats {
        median,
        min: samples[0],
        max: samples[n - 1],
    }
}

/// A sum of the output's bits, to check that every decode case wrote the same values.
fn checksum(values: &[f32]) -> u64 {
    values
        .iter()
        .fold(0u64, |acc, v| acc.rotate_left(5) ^ u64::from(v.to_bits()))
}

/// The same for half-width outputs.
fn checksum_half(values: &[u16]) -> u64 {
    values
        .iter()
        .fold(0u64, |acc, &v| acc.rotate_left(5) ^ u64::from(v))
}

struct SizeResult {
    label: String,
    blocks: usize,
    rows: Vec<(Case, Stats)>,
}

impl SizeResult {
    fn input_bytes(&self) -> usize {
        self.blocks * BLOCK_BYTES
    }

    fn output_bytes(&self) -> usize {
        self.blocks * BLOCK_VALUES * 4
    }

    fn case_output_bytes(&self, case: Case) -> usize {
        self.blocks * BLOCK_VALUES * case.value_bytes()
    }

    fn get(&self, case: Case) -> Option<Stats> {
        self.rows.iter().find(|(c, _)| *c == case).map(|(_, s)| *s)
    }
}

fn cases_for(blocks: usize) -> Vec<Case> {
    let mut cases = vec![
        Case::PlainStore,
        Case::StreamStore,
        Case::PlainStoreHalf,
        Case::StreamStoreHalf,
    ];
    cases.extend(
        Kernel::ALL
            .iter()
            .copied()
            .filter(|k| k.is_available())
            .map(Case::Kernel),
    );
    cases.push(Case::Decode);
    cases.push(Case::Stores(Stores::Cached));
    cases.push(Case::Stores(Stores::Streaming));
    for half in [Half::F16, Half::Bf16] {
        cases.extend(
            [Stores::Auto, Stores::Cached, Stores::Streaming].map(|s| Case::HalfDecode(half, s)),
        );
    }
    let output_bytes = blocks * BLOCK_VALUES * 4;
    if (100_000..=32 << 20).contains(&output_bytes) {
        cases.extend([4, 16, 32].map(Case::Offset));
        for half in [Half::F16, Half::Bf16] {
            cases.extend([2, 4, 16, 32].map(|bytes| Case::HalfOffset(half, bytes)));
        }
    }
    #[cfg(feature = "parallel")]
    cases.extend([
        Case::Parallel(None),
        Case::Parallel(Some(1)),
        Case::Parallel(Some(2)),
    ]);
    cases
}

fn measure(bench: &mut Bench, label: &str, blocks: usize, options: &Options) -> SizeResult {
    let cases = cases_for(blocks);
    let values = blocks * BLOCK_VALUES;

    // The reference output, from the scalar kernel.
    bench
        .time(Case::Kernel(Kernel::Scalar), blocks, 0, 1)
        .expect("scalar decode");
    let reference = checksum(bench.out(values, 0));
    let half_reference = [Half::F16, Half::Bf16].map(|half| {
        let input = &bench.input[..blocks * BLOCK_BYTES];
        let out = &mut bench.half_output[bench.half_aligned..bench.half_aligned + values];
        half.decode(Decoder::new().kernel(Kernel::Scalar), input, out)
            .expect("scalar half decode");
        checksum_half(out)
    });

    // Calibrate: a warm-up call (which also checks the output), then the time of one call,
    // and the number of calls per sample (at least ~200 µs per sample) and of untimed calls
    // before each sample (at least one sample's worth and ~1 ms; 10 ms for the pools, whose
    // workers wake from sleep at each sample and need a moment to spread over the cores).
    let target_sample = 200e-6;
    let mut iters = Vec::with_capacity(cases.len());
    let mut warm = Vec::with_capacity(cases.len());
    let mut round_seconds = 0.0;
    for &case in &cases {
        bench.out(values, 0).fill(-1.0);
        bench.time(case, blocks, 0, 1).expect("decode");
        let half = match case {
            Case::HalfDecode(half, _) => Some((half, 0)),
            Case::HalfOffset(half, bytes) => Some((half, bytes)),
            _ => None,
        };
        if let Some((half, offset)) = half {
            let start = bench.half_aligned + offset / 2;
            let sum = checksum_half(&bench.half_output[start..start + values]);
            if sum != half_reference[half as usize] {
                println!("!! {} wrote different values from scalar", case.label());
            }
        } else if case.is_decode() {
            let offset = if let Case::Offset(b) = case { b } else { 0 };
            if checksum(bench.out(values, offset)) != reference {
                println!("!! {} wrote different values from scalar", case.label());
            }
        }
        // Double the calls per sample until a sample takes the target time, so that per-sample
        // costs (a pool's `install`) are spread over many calls.
        let mut n = 1;
        let seconds = loop {
            let seconds = bench.time(case, blocks, 0, n).expect("decode");
            if seconds >= target_sample || n >= 1 << 20 {
                break seconds;
            }
            n *= 2;
        };
        #[cfg(feature = "parallel")]
        let pool = matches!(case, Case::Parallel(Some(_)));
        #[cfg(not(feature = "parallel"))]
        let pool = false;
        let target_warm = if pool { 10e-3 } else { 1e-3 };
        let per_call = seconds / n as f64;
        let warm_calls = n.max((target_warm / per_call).ceil() as usize);
        iters.push(n);
        warm.push(warm_calls);
        round_seconds += seconds + per_call * warm_calls as f64;
    }
    let (min_rounds, max_rounds) = if options.quick { (3, 300) } else { (5, 2000) };
    let rounds = ((options.budget_seconds / round_seconds) as usize).clamp(min_rounds, max_rounds);

    // Round-robin: every case takes one sample per round, so drift hits all rows alike.
    let mut samples: Vec<Vec<f64>> = cases.iter().map(|_| Vec::with_capacity(rounds)).collect();
    for _ in 0..rounds {
        for (i, &case) in cases.iter().enumerate() {
            // Untimed calls first, for as long as a sample and at least ~1 ms: the case before
            // may have left this case's output out of the caches (streaming stores do), and
            // each case is timed in its own steady state. On a Zen 4 at 1 MiB of input (about
            // 100 us a call), the case that follows the streaming ones measured 0.51-0.56x its
            // speed in another slot after one untimed call, 0.72-0.74x after two, and its full
            // speed after eight.
            let seconds = bench.time(case, blocks, warm[i], iters[i]).expect("decode");
            samples[i].push(seconds / iters[i] as f64);
        }
    }
    let rows = cases
        .iter()
        .zip(&mut samples)
        .map(|(&case, s)| (case, stats(s)))
        .collect();
    let result = SizeResult {
        label: label.to_string(),
        blocks,
        rows,
    };
    print_table(&result, rounds);
    result
}

fn print_table(result: &SizeResult, rounds: usize) {
    let (input, output) = (result.input_bytes(), result.output_bytes());
    println!();
    println!(
        "== {} ({} blocks, {} B in, {} B out), median of {} samples ==",
        result.label, result.blocks, input, output, rounds
    );
    println!(
        "{:<30} {:>8} {:>8} {:>17} {:>7} {:>7} {:>7} {:>7}",
        "case", "in GB/s", "out GB/s", "out min-max", "xplain", "xstream", "xscalar", "xdecode"
    );
    let median = |case| result.get(case).map(|s| s.median);
    let scalar = median(Case::Kernel(Kernel::Scalar));
    let decode = median(Case::Decode);
    let ratio = |base: Option<f64>, t: f64| match base {
        Some(base) => format!("{:.2}", base / t),
        None => String::from("-"),
    };
    for (case, s) in &result.rows {
        let gbps = |bytes: usize, t: f64| bytes as f64 / t / 1e9;
        let output = result.case_output_bytes(*case);
        // The store loops of the same output size are the limits of each row.
        let (plain, stream) = if case.value_bytes() == 2 {
            (median(Case::PlainStoreHalf), median(Case::StreamStoreHalf))
        } else {
            (median(Case::PlainStore), median(Case::StreamStore))
        };
        println!(
            "{:<30} {:>8} {:>8.2} {:>17} {:>7} {:>7} {:>7} {:>7}",
            case.label(),
            if case.is_decode() {
                format!("{:.2}", gbps(input, s.median))
            } else {
                String::from("-")
            },
            gbps(output, s.median),
            format!("{:.1}-{:.1}", gbps(output, s.max), gbps(output, s.min)),
            ratio(plain, s.median),
            ratio(stream, s.median),
            if case.is_decode() {
                ratio(scalar, s.median)
            } else {
                String::from("-")
            },
            // Values per second against `decode` (f32).
            if case.is_decode() {
                ratio(decode, s.median)
            } else {
                String::from("-")
            },
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Targets

struct Verdicts {
    passed: usize,
    failed: usize,
}

impl Verdicts {
    fn check(&mut self, ok: bool, what: String) {
        if ok {
            self.passed += 1;
            println!("PASS  {what}");
        } else {
            self.failed += 1;
            println!("FAIL  {what}");
        }
    }
}

fn check_targets(results: &[SizeResult]) -> Verdicts {
    let mut v = Verdicts {
        passed: 0,
        failed: 0,
    };
    let out_gbps = |r: &SizeResult, s: Stats| r.output_bytes() as f64 / s.median / 1e9;
    println!();
    println!("== targets (medians; ratios measured back to back) ==");
    for r in results {
        let Some(decode) = r.get(Case::Decode) else {
            continue;
        };
        let gbps = out_gbps(r, decode);
        if r.input_bytes() >= 1_000_000 {
            v.check(
                gbps > 5.0,
                format!("{}: decode output {gbps:.1} GB/s > 5 GB/s", r.label),
            );
        }
        if r.input_bytes() >= 10_000_000 {
            v.check(
                gbps > 10.0,
                format!("{}: decode output {gbps:.1} GB/s > 10 GB/s", r.label),
            );
        }
        // Per-size ratio goals, by where the output lives.
        if r.input_bytes() >= 16_000 {
            let best = r.get(Case::Kernel(Kernel::best())).unwrap_or(decode);
            let (goal, base, base_name) = if r.output_bytes() <= 1 << 20 {
                (0.6, r.get(Case::PlainStore), "plain store")
            } else if r.output_bytes() <= 32 << 20 {
                (0.9, r.get(Case::PlainStore), "plain store")
            } else {
                (0.95, r.get(Case::StreamStore), "streaming store")
            };
            if let Some(base) = base {
                let ratio = base.median / best.median;
                v.check(
                    ratio >= goal,
                    format!(
                        "{}: {} one thread at {ratio:.2}x {base_name} (goal >= {goal}x)",
                        r.label,
                        Kernel::best()
                    ),
                );
            }
        }
        // Half-width output: values per second against `decode`, beyond the caches and in L2.
        for half in [Half::F16, Half::Bf16] {
            let Some(h) = r.get(Case::HalfDecode(half, Stores::Auto)) else {
                continue;
            };
            let speedup = decode.median / h.median;
            let goal = if r.input_bytes() >= 10_000_000 {
                Some(1.8)
            } else if (16_000..32 * 1024).contains(&r.input_bytes()) {
                Some(1.0)
            } else {
                None
            };
            if let Some(goal) = goal {
                v.check(
                    speedup >= goal,
                    format!(
                        "{}: decode_{} at {speedup:.2}x the values/s of decode (goal >= {goal}x)",
                        r.label,
                        half.name()
                    ),
                );
            }
        }
        // Unaligned outputs: each offset at least 0.8x the aligned call of the same format.
        let offsets = r.rows.iter().filter_map(|&(case, s)| match case {
            Case::Offset(bytes) => Some((case, bytes, s, Case::Kernel(Kernel::best()))),
            Case::HalfOffset(half, bytes) => {
                Some((case, bytes, s, Case::HalfDecode(half, Stores::Auto)))
            }
            _ => None,
        });
        for (case, _, s, aligned_case) in offsets {
            if let Some(aligned) = r.get(aligned_case) {
                let ratio = aligned.median / s.median;
                v.check(
                    ratio >= 0.8,
                    format!(
                        "{}: {} at {ratio:.2}x the aligned output (goal >= 0.8x)",
                        r.label,
                        case.label()
                    ),
                );
            }
        }
        let scalar = r.get(Case::Kernel(Kernel::Scalar));
        if let (true, Some(scalar)) = ((16_000..32 * 1024).contains(&r.input_bytes()), scalar) {
            // Information, not a goal: once the SIMD kernel is at the store limit, its lead over
            // the scalar kernel is the store limit over the scalar speed, which differs between
            // machines (stores slower than 4x the scalar kernel make 4x impossible).
            let best = r.get(Case::Kernel(Kernel::best())).unwrap_or(decode);
            let speedup = scalar.median / best.median;
            let limit = r
                .get(Case::PlainStore)
                .map(|stores| {
                    format!(
                        ", the plain-store loop {:.2}x",
                        scalar.median / stores.median
                    )
                })
                .unwrap_or_default();
            println!(
                "INFO  {}: {} at {speedup:.2}x scalar{limit} (bounded by the stores, not a goal)",
                r.label,
                Kernel::best()
            );
        }
        #[cfg(feature = "parallel")]
        {
            if let (Some(one), Some(two)) = (
                r.get(Case::Parallel(Some(1))),
                r.get(Case::Parallel(Some(2))),
            ) {
                let speedup = one.median / two.median;
                let out = r.output_bytes();
                if (2 << 20..=32 << 20).contains(&out) {
                    v.check(
                        speedup >= 1.6,
                        format!(
                            "{}: decode_parallel 2 threads at {speedup:.2}x one thread (goal >= 1.6x)",
                            r.label
                        ),
                    );
                } else if out > 32 << 20 {
                    v.check(
                        speedup >= 1.0,
                        format!(
                            "{}: decode_parallel 2 threads at {speedup:.2}x one thread (goal >= 1x)",
                            r.label
                        ),
                    );
                }
            }
            let parallel = r.get(Case::Parallel(None));
            if let (true, Some(parallel)) = (r.blocks == 1 || r.blocks == 64, parallel) {
                let slowdown = parallel.median / decode.median;
                v.check(
                    slowdown <= 1.05,
                    format!(
                        "{}: decode_parallel takes {slowdown:.3}x the time of decode (goal <= 1.05x)",
                        r.label
                    ),
                );
            }
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------

fn print_machine(isa: store::Isa) {
    let mut features = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => {
                $(if std::arch::is_x86_feature_detected!($f) { features.push($f); })*
            };
        }
        probe!(
            "sse2",
            "sse4.1",
            "avx",
            "avx2",
            "fma",
            "f16c",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512vbmi",
            "avx512bf16"
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            features.push("neon");
        }
        if std::arch::is_aarch64_feature_detected!("dotprod") {
            features.push("dotprod");
        }
    }
    let available: Vec<&str> = Kernel::ALL
        .iter()
        .copied()
        .filter(|k| k.is_available())
        .map(Kernel::name)
        .collect();
    println!("arch: {}", std::env::consts::ARCH);
    println!("CPU features: {}", features.join(" "));
    println!("kernels available: {}", available.join(", "));
    println!("decode uses: {}", Kernel::best());
    println!("store baselines: {}", isa.describe());
    println!(
        "streaming threshold (Stores::Auto): {} B of output",
        q4k::STREAMING_THRESHOLD_BYTES
    );
    print_load("at start");
    #[cfg(feature = "parallel")]
    println!(
        "parallel: rayon global pool {} threads; also pools of 1 and 2 threads",
        rayon::current_num_threads()
    );
    #[cfg(not(feature = "parallel"))]
    println!("parallel: off (run with --features parallel for decode_parallel rows)");
}

/// The machine's load average (Linux), so that a noisy run can be recognised as one.
fn print_load(when: &str) {
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let fields: Vec<&str> = load.split_whitespace().take(3).collect();
        println!(
            "load average {when}: {} ({} cores; other work on the cores skews the parallel rows)",
            fields.join(" "),
            std::thread::available_parallelism().map_or(0, usize::from)
        );
    }
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(code) => return code,
    };
    let isa = store::Isa::detect();
    print_machine(isa);

    let max_blocks = options.sizes.iter().map(|(_, b)| *b).max().unwrap_or(0);
    let input = random_blocks(max_blocks);
    // Room for a 64-byte aligned start plus the largest offset row (32 bytes).
    let mut output = vec![0f32; max_blocks * BLOCK_VALUES + 32];
    // Touch every page once, so that no timed call pays for a first-touch page fault.
    output.fill(1.0);
    let aligned = output.as_ptr().align_offset(64);
    let mut half_output = vec![0u16; max_blocks * BLOCK_VALUES + 64];
    half_output.fill(0x3C00);
    let half_aligned = half_output.as_ptr().align_offset(64);
    let mut bench = Bench {
        isa,
        input,
        output,
        aligned,
        half_output,
        half_aligned,
        #[cfg(feature = "parallel")]
        pools: [1, 2]
            .into_iter()
            .map(|threads| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("thread pool");
                (threads, pool)
            })
            .collect(),
    };

    let started = Instant::now();
    let results: Vec<SizeResult> = options
        .sizes
        .iter()
        .map(|(label, blocks)| measure(&mut bench, label, *blocks, &options))
        .collect();
    let verdicts = check_targets(&results);
    print_load("at end");
    println!(
        "{} passed, {} failed; total {:.1} s",
        verdicts.passed,
        verdicts.failed,
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
