//! IEEE 754 binary16 to binary32 widening, and the rounding back that the encoder needs, by hand.

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

/// Rounds an `f32` to the nearest IEEE 754 half-precision value, ties to even, and returns its
/// bits: too large values become infinities, NaN becomes the quiet NaN `0x7E00` with the sign.
///
/// The same steps as llama.cpp's `ggml_compute_fp32_to_fp16`: the two multiplications by
/// powers of two let the adder round the significand to 11 bits (subnormals included), and the
/// exponent is rebuilt from the bits of the sum.
#[inline]
pub(crate) fn f32_to_f16(f: f32) -> u16 {
    const SCALE_TO_INF: f32 = f32::from_bits(0x7780_0000); // 2^112
    const SCALE_TO_ZERO: f32 = f32::from_bits(0x0880_0000); // 2^-110
    let mut base = (f.abs() * SCALE_TO_INF) * SCALE_TO_ZERO;
    let w = f.to_bits();
    let shl1_w = w.wrapping_add(w);
    let sign = w & 0x8000_0000;
    let bias = (shl1_w & 0xFF00_0000).max(0x7100_0000);
    base += f32::from_bits((bias >> 1) + 0x0780_0000);
    let bits = base.to_bits();
    let exp_bits = (bits >> 13) & 0x0000_7C00;
    let mantissa_bits = bits & 0x0000_0FFF;
    let nonsign = exp_bits + mantissa_bits;
    ((sign >> 16)
        | if shl1_w > 0xFF00_0000 {
            0x7E00
        } else {
            nonsign
        }) as u16
}

#[cfg(test)]
mod tests {
    use super::{f16_to_f32, f32_to_f16};

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

    /// Round-to-nearest-even by a different route: between the two neighbouring f16 values
    /// (found by widening), the nearer one, the even one on a tie, in f64 where all is exact.
    fn round_reference(f: f32) -> u16 {
        if f.is_nan() {
            return if f.is_sign_negative() { 0xFE00 } else { 0x7E00 };
        }
        let sign: u16 = if f.is_sign_negative() { 0x8000 } else { 0 };
        let target = f64::from(f.abs());
        // The largest non-negative f16 magnitude (as bits) not above `target`.
        // Binary search: f16 magnitudes grow with their bits.
        let (mut lo, mut hi) = (0u16, 0x7BFFu16);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if f64::from(f16_to_f32(mid)) <= target {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let below = lo;
        let low = f64::from(f16_to_f32(below));
        // Above the largest finite value the next step would be 2^16, so the midpoint 65520
        // rounds (to the even side) to infinity.
        let high = if below == 0x7BFF {
            65536.0
        } else {
            f64::from(f16_to_f32(below + 1))
        };
        let magnitude = if target - low < high - target {
            below
        } else if target - low > high - target {
            below + 1
        } else if below % 2 == 0 {
            below
        } else {
            below + 1
        };
        sign | magnitude
    }

    #[test]
    fn f32_to_f16_rounds_to_nearest_even() {
        let mut samples: std::vec::Vec<f32> = std::vec![
            0.0,
            -0.0,
            1.0,
            65504.0,
            65519.99,
            65520.0,
            1e10,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            1e-8,
            2.98e-8,
            2.9802322e-8,
            5.9604645e-8,
            6.1e-5,
            6.103_515_6e-5,
        ];
        // Every f16 value, and the midpoints and their neighbours between consecutive ones.
        // Miri interprets every operation: a sample of the values there.
        let stride = if cfg!(miri) { 211 } else { 1 };
        for bits in (0..0x7C00u16).step_by(stride) {
            let v = f16_to_f32(bits);
            samples.push(v);
            let next = f64::from(f16_to_f32(bits + 1).min(65536.0));
            let mid = ((f64::from(v) + next) / 2.0) as f32;
            samples.extend([
                mid,
                f32::from_bits(mid.to_bits() - 1),
                f32::from_bits(mid.to_bits() + 1),
            ]);
        }
        let mut seed = 0x1234_5678_9ABC_DEF0u64;
        for _ in 0..20_000 / stride {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            samples.push(f32::from_bits(seed as u32));
        }
        for f in samples.iter().flat_map(|&f| [f, -f]) {
            let got = f32_to_f16(f);
            if f.is_nan() {
                assert_eq!(got & 0x7FFF, 0x7E00, "{f:?}");
                continue;
            }
            assert_eq!(got, round_reference(f), "{f:?} ({:#010x})", f.to_bits());
        }
    }
}
