//! Encodes llama.cpp's reference rows on the emulated board and compares every byte with
//! llama.cpp's (built without fused multiply-adds): `encode` with the bytes of
//! `quantize_row_q4_K_ref`, and `encode_weighted` with the bytes of `quantize_q4_K` given an
//! importance vector. Ends with `N passed, M failed`.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Error, Kernel};
use q4k_firmware::{Tally, stack_used_by};

/// `tests/vectors/llama/encode.bin`: `u32` case count, then per case a `u16` name length, the
/// name, a `u32` value count `n`, `n` input `f32`s, `n / 256 * 144` bytes of Q4_K and `n`
/// decoded `f32`s, all little-endian.
static ENCODE_FILE: &[u8] = include_bytes!("../../../tests/vectors/llama/encode.bin");

/// Some cases of `tests/vectors/llama/encode_weighted.bin`, in its layout (`build.rs` picks
/// them and says why): `u32` case count, then per case a `u16` name length, the name, `u32`
/// `nrow` and `n_per_row`, `nrow * n_per_row` input `f32`s (row-major), `n_per_row` importance
/// `f32`s, the Q4_K bytes and the decoded `f32`s, all little-endian.
static WEIGHTED_FILE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/encode_weighted.bin"));

/// The largest case, in values.
const MAX_VALUES: usize = 4096;

/// The longest row of the weighted cases, in values.
const MAX_ROW: usize = 1024;

/// The encoders' stack budget on this board.
const STACK_LIMIT_BYTES: usize = 4096;

/// A cursor over a file; `None` when a read would pass its end.
struct Reader {
    bytes: &'static [u8],
    at: usize,
}

impl Reader {
    fn take(&mut self, len: usize) -> Option<&'static [u8]> {
        let bytes = self.bytes.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(bytes)
    }

    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn name(&mut self) -> Option<&'static str> {
        let len = self.take(2)?;
        let name = self.take(usize::from(u16::from_le_bytes([len[0], len[1]])))?;
        core::str::from_utf8(name).ok()
    }

    /// `n` values into `values`, which must be at least that long.
    fn f32s(&mut self, n: usize, values: &mut [f32]) -> Option<()> {
        let values = values.get_mut(..n)?;
        for (v, b) in values.iter_mut().zip(self.take(4 * n)?.chunks_exact(4)) {
            *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        Some(())
    }

    /// Whether every byte was read.
    fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }
}

/// The Q4_K bytes of `values` values.
const fn encoded_len(values: usize) -> usize {
    values / BLOCK_VALUES * BLOCK_BYTES
}

/// One reference case, its values copied into the buffers.
struct Case {
    name: &'static str,
    /// Input values, at the start of the input buffer.
    values: usize,
    /// Importance values, at the start of the weights buffer (0 for `encode.bin`).
    row: usize,
    /// llama.cpp's bytes.
    expected: &'static [u8],
}

/// The input and importance buffers the cases are copied into.
struct Buffers {
    input: [f32; MAX_VALUES],
    weights: [f32; MAX_ROW],
}

/// One case of `encode.bin`: a `u32` value count `n`, `n` input values, then the bytes read by
/// [`expected`].
fn next_case(r: &mut Reader, b: &mut Buffers) -> Option<Case> {
    let name = r.name()?;
    let n = r.u32()?;
    r.f32s(n, &mut b.input)?;
    expected(r, name, n, 0)
}

/// One case of the weighted file: `u32` `nrow` and `n_per_row`, the input values, the
/// importance vector, then the bytes read by [`expected`].
fn next_weighted_case(r: &mut Reader, b: &mut Buffers) -> Option<Case> {
    let name = r.name()?;
    let nrow = r.u32()?;
    let n_per_row = r.u32()?;
    let n = nrow.checked_mul(n_per_row)?;
    r.f32s(n, &mut b.input)?;
    r.f32s(n_per_row, &mut b.weights)?;
    expected(r, name, n, n_per_row)
}

/// The end of a case of `n` values: the Q4_K bytes, then `n` decoded values (which the decode
/// firmware test covers).
fn expected(r: &mut Reader, name: &'static str, n: usize, row: usize) -> Option<Case> {
    let expected = r.take(encoded_len(n))?;
    r.take(4 * n)?;
    Some(Case {
        name,
        values: n,
        row,
        expected,
    })
}

/// An encoder under test: input, importance vector (unused by `encode`), output.
type Encoder = fn(&[f32], &[f32], &mut [u8]) -> Result<(), Error>;

/// Whether the encoder succeeded and wrote `expected`; logs the first differing byte if not.
fn same_bytes(what: &str, name: &str, result: Result<(), Error>, got: &[u8], want: &[u8]) -> bool {
    if let Err(e) = result {
        defmt::error!("{} case {}: {}", what, name, e);
        return false;
    }
    match got.iter().zip(want).position(|(g, w)| g != w) {
        None => true,
        Some(i) => {
            defmt::error!(
                "{} case {}: byte {} (block {}) is {=u8:#04x}, llama.cpp's is {=u8:#04x}",
                what,
                name,
                i,
                i / BLOCK_BYTES,
                got[i],
                want[i]
            );
            false
        }
    }
}

