//! `dot_f32` and `matvec_f32`: every kernel against the scalar kernel bit for bit (quickcheck),
//! `matvec` against `dot` row by row, the scalar kernel against an independent rendering of the
//! documented order and against an `f64` dot product, the errors, and `_parallel` against the
//! serial version.
//!
//! Case count: `Q4K_QUICKCHECK_TESTS`, else `QUICKCHECK_TESTS`, else 200.

mod common;

use common::{
    assert_untouched, available_kernels, check, decode_reference_all, realistic_blocks, same,
    sentinel_vec,
};
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Error, Kernel};
use quickcheck::{Arbitrary, Gen};

fn below(g: &mut Gen, n: usize) -> usize {
    usize::from(u16::arbitrary(g)) % n
}

/// A uniform-ish value in -1..1 from 24 random bits.
fn unit(g: &mut Gen) -> f32 {
    (u32::arbitrary(g) >> 8) as f32 / (1 << 23) as f32 - 1.0
}

/// A matrix and an activation vector: `rows` rows (0..=9) of `columns / 256` blocks (0..=5; fewer
/// under Miri),
/// every block drawn from a mix of all bit patterns, realistic headers and extreme fills, and
/// activations from a mix of ordinary values, zeros of both signs, tiny, huge and non-finite
/// ones. `offset` (0..4) misaligns the weight bytes; `shift` (0..16) the activations.
#[derive(Clone, Debug)]
struct Matrix {
    rows: usize,
    weights: Vec<u8>,
    activations: Vec<f32>,
    offset: usize,
    shift: usize,
}

impl Matrix {
    fn per_row(&self) -> usize {
        self.activations.len() / BLOCK_VALUES
    }

    /// The weights at byte offset `offset` of a fresh buffer.
    fn placed_weights(&self) -> Vec<u8> {
        let mut placed = vec![0xEE; self.offset];
        placed.extend_from_slice(&self.weights);
        placed
    }

    /// The activations `shift` floats into a fresh buffer.
    fn placed_activations(&self) -> Vec<f32> {
        let mut placed = vec![f32::NAN; self.shift];
        placed.extend_from_slice(&self.activations);
        placed
    }
}

fn arbitrary_block(g: &mut Gen, block: &mut [u8]) {
    for b in block.iter_mut() {
        *b = u8::arbitrary(g);
    }
    for field in [0usize, 2] {
        let bits = match below(g, 8) {
            // Any bits: NaN, infinities, subnormals, negatives.
            0 => u16::arbitrary(g),
            1 => *g
                .choose(&[0x0000, 0x8000, 0x0001, 0x7BFF, 0x7C00, 0xFE00])
                .unwrap(),
            // Realistic: 2^-10..2^-3.
            _ => ((5 + below(g, 8) as u16) << 10) | (u16::arbitrary(g) & 0x3FF),
        };
        block[field..field + 2].copy_from_slice(&bits.to_le_bytes());
    }
    if below(g, 5) == 0 {
        let fill = *g.choose(&[0x00, 0xFF, 0x3F, 0xC0]).unwrap();
        block[4..16].fill(fill);
    }
    if below(g, 5) == 0 {
        let fill = *g.choose(&[0x00, 0xFF, 0x0F, 0xF0]).unwrap();
        block[16..].fill(fill);
    }
}

fn arbitrary_activation(g: &mut Gen, kind: usize) -> f32 {
    match (kind, below(g, 64)) {
        // Mostly finite: an ordinary row, a row with zeros, a row of wide magnitudes.
        (_, 0) if kind == 3 => *g
            .choose(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY])
            .unwrap(),
        (1, 0..=31) => *g.choose(&[0.0, -0.0]).unwrap(),
        (2, _) => unit(g) * 2f32.powi(below(g, 80) as i32 - 40),
        _ => unit(g) * 4.0,
    }
}

/// Rows and blocks per row stay below these (much smaller under Miri, which is slow).
const ROWS_BELOW: usize = if cfg!(miri) { 3 } else { 10 };
const PER_ROW_BELOW: usize = if cfg!(miri) { 2 } else { 6 };

