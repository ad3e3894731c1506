//! Decodes the reference vectors on the emulated board with every public entry point and
//! compares each value with the reference bits; ends with `N passed, M failed`.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use q4k::{BLOCK_BYTES, BLOCK_VALUES, BlockQ4K, ChunkedDecoder, Error, Kernel};
use q4k_firmware::{
    BLOCK_COUNT, BLOCKS, EXPECTED, Tally, VALUE_COUNT, expected, mismatches, peak_stack,
    stack_used_by,
};

/// Chunk sizes for the chunked decoder: byte by byte, odd sizes, one block, many blocks.
const CHUNK_SIZES: [usize; 6] = [1, 7, 100, BLOCK_BYTES, 1000, usize::MAX];

/// What the output holds before a decode, so that values left unwritten show up as mismatches.
const SENTINEL: f32 = 1234.5;

/// The most stack the decode paths may use on this board.
const STACK_LIMIT_BYTES: usize = 2048;

#[entry]
fn main() -> ! {
    // `static mut` in the entry function is a `&'static mut` owned by `main`: no stack, no unsafe.
    static mut OUTPUT: [f32; VALUE_COUNT] = [0.0; VALUE_COUNT];
    static mut BLOCK_VALUES_BUF: [f32; BLOCK_VALUES] = [0.0; BLOCK_VALUES];
    static mut HALF_OUTPUT: [u16; VALUE_COUNT] = [0; VALUE_COUNT];
    let output: &'static mut [f32] = OUTPUT;
    let half_output: &'static mut [u16] = HALF_OUTPUT;
    let block_values: &'static mut [f32; BLOCK_VALUES] = BLOCK_VALUES_BUF;
    let mut tally = Tally::default();

    defmt::info!(
        "q4k on {}: {} reference blocks, kernel {}",
        env!("Q4K_FIRMWARE_TARGET"),
        BLOCK_COUNT,
        Kernel::best()
    );
    tally.check(
        "reference files hold whole blocks and their values",
        BLOCK_COUNT > 0
            && BLOCKS.len() == BLOCK_COUNT * BLOCK_BYTES
            && EXPECTED.len() == VALUE_COUNT * 4,
    );

    // One-shot decode, best kernel and scalar kernel.
    output.fill(SENTINEL);
    let result = q4k::decode(BLOCKS, output);
    tally.check(
        "decode",
        result.is_ok() && mismatches("decode", 0, output) == 0,
    );
    output.fill(SENTINEL);
    let result = q4k::decode_with(Kernel::Scalar, BLOCKS, output);
    tally.check(
        "decode_with(scalar)",
        result.is_ok() && mismatches("decode_with", 0, output) == 0,
    );

    // Half-width output: every reference value rounded to nearest, ties to even, by llama.cpp's
    // own formulas (written out below); a NaN where the reference has one.
    for bf16 in [false, true] {
        half_output.fill(0xDEAD);
        let (name, result) = if bf16 {
            ("decode_bf16", q4k::decode_bf16(BLOCKS, half_output))
        } else {
            ("decode_f16", q4k::decode_f16(BLOCKS, half_output))
        };
        let bad = half_output
            .iter()
            .enumerate()
            .filter(|&(i, &got)| !expected(i).is_some_and(|want| half_matches(got, want, bf16)))
            .count();
        if bad > 0 {
            defmt::error!("{}: {} values differ", name, bad);
        }
        tally.check(name, result.is_ok() && bad == 0);
    }

    // Block by block.
    let mut bad = 0;
    match q4k::blocks(BLOCKS) {
        Ok(blocks) => {
            for (i, block) in blocks.iter().enumerate() {
                block_values.fill(SENTINEL);
                block.decode(block_values);
                bad += mismatches("BlockQ4K::decode", i * BLOCK_VALUES, block_values);
            }
        }
        Err(_) => bad += 1,
    }
    tally.check("BlockQ4K::decode, every block", bad == 0);

    // Chunked, through the callback and into a slice.
    for size in CHUNK_SIZES {
        let mut stream = ChunkedDecoder::new();
        let mut bad = 0;
        let mut blocks = 0;
        for chunk in BLOCKS.chunks(size.min(BLOCKS.len())) {
            let fed = stream.feed(chunk, |values| {
                bad += mismatches("ChunkedDecoder::feed", blocks * BLOCK_VALUES, values);
                blocks += 1;
            });
            bad += usize::from(fed.is_err());
        }
        let ok = stream.finish().is_ok() && blocks == BLOCK_COUNT && bad == 0;
        defmt::info!(
            "feed, {}-byte chunks: {} blocks",
            size.min(BLOCKS.len()),
            blocks
        );
        tally.check("ChunkedDecoder::feed", ok);
    }
    for size in CHUNK_SIZES {
        output.fill(SENTINEL);
        let mut stream = ChunkedDecoder::new();
        let mut written = 0;
        let mut failed_calls = 0;
        for chunk in BLOCKS.chunks(size.min(BLOCKS.len())) {
            match stream.feed_into(chunk, &mut output[written..]) {
                Ok(n) => written += n,
                Err(_) => failed_calls += 1,
            }
        }
        let ok = stream.finish().is_ok()
            && failed_calls == 0
            && written == VALUE_COUNT
            && mismatches("ChunkedDecoder::feed_into", 0, output) == 0;
        defmt::info!(
            "feed_into, {}-byte chunks: {} values",
            size.min(BLOCKS.len()),
            written
        );
        tally.check("ChunkedDecoder::feed_into", ok);
    }

    // Errors: a cut-off stream, a short output, a partial block.
    let mut stream = ChunkedDecoder::new();
    let cut = BLOCKS.len() - 5;
    let fed = stream.feed(&BLOCKS[..cut], |_| {});
    let finish = stream.finish();
    defmt::info!("cut-off stream: {}", finish);
    tally.check(
        "ChunkedDecoder::finish reports trailing bytes",
        fed.is_ok() && finish == Err(Error::TrailingBytes { count: 139 }),
    );
    output.fill(SENTINEL);
    let mut stream = ChunkedDecoder::new();
    let short = VALUE_COUNT - 1;
    let refused = stream.feed_into(BLOCKS, &mut output[..short]);
    tally.check(
        "ChunkedDecoder::feed_into refuses a short output, untouched",
        refused
            == Err(Error::OutputLength {
                expected: VALUE_COUNT,
                actual: short,
            })
            && stream.pending_bytes() == 0
            && output.iter().all(|v| v.to_bits() == SENTINEL.to_bits()),
    );
    tally.check(
        "decode refuses a partial block",
        q4k::decode(&BLOCKS[..BLOCK_BYTES - 1], &mut output[..0])
            == Err(Error::InputLength {
                len: BLOCK_BYTES - 1,
            }),
    );

    // Stack: the whole program so far (reset-time paint), then each decode path on its own.
    defmt::info!("stack: peak of the program so far {} bytes", peak_stack());
    let (_, decode_stack) = stack_used_by(|| q4k::decode(BLOCKS, output));
    let (_, block_stack) = stack_used_by(|| {
        if let Some(block) = BLOCKS.first_chunk::<BLOCK_BYTES>() {
            BlockQ4K::from_bytes(*block).decode(block_values);
        }
    });
    let (_, feed_stack) = stack_used_by(|| {
        let mut stream = ChunkedDecoder::new();
        let mut sum = 0.0f32;
        for chunk in BLOCKS.chunks(100) {
            let _ = stream.feed(chunk, |values| sum += values[0]);
        }
        (sum, stream.finish())
    });
    let (_, feed_into_stack) = stack_used_by(|| {
        let mut stream = ChunkedDecoder::new();
        let mut written = 0;
        for chunk in BLOCKS.chunks(100) {
            written += stream.feed_into(chunk, &mut output[written..]).unwrap_or(0);
        }
        (written, stream.finish())
    });
    defmt::info!(
        "stack: decode {} bytes, BlockQ4K::decode {} bytes, feed {} bytes, feed_into {} bytes",
        decode_stack,
        block_stack,
        feed_stack,
        feed_into_stack
    );
    tally.check(
        "decode paths stay under the stack limit",
        [decode_stack, block_stack, feed_stack, feed_into_stack]
            .iter()
            .all(|&bytes| bytes < STACK_LIMIT_BYTES),
    );

    tally.finish()
}

/// Whether `got` is `want` rounded to binary16 (or bfloat16 if `bf16`) as llama.cpp rounds:
/// `ggml_compute_fp32_to_fp16` and `ggml_compute_fp32_to_bf16`; any NaN for a NaN.
fn half_matches(got: u16, want: f32, bf16: bool) -> bool {
    let (exponent, mantissa) = if bf16 {
        (0x7F80, 0x007F)
    } else {
        (0x7C00, 0x03FF)
    };
    if want.is_nan() {
        return got & exponent == exponent && got & mantissa != 0;
    }
    let w = want.to_bits();
    let rounded = if bf16 {
        ((w + 0x7FFF + ((w >> 16) & 1)) >> 16) as u16
    } else {
        let base = (want.abs() * f32::from_bits(0x7780_0000)) * f32::from_bits(0x0880_0000);
        let bias = (w.wrapping_add(w) & 0xFF00_0000).max(0x7100_0000);
        let bits = (f32::from_bits((bias >> 1) + 0x0780_0000) + base).to_bits();
        (((w & 0x8000_0000) >> 16) | (((bits >> 13) & 0x7C00) + (bits & 0x0FFF))) as u16
    };
    got == rounded
}
