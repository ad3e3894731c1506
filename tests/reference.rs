//! Every decode path reproduces the committed reference vectors (decoded by llama.cpp's `gguf`
//! Python library) bit for bit. See `tests/vectors/README.md`.

mod common;

use common::{
    assert_same, available_kernels, decode_reference, decode_reference_all, f16_reference,
    quant_reference, unpack_scales,
};
use q4k::{BLOCK_BYTES, BLOCK_VALUES, BlockQ4K, Decoder, Kernel, Stores};

static BLOCK_FILE: &[u8] = include_bytes!("vectors/q4k_blocks.bin");
static EXPECTED_FILE: &[u8] = include_bytes!("vectors/q4k_expected.f32");

/// Under Miri, every `MIRI_STRIDE`-th block only, so that the interpreter finishes quickly.
#[cfg(miri)]
const MIRI_STRIDE: usize = 4;
#[cfg(not(miri))]
const MIRI_STRIDE: usize = 1;

/// The reference blocks and their expected values (all of them, or a spread subset under Miri).
struct Vectors {
    bytes: Vec<u8>,
    expected: Vec<f32>,
}

impl Vectors {
    fn blocks(&self) -> usize {
        self.bytes.len() / BLOCK_BYTES
    }
}

fn vectors() -> Vectors {
    vectors_with_stride(MIRI_STRIDE)
}