impl Arbitrary for Matrix {
    fn arbitrary(g: &mut Gen) -> Self {
        let rows = below(g, ROWS_BELOW);
        let per_row = below(g, PER_ROW_BELOW);
        let mut weights = vec![0u8; rows * per_row * BLOCK_BYTES];
        for block in weights.chunks_exact_mut(BLOCK_BYTES) {
            arbitrary_block(g, block);
        }
        let kind = below(g, 4);
        let activations = (0..per_row * BLOCK_VALUES)
            .map(|_| arbitrary_activation(g, kind))
            .collect();
        Matrix {
            rows,
            weights,
            activations,
            offset: below(g, 4),
            shift: below(g, 16),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let mut smaller = Vec::new();
        if self.rows > 0 {
            let row_bytes = self.per_row() * BLOCK_BYTES;
            let mut fewer = self.clone();
            fewer.rows -= 1;
            fewer.weights.truncate(fewer.rows * row_bytes);
            smaller.push(fewer);
        }
        if self.offset != 0 || self.shift != 0 {
            smaller.push(Matrix {
                offset: 0,
                shift: 0,
                ..self.clone()
            });
        }
        Box::new(smaller.into_iter())
    }
}

/// `matvec_f32_with` of every kernel gives the scalar kernel's bits; each output equals
/// `dot_f32_with` of its row.
#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot execute SIMD intrinsics; too slow for quickcheck"
)]
fn every_kernel_matches_scalar_and_matvec_is_dot_per_row() {
    available_kernels("dot_f32 kernels vs scalar");
    fn property(m: Matrix) -> bool {
        let weights = m.placed_weights();
        let weights = &weights[m.offset..];
        let activations = m.placed_activations();
        let activations = &activations[m.shift..];
        let mut want = vec![0f32; m.rows];
        q4k::matvec_f32_with(Kernel::Scalar, weights, activations, &mut want).unwrap();
        let row_bytes = m.per_row() * BLOCK_BYTES;
        for kernel in Kernel::ALL.iter().copied().filter(|k| k.is_available()) {
            let mut got = sentinel_vec(m.rows);
            q4k::matvec_f32_with(kernel, weights, activations, &mut got).unwrap();
            for (r, (&got, &want)) in got.iter().zip(&want).enumerate() {
                assert!(
                    same(got, want),
                    "{kernel}: row {r} of {} ({} blocks): got {got:?} ({:#010x}), \
                     want {want:?} ({:#010x})",
                    m.rows,
                    m.per_row(),
                    got.to_bits(),
                    want.to_bits()
                );
                let row = &weights[r * row_bytes..(r + 1) * row_bytes];
                let dot = q4k::dot_f32_with(kernel, row, activations).unwrap();
                assert!(
                    same(dot, got),
                    "{kernel}: dot of row {r} differs from matvec"
                );
            }
        }
        true
    }
    check(
        "every_kernel_matches_scalar_and_matvec_is_dot_per_row",
        property as fn(Matrix) -> bool,
    );
}

/// The order of the `dot_f32` documentation, written out again here from the decoded weights.
fn documented_order(w: &[f32], a: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    for (w, a) in w.chunks_exact(256).zip(a.chunks_exact(256)) {
        let p: Vec<f32> = w.iter().zip(a).map(|(w, a)| w * a).collect();
        for (j, acc) in acc.iter_mut().enumerate() {
            let t: Vec<f32> = (0..8).map(|s| p[32 * s + j] + p[32 * s + 16 + j]).collect();
            *acc += ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
        }
    }
    let h8: Vec<f32> = (0..8).map(|j| acc[j] + acc[j + 8]).collect();
    let h4: Vec<f32> = (0..4).map(|j| h8[j] + h8[j + 4]).collect();
    (h4[0] + h4[2]) + (h4[1] + h4[3])
}

/// The scalar kernel against the documented order over weights decoded by the tests' own
/// decoder (bits), and against an `f64` dot product within the order's error bound (so that a
/// wrong formula fails even if the order were wrong in the same way in both).
#[test]
fn scalar_kernel_is_the_documented_order_and_close_to_f64() {
    fn property(m: Matrix) -> bool {
        let per_row = m.per_row();
        let row_bytes = per_row * BLOCK_BYTES;
        for r in 0..m.rows {
            let row = &m.weights[r * row_bytes..(r + 1) * row_bytes];
            let got = q4k::dot_f32_with(Kernel::Scalar, row, &m.activations).unwrap();
            let w = decode_reference_all(row);
            let want = documented_order(&w, &m.activations);
            assert!(
                same(got, want),
                "row {r}: got {got:?}, documented order {want:?}"
            );
            let exact: f64 = w
                .iter()
                .zip(&m.activations)
                .map(|(&w, &a)| f64::from(w) * f64::from(a))
                .sum();
            let magnitude: f64 = w
                .iter()
                .zip(&m.activations)
                .map(|(&w, &a)| (f64::from(w) * f64::from(a)).abs())
                .sum();
            if !magnitude.is_finite() || magnitude > f64::from(f32::MAX) / 2.0 {
                continue; // non-finite or near overflow: bits above are all that is asserted
            }
            // Depth of the order: one product, four adds in the block tree, one per block,
            // four in the reduction; plus the underflow of the products (2^-149 each).
            let depth = (1 + 4 + per_row + 4) as f64;
            let bound =
                depth * 2f64.powi(-24) * magnitude * 1.001 + w.len() as f64 * 2f64.powi(-149) * 4.0;
            assert!(
                (f64::from(got) - exact).abs() <= bound,
                "row {r}: got {got}, f64 {exact}, bound {bound}"
            );
        }
        true
    }
    check(
        "scalar_kernel_is_the_documented_order_and_close_to_f64",
        property as fn(Matrix) -> bool,
    );
}

