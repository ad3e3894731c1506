//! The public contract around the decode itself: length errors, unavailable kernels, untouched
//! output on error, unaligned slices, `Display`, and the length helpers.

mod common;

use common::{
    AlignedBytes, AlignedF32, SENTINEL_BITS, assert_same, assert_untouched, available_kernels,
    decode_reference_all, realistic_blocks, sentinel_vec, unavailable_kernels,
};
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Decoder, Error, Kernel, Stores};

/// Every way to call the slice decoder with a given kernel choice: `decode`/`decode_with` and
/// `Decoder` with each store policy.
fn call_every_entry_point(
    kernel: Option<Kernel>,
    input: &[u8],
    output: &mut [f32],
    mut check: impl FnMut(&str, Result<(), Error>, &[f32]),
) {
    let result = match kernel {
        None => q4k::decode(input, output),
        Some(k) => q4k::decode_with(k, input, output),
    };
    check("decode/decode_with", result, output);
    for stores in [Stores::Auto, Stores::Cached, Stores::Streaming] {
        let decoder = match kernel {
            None => Decoder::new(),
            Some(k) => Decoder::new().kernel(k),
        }
        .stores(stores);
        let result = decoder.decode(input, output);
        check(&format!("Decoder {stores:?}"), result, output);
    }
}

/// `None` (the best kernel) and every kernel, available or not.
fn every_kernel_choice() -> Vec<Option<Kernel>> {
    core::iter::once(None)
        .chain(Kernel::ALL.iter().copied().map(Some))
        .collect()
}

#[test]
fn input_not_whole_blocks_is_an_input_length_error() {
    eprintln!(
        "input_not_whole_blocks_is_an_input_length_error: kernels {:?}",
        Kernel::ALL
    );
    let lens: &[usize] = if cfg!(miri) {
        &[1, BLOCK_BYTES + 1, 2 * BLOCK_BYTES - 1]
    } else {
        &[
            1,
            2,
            3,
            BLOCK_BYTES - 1,
            BLOCK_BYTES + 1,
            2 * BLOCK_BYTES - 1,
            2 * BLOCK_BYTES + 1,
            3 * BLOCK_BYTES + 100,
            1000,
        ]
    };
    let input = vec![0x11u8; 8 * BLOCK_BYTES];
    for &len in lens {
        let input = &input[..len];
        assert_eq!(
            q4k::blocks(input).unwrap_err(),
            Error::InputLength { len },
            "blocks({len} bytes)"
        );
        // Whatever the output length, the input error is reported, with the input length.
        let whole = q4k::output_len(len);
        let out_lens: &[usize] = if cfg!(miri) {
            &[0, whole]
        } else {
            &[0, 1, whole, whole + BLOCK_VALUES, whole.saturating_sub(1)]
        };
        for &out_len in out_lens {
            for kernel in every_kernel_choice() {
                let mut output = sentinel_vec(out_len);
                call_every_entry_point(kernel, input, &mut output, |api, result, output| {
                    assert_eq!(
                        result,
                        Err(Error::InputLength { len }),
                        "{api} {kernel:?}: {len} input bytes, {out_len} outputs"
                    );
                    assert_untouched(output, api);
                });
            }
        }
    }
}

#[test]
fn wrong_output_length_is_an_output_length_error() {
    eprintln!(
        "wrong_output_length_is_an_output_length_error: kernels {:?}",
        Kernel::ALL
    );
    let input = realistic_blocks(1, 3);
    for blocks in 0..=3 {
        let input = &input[..blocks * BLOCK_BYTES];
        let expected = blocks * BLOCK_VALUES;
        let mut actuals = if cfg!(miri) {
            vec![0, expected + 1]
        } else {
            vec![0, 1, 255, 256, 257, expected + 1, expected + 256, 1000]
        };
        actuals.extend(expected.checked_sub(1));
        actuals.retain(|&a| a != expected);
        for actual in actuals {
            for kernel in every_kernel_choice() {
                let mut output = sentinel_vec(actual);
                call_every_entry_point(kernel, input, &mut output, |api, result, output| {
                    assert_eq!(
                        result,
                        Err(Error::OutputLength { expected, actual }),
                        "{api} {kernel:?}: {blocks} blocks, {actual} outputs"
                    );
                    assert_untouched(output, api);
                });
            }
        }
    }
}

