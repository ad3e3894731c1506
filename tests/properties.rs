//! Properties over random blocks (quickcheck): every kernel agrees with the scalar kernel and
//! with the formula, decoding is a pure function of each block's bytes, and no input panics.
//!
//! Case count: `Q4K_QUICKCHECK_TESTS`, else `QUICKCHECK_TESTS`, else 200.

mod common;

use common::{
    assert_untouched, available_kernels, check, decode_reference, decode_reference_all,
    first_difference, kernels_here, same, sentinel_vec,
};
use q4k::{BLOCK_BYTES, BLOCK_VALUES, BlockQ4K, Decoder, Error, Kernel, Stores};
use quickcheck::{Arbitrary, Gen};

/// The available kernels other than the scalar one.
fn simd_kernels_here() -> Vec<Kernel> {
    kernels_here()
        .into_iter()
        .filter(|&k| k != Kernel::Scalar)
        .collect()
}

fn below(g: &mut Gen, n: usize) -> usize {
    usize::from(u16::arbitrary(g)) % n
}

/// f16 bit patterns that stress the arithmetic: zeros, subnormals, the largest finite, negative,
/// infinities and NaNs.
const F16_SPECIALS: [u16; 14] = [
    0x0000, 0x8000, 0x0001, 0x03FF, 0x8001, 0x0400, 0x3C00, 0x7BFF, 0xFBFF, 0xBC00, 0x7C00, 0xFC00,
    0x7E00, 0x7C01,
];

/// One block of 144 bytes, from a mix of generators: fully random bits, realistic `d`/`dmin`,
/// special `d`/`dmin`, and extreme scale and quant patterns.
#[derive(Clone, Debug)]
struct AnyBlock([u8; BLOCK_BYTES]);

impl Arbitrary for AnyBlock {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut bytes = [0u8; BLOCK_BYTES];
        for b in &mut bytes {
            *b = u8::arbitrary(g);
        }
        let set_f16 = |bytes: &mut [u8; BLOCK_BYTES], at: usize, g: &mut Gen| {
            let bits = match below(g, 4) {
                // Random bits, NaN and infinity included.
                0 => u16::arbitrary(g),
                // Special values.
                1 => *g.choose(&F16_SPECIALS).unwrap(),
                // Realistic small positive: exponent 2^-10..2^-3.
                _ => ((5 + below(g, 8) as u16) << 10) | (u16::arbitrary(g) & 0x3FF),
            };
            bytes[at..at + 2].copy_from_slice(&bits.to_le_bytes());
        };
        set_f16(&mut bytes, 0, g);
        set_f16(&mut bytes, 2, g);
        if below(g, 4) == 0 {
            let patterns = [0x00, 0xFF, 0x3F, 0xC0];
            for b in &mut bytes[4..16] {
                *b = *g.choose(&patterns).unwrap();
            }
        }
        if below(g, 6) == 0 {
            let fill = *g.choose(&[0x00, 0xFF, 0x0F, 0xF0]).unwrap();
            bytes[16..].fill(fill);
        }
        AnyBlock(bytes)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        // Simpler blocks: d = 1, dmin = 0, zero scales, zero quants.
        let mut candidates = Vec::new();
        let simplify: [(core::ops::Range<usize>, &[u8]); 4] = [
            (0..2, &[0x00, 0x3C]),
            (2..4, &[0x00, 0x00]),
            (4..16, &[0; 12]),
            (16..144, &[0; 128]),
        ];
        for (range, value) in simplify {
            if &self.0[range.clone()] != value {
                let mut b = self.0;
                b[range].copy_from_slice(value);
                candidates.push(AnyBlock(b));
            }
        }
        Box::new(candidates.into_iter())
    }
}

/// A run of 0..=40 blocks placed at an input byte offset (0..4) and decoded into an output at an
/// `f32` offset (0..16).
#[derive(Clone, Debug)]
struct Case {
    blocks: Vec<AnyBlock>,
    input_offset: usize,
    output_offset: usize,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let count = below(g, 41);
        Case {
            blocks: (0..count).map(|_| AnyBlock::arbitrary(g)).collect(),
            input_offset: below(g, 4),
            output_offset: below(g, 16),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let mut smaller = Vec::new();
        if self.input_offset != 0 || self.output_offset != 0 {
            smaller.push(Case {
                input_offset: 0,
                output_offset: 0,
                ..self.clone()
            });
        }
        let n = self.blocks.len();
        if n > 1 {
            smaller.push(Case {
                blocks: self.blocks[..n / 2].to_vec(),
                ..self.clone()
            });
            smaller.push(Case {
                blocks: self.blocks[n / 2..].to_vec(),
                ..self.clone()
            });
        }
        for i in 0..n {
            let mut blocks = self.blocks.clone();
            blocks.remove(i);
            smaller.push(Case {
                blocks,
                ..self.clone()
            });
        }
        for i in 0..n {
            for simpler in self.blocks[i].shrink() {
                let mut blocks = self.blocks.clone();
                blocks[i] = simpler;
                smaller.push(Case {
                    blocks,
                    ..self.clone()
                });
            }
        }
        Box::new(smaller.into_iter())
    }
}

