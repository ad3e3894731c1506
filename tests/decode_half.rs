//! Decoding to binary16 and bfloat16: every kernel, store policy, output offset, the chunked
//! and parallel paths and the `half` types give the reference `f32` values (llama.cpp's `gguf`
//! vectors, or the formula) rounded to nearest, ties to even, by a rounding written here from
//! scratch; errors leave the output untouched.
//!
//! Case count of the properties: `Q4K_QUICKCHECK_TESTS`, else `QUICKCHECK_TESTS`, else 200.

mod common;

use common::{available_kernels, decode_reference_all, f16_reference, realistic_blocks};
use q4k::{BLOCK_BYTES, BLOCK_VALUES, ChunkedDecoder, Decoder, Error, Kernel, Stores};
use quickcheck::{Arbitrary, Gen, QuickCheck, Testable};

static BLOCK_FILE: &[u8] = include_bytes!("vectors/q4k_blocks.bin");
static EXPECTED_FILE: &[u8] = include_bytes!("vectors/q4k_expected.f32");

/// The two half-width formats.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    F16,
    Bf16,
}

const FORMATS: [Format; 2] = [Format::F16, Format::Bf16];

impl Format {
    /// The value of the non-negative, non-NaN pattern `bits` (infinity as the first power of two
    /// past the largest finite value, where rounding to infinity starts its halfway point).
    fn value(self, bits: u16) -> f64 {
        match self {
            Format::F16 if bits == 0x7C00 => 65536.0,
            Format::F16 => f64::from(f16_reference(bits)),
            Format::Bf16 if bits == 0x7F80 => 2f64.powi(128),
            Format::Bf16 => f64::from(f32::from_bits(u32::from(bits) << 16)),
        }
    }

    /// The positive infinity pattern.
    fn infinity(self) -> u16 {
        match self {
            Format::F16 => 0x7C00,
            Format::Bf16 => 0x7F80,
        }
    }

    fn is_nan(self, bits: u16) -> bool {
        let inf = self.infinity();
        bits & inf == inf && bits & !inf & 0x7FFF != 0
    }

    /// `x` rounded to nearest, ties to even: a binary search over the non-negative patterns
    /// (ordered like their values) for the two neighbours of `|x|`, then the nearer one, the
    /// even one on a tie; the sign is put back at the end. NaN gives a NaN.
    fn round(self, x: f32) -> u16 {
        let sign = if x.is_sign_negative() { 0x8000 } else { 0 };
        if x.is_nan() {
            return sign | self.infinity() | 0x0040;
        }
        let magnitude = f64::from(x.abs());
        let (mut low, mut high) = (0u16, self.infinity());
        if magnitude >= self.value(high) {
            return sign | high;
        }
        // Invariant: value(low) <= magnitude < value(high).
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if self.value(middle) <= magnitude {
                low = middle;
            } else {
                high = middle;
            }
        }
        let (below, above) = (magnitude - self.value(low), self.value(high) - magnitude);
        let nearest = if below < above || (below == above && low % 2 == 0) {
            low
        } else {
            high
        };
        sign | nearest
    }

    fn decode(self, decoder: &Decoder, input: &[u8], output: &mut [u16]) -> Result<(), Error> {
        match self {
            Format::F16 => decoder.decode_f16(input, output),
            Format::Bf16 => decoder.decode_bf16(input, output),
        }
    }
}

/// Panics at the first value of `got` that is not `want` rounded (NaN-ness only for NaN).
#[track_caller]
fn assert_rounded(format: Format, got: &[u16], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let expected = format.round(w);
        let ok = if w.is_nan() {
            format.is_nan(g)
        } else {
            g == expected
        };
        assert!(
            ok,
            "{what}: {format:?} value {i} (block {}, index {}): got {g:#06x}, want {expected:#06x} \
             (f32 {w:e}, {:#010x})",
            i / BLOCK_VALUES,
            i % BLOCK_VALUES,
            w.to_bits()
        );
    }
}

