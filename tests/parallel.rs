//! `decode_parallel` against `decode`: same bits, same errors, output untouched on error, in the
//! global pool and in pools of one and two threads.
#![cfg(feature = "parallel")]

use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

use q4k::{
    BLOCK_BYTES, BLOCK_VALUES, Decoder, Error, Kernel, PARALLEL_CHUNK_BLOCKS,
    PARALLEL_THRESHOLD_BLOCKS, Stores,
};

/// Cases per property: a tenth of `Q4K_QUICKCHECK_TESTS` (default 100), at least 10, since each
/// case decodes up to a few thousand blocks with every kernel and store policy.
fn quickcheck_tests() -> u64 {
    let requested = std::env::var("Q4K_QUICKCHECK_TESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100u64);
    (requested / 10).max(10)
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

/// Block counts where the splitting changes: around the serial threshold and the chunk size.
fn interesting_block_counts() -> Vec<usize> {
    let mut counts = vec![0, 1, 2, 63, 64, 65];
    for base in [
        PARALLEL_THRESHOLD_BLOCKS,
        PARALLEL_CHUNK_BLOCKS,
        PARALLEL_THRESHOLD_BLOCKS + PARALLEL_CHUNK_BLOCKS,
        3 * PARALLEL_CHUNK_BLOCKS.max(PARALLEL_THRESHOLD_BLOCKS),
    ] {
        counts.extend([base.saturating_sub(1), base, base + 1]);
    }
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// Random input bytes from a seed (xorshift64*), so a failing case can be replayed.
fn random_input(blocks: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut input = vec![0u8; blocks * BLOCK_BYTES];
    for chunk in input.chunks_mut(8) {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let bytes = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    input
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// `decode_parallel` gives `decode`'s bits, and `decode_parallel_with` each available kernel
/// gives `decode_with` that kernel's bits (kernels agree with each other bit for bit except in
/// NaN payloads, so each is compared with itself); with `every_policy`, so does
/// `Decoder::decode_parallel` under each store policy.
fn agrees_with_decode(blocks: usize, seed: u64, every_policy: bool) -> bool {
    let input = random_input(blocks, seed);
    let mut expected = vec![0f32; blocks * BLOCK_VALUES];
    let mut output = vec![f32::NAN; blocks * BLOCK_VALUES];
    q4k::decode(&input, &mut expected).expect("decode");
    q4k::decode_parallel(&input, &mut output).expect("decode_parallel");
    if bits(&output) != bits(&expected) {
        return false;
    }
    for kernel in Kernel::ALL.iter().copied().filter(|k| k.is_available()) {
        q4k::decode_with(kernel, &input, &mut expected).expect("decode_with");
        let expected = bits(&expected);
        output.fill(f32::NAN);
        q4k::decode_parallel_with(kernel, &input, &mut output).expect("decode_parallel_with");
        if bits(&output) != expected {
            return false;
        }
        let policies: &[Stores] = if every_policy {
            &[Stores::Auto, Stores::Cached, Stores::Streaming]
        } else {
            &[]
        };
        for &stores in policies {
            output.fill(f32::NAN);
            Decoder::new()
                .kernel(kernel)
                .stores(stores)
                .decode_parallel(&input, &mut output)
                .expect("Decoder::decode_parallel");
            if bits(&output) != expected {
                return false;
            }
        }
    }
    true
}

/// A block count that lands near the thresholds more often than not.
#[derive(Clone, Debug)]
struct BlockCount(usize);

impl Arbitrary for BlockCount {
    fn arbitrary(g: &mut Gen) -> Self {
        let counts = interesting_block_counts();
        let near = *g.choose(&counts).expect("non-empty");
        let jitter = usize::arbitrary(g) % 9;
        let count = if bool::arbitrary(g) {
            near + jitter
        } else {
            near.saturating_sub(jitter)
        };
        BlockCount(count.min(4 * PARALLEL_THRESHOLD_BLOCKS + 7))
    }
}

fn property(count: BlockCount, seed: u64) -> TestResult {
    TestResult::from_bool(agrees_with_decode(count.0, seed, false))
}

#[test]
fn bit_identical_in_global_pool() {
    println!(
        "kernels: {:?}, global pool {} threads",
        Kernel::ALL
            .iter()
            .copied()
            .filter(|k| k.is_available())
            .map(Kernel::name)
            .collect::<Vec<_>>(),
        rayon::current_num_threads()
    );
    QuickCheck::new()
        .tests(quickcheck_tests())
        .quickcheck(property as fn(BlockCount, u64) -> TestResult);
}

#[test]
fn bit_identical_in_one_and_two_thread_pools() {
    for threads in [1, 2] {
        pool(threads).install(|| {
            assert_eq!(rayon::current_num_threads(), threads);
            QuickCheck::new()
                .tests(quickcheck_tests())
                .quickcheck(property as fn(BlockCount, u64) -> TestResult);
        });
    }
}

#[test]
fn bit_identical_at_every_interesting_count() {
    let two = pool(2);
    for blocks in interesting_block_counts() {
        assert!(
            agrees_with_decode(blocks, blocks as u64, true),
            "{blocks} blocks"
        );
        assert!(
            two.install(|| agrees_with_decode(blocks, !(blocks as u64), true)),
            "{blocks} blocks in a 2-thread pool"
        );
    }
}

/// Runs `call` on a sentinel-filled output and checks that the error equals `decode`'s and that
/// not one value was written.
fn same_error_untouched(
    input: &[u8],
    output_len: usize,
    call: impl Fn(&[u8], &mut [f32]) -> Result<(), Error>,
    serial: impl Fn(&[u8], &mut [f32]) -> Result<(), Error>,
) {
    let sentinel = f32::from_bits(0x7FC0_1234);
    let mut expected_output = vec![sentinel; output_len];
    let expected = serial(input, &mut expected_output);
    assert!(expected.is_err());
    let mut output = vec![sentinel; output_len];
    assert_eq!(call(input, &mut output), expected);
    assert!(output.iter().all(|v| v.to_bits() == sentinel.to_bits()));
}

fn check_errors() {
    let blocks = PARALLEL_THRESHOLD_BLOCKS + 3;
    let input = random_input(blocks, 7);
    let values = blocks * BLOCK_VALUES;
    // Input not a whole number of blocks; output one value short; output one value long.
    let cases: [(&[u8], usize); 4] = [
        (&input[..input.len() - 1], values),
        (&input, values - 1),
        (&input, values + 1),
        (&input[..BLOCK_BYTES + 5], BLOCK_VALUES),
    ];
    for (input, len) in cases {
        same_error_untouched(input, len, q4k::decode_parallel, q4k::decode);
        for &kernel in Kernel::ALL {
            same_error_untouched(
                input,
                len,
                |i, o| q4k::decode_parallel_with(kernel, i, o),
                |i, o| q4k::decode_with(kernel, i, o),
            );
        }
    }
    // A kernel that cannot run here: refused before anything is written.
    for kernel in Kernel::ALL.iter().copied().filter(|k| !k.is_available()) {
        same_error_untouched(
            &input,
            values,
            |i, o| Decoder::new().kernel(kernel).decode_parallel(i, o),
            |i, o| Decoder::new().kernel(kernel).decode(i, o),
        );
        assert_eq!(
            q4k::decode_parallel_with(kernel, &input, &mut vec![0f32; values]),
            Err(Error::KernelUnavailable { kernel })
        );
    }
}

#[test]
fn errors_equal_decode_and_leave_output_untouched() {
    check_errors();
    pool(1).install(check_errors);
    pool(2).install(check_errors);
}

#[test]
fn empty_input_is_fine() {
    let mut output: [f32; 0] = [];
    assert_eq!(q4k::decode_parallel(&[], &mut output), Ok(()));
}

#[test]
fn parallel_tuning_changes_nothing_but_the_split() {
    let blocks = 700;
    let input = random_input(blocks, 0x7E57);
    let mut expected = vec![0f32; blocks * BLOCK_VALUES];
    q4k::decode_with(Kernel::Scalar, &input, &mut expected).unwrap();
    let two = pool(2);
    for (threshold, chunk) in [(0, 0), (0, 1), (1, 7), (700, 3), (701, 3), (usize::MAX, 1)] {
        let mut output = vec![0f32; expected.len()];
        two.install(|| {
            Decoder::new()
                .parallel_threshold_blocks(threshold)
                .parallel_chunk_blocks(chunk)
                .decode_parallel(&input, &mut output)
        })
        .unwrap();
        assert!(
            output
                .iter()
                .zip(&expected)
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())),
            "threshold {threshold} chunk {chunk}"
        );
    }
}