impl Case {
    fn bytes(&self) -> Vec<u8> {
        self.blocks.iter().flat_map(|b| b.0).collect()
    }

    fn values(&self) -> usize {
        self.blocks.len() * BLOCK_VALUES
    }

    /// Decodes with `decoder` from a copy of the input at `input_offset` (surrounded by other
    /// bytes) into an output at `output_offset` (surrounded by sentinels, which must survive).
    fn decode_placed(&self, decoder: Decoder) -> Result<Vec<f32>, String> {
        let bytes = self.bytes();
        let mut input = vec![0xC3u8; self.input_offset + bytes.len() + 3];
        input[self.input_offset..][..bytes.len()].copy_from_slice(&bytes);
        let input = &input[self.input_offset..][..bytes.len()];

        let end = self.output_offset + self.values();
        let mut output = sentinel_vec(end + 16);
        decoder
            .decode(input, &mut output[self.output_offset..end])
            .map_err(|e| format!("{e}"))?;
        let what = format!("{} {:?}", decoder.selected_kernel(), decoder.store_policy());
        let guards = std::panic::catch_unwind(|| {
            assert_untouched(&output[..self.output_offset], &what);
            assert_untouched(&output[end..], &what);
        });
        if guards.is_err() {
            return Err(format!("{what} wrote outside its output"));
        }
        Ok(output[self.output_offset..end].to_vec())
    }
}

