//! IEEE 754 binary16 to binary32 widening, by hand.

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

#[cfg(test)]
mod tests {
    use super::f16_to_f32;

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
}
