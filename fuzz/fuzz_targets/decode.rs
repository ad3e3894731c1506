//! The one-shot entry points: `decode`, `decode_with` (every kernel, available or not) and
//! `Decoder` with and without a kernel, under each store policy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use q4k::{Decoder, Kernel};
use q4k_fuzz::{Layout, Reader, check_call};

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let entry = reader.u8() % 4;
    let kernel = reader.kernel();
    let stores = reader.stores();
    let mut layout = Layout::read(&mut reader, 32, 1);
    match entry {
        0 => check_call(Kernel::best(), &mut layout, "decode", q4k::decode),
        1 => check_call(kernel, &mut layout, "decode_with", |input, output| {
            q4k::decode_with(kernel, input, output)
        }),
        2 => check_call(
            Kernel::best(),
            &mut layout,
            "Decoder::new",
            |input, output| Decoder::new().stores(stores).decode(input, output),
        ),
        _ => check_call(kernel, &mut layout, "Decoder::kernel", |input, output| {
            let decoder = Decoder::new().kernel(kernel).stores(stores);
            assert_eq!(decoder.selected_kernel(), kernel);
            assert_eq!(decoder.store_policy(), stores);
            decoder.decode(input, output)
        }),
    }
});
