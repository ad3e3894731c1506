//! `dot_f32`, `matvec_f32` and `matvec_f32_parallel` (each with the best kernel or any kernel,
//! available or not): the result is an error exactly when a length is wrong or the kernel is
//! unavailable, the output is untouched on error, and otherwise every kernel gives the scalar
//! kernel's bits and each output is the dot product of its row. Some cases of the parallel entry
//! point have enough rows for it to split them (`PARALLEL_THRESHOLD_BLOCKS` blocks and a few
//! rows more).
#![no_main]

use libfuzzer_sys::fuzz_target;
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Error, Kernel};
use q4k_fuzz::{Reader, SENTINEL};

/// Same bits, or both NaN.
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// A small signed change of a length: mostly 0, sometimes a step off.
fn delta(reader: &mut Reader<'_>) -> isize {
    match reader.u8() % 8 {
        0 => -1,
        1 => 1,
        2 => -(BLOCK_BYTES as isize),
        3 => BLOCK_BYTES as isize,
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let entry_byte = reader.u8();
    let entry = entry_byte % 3;
    let kernel = if reader.u8().is_multiple_of(2) {
        Some(reader.kernel())
    } else {
        None
    };
    let rows_byte = reader.u8();
    let per_row = usize::from(reader.u8() % 4);
    let rows = if entry == 1 && entry_byte & 0x80 != 0 && per_row > 0 {
        q4k::PARALLEL_THRESHOLD_BLOCKS.div_ceil(per_row) + usize::from(rows_byte % 16)
    } else {
        usize::from(rows_byte % 8)
    };
    let (weights_delta, activations_delta, output_delta) =
        (delta(&mut reader), delta(&mut reader), delta(&mut reader));
    let weights_len = (rows * per_row * BLOCK_BYTES).saturating_add_signed(weights_delta);
    let activations_len = (per_row * BLOCK_VALUES).saturating_add_signed(activations_delta);
    let output_len = rows.saturating_add_signed(output_delta.signum());
    // The weights and activations repeat the rest of the case (or zeros when it is empty).
    let rest = reader.take(usize::MAX);
    let byte = |i: usize| rest.get(i % rest.len().max(1)).copied().unwrap_or(0);
    let weights: Vec<u8> = (0..weights_len).map(byte).collect();
    let activations: Vec<f32> = (0..activations_len)
        .map(|i| {
            f32::from_le_bytes([
                byte(4 * i + 7),
                byte(4 * i + 5),
                byte(4 * i + 3),
                byte(4 * i + 1),
            ])
        })
        .collect();

    let lengths_ok = activations_len.is_multiple_of(BLOCK_VALUES)
        && weights_len == output_len * (activations_len / BLOCK_VALUES * BLOCK_BYTES);
    let chosen = kernel.unwrap_or_else(Kernel::best);
    let mut output = vec![f32::from_bits(SENTINEL); output_len];
    let result = match (entry, kernel) {
        (0, None) if output_len == 1 => q4k::dot_f32(&weights, &activations).map(|v| output[0] = v),
        (0, Some(k)) if output_len == 1 => {
            q4k::dot_f32_with(k, &weights, &activations).map(|v| output[0] = v)
        }
        (1, None) => q4k::matvec_f32_parallel(&weights, &activations, &mut output),
        (1, Some(k)) => q4k::matvec_f32_parallel_with(k, &weights, &activations, &mut output),
        (_, None) => q4k::matvec_f32(&weights, &activations, &mut output),
        (_, Some(k)) => q4k::matvec_f32_with(k, &weights, &activations, &mut output),
    };
    match result {
        Ok(()) => assert!(lengths_ok && chosen.is_available()),
        Err(Error::KernelUnavailable { kernel }) => {
            assert!(lengths_ok && !kernel.is_available() && kernel == chosen)
        }
        Err(Error::ActivationLength { len }) => {
            assert!(!lengths_ok && len == activations_len && len % BLOCK_VALUES != 0)
        }
        Err(Error::WeightsLength {
            len,
            rows,
            row_bytes,
        }) => assert!(
            !lengths_ok
                && len == weights_len
                && rows == output_len
                && row_bytes == activations_len / BLOCK_VALUES * BLOCK_BYTES
        ),
        Err(other) => panic!("unexpected error {other:?}"),
    }
    if result.is_err() {
        assert!(
            output.iter().all(|v| v.to_bits() == SENTINEL),
            "output written on error"
        );
        return;
    }
    let mut want = vec![0f32; output_len];
    q4k::matvec_f32_with(Kernel::Scalar, &weights, &activations, &mut want).unwrap();
    let row_bytes = activations_len / BLOCK_VALUES * BLOCK_BYTES;
    for (r, (&got, &want)) in output.iter().zip(&want).enumerate() {
        assert!(
            same(got, want),
            "{chosen}: row {r}: {got:?} vs scalar {want:?}"
        );
        let row = &weights[r * row_bytes..(r + 1) * row_bytes];
        assert!(same(
            q4k::dot_f32_with(chosen, row, &activations).unwrap(),
            got
        ));
    }
});
