//! The Q8_K dot products on the emulated board, against llama.cpp's own results
//! (`tests/vectors/llama/`): `quantize_q8k` of every Q8_K case byte for byte, `dot_q8k` of every
//! dot case bit for bit, and a small `matvec_q8k` of the rows that share their activations.
//! Ends with `N passed, M failed`.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use q4k::{BLOCK_BYTES, BLOCK_VALUES, BlockQ8K, Kernel, Q8K_BLOCK_BYTES};
use q4k_firmware::{Tally, same, stack_used_by};

static Q8K_FILE: &[u8] = include_bytes!("../../../tests/vectors/llama/q8k.bin");
static DOT_FILE: &[u8] = include_bytes!("../../../tests/vectors/llama/dot.bin");

/// The most blocks in one case of the files.
const MAX_BLOCKS: usize = 16;

/// The most stack `matvec_q8k` and `quantize_q8k` may use here (the scalar kernel prepares
/// nothing).
const STACK_LIMIT_BYTES: usize = 2048;

/// Reads the files' little-endian fields; `None` past the end.
struct Reader {
    bytes: &'static [u8],
}

impl Reader {
    fn take(&mut self, len: usize) -> Option<&'static [u8]> {
        if len > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    /// A case's name.
    fn name(&mut self) -> Option<&'static str> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
        core::str::from_utf8(self.take(usize::from(len))?).ok()
    }
}

/// `bytes` (whole 292-byte blocks) copied into `blocks`, which the view needs aligned.
fn load_q8k<'a>(bytes: &[u8], blocks: &'a mut [BlockQ8K; MAX_BLOCKS]) -> Option<&'a [BlockQ8K]> {
    let count = bytes.len() / Q8K_BLOCK_BYTES;
    if count > MAX_BLOCKS {
        return None;
    }
    for (block, raw) in blocks.iter_mut().zip(bytes.chunks_exact(Q8K_BLOCK_BYTES)) {
        *block = BlockQ8K::from_bytes(raw.try_into().ok()?);
    }
    Some(&blocks[..count])
}

/// Quantizes every Q8_K case and compares the bytes; returns (cases, failures).
fn quantize_cases(blocks: &mut [BlockQ8K; MAX_BLOCKS], input: &mut [f32]) -> Option<(u32, u32)> {
    let mut r = Reader { bytes: Q8K_FILE };
    let count = r.u32()?;
    let mut failed = 0;
    for _ in 0..count {
        let name = r.name()?;
        let n = r.u32()? as usize;
        if n > MAX_BLOCKS {
            return None;
        }
        for (x, raw) in input
            .iter_mut()
            .zip(r.take(4 * BLOCK_VALUES * n)?.chunks_exact(4))
        {
            *x = f32::from_le_bytes(raw.try_into().ok()?);
        }
        let expected = r.take(Q8K_BLOCK_BYTES * n)?;
        let ok = q4k::quantize_q8k(&input[..BLOCK_VALUES * n], &mut blocks[..n]).is_ok()
            && q4k::q8k_as_bytes(&blocks[..n]) == expected;
        if !ok {
            defmt::error!("quantize_q8k: case {} differs", name);
            failed += 1;
        }
    }
    Some((count, failed))
}

/// The most dot cases read from the file.
const MAX_CASES: usize = 128;

/// One case of `dot.bin`.
#[derive(Clone, Copy)]
struct DotCase {
    name: &'static str,
    q4k: &'static [u8],
    q8k: &'static [u8],
    want: f32,
}

/// Every dot case into `cases` (the rest stays `None`); all `None` if the file does not parse
/// or holds too many.
fn parse_dot_cases(cases: &mut [Option<DotCase>; MAX_CASES]) -> &[Option<DotCase>; MAX_CASES] {
    let mut r = Reader { bytes: DOT_FILE };
    let mut parse = || {
        let count = r.u32()? as usize;
        if count >= MAX_CASES {
            return None;
        }
        for slot in cases.iter_mut().take(count) {
            let name = r.name()?;
            let n = r.u32()? as usize;
            *slot = Some(DotCase {
                name,
                q4k: r.take(BLOCK_BYTES * n)?,
                q8k: r.take(Q8K_BLOCK_BYTES * n)?,
                want: f32::from_bits(r.u32()?),
            });
        }
        Some(())
    };
    if parse().is_none() {
        cases.fill(None);
    }
    cases
}

