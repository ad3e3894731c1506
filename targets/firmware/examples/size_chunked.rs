//! Code-size probe: `ChunkedDecoder`, both `feed` and `feed_into`, and `finish`.
#![no_std]
#![no_main]

use core::hint::black_box;

q4k_firmware::size_probe!(|input, output| {
    let mut stream = q4k::ChunkedDecoder::new();
    let mut written = 0;
    let mut sum = 0.0f32;
    for chunk in input.chunks(black_box(100)) {
        written += stream.feed_into(chunk, &mut output[written..]).unwrap_or(0);
        let _ = stream.feed(chunk, |values| sum += values[0]);
    }
    black_box(sum);
    stream.finish().is_ok()
});