/// A case worked out by hand: d = 1, dmin = 0.5, every scale 1, every min 1, every quant 3:
/// every weight is `1 * 3 - 0.5 = 2.5`; with activations 2 every product is 5, a block is 1280
/// (all sums exact), and 3 blocks give 3840.
#[test]
fn hand_worked_value() {
    let mut block = [0u8; BLOCK_BYTES];
    block[0..2].copy_from_slice(&0x3C00u16.to_le_bytes()); // 1.0
    block[2..4].copy_from_slice(&0x3800u16.to_le_bytes()); // 0.5
    // sc[j] = m[j] = 1 for all j: bytes 0..8 = 1 (low six bits), bytes 8..12 = 0x11.
    block[4..12].fill(1);
    block[12..16].fill(0x11);
    block[16..].fill(0x33);
    let weights = block.repeat(3);
    let activations = [2.0f32; 3 * BLOCK_VALUES];
    for kernel in available_kernels("hand_worked_value") {
        let got = q4k::dot_f32_with(kernel, &weights, &activations).unwrap();
        assert_eq!(got, 3840.0, "{kernel}");
    }
    let decoded = decode_reference_all(&block);
    assert!(decoded.iter().all(|&w| w == 2.5));
}

/// Empty rows sum to +0.0; an empty matrix writes nothing.
#[test]
fn empty_rows_and_matrices() {
    for kernel in available_kernels("empty_rows_and_matrices") {
        let dot = q4k::dot_f32_with(kernel, &[], &[]).unwrap();
        assert_eq!(dot.to_bits(), 0, "{kernel}");
        let mut out = [f32::NAN; 3];
        q4k::matvec_f32_with(kernel, &[], &[], &mut out).unwrap();
        assert!(out.iter().all(|v| v.to_bits() == 0), "{kernel}");
        q4k::matvec_f32_with(kernel, &[], &[1.0; 256], &mut []).unwrap();
    }
}

/// Every length mismatch is refused with both lengths named, before any kernel runs, and the
/// output is untouched; an unavailable kernel is refused after the lengths.
#[test]
fn length_errors_name_the_lengths_and_leave_the_output_untouched() {
    let weights = realistic_blocks(7, 6);
    let activations = vec![1.0f32; 512];
    let cases: [(&[u8], &[f32], usize, Error); 6] = [
        (
            &weights,
            &activations[..300],
            3,
            Error::ActivationLength { len: 300 },
        ),
        (
            &weights,
            &activations,
            2,
            Error::WeightsLength {
                len: 6 * BLOCK_BYTES,
                rows: 2,
                row_bytes: 2 * BLOCK_BYTES,
            },
        ),
        (
            &weights,
            &activations,
            4,
            Error::WeightsLength {
                len: 6 * BLOCK_BYTES,
                rows: 4,
                row_bytes: 2 * BLOCK_BYTES,
            },
        ),
        (
            &weights[..6 * BLOCK_BYTES - 1],
            &activations,
            3,
            Error::WeightsLength {
                len: 6 * BLOCK_BYTES - 1,
                rows: 3,
                row_bytes: 2 * BLOCK_BYTES,
            },
        ),
        (
            &weights,
            &[],
            3,
            Error::WeightsLength {
                len: 6 * BLOCK_BYTES,
                rows: 3,
                row_bytes: 0,
            },
        ),
        (
            &weights,
            &activations[..1],
            0,
            Error::ActivationLength { len: 1 },
        ),
    ];
    for (weights, activations, rows, want) in cases {
        for kernel in Kernel::ALL.iter().copied() {
            let mut out = sentinel_vec(rows);
            let got = q4k::matvec_f32_with(kernel, weights, activations, &mut out);
            assert_eq!(got, Err(want), "{kernel}");
            assert_untouched(&out, "matvec_f32 error");
        }
        let mut out = sentinel_vec(rows);
        assert_eq!(q4k::matvec_f32(weights, activations, &mut out), Err(want));
        assert_untouched(&out, "matvec_f32 error");
        let message = want.to_string();
        if let Error::WeightsLength { len, row_bytes, .. } = want {
            assert!(message.contains(&len.to_string()) && message.contains(&row_bytes.to_string()));
        }
    }
    assert_eq!(
        q4k::dot_f32(&weights, &activations),
        Err(Error::WeightsLength {
            len: 6 * BLOCK_BYTES,
            rows: 1,
            row_bytes: 2 * BLOCK_BYTES
        })
    );
    assert_eq!(
        q4k::dot_f32(&weights[..BLOCK_BYTES], &activations[..255]),
        Err(Error::ActivationLength { len: 255 })
    );
    for kernel in common::unavailable_kernels() {
        let mut out = sentinel_vec(3);
        let got = q4k::matvec_f32_with(kernel, &weights, &activations, &mut out);
        assert_eq!(got, Err(Error::KernelUnavailable { kernel }));
        assert_untouched(&out, "unavailable kernel");
        let got = q4k::dot_f32_with(kernel, &weights[..2 * BLOCK_BYTES], &activations);
        assert_eq!(got, Err(Error::KernelUnavailable { kernel }));
    }
}

