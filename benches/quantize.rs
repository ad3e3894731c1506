//! Criterion benchmarks: every available kernel, `decode`, `decode_parallel` (feature
//! `parallel`) and the store baselines, at 1 block, 64 blocks, 16 KiB, 1 MiB and 10 MiB of input.
//!
//! Throughput is the OUTPUT in bytes (GB = 10^9), so every group compares directly with the store baselines
//! (the limit). `cargo bench --bench quantize`; `-- --test` for a one-pass smoke run;
//! `--features parallel` adds the `decode_parallel` group. For ratios measured back to back
//! with the baselines, see the `performance_parity` example.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, measurement::WallTime,
};
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Kernel};

#[path = "../examples/common/store.rs"]
mod store;

/// Input sizes: a label and a number of blocks.
const SIZES: [(&str, usize); 5] = [
    ("1 block", 1),
    ("64 blocks", 64),
    ("16 KiB", (16 << 10) / BLOCK_BYTES),
    ("1 MiB", (1 << 20) / BLOCK_BYTES),
    ("10 MiB", (10 << 20) / BLOCK_BYTES),
];

/// Random blocks with realistic `d`/`dmin` (positive f16 between 2^-10 and 2^-3) and random
/// scales and quants, from a fixed xorshift64* seed.
fn random_blocks(blocks: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut input = vec![0u8; blocks * BLOCK_BYTES];
    for block in input.chunks_exact_mut(BLOCK_BYTES) {
        for chunk in block.chunks_mut(8) {
            let bytes = next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        for field in [0, 2] {
            let bits = next();
            let f16 = ((5 + (bits % 7) as u16) << 10) | ((bits >> 8) & 0x3FF) as u16;
            block[field..field + 2].copy_from_slice(&f16.to_le_bytes());
        }
    }
    input
}

/// Buffers shared by every group: the input of the largest size and a touched output.
struct Buffers {
    input: Vec<u8>,
    output: Vec<f32>,
}

impl Buffers {
    fn new() -> Self {
        let blocks = SIZES.iter().map(|(_, b)| *b).max().unwrap_or(1);
        let mut output = vec![0f32; blocks * BLOCK_VALUES];
        // Touch every page once, outside any measurement.
        output.fill(1.0);
        Buffers {
            input: random_blocks(blocks),
            output,
        }
    }

    fn slices(&mut self, blocks: usize) -> (&[u8], &mut [f32]) {
        (
            &self.input[..blocks * BLOCK_BYTES],
            &mut self.output[..blocks * BLOCK_VALUES],
        )
    }
}

fn configure<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    // Two shared cores: short, repeated measurements rather than long ones.
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    group
}

/// One group: `run` at every size, throughput counted in output bytes.
fn sizes_group(
    c: &mut Criterion,
    buffers: &mut Buffers,
    name: &str,
    mut run: impl FnMut(&[u8], &mut [f32]),
) {
    let mut group = configure(c, name);
    for (label, blocks) in SIZES {
        let output_bytes = blocks * BLOCK_VALUES * 4;
        // GB = 10^9 bytes, as everywhere in the project.
        group.throughput(Throughput::BytesDecimal(output_bytes as u64));
        // Calls of a millisecond and more: the same number of calls per sample.
        group.sampling_mode(if output_bytes >= 1 << 20 {
            SamplingMode::Flat
        } else {
            SamplingMode::Auto
        });
        let (input, output) = buffers.slices(blocks);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                run(black_box(input), &mut *output);
                black_box(&mut *output);
            })
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let isa = store::Isa::detect();
    let kernels: Vec<Kernel> = Kernel::ALL
        .iter()
        .copied()
        .filter(|k| k.is_available())
        .collect();
    eprintln!(
        "q4k bench: kernels {:?}; decode uses {}; store baselines {}",
        kernels.iter().map(|k| k.name()).collect::<Vec<_>>(),
        Kernel::best(),
        isa.describe()
    );
    #[cfg(feature = "parallel")]
    eprintln!(
        "decode_parallel: rayon global pool of {} threads",
        rayon::current_num_threads()
    );

    let mut buffers = Buffers::new();
    sizes_group(&mut c, &mut buffers, "store/plain", |_, out| {
        isa.plain(out, 1.0)
    });
    sizes_group(&mut c, &mut buffers, "store/streaming", |_, out| {
        isa.stream(out, 1.0)
    });
    for kernel in kernels {
        let name = format!("decode_with/{kernel}");
        sizes_group(&mut c, &mut buffers, &name, |input, out| {
            let _ = q4k::decode_with(kernel, input, out);
        });
    }
    sizes_group(&mut c, &mut buffers, "decode", |input, out| {
        let _ = q4k::decode(input, out);
    });
    #[cfg(feature = "parallel")]
    sizes_group(&mut c, &mut buffers, "decode_parallel", |input, out| {
        let _ = q4k::decode_parallel(input, out);
    });

    c.final_summary();
}