/// Every `stride`-th reference block with its expected values.
fn vectors_with_stride(stride: usize) -> Vectors {
    assert_eq!(BLOCK_FILE.len() % BLOCK_BYTES, 0, "q4k_blocks.bin length");
    let all = BLOCK_FILE.len() / BLOCK_BYTES;
    assert_eq!(
        EXPECTED_FILE.len(),
        all * BLOCK_VALUES * 4,
        "q4k_expected.f32 must hold 256 f32 per block of q4k_blocks.bin"
    );
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for (block, values) in BLOCK_FILE
        .chunks_exact(BLOCK_BYTES)
        .zip(EXPECTED_FILE.chunks_exact(BLOCK_VALUES * 4))
        .step_by(stride)
    {
        bytes.extend_from_slice(block);
        expected.extend(
            values
                .chunks_exact(4)
                .map(|b| f32::from_bits(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        );
    }
    Vectors { bytes, expected }
}

#[test]
fn vectors_cover_the_edge_cases() {
    let v = vectors_with_stride(1);
    eprintln!("reference vectors: {} blocks", v.blocks());
    assert!(v.blocks() >= 12, "too few reference blocks");
    let has = |f: fn(f32) -> bool| v.expected.iter().any(|&x| f(x));
    assert!(has(f32::is_nan), "no NaN in the expected values");
    assert!(
        has(|x| x == f32::INFINITY),
        "no +inf in the expected values"
    );
    assert!(
        has(|x| x == f32::NEG_INFINITY),
        "no -inf in the expected values"
    );
    assert!(
        has(|x| x.to_bits() == 0x8000_0000),
        "no -0.0 in the expected values"
    );
    assert!(
        has(|x| x.is_finite() && x.abs() > 1e6),
        "no large finite value"
    );
    assert!(has(|x| x.is_finite() && x < 0.0), "no negative value");
    // Blocks with every kind of d/dmin: f16 NaN, infinity, subnormal, zero.
    let d_bits: Vec<u16> = v
        .bytes
        .chunks_exact(BLOCK_BYTES)
        .flat_map(|b| {
            [
                u16::from_le_bytes([b[0], b[1]]),
                u16::from_le_bytes([b[2], b[3]]),
            ]
        })
        .collect();
    let exponent = |bits: u16| (bits >> 10) & 0x1F;
    assert!(
        d_bits
            .iter()
            .any(|&b| exponent(b) == 0x1F && b & 0x3FF != 0)
    );
    assert!(
        d_bits
            .iter()
            .any(|&b| exponent(b) == 0x1F && b & 0x3FF == 0)
    );
    assert!(d_bits.iter().any(|&b| exponent(b) == 0 && b & 0x3FF != 0));
    assert!(d_bits.iter().any(|&b| b & 0x7FFF == 0));
}

/// The test's own decoder agrees with `gguf`, so comparing against it elsewhere means something.
#[test]
fn independent_formula_matches_gguf() {
    let v = vectors();
    assert_same(
        &decode_reference_all(&v.bytes),
        &v.expected,
        "docs/format.md formula vs gguf",
    );
}

#[test]
fn every_kernel_matches_gguf() {
    let v = vectors();
    for kernel in available_kernels("every_kernel_matches_gguf") {
        let mut out = vec![f32::NAN; v.expected.len()];
        q4k::decode_with(kernel, &v.bytes, &mut out).unwrap();
        assert_same(&out, &v.expected, &format!("decode_with({kernel})"));
    }
}

#[test]
fn decode_matches_gguf() {
    let v = vectors();
    eprintln!("decode_matches_gguf: best kernel {}", Kernel::best());
    let mut out = vec![0.0; v.expected.len()];
    q4k::decode(&v.bytes, &mut out).unwrap();
    assert_same(&out, &v.expected, "decode");
}

#[test]
fn decoder_with_every_store_policy_matches_gguf() {
    let v = vectors();
    let kernels = available_kernels("decoder_with_every_store_policy_matches_gguf");
    for stores in [Stores::Cached, Stores::Streaming, Stores::Auto] {
        let decoder = Decoder::new().stores(stores);
        assert_eq!(decoder.store_policy(), stores);
        assert_eq!(decoder.selected_kernel(), Kernel::best());
        let mut out = vec![-1.0; v.expected.len()];
        decoder.decode(&v.bytes, &mut out).unwrap();
        assert_same(&out, &v.expected, &format!("Decoder {stores:?}"));

        for &kernel in &kernels {
            let decoder = Decoder::new().kernel(kernel).stores(stores);
            assert_eq!(decoder.selected_kernel(), kernel);
            assert_eq!(decoder.store_policy(), stores);
            let mut out = vec![-1.0; v.expected.len()];
            decoder.decode(&v.bytes, &mut out).unwrap();
            assert_same(&out, &v.expected, &format!("Decoder {kernel} {stores:?}"));
        }
    }
}

/// Every run of consecutive blocks (lengths 0..=9 from several starts) decodes to its slice of
/// the vectors, so kernels that handle several blocks per step get every remainder checked.
#[test]
fn every_kernel_matches_gguf_on_sub_ranges() {
    let v = vectors();
    let n = v.blocks();
    let max_len = if cfg!(miri) { 3 } else { 9 };
    let starts: Vec<usize> = if cfg!(miri) {
        vec![0, n / 2]
    } else {
        (0..n).collect()
    };
    for kernel in available_kernels("every_kernel_matches_gguf_on_sub_ranges") {
        for stores in [Stores::Cached, Stores::Streaming] {
            let decoder = Decoder::new().kernel(kernel).stores(stores);
            for &start in &starts {
                for len in 0..=max_len.min(n - start) {
                    let input = &v.bytes[start * BLOCK_BYTES..(start + len) * BLOCK_BYTES];
                    let want = &v.expected[start * BLOCK_VALUES..(start + len) * BLOCK_VALUES];
                    let mut out = vec![0.5; want.len()];
                    decoder.decode(input, &mut out).unwrap();
                    assert_same(
                        &out,
                        want,
                        &format!("{kernel} {stores:?} blocks {start}..{}", start + len),
                    );
                }
            }
        }
    }
}

#[test]
fn block_decode_and_blocks_view_match_gguf() {
    let v = vectors();
    let view = q4k::blocks(&v.bytes).unwrap();
    assert_eq!(view.len(), v.blocks());
    let round_trip = q4k::as_bytes(view);
    assert_eq!(
        round_trip.as_ptr(),
        v.bytes.as_ptr(),
        "as_bytes must not copy"
    );
    assert_eq!(round_trip, &v.bytes[..]);

    for (i, (block, want)) in view
        .iter()
        .zip(v.expected.chunks_exact(BLOCK_VALUES))
        .enumerate()
    {
        let raw: [u8; BLOCK_BYTES] = v.bytes[i * BLOCK_BYTES..][..BLOCK_BYTES]
            .try_into()
            .unwrap();
        assert_eq!(block.to_bytes(), raw, "block {i}: to_bytes");
        assert_eq!(BlockQ4K::from_bytes(raw), *block, "block {i}: from_bytes");

        let mut out = [7.0f32; BLOCK_VALUES];
        block.decode(&mut out);
        assert_same(&out, want, &format!("BlockQ4K::decode of block {i}"));

        let mut out = [7.0f32; BLOCK_VALUES];
        BlockQ4K::from_bytes(raw).decode(&mut out);
        assert_same(&out, want, &format!("from_bytes + decode of block {i}"));

        // One block through the slice API, from the view's bytes.
        let mut out = [7.0f32; BLOCK_VALUES];
        q4k::decode(q4k::as_bytes(core::slice::from_ref(block)), &mut out).unwrap();
        assert_same(&out, want, &format!("decode of block {i} alone"));
    }

    // The whole view back through the slice API.
    let mut out = vec![0.0; v.expected.len()];
    q4k::decode(q4k::as_bytes(view), &mut out).unwrap();
    assert_same(&out, &v.expected, "decode(as_bytes(blocks(..)))");
}

#[test]
fn accessors_match_format() {
    let v = vectors();
    let view = q4k::blocks(&v.bytes).unwrap();
    for (i, (block, raw)) in view
        .iter()
        .zip(v.bytes.chunks_exact(BLOCK_BYTES))
        .enumerate()
    {
        let d_bits = u16::from_le_bytes([raw[0], raw[1]]);
        let dmin_bits = u16::from_le_bytes([raw[2], raw[3]]);
        assert_eq!(block.d_dmin_bits(), (d_bits, dmin_bits), "block {i}");
        // Widening is exact, NaN payloads included.
        assert_eq!(
            block.d().to_bits(),
            f16_reference(d_bits).to_bits(),
            "block {i}: d"
        );
        assert_eq!(
            block.dmin().to_bits(),
            f16_reference(dmin_bits).to_bits(),
            "block {i}: dmin"
        );
        assert_eq!(
            q4k::f16_to_f32(d_bits).to_bits(),
            f16_reference(d_bits).to_bits()
        );

        assert_eq!(&block.packed_scales()[..], &raw[4..16], "block {i}");
        assert_eq!(&block.quants()[..], &raw[16..144], "block {i}");

        let (sc, m) = unpack_scales(&raw[4..16]);
        let pairs = block.scales_and_mins();
        for j in 0..8 {
            assert_eq!(pairs[j], (sc[j], m[j]), "block {i}: sub-block {j}");
            assert!(pairs[j].0 < 64 && pairs[j].1 < 64);
        }

        for index in 0..BLOCK_VALUES {
            assert_eq!(
                block.quant(index),
                Some(quant_reference(&raw[16..144], index)),
                "block {i}: quant {index}"
            );
        }
        for index in [256, 257, 1000, usize::MAX] {
            assert_eq!(block.quant(index), None, "block {i}: quant {index}");
        }

        // The accessors put together give the reference value.
        let want = decode_reference(raw);
        for (index, &w) in want.iter().enumerate() {
            let (scale, min) = pairs[index / 32];
            let q = block.quant(index).unwrap();
            let y = block.d() * f32::from(scale) * f32::from(q) - block.dmin() * f32::from(min);
            assert!(
                common::same(y, w),
                "block {i}, value {index}: accessors give {y:?}, formula {w:?}"
            );
        }
    }
}

/// The layout probe (last block of the file) written out by hand: d = 1, dmin = 0.5, so each
/// value is `sc * q - m / 2` with small integers, independent of any unpacking code.
#[test]
fn layout_probe_by_hand() {
    let raw = &BLOCK_FILE[BLOCK_FILE.len() - BLOCK_BYTES..];
    assert_eq!(
        &raw[0..4],
        &[0x00, 0x3C, 0x00, 0x38],
        "probe d = 1, dmin = 0.5"
    );
    // scales bytes 41 82 C3 04 | 45 86 C7 08 | 19 2A 3B 4C:
    // sc[0..4] = 1, 2, 3, 4;  m[0..4] = 5, 6, 7, 8
    // sc[4..8] = 9 | 1<<4, 0xA | 2<<4, 0xB | 3<<4, 0xC | 0<<4 = 25, 42, 59, 12
    // m[4..8]  = 1 | 1<<4, 2 | 2<<4, 3 | 3<<4, 4 | 0<<4 = 17, 34, 51, 4
    let sc = [1.0f32, 2.0, 3.0, 4.0, 25.0, 42.0, 59.0, 12.0];
    let m = [5.0f32, 6.0, 7.0, 8.0, 17.0, 34.0, 51.0, 4.0];
    let mut want = [0f32; 256];
    for g in 0..4 {
        for l in 0..32 {
            let low = (l % 16) as f32; // low nibble of byte 32g + l
            let high = (15 - l % 16) as f32; // high nibble
            want[64 * g + l] = sc[2 * g] * low - m[2 * g] * 0.5;
            want[64 * g + 32 + l] = sc[2 * g + 1] * high - m[2 * g + 1] * 0.5;
        }
    }
    let expected: Vec<f32> = EXPECTED_FILE[EXPECTED_FILE.len() - 1024..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_same(&expected, &want, "gguf vs hand-written probe");
    for kernel in available_kernels("layout_probe_by_hand") {
        let mut out = [0f32; 256];
        q4k::decode_with(kernel, raw, &mut out).unwrap();
        assert_same(&out, &want, &format!("{kernel} on the layout probe"));
    }
}