#[entry]
fn main() -> ! {
    static mut ACTIVATIONS: [BlockQ8K; MAX_BLOCKS] = [BlockQ8K::ZERO; MAX_BLOCKS];
    static mut INPUT: [f32; MAX_BLOCKS * BLOCK_VALUES] = [0.0; MAX_BLOCKS * BLOCK_VALUES];
    static mut CASES: [Option<DotCase>; MAX_CASES] = [None; MAX_CASES];
    let cases_buffer: &'static mut [Option<DotCase>; MAX_CASES] = CASES;
    let activations: &'static mut [BlockQ8K; MAX_BLOCKS] = ACTIVATIONS;
    let input: &'static mut [f32] = INPUT;
    let mut tally = Tally::default();
    defmt::info!(
        "q4k dot products on {}, kernel {}",
        env!("Q4K_FIRMWARE_TARGET"),
        Kernel::best()
    );

    let quantized = quantize_cases(activations, input);
    defmt::info!("quantize_q8k: (cases, failures) {}", quantized);
    tally.check(
        "quantize_q8k, every llama.cpp case byte for byte",
        matches!(quantized, Some((n, 0)) if n > 0),
    );

    // Every dot case, kept for the matrix-vector product below.
    let cases = parse_dot_cases(cases_buffer);
    let mut failed = 0;
    for case in cases.iter().flatten() {
        let got = load_q8k(case.q8k, activations).map(|a| q4k::dot_q8k(case.q4k, a));
        if !matches!(got, Some(Ok(y)) if same(y, case.want)) {
            defmt::error!("dot_q8k: case {} differs", case.name);
            failed += 1;
        }
    }
    let count = cases.iter().flatten().count();
    defmt::info!("dot_q8k: {} cases, {} failed", count, failed);
    tally.check(
        "dot_q8k, every llama.cpp case bit for bit",
        count > 0 && count < cases.len() && failed == 0,
    );

    // The one-block rows that share the activations of another: one small matrix.
    let one_block = |c: &&DotCase| c.q4k.len() == BLOCK_BYTES;
    let shared = cases
        .iter()
        .flatten()
        .filter(one_block)
        .find(|c| cases.iter().flatten().filter(|o| o.q8k == c.q8k).count() >= 2);
    let mut matrix = [0u8; 4 * BLOCK_BYTES];
    let mut expected = [0f32; 4];
    let mut rows = 0;
    if let Some(first) = shared {
        for case in cases.iter().flatten().filter(one_block) {
            if case.q8k == first.q8k && rows < 4 {
                matrix[rows * BLOCK_BYTES..(rows + 1) * BLOCK_BYTES].copy_from_slice(case.q4k);
                expected[rows] = case.want;
                rows += 1;
            }
        }
    }
    // The rows that share the first one-block activations: a matrix of `rows` rows.
    let mut output = [f32::NAN; 4];
    let ok = match shared.and_then(|c| load_q8k(c.q8k, activations)) {
        Some(a) => {
            let result = q4k::matvec_q8k(&matrix[..rows * BLOCK_BYTES], a, &mut output[..rows]);
            result.is_ok()
                && output[..rows]
                    .iter()
                    .zip(&expected[..rows])
                    .all(|(&g, &w)| same(g, w))
        }
        None => false,
    };
    defmt::info!("matvec_q8k of {} rows sharing their activations", rows);
    tally.check("matvec_q8k rows bit for bit", ok && rows >= 2);

    let (_, stack) = stack_used_by(|| {
        let a = &activations[..1];
        q4k::matvec_q8k(&matrix[..rows * BLOCK_BYTES], a, &mut output[..rows])
    });
    let (_, quantize_stack) =
        stack_used_by(|| q4k::quantize_q8k(&input[..4 * BLOCK_VALUES], &mut activations[..4]));
    defmt::info!(
        "stack: matvec_q8k {} bytes, quantize_q8k {} bytes",
        stack,
        quantize_stack
    );
    tally.check(
        "matvec_q8k and quantize_q8k stay under the stack limit",
        stack < STACK_LIMIT_BYTES && quantize_stack < STACK_LIMIT_BYTES,
    );

    tally.finish()
}
