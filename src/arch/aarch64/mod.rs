//! aarch64 kernels: Advanced SIMD (NEON), and its detection.
//!
//! Compiled only for little-endian targets with NEON in their float ABI: the `-softfloat`
//! and big-endian targets run the scalar kernels.

pub(crate) mod neon;

/// Whether the NEON kernel can run: detected on the CPU with `std`, taken from the build's
/// target features without it (always true where this module is compiled).
#[inline]
pub(crate) fn has_neon() -> bool {
    #[cfg(feature = "std")]
    {
        std::arch::is_aarch64_feature_detected!("neon")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "neon")
    }
}

/// Whether the dot-product extension (`sdot`, Armv8.2 `FEAT_DotProd`) is present: detected on
/// the CPU with `std`, taken from the build's target features without it.
#[inline]
pub(crate) fn has_dotprod() -> bool {
    #[cfg(feature = "std")]
    {
        std::arch::is_aarch64_feature_detected!("dotprod")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "dotprod")
    }
}

#[cfg(test)]
mod tests;
