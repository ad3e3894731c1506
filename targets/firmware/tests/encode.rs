//! Encodes llama.cpp's reference rows on the emulated board and compares every byte with the
//! bytes of llama.cpp's `quantize_row_q4_K_ref` (built without fused multiply-adds); ends with
//! `N passed, M failed`.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Error, Kernel};
use q4k_firmware::{Tally, stack_used_by};

/// `tests/vectors/llama/encode.bin`: `u32` case count, then per case a `u16` name length, the
/// name, a `u32` value count `n`, `n` input `f32`s, `n / 256 * 144` bytes of Q4_K and `n`
/// decoded `f32`s, all little-endian.
static ENCODE_FILE: &[u8] = include_bytes!("../../../tests/vectors/llama/encode.bin");

/// The largest case, in values.
const MAX_VALUES: usize = 4096;

/// The encoder's stack budget on this board.
const STACK_LIMIT_BYTES: usize = 4096;

/// A cursor over the file; `None` when a read would pass its end.
struct Reader {
    at: usize,
}

impl Reader {
    fn take(&mut self, len: usize) -> Option<&'static [u8]> {
        let bytes = ENCODE_FILE.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(bytes)
    }

    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
}

/// One case: its name, input values (copied into `input`, which is `n` long afterwards) and the
/// expected bytes.
fn next_case(
    r: &mut Reader,
    input: &mut [f32; MAX_VALUES],
) -> Option<(&'static str, usize, &'static [u8])> {
    let name_len = r.take(2)?;
    let name = r.take(usize::from(u16::from_le_bytes([name_len[0], name_len[1]])))?;
    let name = core::str::from_utf8(name).ok()?;
    let n = r.u32()?;
    if n > MAX_VALUES || !n.is_multiple_of(BLOCK_VALUES) {
        return None;
    }
    for (v, b) in input.iter_mut().zip(r.take(4 * n)?.chunks_exact(4)) {
        *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    let expected = r.take(n / BLOCK_VALUES * BLOCK_BYTES)?;
    r.take(4 * n)?; // the decoded values: the decode firmware test covers decoding
    Some((name, n, expected))
}

#[entry]
fn main() -> ! {
    static mut INPUT: [f32; MAX_VALUES] = [0.0; MAX_VALUES];
    static mut OUTPUT: [u8; MAX_VALUES / BLOCK_VALUES * BLOCK_BYTES] =
        [0; MAX_VALUES / BLOCK_VALUES * BLOCK_BYTES];
    let input: &'static mut [f32; MAX_VALUES] = INPUT;
    let output: &'static mut [u8] = OUTPUT;
    let mut tally = Tally::default();

    defmt::info!(
        "q4k encode on {}: kernel {}",
        env!("Q4K_FIRMWARE_TARGET"),
        Kernel::best()
    );
    let mut r = Reader { at: 0 };
    let count = r.u32().unwrap_or(0);
    let mut blocks = 0;
    let mut bad_cases = 0;
    for _ in 0..count {
        let Some((name, n, expected)) = next_case(&mut r, input) else {
            bad_cases += 1;
            break;
        };
        let out = &mut output[..expected.len()];
        out.fill(0xA5);
        let ok = q4k::encode(&input[..n], out).is_ok() && *out == *expected;
        if !ok {
            defmt::error!("case {}: bytes differ from llama.cpp's", name);
            bad_cases += 1;
        }
        blocks += n / BLOCK_VALUES;
    }
    tally.check(
        "the reference file reads to its end",
        r.at == ENCODE_FILE.len(),
    );
    defmt::info!("{} cases, {} blocks encoded", count, blocks);
    tally.check(
        "encode: every case byte for byte as llama.cpp",
        count > 0 && bad_cases == 0,
    );

    // Errors leave the output untouched.
    output.fill(0xA5);
    let nan = {
        input[..BLOCK_VALUES].fill(1.0);
        input[17] = f32::NAN;
        q4k::encode(&input[..BLOCK_VALUES], &mut output[..BLOCK_BYTES])
    };
    let short = q4k::encode(&input[..BLOCK_VALUES - 1], &mut output[..BLOCK_BYTES]);
    tally.check(
        "encode: NaN and wrong lengths are errors, output untouched",
        nan == Err(Error::NonFinite { index: 17 })
            && short
                == Err(Error::EncodeLength {
                    values: BLOCK_VALUES - 1,
                    output: BLOCK_BYTES,
                })
            && output[..BLOCK_BYTES].iter().all(|&b| b == 0xA5),
    );

    input[17] = 1.0;
    let (_, stack) =
        stack_used_by(|| q4k::encode(&input[..BLOCK_VALUES], &mut output[..BLOCK_BYTES]));
    defmt::info!("stack: encode of one block {} bytes", stack);
    tally.check("encode: stack within budget", stack <= STACK_LIMIT_BYTES);
    tally.finish()
}
