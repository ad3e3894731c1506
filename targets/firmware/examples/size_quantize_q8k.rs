//! Code-size probe: `q4k::quantize_q8k` of 1024 values (length and finiteness checks, the
//! scalar quantizer).
#![no_std]
#![no_main]

q4k_firmware::size_probe!(|input, output| {
    let mut activations = [q4k::BlockQ8K::ZERO; 4];
    let ok =
        input.len() == 4 * q4k::BLOCK_BYTES && q4k::quantize_q8k(output, &mut activations).is_ok();
    core::hint::black_box(&activations);
    ok
});