fn report(what: &str, got: &[f32], want: &[f32]) -> bool {
    match first_difference(got, want) {
        None => true,
        Some(i) => {
            eprintln!(
                "{what}: value {i} (block {}, index {}): got {:#010x}, want {:#010x}",
                i / 256,
                i % 256,
                got.get(i).map_or(0, |v| v.to_bits()),
                want.get(i).map_or(0, |v| v.to_bits()),
            );
            false
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "quickcheck is too slow under Miri")]
fn simd_kernels_match_scalar() {
    available_kernels("simd_kernels_match_scalar");
    if simd_kernels_here().is_empty() {
        eprintln!("simd_kernels_match_scalar: no SIMD kernel available, nothing to compare");
        return;
    }
    let property = |case: Case| -> bool {
        let kernels = simd_kernels_here();
        let mut scalar = vec![0f32; case.values()];
        q4k::decode_with(Kernel::Scalar, &case.bytes(), &mut scalar).unwrap();
        kernels.iter().all(|&kernel| {
            [Stores::Cached, Stores::Streaming, Stores::Auto]
                .into_iter()
                .all(|stores| decodes_as(&case, kernel, stores, &scalar, "scalar"))
        })
    };
    check("simd_kernels_match_scalar", property as fn(Case) -> bool);
}

/// Whether `case` decoded by `kernel` under `stores` gives `want` (bits, NaN for NaN); reports
/// the first difference or the error against `source`, the name of what `want` came from.
fn decodes_as(case: &Case, kernel: Kernel, stores: Stores, want: &[f32], source: &str) -> bool {
    let what = format!("{kernel} {stores:?} vs {source}");
    match case.decode_placed(Decoder::new().kernel(kernel).stores(stores)) {
        Ok(got) => report(&what, &got, want),
        Err(e) => {
            eprintln!("{what}: {e}");
            false
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "quickcheck is too slow under Miri")]
fn every_kernel_matches_the_formula() {
    available_kernels("every_kernel_matches_the_formula");
    let property = |case: Case| -> bool {
        let kernels = kernels_here();
        let want = decode_reference_all(&case.bytes());
        kernels.iter().all(|&kernel| {
            [Stores::Cached, Stores::Streaming]
                .into_iter()
                .all(|stores| decodes_as(&case, kernel, stores, &want, "formula"))
        })
    };
    check(
        "every_kernel_matches_the_formula",
        property as fn(Case) -> bool,
    );
}

/// The values of a block depend only on its 144 bytes: not on its neighbours, its position in
/// the run, the input or output offset, or what the output held before.
#[test]
#[cfg_attr(miri, ignore = "quickcheck is too slow under Miri")]
fn decode_is_a_pure_function_of_the_block() {
    available_kernels("decode_is_a_pure_function_of_the_block");
    let property = |case: Case, probe: AnyBlock, position: u8| -> bool {
        let kernels = kernels_here();
        // Put `probe` somewhere in the run.
        let mut case = case;
        let at = usize::from(position) % (case.blocks.len() + 1);
        case.blocks.insert(at, probe.clone());
        kernels.iter().all(|&kernel| {
            let mut alone = [0f32; BLOCK_VALUES];
            q4k::decode_with(kernel, &probe.0, &mut alone).unwrap();
            let mut alone_again = [f32::NAN; BLOCK_VALUES];
            q4k::decode_with(kernel, &probe.0, &mut alone_again).unwrap();
            let mut by_block = [1.0f32; BLOCK_VALUES];
            BlockQ4K::from_bytes(probe.0).decode(&mut by_block);

            let decoder = Decoder::new().kernel(kernel).stores(Stores::Cached);
            let Ok(run) = case.decode_placed(decoder) else {
                return false;
            };
            let in_run = &run[at * BLOCK_VALUES..][..BLOCK_VALUES];
            // Each block of the run, decoded alone, matches its slice of the run.
            let each = case.blocks.iter().enumerate().all(|(i, b)| {
                let mut out = [0f32; BLOCK_VALUES];
                q4k::decode_with(kernel, &b.0, &mut out).unwrap();
                report(
                    &format!("{kernel}: block {i} alone vs in the run"),
                    &out,
                    &run[i * BLOCK_VALUES..][..BLOCK_VALUES],
                )
            });
            report(&format!("{kernel}: probe in run"), in_run, &alone)
                && report(&format!("{kernel}: probe twice"), &alone_again, &alone)
                && report(&format!("{kernel}: BlockQ4K::decode"), &by_block, &alone)
                && each
        })
    };
    check(
        "decode_is_a_pure_function_of_the_block",
        property as fn(Case, AnyBlock, u8) -> bool,
    );
}

/// Any 144 bytes go through every API without panicking, and the APIs agree.
#[test]
#[cfg_attr(miri, ignore = "quickcheck is too slow under Miri")]
fn any_block_decodes_through_every_api() {
    available_kernels("any_block_decodes_through_every_api");
    let property = |block: AnyBlock| -> bool {
        let kernels = kernels_here();
        let bytes = block.0;
        let want = decode_reference(&bytes);
        let mut ok = true;

        let view = q4k::blocks(&bytes).unwrap();
        ok &= view.len() == 1 && q4k::as_bytes(view) == &bytes[..];
        let b = view[0];
        ok &= b.to_bytes() == bytes && BlockQ4K::from_bytes(bytes) == b;
        let _ = (b.d(), b.dmin(), b.d_dmin_bits(), b.packed_scales());
        ok &= b.scales_and_mins().iter().all(|&(s, m)| s < 64 && m < 64);
        ok &= (0..300).all(|i| match b.quant(i) {
            Some(q) => i < BLOCK_VALUES && q < 16,
            None => i >= BLOCK_VALUES,
        });

        let mut out = [0f32; BLOCK_VALUES];
        b.decode(&mut out);
        ok &= report("BlockQ4K::decode", &out, &want);
        let mut out = [0f32; BLOCK_VALUES];
        ok &= q4k::decode(&bytes, &mut out).is_ok() && report("decode", &out, &want);

        for &kernel in Kernel::ALL {
            for stores in [Stores::Auto, Stores::Cached, Stores::Streaming] {
                let mut out = [0f32; BLOCK_VALUES];
                let result = Decoder::new()
                    .kernel(kernel)
                    .stores(stores)
                    .decode(&bytes, &mut out);
                if kernels.contains(&kernel) {
                    ok &= result.is_ok() && report(kernel.name(), &out, &want);
                } else {
                    ok &= result == Err(Error::KernelUnavailable { kernel });
                    ok &= out.iter().all(|v| v.to_bits() == 0);
                }
            }
            let mut out = [0f32; BLOCK_VALUES];
            let result = q4k::decode_with(kernel, &bytes, &mut out);
            ok &= result.is_ok() == kernels.contains(&kernel);
            if result.is_ok() {
                ok &= out.iter().zip(&want).all(|(&g, &w)| same(g, w));
            }
        }
        ok
    };
    check(
        "any_block_decodes_through_every_api",
        property as fn(AnyBlock) -> bool,
    );
}
