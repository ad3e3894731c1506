//! The tensor element types of ggml, with their block layouts.

use core::fmt;

use crate::BLOCK_BYTES;

/// A tensor element type as llama.cpp's ggml defines it, with the id stored in GGUF files.
///
/// Ids that ggml has removed (4, 5, 31-33, 36-38) and ids past the last one are not types:
/// [`GgmlType::from_id`] returns `None` for them.
///
/// ```
/// use q4k::gguf::GgmlType;
///
/// let t = GgmlType::from_id(12).unwrap();
/// assert_eq!(t, GgmlType::Q4_K);
/// assert_eq!((t.name(), t.block_values(), t.block_bytes()), ("Q4_K", 256, 144));
/// assert_eq!(GgmlType::from_id(4), None);
/// ```
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
#[repr(u32)]
pub enum GgmlType {
    /// 32-bit float.
    F32 = 0,
    /// 16-bit IEEE float.
    F16 = 1,
    /// 4-bit, 32-value blocks with an f16 scale.
    Q4_0 = 2,
    /// 4-bit, 32-value blocks with an f16 scale and minimum.
    Q4_1 = 3,
    /// 5-bit, 32-value blocks with an f16 scale.
    Q5_0 = 6,
    /// 5-bit, 32-value blocks with an f16 scale and minimum.
    Q5_1 = 7,
    /// 8-bit, 32-value blocks with an f16 scale.
    Q8_0 = 8,
    /// 8-bit, 32-value blocks with an f16 scale and sum.
    Q8_1 = 9,
    /// 2-bit k-quant, 256-value super-blocks.
    Q2_K = 10,
    /// 3-bit k-quant, 256-value super-blocks.
    Q3_K = 11,
    /// 4-bit k-quant, 256-value super-blocks: what this crate decodes.
    Q4_K = 12,
    /// 5-bit k-quant, 256-value super-blocks.
    Q5_K = 13,
    /// 6-bit k-quant, 256-value super-blocks.
    Q6_K = 14,
    /// 8-bit k-quant (for intermediate results), 256-value super-blocks.
    Q8_K = 15,
    /// 2.06-bit importance quant.
    IQ2_XXS = 16,
    /// 2.31-bit importance quant.
    IQ2_XS = 17,
    /// 3.06-bit importance quant.
    IQ3_XXS = 18,
    /// 1.56-bit importance quant.
    IQ1_S = 19,
    /// 4-bit non-linear quant, 32-value blocks.
    IQ4_NL = 20,
    /// 3.44-bit importance quant.
    IQ3_S = 21,
    /// 2.5-bit importance quant.
    IQ2_S = 22,
    /// 4.25-bit non-linear quant, 256-value super-blocks.
    IQ4_XS = 23,
    /// 8-bit integer.
    I8 = 24,
    /// 16-bit integer.
    I16 = 25,
    /// 32-bit integer.
    I32 = 26,
    /// 64-bit integer.
    I64 = 27,
    /// 64-bit float.
    F64 = 28,
    /// 1.75-bit importance quant.
    IQ1_M = 29,
    /// bfloat16.
    BF16 = 30,
    /// Ternary, 1.69 bits per value.
    TQ1_0 = 34,
    /// Ternary, 2.06 bits per value.
    TQ2_0 = 35,
    /// Microscaling FP4, 32-value blocks with an E8M0 scale.
    MXFP4 = 39,
    /// NVIDIA FP4, 64-value blocks with E4M3 scales.
    NVFP4 = 40,
    /// 1-bit, 128-value blocks.
    Q1_0 = 41,
    /// 2-bit, 64-value blocks.
    Q2_0 = 42,
}