/// Encodes every case of `file` (read by `next`) with `encode` (input, importance, output) and
/// compares the bytes. True if the file read to its end and every case matched; also returns
/// the most stack one case used.
fn encode_file(
    what: &str,
    file: &'static [u8],
    next: fn(&mut Reader, &mut Buffers) -> Option<Case>,
    encode: Encoder,
    b: &mut Buffers,
    output: &mut [u8],
) -> (bool, usize) {
    let mut r = Reader { bytes: file, at: 0 };
    let count = r.u32().unwrap_or(0);
    let (mut blocks, mut bad_cases, mut stack) = (0, 0, 0);
    for _ in 0..count {
        let Some(case) = next(&mut r, b) else {
            defmt::error!("{}: the file does not read as cases", what);
            return (false, stack);
        };
        let out = &mut output[..case.expected.len()];
        out.fill(0xA5);
        let (input, weights) = (&b.input[..case.values], &b.weights[..case.row]);
        let (result, used) = stack_used_by(|| encode(input, weights, &mut *out));
        stack = stack.max(used);
        if !same_bytes(what, case.name, result, out, case.expected) {
            bad_cases += 1;
        }
        blocks += case.values / BLOCK_VALUES;
    }
    defmt::info!("{}: {} cases, {} blocks", what, count, blocks);
    if !r.at_end() {
        defmt::error!("{}: bytes after the last case", what);
    }
    (count > 0 && bad_cases == 0 && r.at_end(), stack)
}

#[entry]
fn main() -> ! {
    static mut BUFFERS: Buffers = Buffers {
        input: [0.0; MAX_VALUES],
        weights: [0.0; MAX_ROW],
    };
    static mut OUTPUT: [u8; encoded_len(MAX_VALUES)] = [0; encoded_len(MAX_VALUES)];
    let b: &'static mut Buffers = BUFFERS;
    let output: &'static mut [u8] = OUTPUT;
    let mut tally = Tally::default();

    defmt::info!(
        "q4k encode on {}: kernel {}",
        env!("Q4K_FIRMWARE_TARGET"),
        Kernel::best()
    );
    let (ok, stack) = encode_file(
        "encode",
        ENCODE_FILE,
        next_case,
        |input, _, out| q4k::encode(input, out),
        b,
        output,
    );
    tally.check(
        "encode: every case of encode.bin byte for byte as llama.cpp",
        ok,
    );
    let (ok, weighted_stack) = encode_file(
        "encode_weighted",
        WEIGHTED_FILE,
        next_weighted_case,
        q4k::encode_weighted,
        b,
        output,
    );
    tally.check(
        "encode_weighted: every weighted case byte for byte as llama.cpp",
        ok,
    );

    // Errors leave the output untouched.
    output.fill(0xA5);
    b.input[..BLOCK_VALUES].fill(1.0);
    b.weights[..BLOCK_VALUES].fill(1.0);
    let block = &mut output[..BLOCK_BYTES];
    b.input[17] = f32::NAN;
    let nan = q4k::encode(&b.input[..BLOCK_VALUES], block);
    let weighted_nan =
        q4k::encode_weighted(&b.input[..BLOCK_VALUES], &b.weights[..BLOCK_VALUES], block);
    b.input[17] = 1.0;
    let short = q4k::encode(&b.input[..BLOCK_VALUES - 1], block);
    b.weights[5] = -1.0;
    let negative =
        q4k::encode_weighted(&b.input[..BLOCK_VALUES], &b.weights[..BLOCK_VALUES], block);
    b.weights[5] = 1.0;
    let short_row = q4k::encode_weighted(
        &b.input[..BLOCK_VALUES],
        &b.weights[..BLOCK_VALUES - 1],
        block,
    );
    tally.check(
        "encode: NaN and wrong lengths are errors, output untouched",
        nan == Err(Error::NonFinite { index: 17 })
            && short
                == Err(Error::EncodeLength {
                    values: BLOCK_VALUES - 1,
                    output: BLOCK_BYTES,
                })
            && block.iter().all(|&x| x == 0xA5),
    );
    tally.check(
        "encode_weighted: NaN input, negative importance and a short row are errors, \
         output untouched",
        weighted_nan == Err(Error::NonFinite { index: 17 })
            && negative == Err(Error::NegativeImportance { index: 5 })
            && short_row
                == Err(Error::ImportanceLength {
                    len: BLOCK_VALUES - 1,
                })
            && block.iter().all(|&x| x == 0xA5),
    );

    defmt::info!(
        "stack, the most of any case: encode {} bytes, encode_weighted {} bytes",
        stack,
        weighted_stack
    );
    tally.check(
        "encode, encode_weighted: stack within budget",
        stack <= STACK_LIMIT_BYTES && weighted_stack <= STACK_LIMIT_BYTES,
    );
    tally.finish()
}
