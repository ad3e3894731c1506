//! q4k's encoder against llama.cpp's `quantize_row_q4_K_ref` (`-O3 -march=native`), single
//! thread, on the same weights in the same rounds; then q4k's `encode_parallel` on two threads
//! against one thread on a 4096 x 4096 matrix.
//!
//!     cargo run --release --bin encode

use std::time::Duration;

use q4k::{Encoder, Kernel};
use q4k_llama_bench::llama::{self, Q4K_BLOCK_BYTES, QK_K};
use q4k_llama_bench::pools::{print_pools, thread_pools, time_pools};
use q4k_llama_bench::timing::{Rng, RoundRobin, cpu_model, weights};

fn main() {
    let mut rng = Rng::new(7);
    let kernels: Vec<Kernel> = Kernel::ALL
        .iter()
        .copied()
        .filter(|k| k.is_available())
        .collect();
    eprintln!("q4k kernels here: {kernels:?}, best {}", Kernel::best());

    // Single thread: 16 rows of 4096 weights (256 KiB of f32, 36 KiB of Q4_K).
    let values = weights(&mut rng, 16 * 4096);
    let halves: Vec<u16> = values.iter().map(|&v| f16_bits(v)).collect();
    let mut ours = vec![0u8; values.len() / QK_K * Q4K_BLOCK_BYTES];
    let mut theirs = ours.clone();
    llama::quantize_row_q4k_ref(&values, &mut theirs);
    q4k::encode(&values, &mut ours).expect("encode");
    // The C is built with contraction (FMA), so a few blocks may differ from q4k's reference
    // bytes; say how many rather than assume.
    let differing = ours
        .chunks(Q4K_BLOCK_BYTES)
        .zip(theirs.chunks(Q4K_BLOCK_BYTES))
        .filter(|(a, b)| a != b)
        .count();
    eprintln!(
        "blocks differing from this -O3 -march=native build of llama.cpp: {differing} of {}",
        ours.len() / Q4K_BLOCK_BYTES
    );

    let mut outs = vec![ours.clone(); kernels.len()];
    let mut out_f16 = ours.clone();
    let mut bench = RoundRobin::new(&format!(
        "Q4_K encode, one thread: {} values (16 rows of 4096)",
        values.len()
    ));
    bench.add("llama.cpp quantize_row_q4_K_ref", || {
        llama::quantize_row_q4k_ref(&values, &mut theirs);
        theirs[0]
    });
    let names: Vec<String> = kernels
        .iter()
        .map(|k| format!("q4k encode ({k})"))
        .collect();
    for ((kernel, name), out) in kernels.iter().zip(&names).zip(outs.iter_mut()) {
        let encoder = Encoder::new().kernel(*kernel);
        let values = &values;
        bench.add(name, move || {
            encoder.encode(values, out).expect("encode");
            out[0]
        });
    }
    let best_f16 = format!("q4k encode_f16 ({})", Kernel::best());
    bench.add(&best_f16, || {
        q4k::encode_f16(&halves, &mut out_f16).expect("encode_f16");
        out_f16[0]
    });
    let report = bench.run();
    report.print(Some((values.len() as f64 / 1e6, "M values/s")));
    for name in &names {
        report.print_ratio(name, "llama.cpp quantize_row_q4_K_ref");
    }
    report.print_ratio(&best_f16, "llama.cpp quantize_row_q4_K_ref");

    // Two threads against one: a 4096 x 4096 matrix, each pool timed in blocks of calls back
    // to back (see `pools`).
    let matrix = weights(&mut rng, 4096 * 4096);
    let mut outs = vec![vec![0u8; matrix.len() / QK_K * Q4K_BLOCK_BYTES]; 2];
    let pools = thread_pools(&[1, 2]);
    let (blocks, calls, warm_up) = (5, 5, Duration::from_millis(200));
    let samples = time_pools(&pools, blocks, calls, warm_up, &mut |i| {
        q4k::encode_parallel(&matrix, &mut outs[i]).expect("encode");
    });
    println!(
        "Q4_K encode_parallel ({}): 4096 x 4096 matrix | {} | {blocks} blocks of {calls} calls \
         per pool, each after {} ms of calls",
        Kernel::best(),
        cpu_model(),
        warm_up.as_millis()
    );
    print_pools(matrix.len() as f64 / 1e6, "M values/s", &samples);
    assert!(
        outs[0] == outs[1],
        "the two splits must give the same bytes"
    );
}

/// `v` rounded to f16 bits (to nearest, ties to even; the weights here are far from the f16
/// limits), so that the f16 input holds the same kind of data.
fn f16_bits(v: f32) -> u16 {
    let bits = v.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = ((bits >> 23) & 0xFF) as i32 - 127 + 15;
    if exponent <= 0 {
        return sign;
    }
    let mantissa = bits & 0x7F_FFFF;
    let mut h = ((exponent as u32) << 10) | (mantissa >> 13);
    let rest = mantissa & 0x1FFF;
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}