#[test]
fn unavailable_kernels_are_refused_after_the_length_checks() {
    let unavailable = unavailable_kernels();
    eprintln!(
        "unavailable_kernels_are_refused_after_the_length_checks: unavailable {:?}",
        unavailable.iter().map(|k| k.name()).collect::<Vec<_>>()
    );
    let input = realistic_blocks(2, 2);
    for &kernel in &unavailable {
        assert_ne!(
            kernel,
            Kernel::Scalar,
            "the scalar kernel is always available"
        );
        assert_ne!(
            Kernel::best(),
            kernel,
            "best() picked an unavailable kernel"
        );
        for blocks in 0..=2 {
            let input = &input[..blocks * BLOCK_BYTES];
            let mut output = sentinel_vec(blocks * BLOCK_VALUES);
            call_every_entry_point(Some(kernel), input, &mut output, |api, result, output| {
                assert_eq!(
                    result,
                    Err(Error::KernelUnavailable { kernel }),
                    "{api} {kernel}: {blocks} blocks"
                );
                assert_untouched(output, api);
            });
        }
        // Length errors take precedence.
        let mut output = sentinel_vec(10);
        assert_eq!(
            q4k::decode_with(kernel, &input[..BLOCK_BYTES], &mut output),
            Err(Error::OutputLength {
                expected: BLOCK_VALUES,
                actual: 10
            })
        );
        assert_eq!(
            q4k::decode_with(kernel, &input[..5], &mut output),
            Err(Error::InputLength { len: 5 })
        );
        assert_untouched(&output, "length error with an unavailable kernel");
    }
}

#[test]
fn best_kernel_is_available() {
    let kernels = available_kernels("best_kernel_is_available");
    assert!(Kernel::best().is_available());
    assert!(kernels.contains(&Kernel::best()));
    assert_eq!(Decoder::new().selected_kernel(), Kernel::best());
    assert_eq!(Decoder::default(), Decoder::new());
    assert_eq!(Decoder::new().store_policy(), Stores::Auto);
    assert_eq!(Stores::default(), Stores::Auto);
}

#[test]
fn empty_input_and_output_is_ok() {
    assert_eq!(q4k::blocks(&[]).map(<[_]>::len), Ok(0));
    assert!(q4k::as_bytes(&[]).is_empty());
    for kernel in available_kernels("empty_input_and_output_is_ok") {
        call_every_entry_point(Some(kernel), &[], &mut [], |api, result, _| {
            assert_eq!(result, Ok(()), "{api} {kernel}");
        });
    }
    call_every_entry_point(None, &[], &mut [], |api, result, _| {
        assert_eq!(result, Ok(()), "{api}");
    });
}

/// Input slices at every byte offset 0..=3 (and a few more) from a 64-byte boundary, output
/// slices at several `f32` offsets from a 64-byte boundary: same values as an aligned decode and
/// as the formula, nothing written outside the output slice.
#[test]
fn unaligned_input_and_output() {
    const MAX_BLOCKS: usize = 5;
    const IN_CAP: usize = MAX_BLOCKS * BLOCK_BYTES + 64;
    const OUT_CAP: usize = MAX_BLOCKS * BLOCK_VALUES + 32;
    let (in_offsets, out_offsets, counts): (&[usize], &[usize], &[usize]) = if cfg!(miri) {
        (&[0, 1, 3], &[0, 1, 3], &[1, 2])
    } else {
        (
            &[0, 1, 2, 3, 5, 7, 13, 31, 33, 63],
            &[0, 1, 2, 3, 5, 7, 8, 15, 16, 17, 31],
            &[1, 2, 3, 4, 5],
        )
    };
    let source = realistic_blocks(3, MAX_BLOCKS);
    for kernel in available_kernels("unaligned_input_and_output") {
        for &count in counts {
            let bytes = &source[..count * BLOCK_BYTES];
            let want = decode_reference_all(bytes);
            let mut aligned_out = AlignedF32([0f32; OUT_CAP]);
            let aligned_out = &mut aligned_out.0[..count * BLOCK_VALUES];
            q4k::decode_with(kernel, bytes, aligned_out).unwrap();
            assert_same(
                aligned_out,
                &want,
                &format!("{kernel}: aligned, {count} blocks"),
            );

            for &in_offset in in_offsets {
                let mut input = Box::new(AlignedBytes([0xEEu8; IN_CAP]));
                input.0[in_offset..][..bytes.len()].copy_from_slice(bytes);
                let input = &input.0[in_offset..][..bytes.len()];
                assert_eq!(input.as_ptr() as usize % 64, in_offset);
                for &out_offset in out_offsets {
                    for stores in [Stores::Cached, Stores::Streaming] {
                        let mut output =
                            Box::new(AlignedF32([f32::from_bits(SENTINEL_BITS); OUT_CAP]));
                        let end = out_offset + count * BLOCK_VALUES;
                        Decoder::new()
                            .kernel(kernel)
                            .stores(stores)
                            .decode(input, &mut output.0[out_offset..end])
                            .unwrap();
                        let what = format!(
                            "{kernel} {stores:?}: {count} blocks, input at +{in_offset} bytes, \
                             output at +{out_offset} f32"
                        );
                        assert_eq!(output.0.as_ptr() as usize % 64, 0);
                        assert_same(&output.0[out_offset..end], aligned_out, &what);
                        assert_untouched(&output.0[..out_offset], &what);
                        assert_untouched(&output.0[end..], &what);
                    }
                }
            }
        }
    }
}

