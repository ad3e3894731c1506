//! Code-size probe: `q4k::encode` of four blocks (length and finiteness checks, kernel dispatch,
//! the scalar encoder).
#![no_std]
#![no_main]

q4k_firmware::size_probe!(|input, output| {
    let mut blocks = [0u8; 4 * q4k::BLOCK_BYTES];
    let ok = input.len() == blocks.len() && q4k::encode(output, &mut blocks).is_ok();
    core::hint::black_box(&blocks);
    ok
});