impl GgmlType {
    /// Every type, in id order.
    pub const ALL: [GgmlType; 35] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q8_1,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
        GgmlType::Q8_K,
        GgmlType::IQ2_XXS,
        GgmlType::IQ2_XS,
        GgmlType::IQ3_XXS,
        GgmlType::IQ1_S,
        GgmlType::IQ4_NL,
        GgmlType::IQ3_S,
        GgmlType::IQ2_S,
        GgmlType::IQ4_XS,
        GgmlType::I8,
        GgmlType::I16,
        GgmlType::I32,
        GgmlType::I64,
        GgmlType::F64,
        GgmlType::IQ1_M,
        GgmlType::BF16,
        GgmlType::TQ1_0,
        GgmlType::TQ2_0,
        GgmlType::MXFP4,
        GgmlType::NVFP4,
        GgmlType::Q1_0,
        GgmlType::Q2_0,
    ];

    /// The type with this id, or `None` for an id ggml does not define (or has removed).
    pub const fn from_id(id: u32) -> Option<GgmlType> {
        let mut i = 0;
        while i < Self::ALL.len() {
            if Self::ALL[i] as u32 == id {
                return Some(Self::ALL[i]);
            }
            i += 1;
        }
        None
    }

    /// The id stored in GGUF files.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// The name as llama.cpp spells it: `"Q4_K"`, `"F32"`, `"IQ2_XXS"`, ...
    pub const fn name(self) -> &'static str {
        self.layout().0
    }

    /// Values per block (1 for the plain number types).
    pub const fn block_values(self) -> usize {
        self.layout().1
    }

    /// Bytes per block.
    pub const fn block_bytes(self) -> usize {
        self.layout().2
    }

    /// Name, values per block (a power of two for every type: the reader divides by shifts),
    /// bytes per block (ggml's `type_traits`).
    const fn layout(self) -> (&'static str, usize, usize) {
        const K: usize = 256;
        match self {
            GgmlType::F32 => ("F32", 1, 4),
            GgmlType::F16 => ("F16", 1, 2),
            GgmlType::Q4_0 => ("Q4_0", 32, 2 + 16),
            GgmlType::Q4_1 => ("Q4_1", 32, 2 + 2 + 16),
            GgmlType::Q5_0 => ("Q5_0", 32, 2 + 4 + 16),
            GgmlType::Q5_1 => ("Q5_1", 32, 2 + 2 + 4 + 16),
            GgmlType::Q8_0 => ("Q8_0", 32, 2 + 32),
            GgmlType::Q8_1 => ("Q8_1", 32, 2 + 2 + 32),
            GgmlType::Q2_K => ("Q2_K", K, 2 + 2 + K / 16 + K / 4),
            GgmlType::Q3_K => ("Q3_K", K, 2 + K / 4 + K / 8 + 12),
            GgmlType::Q4_K => ("Q4_K", K, BLOCK_BYTES),
            GgmlType::Q5_K => ("Q5_K", K, 2 + 2 + 12 + K / 2 + K / 8),
            GgmlType::Q6_K => ("Q6_K", K, 2 + K / 16 + 3 * K / 4),
            GgmlType::Q8_K => ("Q8_K", K, 4 + K + K / 16 * 2),
            GgmlType::IQ2_XXS => ("IQ2_XXS", K, 2 + K / 8 * 2),
            GgmlType::IQ2_XS => ("IQ2_XS", K, 2 + K / 8 * 2 + K / 32),
            GgmlType::IQ3_XXS => ("IQ3_XXS", K, 2 + 3 * (K / 8)),
            GgmlType::IQ1_S => ("IQ1_S", K, 2 + K / 8 + K / 16),
            GgmlType::IQ4_NL => ("IQ4_NL", 32, 2 + 16),
            GgmlType::IQ3_S => ("IQ3_S", K, 2 + 13 * (K / 32) + K / 64),
            GgmlType::IQ2_S => ("IQ2_S", K, 2 + K / 4 + K / 16),
            GgmlType::IQ4_XS => ("IQ4_XS", K, 2 + 2 + K / 64 + K / 2),
            GgmlType::I8 => ("I8", 1, 1),
            GgmlType::I16 => ("I16", 1, 2),
            GgmlType::I32 => ("I32", 1, 4),
            GgmlType::I64 => ("I64", 1, 8),
            GgmlType::F64 => ("F64", 1, 8),
            GgmlType::IQ1_M => ("IQ1_M", K, K / 8 + K / 16 + K / 32),
            GgmlType::BF16 => ("BF16", 1, 2),
            GgmlType::TQ1_0 => ("TQ1_0", K, 2 + K / 64 + (K - 4 * K / 64) / 5),
            GgmlType::TQ2_0 => ("TQ2_0", K, 2 + K / 4),
            GgmlType::MXFP4 => ("MXFP4", 32, 1 + 16),
            GgmlType::NVFP4 => ("NVFP4", 64, 4 + 32),
            GgmlType::Q1_0 => ("Q1_0", 128, 2 + 128 / 8),
            GgmlType::Q2_0 => ("Q2_0", 64, 2 + 64 / 4),
        }
    }
}

// Every type's values per block is a power of two (`gguf::div_pow2` relies on it).
const _: () = {
    let mut i = 0;
    while i < GgmlType::ALL.len() {
        assert!(GgmlType::ALL[i].block_values().is_power_of_two());
        i += 1;
    }
};

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
