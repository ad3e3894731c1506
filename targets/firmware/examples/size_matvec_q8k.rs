//! Code-size probe: `q4k::matvec_q8k` of one row of four blocks (length checks, kernel
//! dispatch, the scalar kernel), with activations the program does not compute.
#![no_std]
#![no_main]

static ACTIVATIONS: [q4k::BlockQ8K; 4] = [q4k::BlockQ8K::ZERO; 4];

q4k_firmware::size_probe!(|input, output| {
    let activations: &[q4k::BlockQ8K] = core::hint::black_box(&ACTIVATIONS);
    q4k::matvec_q8k(input, activations, &mut output[..1]).is_ok()
});
