//! `matvec_f32` and `dot_f32` on the emulated board (the scalar kernel on Cortex-M), bit for bit
//! against the documented summation order written out here over the reference decoded values;
//! ends with `N passed, M failed`.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Error, Kernel};
use q4k_firmware::{BLOCK_COUNT, BLOCKS, Tally, expected, same, stack_used_by};

/// Blocks per row of the matrix: the reference blocks as a 29 x 512 matrix.
const PER_ROW: usize = 2;
const ROWS: usize = BLOCK_COUNT / PER_ROW;
const COLUMNS: usize = PER_ROW * BLOCK_VALUES;

/// What the output holds before a call, so that values left unwritten show up.
const SENTINEL: f32 = 1234.5;

/// The most stack `matvec_f32` may use on this board.
const STACK_LIMIT_BYTES: usize = 4096;

/// Activation `i`: values of many magnitudes and both signs, so that the sums round.
fn activation(i: usize) -> f32 {
    let mantissa = ((i * 37) % 101) as f32 / 16.0 - 3.0;
    let scale = [0.125, 1.0, 3.0, 0.0078125, 64.0, 0.5, 1.5][i % 7];
    mantissa * scale
}

/// The order documented on `q4k::dot_f32`, over the reference values of blocks
/// `first..first + count` (decoded by llama.cpp's `gguf` package) and `activations`.
fn documented_order(first: usize, count: usize, activations: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    for b in 0..count {
        let w = |i: usize| expected((first + b) * BLOCK_VALUES + i).unwrap_or(f32::NAN);
        let p = |i: usize| w(i) * activations[b * BLOCK_VALUES + i];
        for (j, acc) in acc.iter_mut().enumerate() {
            let t = |s: usize| p(32 * s + j) + p(32 * s + 16 + j);
            *acc += ((t(0) + t(1)) + (t(2) + t(3))) + ((t(4) + t(5)) + (t(6) + t(7)));
        }
    }
    let h8: [f32; 8] = core::array::from_fn(|j| acc[j] + acc[j + 8]);
    let h4: [f32; 4] = core::array::from_fn(|j| h8[j] + h8[j + 4]);
    (h4[0] + h4[2]) + (h4[1] + h4[3])
}

#[entry]
fn main() -> ! {
    static mut ACTIVATIONS: [f32; BLOCK_COUNT * BLOCK_VALUES] = [0.0; BLOCK_COUNT * BLOCK_VALUES];
    static mut OUTPUT: [f32; ROWS] = [0.0; ROWS];
    let activations: &'static mut [f32] = ACTIVATIONS;
    let output: &'static mut [f32] = OUTPUT;
    for (i, a) in activations.iter_mut().enumerate() {
        *a = activation(i);
    }
    let mut tally = Tally::default();
    defmt::info!(
        "q4k matvec_f32 on {}: {} x {} reference matrix, kernel {}",
        env!("Q4K_FIRMWARE_TARGET"),
        ROWS,
        COLUMNS,
        Kernel::best()
    );
    let weights = &BLOCKS[..ROWS * PER_ROW * BLOCK_BYTES];
    let columns = &activations[..COLUMNS];

    for (name, kernel) in [
        ("matvec_f32", None),
        ("matvec_f32_with(scalar)", Some(Kernel::Scalar)),
    ] {
        output.fill(SENTINEL);
        let result = match kernel {
            None => q4k::matvec_f32(weights, columns, output),
            Some(kernel) => q4k::matvec_f32_with(kernel, weights, columns, output),
        };
        let mut bad = 0;
        for (r, &got) in output.iter().enumerate() {
            let want = documented_order(r * PER_ROW, PER_ROW, columns);
            if !same(got, want) {
                if bad == 0 {
                    defmt::error!(
                        "{}: row {} is {=u32:#010x}, expected {=u32:#010x}",
                        name,
                        r,
                        got.to_bits(),
                        want.to_bits()
                    );
                }
                bad += 1;
            }
        }
        let finite = output.iter().filter(|v| v.is_finite()).count();
        defmt::info!("{}: {} of {} rows finite", name, finite, ROWS);
        tally.check(name, result.is_ok() && bad == 0 && finite > ROWS / 2);
    }

    // One long row: the leading reference blocks whose values are all finite (the later ones
    // include f16 infinities and NaN, which would make the sum NaN).
    let count = (0..BLOCK_COUNT)
        .find(|&b| {
            (0..BLOCK_VALUES).any(|i| !expected(b * BLOCK_VALUES + i).is_some_and(f32::is_finite))
        })
        .unwrap_or(BLOCK_COUNT);
    let want = documented_order(0, count, activations);
    let got = q4k::dot_f32(
        &BLOCKS[..count * BLOCK_BYTES],
        &activations[..count * BLOCK_VALUES],
    );
    defmt::info!(
        "dot_f32 over the first {} blocks: {=u32:#010x}, documented order {=u32:#010x}",
        count,
        got.map_or(0, f32::to_bits),
        want.to_bits()
    );
    tally.check(
        "dot_f32, one long row",
        count >= 2 && want.is_finite() && got.is_ok_and(|got| same(got, want)),
    );

    // Errors leave the output untouched.
    output.fill(SENTINEL);
    let refused = q4k::matvec_f32(weights, columns, &mut output[..ROWS - 1]);
    tally.check(
        "matvec_f32 refuses a short output, untouched",
        refused
            == Err(Error::WeightsLength {
                len: weights.len(),
                rows: ROWS - 1,
                row_bytes: PER_ROW * BLOCK_BYTES,
            })
            && output.iter().all(|v| v.to_bits() == SENTINEL.to_bits()),
    );
    tally.check(
        "dot_f32 refuses a partial activation block",
        q4k::dot_f32(&BLOCKS[..BLOCK_BYTES], &activations[..255])
            == Err(Error::ActivationLength { len: 255 }),
    );

    let (_, stack) = stack_used_by(|| q4k::matvec_f32(weights, columns, output));
    defmt::info!("stack: matvec_f32 {} bytes", stack);
    tally.check(
        "matvec_f32 stays under the stack limit",
        stack < STACK_LIMIT_BYTES,
    );

    tally.finish()
}
