//! Code-size probe: `q4k::matvec_f32` of one row of four blocks (length checks, kernel
//! dispatch, the scalar kernel).
#![no_std]
#![no_main]

static ACTIVATIONS: [f32; 4 * q4k::BLOCK_VALUES] = [0.5; 4 * q4k::BLOCK_VALUES];

q4k_firmware::size_probe!(|input, output| {
    let activations: &[f32] = core::hint::black_box(&ACTIVATIONS);
    q4k::matvec_f32(input, activations, &mut output[..1]).is_ok()
});
