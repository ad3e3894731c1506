//! Code-size probe: `q4k::encode_weighted` of four blocks with one importance row (checks,
//! kernel dispatch, the scalar encoder).
#![no_std]
#![no_main]

static IMPORTANCE: [f32; 4 * q4k::BLOCK_VALUES] = [1.0; 4 * q4k::BLOCK_VALUES];

q4k_firmware::size_probe!(|input, output| {
    let importance: &[f32] = core::hint::black_box(&IMPORTANCE);
    let mut blocks = [0u8; 4 * q4k::BLOCK_BYTES];
    let ok = input.len() == blocks.len()
        && q4k::encode_weighted(output, importance, &mut blocks).is_ok();
    core::hint::black_box(&blocks);
    ok
});