fn reference_vectors() -> (&'static [u8], Vec<f32>) {
    let expected = EXPECTED_FILE
        .chunks_exact(4)
        .map(|b| f32::from_bits(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .collect::<Vec<_>>();
    assert_eq!(
        expected.len(),
        BLOCK_FILE.len() / BLOCK_BYTES * BLOCK_VALUES
    );
    (BLOCK_FILE, expected)
}

#[test]
fn the_test_rounding_is_right_on_known_values() {
    // Known patterns, from the IEEE 754 and bfloat16 definitions.
    let cases: [(f32, u16, u16); 10] = [
        (1.0, 0x3C00, 0x3F80),
        (-2.0, 0xC000, 0xC000),
        (65504.0, 0x7BFF, 0x4780),
        (65520.0, 0x7C00, 0x4780),
        (1.0 / 16_777_216.0, 0x0001, 0x3380),
        (0.5 / 16_777_216.0, 0x0000, 0x3300),
        (f32::INFINITY, 0x7C00, 0x7F80),
        (f32::MAX, 0x7C00, 0x7F80),
        (-0.0, 0x8000, 0x8000),
        (f32::from_bits(0x3F81_8000), 0x3C0C, 0x3F82),
    ];
    for (x, f16, bf16) in cases {
        assert_eq!(Format::F16.round(x), f16, "f16 of {x:e}");
        assert_eq!(Format::Bf16.round(x), bf16, "bf16 of {x:e}");
    }
}

#[test]
fn every_kernel_matches_the_reference_vectors_rounded() {
    let (all_input, all_expected) = reference_vectors();
    // Under Miri: the scalar kernel (the only one it executes) on every eighth block.
    let (kernels, stride) = if cfg!(miri) {
        (vec![Kernel::Scalar], 8)
    } else {
        (available_kernels("half reference vectors"), 1)
    };
    let input: Vec<u8> = all_input
        .chunks_exact(BLOCK_BYTES)
        .step_by(stride)
        .flatten()
        .copied()
        .collect();
    let expected: Vec<f32> = all_expected
        .chunks_exact(BLOCK_VALUES)
        .step_by(stride)
        .flatten()
        .copied()
        .collect();
    for &kernel in &kernels {
        for format in FORMATS {
            for stores in [Stores::Cached, Stores::Streaming] {
                let mut output = vec![0u16; expected.len()];
                let decoder = Decoder::new().kernel(kernel).stores(stores);
                format.decode(&decoder, &input, &mut output).unwrap();
                assert_rounded(format, &output, &expected, &format!("{kernel} {stores:?}"));
            }
            // The chunked decoder, in 100-byte pieces, both ways of receiving values.
            let mut into = ChunkedDecoder::with_decoder(Decoder::new().kernel(kernel));
            let mut stream = ChunkedDecoder::with_decoder(Decoder::new().kernel(kernel));
            let mut output = vec![0u16; expected.len()];
            let mut written = 0;
            let mut fed = Vec::new();
            for piece in input.chunks(100) {
                let out = &mut output[written..];
                let collect = |values: &[u16; BLOCK_VALUES]| fed.extend_from_slice(values);
                written += match format {
                    Format::F16 => into.feed_into_f16(piece, out),
                    Format::Bf16 => into.feed_into_bf16(piece, out),
                }
                .unwrap();
                match format {
                    Format::F16 => stream.feed_f16(piece, collect),
                    Format::Bf16 => stream.feed_bf16(piece, collect),
                }
                .unwrap();
            }
            assert_eq!(written, expected.len());
            assert_rounded(format, &output, &expected, &format!("{kernel} feed_into"));
            assert_rounded(format, &fed, &expected, &format!("{kernel} feed"));
        }
    }
    if cfg!(miri) {
        return;
    }
    // The shortcuts run the best kernel.
    let mut output = vec![0u16; expected.len()];
    q4k::decode_f16(&input, &mut output).unwrap();
    assert_rounded(Format::F16, &output, &expected, "decode_f16");
    q4k::decode_bf16(&input, &mut output).unwrap();
    assert_rounded(Format::Bf16, &output, &expected, "decode_bf16");
    for kernel in kernels {
        q4k::decode_f16_with(kernel, &input, &mut output).unwrap();
        assert_rounded(Format::F16, &output, &expected, "decode_f16_with");
        q4k::decode_bf16_with(kernel, &input, &mut output).unwrap();
        assert_rounded(Format::Bf16, &output, &expected, "decode_bf16_with");
    }
}

/// Whether `v` is a finite decode output as the crate's documentation claims them: zero or a
/// multiple of 2^-24 of magnitude at least 2^-24, so never an `f32` subnormal.
fn on_the_2_pow_minus_24_grid(v: f32) -> bool {
    if !v.is_finite() {
        return true;
    }
    let units = f64::from(v) * 16_777_216.0;
    !v.is_subnormal() && units == units.trunc()
}

#[test]
#[cfg_attr(miri, ignore = "65,536 blocks")]
fn finite_decode_outputs_are_multiples_of_2_pow_minus_24_and_never_subnormal() {
    // The claim that makes subnormal-flushing converters exact. Its failure modes: an f16
    // subnormal `d` or `dmin` times a small integer (a multiple of 2^-24, fine), and a
    // difference of two such values, which stays on the grid. Check the reference outputs and
    // every f16 pattern as `d` and as `dmin` with extreme scales and quants.
    assert!(
        !on_the_2_pow_minus_24_grid(f32::from_bits(1)),
        "check can fail"
    );
    assert!(
        !on_the_2_pow_minus_24_grid(1.5 / 16_777_216.0),
        "check can fail"
    );
    let (_, expected) = reference_vectors();
    let mut checked = 0usize;
    for &v in &expected {
        assert!(on_the_2_pow_minus_24_grid(v), "reference value {v:e}");
        checked += 1;
    }
    let mut block = [0u8; BLOCK_BYTES];
    let mut output = [0f32; BLOCK_VALUES];
    for bits in 0..=u16::MAX {
        for (pattern, scales, quants) in [(0, 0xFFu8, 0x0Fu8), (1, 0x41, 0xF1), (2, 0x3F, 0x7E)] {
            let other = [0x0001u16, 0x03FF, 0x3C00][pattern];
            let (d, dmin) = if bits % 2 == 0 {
                (bits, other)
            } else {
                (other, bits)
            };
            block[0..2].copy_from_slice(&d.to_le_bytes());
            block[2..4].copy_from_slice(&dmin.to_le_bytes());
            block[4..16].fill(scales);
            block[16..].fill(quants);
            q4k::decode_with(Kernel::Scalar, &block, &mut output).unwrap();
            for &v in &output {
                assert!(
                    on_the_2_pow_minus_24_grid(v),
                    "d {d:#06x} dmin {dmin:#06x}: {v:e}"
                );
            }
            checked += output.len();
        }
    }
    eprintln!("{checked} decode outputs on the 2^-24 grid, none subnormal");
}

/// A block for the properties: random bytes with `d`/`dmin` random, special or realistic.
#[derive(Clone, Debug)]
struct AnyBlocks(Vec<u8>);

impl Arbitrary for AnyBlocks {
    fn arbitrary(g: &mut Gen) -> Self {
        const SPECIALS: [u16; 10] = [
            0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01,
        ];
        let count = usize::from(u8::arbitrary(g) % 12);
        let mut bytes: Vec<u8> = (0..count * BLOCK_BYTES).map(|_| u8::arbitrary(g)).collect();
        for block in bytes.chunks_exact_mut(BLOCK_BYTES) {
            for at in [0, 2] {
                let bits = match u8::arbitrary(g) % 3 {
                    0 => u16::arbitrary(g),
                    1 => *g.choose(&SPECIALS).unwrap(),
                    _ => {
                        ((5 + u16::from(u8::arbitrary(g) % 8)) << 10) | (u16::arbitrary(g) & 0x3FF)
                    }
                };
                block[at..at + 2].copy_from_slice(&bits.to_le_bytes());
            }
        }
        AnyBlocks(bytes)
    }
}

fn check<A: Testable>(test: &str, property: A) {
    let n = ["Q4K_QUICKCHECK_TESTS", "QUICKCHECK_TESTS"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok()?.trim().parse().ok())
        .unwrap_or(200);
    eprintln!("{test}: {n} cases");
    QuickCheck::new().tests(n).quickcheck(property);
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
fn prop_every_kernel_offset_and_store_policy_rounds_the_formula() {
    available_kernels("half properties");
    let property = |blocks: AnyBlocks, kernel: u8, offset: u8, stores: u8, bf16: bool| {
        let kernels: Vec<Kernel> = Kernel::ALL
            .iter()
            .copied()
            .filter(|k| k.is_available())
            .collect();
        let input = &blocks.0;
        let kernel = kernels[usize::from(kernel) % kernels.len()];
        let offset = usize::from(offset % 40);
        let stores = [Stores::Auto, Stores::Cached, Stores::Streaming][usize::from(stores % 3)];
        let format = if bf16 { Format::Bf16 } else { Format::F16 };
        let expected = decode_reference_all(input);
        let mut buffer = vec![0xA5A5u16; expected.len() + 80];
        let start = buffer.as_ptr().align_offset(64) + offset;
        let end = start + expected.len();
        let decoder = Decoder::new().kernel(kernel).stores(stores);
        format
            .decode(&decoder, input, &mut buffer[start..end])
            .unwrap();
        let what = format!("{kernel} {stores:?} offset {offset}");
        assert_rounded(format, &buffer[start..end], &expected, &what);
        assert!(
            buffer[..start]
                .iter()
                .chain(&buffer[end..])
                .all(|&v| v == 0xA5A5),
            "{what}: wrote outside the output"
        );
        true
    };
    check(
        "half: kernels, offsets, store policies",
        property as fn(AnyBlocks, u8, u8, u8, bool) -> bool,
    );
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
fn prop_chunked_half_matches_one_shot() {
    let property = |blocks: AnyBlocks, chunk: u16, bf16: bool| {
        let input = &blocks.0;
        let chunk = usize::from(chunk % 400) + 1;
        let format = if bf16 { Format::Bf16 } else { Format::F16 };
        let mut whole = vec![0u16; input.len() / BLOCK_BYTES * BLOCK_VALUES];
        format.decode(&Decoder::new(), input, &mut whole).unwrap();

        let mut stream = ChunkedDecoder::new();
        let mut into = vec![0u16; whole.len()];
        let mut written = 0;
        let mut fed = Vec::new();
        for piece in input.chunks(chunk) {
            let out = &mut into[written..];
            written += match format {
                Format::F16 => stream.feed_into_f16(piece, out),
                Format::Bf16 => stream.feed_into_bf16(piece, out),
            }
            .unwrap();
        }
        stream.finish().unwrap();
        for piece in input.chunks(chunk) {
            let collect = |values: &[u16; BLOCK_VALUES]| fed.extend_from_slice(values);
            match format {
                Format::F16 => stream.feed_f16(piece, collect),
                Format::Bf16 => stream.feed_bf16(piece, collect),
            }
            .unwrap();
        }
        stream.finish().unwrap();
        written == whole.len() && into == whole && fed == whole
    };
    check(
        "half: chunked",
        property as fn(AnyBlocks, u16, bool) -> bool,
    );
}

#[test]
fn errors_leave_the_output_untouched() {
    let input = realistic_blocks(7, 3);
    let expected_len = 3 * BLOCK_VALUES;
    for format in FORMATS {
        let decoder = Decoder::new();
        let mut output = vec![0x1234u16; expected_len];
        assert_eq!(
            format.decode(&decoder, &input[..input.len() - 1], &mut output),
            Err(Error::InputLength {
                len: input.len() - 1
            })
        );
        let mut short = vec![0x1234u16; expected_len - 1];
        assert_eq!(
            format.decode(&decoder, &input, &mut short),
            Err(Error::OutputLength {
                expected: expected_len,
                actual: expected_len - 1
            })
        );
        for kernel in Kernel::ALL.iter().copied().filter(|k| !k.is_available()) {
            let decoder = Decoder::new().kernel(kernel);
            assert_eq!(
                format.decode(&decoder, &input, &mut output),
                Err(Error::KernelUnavailable { kernel })
            );
        }
        assert!(
            output.iter().chain(&short).all(|&v| v == 0x1234),
            "{format:?}"
        );

        // The chunked decoder: an output too short consumes nothing and writes nothing.
        let mut stream = ChunkedDecoder::new();
        let mut small = vec![0x1234u16; BLOCK_VALUES];
        let result = match format {
            Format::F16 => stream.feed_into_f16(&input, &mut small),
            Format::Bf16 => stream.feed_into_bf16(&input, &mut small),
        };
        assert_eq!(
            result,
            Err(Error::OutputLength {
                expected: expected_len,
                actual: BLOCK_VALUES
            })
        );
        assert_eq!(stream.pending_bytes(), 0);
        assert!(small.iter().all(|&v| v == 0x1234));
    }
}

#[cfg(feature = "parallel")]
#[test]
#[cfg_attr(miri, ignore = "rayon threads are slow under Miri")]
fn parallel_half_matches_serial() {
    let input = realistic_blocks(11, 700);
    let values = 700 * BLOCK_VALUES;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for format in FORMATS {
        let mut serial = vec![0u16; values];
        format.decode(&Decoder::new(), &input, &mut serial).unwrap();
        for kernel in available_kernels("half parallel") {
            // Small chunks and a low threshold, so that the work is really split.
            let decoder = Decoder::new()
                .kernel(kernel)
                .parallel_threshold_blocks(2)
                .parallel_chunk_blocks(13);
            let mut parallel = vec![0u16; values];
            pool.install(|| match format {
                Format::F16 => decoder.decode_f16_parallel(&input, &mut parallel),
                Format::Bf16 => decoder.decode_bf16_parallel(&input, &mut parallel),
            })
            .unwrap();
            assert!(parallel == serial, "{kernel} {format:?}");
        }
        let mut free = vec![0u16; values];
        pool.install(|| match format {
            Format::F16 => q4k::decode_f16_parallel(&input, &mut free),
            Format::Bf16 => q4k::decode_bf16_parallel(&input, &mut free),
        })
        .unwrap();
        assert!(free == serial, "{format:?}");
        let mut short = vec![0x1234u16; values - 1];
        assert!(
            pool.install(|| Decoder::new()
                .parallel_threshold_blocks(2)
                .decode_f16_parallel(&input, &mut short))
                .is_err()
        );
        assert!(short.iter().all(|&v| v == 0x1234));
    }
}

#[cfg(feature = "half")]
#[test]
fn half_types_get_the_same_bits() {
    let input = realistic_blocks(5, 4);
    let mut bits = vec![0u16; 4 * BLOCK_VALUES];
    q4k::decode_f16(&input, &mut bits).unwrap();
    let mut f16s = vec![half::f16::ZERO; bits.len()];
    q4k::decode_half(&input, &mut f16s).unwrap();
    assert!(f16s.iter().zip(&bits).all(|(h, &b)| h.to_bits() == b));
    let mut chunked = vec![half::f16::ZERO; bits.len()];
    let mut stream = ChunkedDecoder::new();
    let mut written = 0;
    for piece in input.chunks(100) {
        written += stream
            .feed_into_half(piece, &mut chunked[written..])
            .unwrap();
    }
    assert!(chunked == f16s);

    q4k::decode_bf16(&input, &mut bits).unwrap();
    let mut bf16s = vec![half::bf16::ZERO; bits.len()];
    Decoder::new().decode_half(&input, &mut bf16s).unwrap();
    assert!(bf16s.iter().zip(&bits).all(|(h, &b)| h.to_bits() == b));
    // And the values are those of rounding decode's f32 (half's own conversion, round to
    // nearest even as well, for these finite values).
    let mut wide = vec![0f32; bits.len()];
    q4k::decode(&input, &mut wide).unwrap();
    assert!(
        bf16s
            .iter()
            .zip(&wide)
            .all(|(h, &w)| *h == half::bf16::from_f32(w))
    );
    #[cfg(feature = "parallel")]
    {
        let mut parallel = vec![half::bf16::ZERO; bits.len()];
        Decoder::new()
            .parallel_threshold_blocks(1)
            .decode_half_parallel(&input, &mut parallel)
            .unwrap();
        assert!(parallel == bf16s);
    }
}
