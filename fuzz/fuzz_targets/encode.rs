//! The encoders: `Encoder` with a kernel (every kernel, available or not) on f32, f16 or bf16
//! input of any length and any output length. Whatever the input, a call either writes bytes
//! identical to the scalar kernel's or returns the error the checks predict with the output
//! untouched; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Encoder, Error, Kernel};
use q4k_fuzz::Reader;

/// Up to 9 blocks of values.
const MAX_VALUES: usize = 9 * BLOCK_VALUES;

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let element = reader.u8() % 3;
    let kernel = reader.kernel();
    // Output length: exact, or off by a signed byte.
    let delta = i16::from(reader.u8() as i8);
    // The values: the remaining bytes, repeated to fill a length of whole blocks now and then.
    let raw = reader.take(usize::MAX);
    let width = if element == 0 { 4 } else { 2 };
    let count = (raw.len() / width).min(MAX_VALUES);
    let bits: Vec<u32> = raw
        .chunks_exact(width)
        .take(count)
        .map(|c| {
            if width == 4 {
                u32::from_le_bytes([c[0], c[1], c[2], c[3]])
            } else {
                u32::from(u16::from_le_bytes([c[0], c[1]]))
            }
        })
        .collect();
    let exact = count / BLOCK_VALUES * BLOCK_BYTES;
    let out_len = usize::try_from(exact as i64 + i64::from(delta)).unwrap_or(0);

    let as_f32: Vec<f32> = bits
        .iter()
        .map(|&b| match element {
            0 => f32::from_bits(b),
            1 => q4k::f16_to_f32(b as u16),
            _ => f32::from_bits(b << 16),
        })
        .collect();
    let halves: Vec<u16> = bits.iter().map(|&b| b as u16).collect();
    let call = |encoder: Encoder, out: &mut [u8]| match element {
        0 => encoder.encode(&as_f32, out),
        1 => encoder.encode_f16(&halves, out),
        _ => encoder.encode_bf16(&halves, out),
    };

    let expected_error = if !count.is_multiple_of(BLOCK_VALUES) || out_len != exact {
        Some(Error::EncodeLength {
            values: count,
            output: out_len,
        })
    } else if let Some(index) = as_f32.iter().position(|v| !v.is_finite()) {
        Some(Error::NonFinite { index })
    } else if !kernel.is_available() {
        Some(Error::KernelUnavailable { kernel })
    } else {
        None
    };

    let mut out = vec![0xA5u8; out_len];
    let result = call(Encoder::new().kernel(kernel), &mut out);
    match expected_error {
        Some(error) => {
            assert_eq!(result, Err(error));
            assert!(out.iter().all(|&b| b == 0xA5), "output written on error");
        }
        None => {
            assert_eq!(result, Ok(()));
            let mut want = vec![0u8; out_len];
            call(Encoder::new().kernel(Kernel::Scalar), &mut want).expect("scalar encode");
            assert!(out == want, "{kernel} differs from the scalar kernel");
            // f16 and bf16 input encode as their widened values.
            let mut widened = vec![0u8; out_len];
            q4k::encode_with(Kernel::Scalar, &as_f32, &mut widened).expect("encode");
            assert!(want == widened, "narrow input differs from its widening");
        }
    }
});
