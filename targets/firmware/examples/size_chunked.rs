//! Code-size probe: `ChunkedDecoder`, both `feed` and `feed_into`, and `finish`.
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
    let mut stream = q4k::ChunkedDecoder::new();
    let mut written = 0;
    let mut sum = 0.0f32;
    for chunk in input.chunks(black_box(100)) {
        written += stream.feed_into(chunk, &mut output[written..]).unwrap_or(0);
        let _ = stream.feed(chunk, |values| sum += values[0]);
    }
    black_box(sum);
    black_box(output);
    exit(stream.finish().is_ok())
}
