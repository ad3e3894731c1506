//! The multi-threaded entry points: `decode_parallel`, `decode_parallel_with` (every kernel,
//! available or not) and `Decoder::decode_parallel` under each store policy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use q4k::{Decoder, Kernel};
use q4k_fuzz::{Layout, Reader, check_call};

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let entry = reader.u8() % 3;
    let kernel = reader.kernel();
    let stores = reader.stores();
    let mut layout = Layout::read(&mut reader);
    match entry {
        0 => check_call(Kernel::best(), &mut layout, "decode_parallel", q4k::decode_parallel),
        1 => check_call(kernel, &mut layout, "decode_parallel_with", |input, output| {
            q4k::decode_parallel_with(kernel, input, output)
        }),
        _ => check_call(kernel, &mut layout, "Decoder::decode_parallel", |input, output| {
            Decoder::new()
                .kernel(kernel)
                .stores(stores)
                .decode_parallel(input, output)
        }),
    }
});
