//! The multi-threaded entry points: `decode_parallel`, `decode_parallel_with` (every kernel,
//! available or not) and `Decoder::decode_parallel` under each store policy, in a one-thread
//! pool (where the work stays on the calling thread) and in a three-thread pool, with inputs
//! large enough to be split.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use q4k::{Decoder, Kernel};
use q4k_fuzz::{Layout, Reader, check_call};
use rayon::{ThreadPool, ThreadPoolBuilder};

fn pool(threads: usize) -> &'static ThreadPool {
    static POOLS: [OnceLock<ThreadPool>; 2] = [OnceLock::new(), OnceLock::new()];
    POOLS[usize::from(threads > 1)].get_or_init(|| {
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let entry = reader.u8();
    let kernel = reader.kernel();
    let stores = reader.stores();
    // Up to 1 + 255 * 16 copies of the pattern: a one-block pattern reaches 4081 blocks, past
    // the size where the work is split.
    let mut layout = Layout::read(&mut reader, 256, 16);
    let threads = if entry & 0x80 == 0 { 3 } else { 1 };
    pool(threads).install(|| match entry % 3 {
        0 => check_call(
            Kernel::best(),
            &mut layout,
            "decode_parallel",
            q4k::decode_parallel,
        ),
        1 => check_call(
            kernel,
            &mut layout,
            "decode_parallel_with",
            |input, output| q4k::decode_parallel_with(kernel, input, output),
        ),
        _ => check_call(
            kernel,
            &mut layout,
            "Decoder::decode_parallel",
            |input, output| {
                let decoder = Decoder::new().kernel(kernel).stores(stores);
                decoder.decode_parallel(input, output)
            },
        ),
    });
});
