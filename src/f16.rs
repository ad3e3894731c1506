//! Conversions between `f32` and the 16-bit formats, by hand: IEEE 754 binary16 widening, and
//! rounding `f32` to binary16 and to bfloat16 (round to nearest, ties to even).

/// Widens an IEEE 754 half-precision value (given as its bits) to `f32`, exactly.
///
/// Every f16 value is representable in f32, so this is lossless: zeros keep their sign,
/// subnormals become normal f32 values, infinities stay infinite, and NaNs stay NaN with their
/// sign and payload bits moved into the f32 significand (quiet or signalling as they were).
///
/// ```
/// assert_eq!(q4k::f16_to_f32(0x3C00), 1.0);
/// assert_eq!(q4k::f16_to_f32(0xC000), -2.0);
/// assert_eq!(q4k::f16_to_f32(0x0001), 1.0 / 16_777_216.0); // 2^-24, the smallest subnormal
/// assert!(q4k::f16_to_f32(0x7E00).is_nan());
/// ```
#[inline]
pub const fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits as u32) & 0x8000) << 16;
    let exponent = ((bits >> 10) & 0x1F) as u32;
    let mantissa = (bits & 0x03FF) as u32;
    let magnitude = if exponent == 0x1F {
        // Infinity (mantissa 0) or NaN: all-ones f32 exponent, payload kept.
        0x7F80_0000 | (mantissa << 13)
    } else if exponent != 0 {
        // Normal: rebias the exponent from 15 to 127.
        ((exponent + (127 - 15)) << 23) | (mantissa << 13)
    } else if mantissa == 0 {
        // Signed zero.
        0
    } else {
        // Subnormal: mantissa * 2^-24, normalised. `top` is the index of the leading one (0..=9).
        let top = 31 - mantissa.leading_zeros();
        let f32_exponent = top + 127 - 24;
        let fraction = (mantissa << (23 - top)) & 0x007F_FFFF;
        (f32_exponent << 23) | fraction
    };
    f32::from_bits(sign | magnitude)
}

/// [`f16_to_f32`] of each value of `bits` into `out` (as many as both hold), the same bits,
/// in a form the compiler turns into vector code where the target has a vector unit for
/// floats: every case computed and the right one selected, and subnormals (`m * 2^-24`)
/// through an exact integer conversion and an exact multiply (no subnormal operand or result).
/// Elsewhere (the soft-float targets, where float arithmetic is a library call) the integer
/// form of [`f16_to_f32`] value by value.
#[inline]
pub(crate) fn widen_f16_slice(bits: &[u16], out: &mut [f32]) {
    #[cfg(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon")
    ))]
    for (w, &h) in out.iter_mut().zip(bits) {
        let h = u32::from(h);
        let sign = (h & 0x8000) << 16;
        let exponent = (h >> 10) & 0x1F;
        let mantissa = h & 0x03FF;
        // Exact: `mantissa` < 2^10 converts exactly, and the product is 0 or at least 2^-24.
        let subnormal = (mantissa as f32 * f32::from_bits(0x3380_0000)).to_bits();
        let normal = ((exponent + (127 - 15)) << 23) | (mantissa << 13);
        let special = 0x7F80_0000 | (mantissa << 13);
        let magnitude = if exponent == 0 {
            subnormal
        } else if exponent == 0x1F {
            special
        } else {
            normal
        };
        *w = f32::from_bits(sign | magnitude);
    }
    #[cfg(not(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon")
    )))]
    for (w, &h) in out.iter_mut().zip(bits) {
        *w = f16_to_f32(h);
    }
}

/// Whether binary16 `bits` are finite (the exponent is not all ones).
#[inline(always)]
pub(crate) const fn f16_is_finite(bits: u16) -> bool {
    bits & 0x7C00 != 0x7C00
}

/// Rounds an `f32` to the nearest IEEE 754 binary16 value, ties to even, and returns its bits.
///
/// The bits of llama.cpp's `ggml_compute_fp32_to_fp16` for every input: too large values become
/// infinities, f16 subnormals are rounded correctly, zeros keep their sign, and a NaN becomes
/// the quiet NaN `0x7E00` with the input's sign.
#[inline]
pub(crate) const fn f32_to_f16_bits(value: f32) -> u16 {
    let bits = value.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let magnitude = bits & 0x7FFF_FFFF;
    if magnitude > 0x7F80_0000 {
        return sign | 0x7E00;
    }
    if magnitude >= 0x4780_0000 {
        // 2^16 and above (infinity included) round to infinity.
        return sign | 0x7C00;
    }
    if magnitude >= 0x3880_0000 {
        // An f16 normal (2^-14 and up): rebias the exponent from 127 to 15, then drop 13
        // significand bits, rounding half to even. A carry out of the significand moves the
        // exponent on, up to infinity for 65520 and above.
        let rebiased = magnitude - (112 << 23);
        let round = 0x0FFF + ((rebiased >> 13) & 1);
        return sign | ((rebiased + round) >> 13) as u16;
    }
    if magnitude < 0x3300_0000 {
        // Below 2^-25, half of the smallest subnormal: rounds to zero.
        return sign;
    }
    // An f16 subnormal: the result is the value in units of 2^-24, rounded half to even. The
    // value is `significand * 2^(exponent - 150)`, so shift the significand right by
    // `126 - exponent` (14..=24).
    let exponent = magnitude >> 23;
    let significand = (magnitude & 0x007F_FFFF) | 0x0080_0000;
    let shift = 126 - exponent;
    let halfway = 1 << (shift - 1);
    let remainder = significand & ((1 << shift) - 1);
    let truncated = significand >> shift;
    let rounded = if remainder > halfway || (remainder == halfway && truncated & 1 == 1) {
        truncated + 1
    } else {
        truncated
    };
    sign | rounded as u16
}