#[test]
fn error_display_names_the_numbers() {
    let cases = [
        (Error::InputLength { len: 12345 }, vec!["12345"]),
        (
            Error::OutputLength {
                expected: 768,
                actual: 700,
            },
            vec!["768", "700"],
        ),
    ];
    for (error, numbers) in cases {
        let text = error.to_string();
        assert!(!text.trim().is_empty(), "{error:?}");
        for n in numbers {
            assert!(
                text.contains(n),
                "{error:?} displays as {text:?}, without {n}"
            );
        }
    }
    for &kernel in Kernel::ALL {
        let error = Error::KernelUnavailable { kernel };
        let text = error.to_string();
        assert!(
            text.contains(kernel.name()),
            "{error:?} displays as {text:?}"
        );
        // `core::error::Error`, with no underlying cause.
        let dynamic: &dyn std::error::Error = &error;
        assert!(dynamic.source().is_none());
        assert!(!format!("{error:?}").is_empty());
    }
    // Distinct errors display differently.
    assert_ne!(
        Error::InputLength { len: 1 }.to_string(),
        Error::InputLength { len: 2 }.to_string()
    );
    assert_ne!(
        Error::OutputLength {
            expected: 256,
            actual: 1
        }
        .to_string(),
        Error::OutputLength {
            expected: 1,
            actual: 256
        }
        .to_string()
    );
}

