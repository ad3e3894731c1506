//! Code-size probe: the same program without any decoding.
//! `size.sh` compares its `.text` with `size_baseline`'s.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use q4k_firmware::exit;

/// Four blocks of input, opaque to the optimiser.
static INPUT: [u8; 4 * q4k::BLOCK_BYTES] = [0x5a; 4 * q4k::BLOCK_BYTES];

#[entry]
fn main() -> ! {
    static mut OUTPUT: [f32; 4 * q4k::BLOCK_VALUES] = [0.0; 4 * q4k::BLOCK_VALUES];
    let input: &[u8] = black_box(&INPUT);
    let output: &mut [f32] = black_box(OUTPUT);
    let ok = input.len() == output.len();
    black_box(output);
    exit(ok)
}