/// Rounds an `f32` to the nearest bfloat16 value, ties to even, and returns its bits.
///
/// The bits of llama.cpp's `ggml_compute_fp32_to_bf16`: the top half of the `f32` after
/// adding half an ulp (plus one on a tie with an odd result), and for a NaN the top half with
/// the quiet bit set.
#[inline]
pub(crate) const fn f32_to_bf16_bits(value: f32) -> u16 {
    let bits = value.to_bits();
    if bits & 0x7FFF_FFFF > 0x7F80_0000 {
        return ((bits >> 16) | 0x40) as u16;
    }
    // No overflow: the largest non-NaN pattern is 0xFF80_0000, and at most 0x8000 is added.
    ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) as u16
}

#[cfg(test)]
mod tests {
    use super::{f16_to_f32, f32_to_bf16_bits, f32_to_f16_bits};

    /// `2^exponent` in f64, exactly (built from its bits, no `powi`).
    fn pow2(exponent: i32) -> f64 {
        f64::from_bits(((exponent + 1023) as u64) << 52)
    }

    /// A deliberately different construction: sum the value from its parts in f64.
    fn reference(bits: u16) -> f32 {
        let negative = bits & 0x8000 != 0;
        let exponent = i32::from((bits >> 10) & 0x1F);
        let mantissa = u32::from(bits & 0x03FF);
        let magnitude = match exponent {
            0 => f64::from(mantissa) * pow2(-24),
            31 if mantissa == 0 => f64::INFINITY,
            31 => {
                return f32::from_bits(
                    if negative { 0x8000_0000 } else { 0 } | 0x7F80_0000 | (mantissa << 13),
                );
            }
            _ => (1.0 + f64::from(mantissa) / 1024.0) * pow2(exponent - 15),
        };
        let value = if negative { -magnitude } else { magnitude };
        value as f32
    }

    #[test]
    fn every_f16_value_widens_exactly() {
        for bits in 0..=u16::MAX {
            let got = f16_to_f32(bits);
            let want = reference(bits);
            assert_eq!(got.to_bits(), want.to_bits(), "f16 bits {bits:#06x}");
        }
    }