#[test]
fn kernel_names_and_display() {
    let names = ["scalar", "sse2", "avx2", "avx512", "neon"];
    assert_eq!(Kernel::ALL.len(), names.len());
    assert_eq!(Kernel::ALL[0], Kernel::Scalar);
    for (kernel, name) in Kernel::ALL.iter().copied().zip(names) {
        assert_eq!(kernel.name(), name);
        assert_eq!(kernel.to_string(), name);
        assert_eq!(format!("{kernel:>8}").trim_start(), name);
    }
    for (i, a) in Kernel::ALL.iter().enumerate() {
        for b in &Kernel::ALL[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn output_len_edges() {
    // Independent computation in u128, saturated to usize.
    let reference = |len: usize| -> usize {
        let values = (len as u128 / 144) * 256;
        usize::try_from(values).unwrap_or(usize::MAX)
    };
    let boundary = usize::MAX / BLOCK_VALUES * BLOCK_BYTES; // around where the product overflows
    let mut lens = vec![
        0,
        1,
        143,
        144,
        145,
        287,
        288,
        289,
        144 * 1000,
        144 * 1000 + 143,
        usize::MAX,
        usize::MAX - 1,
        usize::MAX / 2,
        usize::MAX / 256,
    ];
    for delta in 0..=300 {
        lens.push(boundary - 150 + delta);
    }
    for len in lens {
        assert_eq!(q4k::output_len(len), reference(len), "output_len({len})");
    }
    assert_eq!(q4k::output_len(usize::MAX), usize::MAX);
    assert_eq!(q4k::output_len(144), BLOCK_VALUES);
}

#[test]
fn input_len_edges() {
    let reference = |values: usize| -> Option<usize> {
        if !values.is_multiple_of(256) {
            return None;
        }
        usize::try_from(values as u128 / 256 * 144).ok()
    };
    let mut cases = vec![
        0,
        1,
        255,
        256,
        257,
        512,
        4096,
        100,
        usize::MAX,
        usize::MAX - 255,
        usize::MAX / 256 * 256,
        (usize::MAX / 256 - 1) * 256,
    ];
    cases.extend((0..=600).map(|k| usize::MAX - k));
    for values in cases {
        assert_eq!(
            q4k::input_len(values),
            reference(values),
            "input_len({values})"
        );
    }
    assert_eq!(q4k::input_len(0), Some(0));
    assert_eq!(q4k::input_len(256), Some(144));
    assert_eq!(q4k::input_len(usize::MAX), None);
    // The two helpers invert each other on whole blocks.
    for blocks in [0usize, 1, 2, 3, 1000, usize::MAX / 256] {
        let values = blocks * 256;
        let bytes = q4k::input_len(values).unwrap();
        assert_eq!(bytes, blocks * 144);
        assert_eq!(q4k::output_len(bytes), values);
    }
}

/// A sanity check of the sentinel-based "untouched" checks: a successful decode does write
/// every value.
#[test]
fn successful_decode_writes_every_value() {
    let input = realistic_blocks(4, 2);
    for kernel in available_kernels("successful_decode_writes_every_value") {
        let mut output = sentinel_vec(2 * BLOCK_VALUES);
        q4k::decode_with(kernel, &input, &mut output).unwrap();
        assert!(
            output.iter().all(|v| v.to_bits() != SENTINEL_BITS),
            "{kernel} left a value unwritten"
        );
        assert_same(&output, &decode_reference_all(&input), kernel.name());
    }
}

#[test]
fn block_conversions_round_trip_and_debug_is_short() {
    let blocks_bytes = realistic_blocks(0x5EED, 3);
    for bytes in blocks_bytes.chunks_exact(BLOCK_BYTES) {
        let array: [u8; BLOCK_BYTES] = bytes.try_into().unwrap();
        let block = q4k::BlockQ4K::from(array);
        assert_eq!(&q4k::blocks(bytes).unwrap()[0], &block);
        assert_eq!(block.as_ref(), bytes);
        assert_eq!(<[u8; BLOCK_BYTES]>::from(block), array);
        let debug = format!("{block:?}");
        assert!(
            debug.contains("dmin") && debug.contains("scales_and_mins"),
            "{debug}"
        );
        // d, dmin and 8 pairs, not 144 raw bytes.
        assert!(debug.len() < 400, "{} characters: {debug}", debug.len());
        assert!(debug.contains(&format!("{:?}", block.d())), "{debug}");
    }
}

#[test]
fn streaming_threshold_changes_nothing_but_the_stores() {
    let input = realistic_blocks(0xABCD, 40);
    let mut expected = vec![0f32; q4k::output_len(input.len())];
    q4k::decode_with(Kernel::Scalar, &input, &mut expected).unwrap();
    for kernel in available_kernels("streaming_threshold_changes_nothing_but_the_stores") {
        for threshold in [0, 4096, usize::MAX] {
            let mut output = vec![0f32; expected.len()];
            Decoder::new()
                .kernel(kernel)
                .streaming_threshold(threshold)
                .decode(&input, &mut output)
                .unwrap();
            assert_same(
                &output,
                &expected,
                &format!("{kernel} threshold {threshold}"),
            );
        }
    }
}

#[cfg(feature = "bytemuck")]
#[test]
fn bytemuck_views_blocks_like_blocks() {
    let input = realistic_blocks(7, 5);
    let cast: &[q4k::BlockQ4K] = bytemuck::cast_slice(&input);
    assert_eq!(cast, q4k::blocks(&input).unwrap());
    assert_eq!(bytemuck::cast_slice::<_, u8>(cast), &input[..]);
    let zero: q4k::BlockQ4K = bytemuck::Zeroable::zeroed();
    assert_eq!(zero.to_bytes(), [0u8; BLOCK_BYTES]);
}

#[cfg(feature = "zerocopy")]
#[test]
fn zerocopy_views_blocks_like_blocks() {
    use zerocopy::{FromBytes, IntoBytes};
    let input = realistic_blocks(9, 5);
    // Unaligned: any offset works, as for `blocks`.
    let shifted = [&[0u8][..], &input[..]].concat();
    let view = <[q4k::BlockQ4K]>::ref_from_bytes(&shifted[1..]).unwrap();
    assert_eq!(view, q4k::blocks(&input).unwrap());
    assert_eq!(view.as_bytes(), &input[..]);
    assert!(<[q4k::BlockQ4K]>::ref_from_bytes(&input[1..]).is_err());
}