/// A NaN activation, an infinite activation against a zero weight, and an f16 NaN scale all
/// give NaN in every kernel.
#[test]
fn non_finite_values_propagate() {
    let weights = realistic_blocks(11, 2);
    let mut nan_scale = weights.clone();
    nan_scale[BLOCK_BYTES..BLOCK_BYTES + 2].copy_from_slice(&0x7E00u16.to_le_bytes());
    let zero_weights = vec![0u8; 2 * BLOCK_BYTES];
    let mut nan_activation = vec![0.25f32; 512];
    nan_activation[300] = f32::NAN;
    let mut inf_activation = vec![0.25f32; 512];
    inf_activation[7] = f32::INFINITY;
    let ordinary = vec![0.25f32; 512];
    for kernel in available_kernels("non_finite_values_propagate") {
        for (weights, activations) in [
            (&weights, &nan_activation),
            (&zero_weights, &inf_activation),
            (&nan_scale, &ordinary),
        ] {
            let got = q4k::dot_f32_with(kernel, weights, activations).unwrap();
            assert!(got.is_nan(), "{kernel}: {got}");
        }
        let got = q4k::dot_f32_with(kernel, &weights, &ordinary).unwrap();
        assert!(got.is_finite(), "{kernel}: {got}");
    }
}

#[cfg(feature = "parallel")]
mod parallel {
    use super::*;
    use common::pool;

    /// `matvec_f32_parallel_with` gives the serial bits in pools of one and two threads, around
    /// the serial threshold and with rows wider than a task; errors match.
    #[test]
    #[cfg_attr(miri, ignore = "too slow under Miri")]
    fn parallel_matches_serial() {
        let kernels = available_kernels("matvec_f32_parallel");
        let threshold = q4k::PARALLEL_THRESHOLD_BLOCKS;
        let shapes = [
            (0, 4),
            (1, threshold + 5),
            (threshold / 4 - 1, 4),
            (threshold / 4 + 1, 4),
            (3 * threshold / 16 + 7, 16),
            (9, q4k::PARALLEL_CHUNK_BLOCKS + 3),
        ];
        for (seed, &(rows, per_row)) in shapes.iter().enumerate() {
            let weights = realistic_blocks(seed as u64, rows * per_row);
            let activations: Vec<f32> = (0..per_row * BLOCK_VALUES)
                .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
                .collect();
            let mut want = vec![0f32; rows];
            q4k::matvec_f32_with(Kernel::Scalar, &weights, &activations, &mut want).unwrap();
            for threads in [1, 2] {
                pool(threads).install(|| {
                    for &kernel in &kernels {
                        let mut got = sentinel_vec(rows);
                        q4k::matvec_f32_parallel_with(kernel, &weights, &activations, &mut got)
                            .unwrap();
                        let same_bits = got.iter().zip(&want).all(|(g, w)| same(*g, *w));
                        assert!(same_bits, "{kernel} {threads} threads {rows}x{per_row}");
                    }
                    let mut got = sentinel_vec(rows);
                    q4k::matvec_f32_parallel(&weights, &activations, &mut got).unwrap();
                    assert!(got.iter().zip(&want).all(|(g, w)| same(*g, *w)));
                    let mut out = sentinel_vec(rows + 1);
                    let err = q4k::matvec_f32_parallel(&weights, &activations, &mut out);
                    assert!(matches!(err, Err(Error::WeightsLength { .. })));
                    assert_untouched(&out, "parallel error");
                });
            }
        }
    }
}