    /// The slice widening gives the bits of [`f16_to_f32`] for every pattern, NaN payloads
    /// included.
    #[test]
    fn slice_widening_has_the_bits_of_f16_to_f32() {
        let all: std::vec::Vec<u16> = (0..=u16::MAX).collect();
        let want: std::vec::Vec<u32> = all.iter().map(|&b| f16_to_f32(b).to_bits()).collect();
        let mut got = std::vec![0f32; all.len()];
        super::widen_f16_slice(&all, &mut got);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.to_bits(), *w, "f16 bits {i:#06x}");
        }
    }

    #[test]
    fn special_values() {
        assert_eq!(f16_to_f32(0x0000).to_bits(), 0.0f32.to_bits());
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f16_to_f32(0x7C00), f32::INFINITY);
        assert_eq!(f16_to_f32(0xFC00), f32::NEG_INFINITY);
        assert_eq!(f16_to_f32(0x7BFF), 65504.0);
        assert_eq!(f16_to_f32(0x0400).to_bits(), 0x3880_0000); // 2^-14
        assert_eq!(f16_to_f32(0x03FF), 1023.0 / 16_777_216.0);
        assert!(f16_to_f32(0x7C01).is_nan());
        assert!(f16_to_f32(0xFE00).is_sign_negative());
    }

    /// llama.cpp's `ggml_compute_fp32_to_fp16` as written in C (a float scaling trick), a
    /// construction independent of [`f32_to_f16_bits`].
    fn llama_fp32_to_fp16(f: f32) -> u16 {
        let scale_to_inf = f32::from_bits(0x7780_0000);
        let scale_to_zero = f32::from_bits(0x0880_0000);
        let base = (f.abs() * scale_to_inf) * scale_to_zero;
        let w = f.to_bits();
        let shl1_w = w.wrapping_add(w);
        let sign = w & 0x8000_0000;
        let bias = (shl1_w & 0xFF00_0000).max(0x7100_0000);
        let base = f32::from_bits((bias >> 1) + 0x0780_0000) + base;
        let bits = base.to_bits();
        let exp_bits = (bits >> 13) & 0x7C00;
        let mantissa_bits = bits & 0x0FFF;
        let nonsign = exp_bits + mantissa_bits;
        ((sign >> 16)
            | if shl1_w > 0xFF00_0000 {
                0x7E00
            } else {
                nonsign
            }) as u16
    }

    /// The nearest bfloat16, found by comparing distances in f64 to the two bfloat16 values
    /// around the input (an independent construction of [`f32_to_bf16_bits`]).
    fn nearest_bf16(f: f32) -> u16 {
        let bits = f.to_bits();
        if f.is_nan() {
            return ((bits >> 16) | 0x40) as u16;
        }
        let below = (bits >> 16) as u16;
        if bits & 0xFFFF == 0 {
            return below;
        }
        let above = below + 1;
        let value = |h: u16| f64::from(f32::from_bits(u32::from(h) << 16));
        let exact = f64::from(f);
        let (d_below, d_above) = ((exact - value(below)).abs(), (value(above) - exact).abs());
        if below & 0x7FFF == 0x7F7F && bits & 0x8000 != 0 {
            // Halfway to the next power of two past the largest finite value: rounds to the
            // infinity `above` stands for.
            return above;
        }
        if d_below < d_above || (d_below == d_above && below & 1 == 0) {
            below
        } else {
            above
        }
    }

    /// The f32 inputs of the broad checks: every exponent and sign with significands that
    /// exercise rounding (zero, the halfway points around the cut, all ones), plus a sweep.
    fn broad_inputs(mut check: impl FnMut(f32)) {
        const LOW: [u32; 12] = [
            0x0000, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x1FFF, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x2000,
            0x3000,
        ];
        for high in 0..=0xFFFFu32 {
            for low in LOW {
                check(f32::from_bits((high << 16) | low));
            }
        }
        // A sweep with an odd stride visits every low-bit pattern in turn.
        let mut bits = 0u32;
        for _ in 0..(1 << 22) {
            check(f32::from_bits(bits));
            bits = bits.wrapping_add(0x0000_0403);
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "millions of cases; the exhaustive check runs natively")]
    fn f16_rounding_matches_llama_on_a_broad_sweep() {
        rounds_like(f32_to_f16_bits, llama_fp32_to_fp16);
    }

    #[test]
    #[cfg_attr(miri, ignore = "millions of cases; the exhaustive check runs natively")]
    fn bf16_rounding_matches_nearest_on_a_broad_sweep() {
        rounds_like(f32_to_bf16_bits, nearest_bf16);
    }

    /// Asserts that `round` gives `reference`'s bits on the broad sweep of inputs.
    fn rounds_like(round: fn(f32) -> u16, reference: fn(f32) -> u16) {
        broad_inputs(|f| {
            let (got, want) = (round(f), reference(f));
            assert_eq!(
                got,
                want,
                "f32 {:#010x}: got {got:#06x}, want {want:#06x}",
                f.to_bits()
            );
        });
    }

    /// Every one of the 2^32 inputs; about a minute in a release build:
    /// `cargo test --release --lib every_f32 -- --ignored`.
    #[test]
    #[ignore = "2^32 cases: run in release with --ignored"]
    fn every_f32_rounds_like_the_references() {
        for bits in 0..=u32::MAX {
            let f = f32::from_bits(bits);
            assert_eq!(
                f32_to_f16_bits(f),
                llama_fp32_to_fp16(f),
                "f16 of {bits:#010x}"
            );
            assert_eq!(f32_to_bf16_bits(f), nearest_bf16(f), "bf16 of {bits:#010x}");
        }
    }

    #[test]
    fn rounding_known_values() {
        assert_eq!(f32_to_f16_bits(1.0), 0x3C00);
        assert_eq!(f32_to_f16_bits(-2.0), 0xC000);
        assert_eq!(f32_to_f16_bits(65504.0), 0x7BFF);
        assert_eq!(f32_to_f16_bits(65519.996), 0x7BFF);
        assert_eq!(f32_to_f16_bits(65520.0), 0x7C00);
        assert_eq!(f32_to_f16_bits(f32::NEG_INFINITY), 0xFC00);
        assert_eq!(f32_to_f16_bits(-f32::NAN), 0xFE00);
        assert_eq!(f32_to_f16_bits(1.0 / 16_777_216.0), 0x0001);
        assert_eq!(f32_to_f16_bits(0.5 / 16_777_216.0), 0x0000);
        assert_eq!(f32_to_f16_bits(1.5 / 16_777_216.0), 0x0002);
        assert_eq!(f32_to_f16_bits(-0.0), 0x8000);
        assert_eq!(f32_to_bf16_bits(1.0), 0x3F80);
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3F80_8000)), 0x3F80);
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3F81_8000)), 0x3F82);
        assert_eq!(f32_to_bf16_bits(f32::MAX), 0x7F80);
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x7F80_0001)), 0x7FC0);
        for bits in 0..=u16::MAX {
            // Every f16 value survives the round trip; NaNs stay NaN.
            let back = f32_to_f16_bits(f16_to_f32(bits));
            if bits & 0x7C00 == 0x7C00 && bits & 0x03FF != 0 {
                assert!(f16_to_f32(back).is_nan());
            } else {
                assert_eq!(back, bits);
            }
        }
    }
}
