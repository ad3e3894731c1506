//! aarch64 kernels: Advanced SIMD (NEON).

pub(crate) mod neon;

/// Whether the NEON kernel can run: detected on the CPU with `std`, taken from the build's
/// target features without it (NEON is baseline on aarch64 except on the `-softfloat` targets).
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

#[cfg(test)]
mod tests;
