//! The importance-weighted encoder: `encode_weighted`, `encode_weighted_with` (every kernel,
//! available or not), `encode_weighted_parallel`, and the f16 and bf16 entry points (serial
//! and parallel), on any lengths and any float bits.
//!
//! Header: kernel, value mode, importance mode, row blocks, length tweaks; then the bytes the
//! floats are made of. Checks: no panic; `Ok` exactly when lengths and values are valid and the
//! kernel is available; on `Ok` the scalar kernel's bytes from every available kernel and the
//! parallel encoder; on `Err` the output untouched. Where the value mode asks for half-precision
//! input, the values are f16 or bf16 bits, the `f32` entry points encode them widened, and the
//! f16 or bf16 entry point must return what the `f32` one returned, bytes or error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Error, Kernel};

/// A byte no encoder writes into every position of an output.
const UNTOUCHED: u8 = 0xA5;

/// Floats from bytes: raw bits (any NaN, infinity, subnormal) or small integers times a power
/// of two (finite, realistic), cycling through `bytes`.
fn floats(bytes: &[u8], mode: u8, count: usize) -> Vec<f32> {
    if bytes.is_empty() {
        return vec![0.0; count];
    }
    let byte = |i: usize| bytes[i % bytes.len()];
    (0..count)
        .map(|i| match mode % 3 {
            0 => f32::from_bits(u32::from_le_bytes([
                byte(4 * i),
                byte(4 * i + 1),
                byte(4 * i + 2),
                byte(4 * i + 3),
            ])),
            1 => {
                f32::from(byte(2 * i) as i8)
                    * f32::from_bits((100 + u32::from(byte(2 * i + 1) % 40)) << 23)
            }
            _ => f32::from(byte(i) as i8) / 64.0,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let kernel = Kernel::ALL[usize::from(data[0]) % Kernel::ALL.len()];
    let row_blocks = 1 + usize::from(data[3] % 3);
    let rows = usize::from(data[4] % 4);
    let tweak = data[5];
    let body = &data[6..];
    let row = row_blocks * BLOCK_VALUES;
    // Now and then a wrong importance, input or output length.
    let importance_len = if tweak % 16 == 1 {
        row - 1 - usize::from(tweak / 16)
    } else {
        row
    };
    let input_len = if tweak % 16 == 2 {
        rows * row + 1
    } else {
        rows * row
    };
    let expected = input_len / BLOCK_VALUES * BLOCK_BYTES;
    let output_len = if tweak % 16 == 3 {
        expected + 1
    } else {
        expected
    };
    // Half-precision input: f16 (or, with the top bit, bf16) bits from the body, and their
    // exact widening for the `f32` entry points.
    let narrow = (data[1] & 0x40 != 0).then(|| {
        let byte = |i: usize| body.get(i % body.len().max(1)).copied().unwrap_or(0);
        let bits: Vec<u16> = (0..input_len)
            .map(|i| u16::from_le_bytes([byte(2 * i), byte(2 * i + 1)]))
            .collect();
        (data[1] & 0x80 != 0, bits)
    });
    let input = match &narrow {
        Some((false, bits)) => bits.iter().map(|&b| q4k::f16_to_f32(b)).collect(),
        Some((true, bits)) => bits
            .iter()
            .map(|&b| f32::from_bits(u32::from(b) << 16))
            .collect(),
        None => floats(body, data[1], input_len),
    };
    let mut importance = floats(body.get(7..).unwrap_or(&[]), data[2], importance_len);
    if data[2].is_multiple_of(2) {
        for w in &mut importance {
            *w = w.abs();
        }
    }

    let valid = importance_len > 0
        && importance_len.is_multiple_of(BLOCK_VALUES)
        && input_len.is_multiple_of(importance_len)
        && output_len == expected
        && importance.iter().all(|w| w.is_finite() && *w >= 0.0)
        && input.iter().all(|x| x.is_finite());

    let mut scalar = vec![UNTOUCHED; output_len];
    let got = q4k::encode_weighted_with(Kernel::Scalar, &input, &importance, &mut scalar);
    assert_eq!(got.is_ok(), valid, "scalar: {got:?}");
    if got.is_err() {
        assert!(
            scalar.iter().all(|&b| b == UNTOUCHED),
            "scalar wrote on error"
        );
    }

    let mut out = vec![UNTOUCHED; output_len];
    let got = q4k::encode_weighted_with(kernel, &input, &importance, &mut out);
    match got {
        Ok(()) => {
            assert!(valid && kernel.is_available());
            assert!(out == scalar, "{kernel} differs from the scalar kernel");
        }
        Err(Error::KernelUnavailable { .. }) => {
            assert!(valid && !kernel.is_available());
            assert!(
                out.iter().all(|&b| b == UNTOUCHED),
                "{kernel} wrote on error"
            );
        }
        Err(_) => {
            assert!(!valid);
            assert!(
                out.iter().all(|&b| b == UNTOUCHED),
                "{kernel} wrote on error"
            );
        }
    }

    let mut out = vec![UNTOUCHED; output_len];
    let got = if tweak.is_multiple_of(2) {
        q4k::encode_weighted(&input, &importance, &mut out)
    } else {
        q4k::encode_weighted_parallel(&input, &importance, &mut out)
    };
    assert_eq!(got.is_ok(), valid, "{got:?}");
    if valid {
        assert!(
            out == scalar,
            "best kernel or parallel differs from the scalar kernel"
        );
    } else {
        assert!(out.iter().all(|&b| b == UNTOUCHED), "wrote on error");
    }

    if let Some((bf16, bits)) = narrow {
        let mut half_out = vec![UNTOUCHED; output_len];
        let half_got = match (bf16, tweak.is_multiple_of(2)) {
            (false, true) => q4k::encode_weighted_f16(&bits, &importance, &mut half_out),
            (false, false) => q4k::encode_weighted_f16_parallel(&bits, &importance, &mut half_out),
            (true, true) => q4k::encode_weighted_bf16(&bits, &importance, &mut half_out),
            (true, false) => q4k::encode_weighted_bf16_parallel(&bits, &importance, &mut half_out),
        };
        assert_eq!(
            half_got, got,
            "bf16 {bf16}: another result than on the widened values"
        );
        assert!(
            half_out == out,
            "bf16 {bf16}: other bytes than on the widened values"
        );
    }
});
