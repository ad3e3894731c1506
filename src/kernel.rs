//! The kernels, how each is detected, and the one dispatch point.

use core::fmt;

use crate::{BlockQ4K, Error, scalar};

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
use crate::arch;

/// A decoding kernel: one implementation of the Q4_K formula for one instruction set.
///
/// All kernels give bit-identical output. [`decode`](crate::decode) picks [`Kernel::best`];
/// [`decode_with`](crate::decode_with) runs the one you name, for testing and benchmarking.
///
/// With the `std` feature, availability is detected at run time from the CPU. Without it, a
/// kernel is available when the build's target features include its instruction set (for
/// example `-C target-cpu=native`, or `-C target-feature=+avx2,+fma`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Kernel {
    /// Portable Rust, every target; the reference the others are tested against.
    Scalar,
    /// x86_64 SSE2, present on every x86_64 CPU.
    Sse2,
    /// x86_64 AVX2 with FMA.
    Avx2,
    /// x86_64 AVX-512 Foundation (AVX-512F); no other AVX-512 subset is needed.
    Avx512,
    /// aarch64 Advanced SIMD (NEON).
    Neon,
}

impl Kernel {
    /// Every kernel, available here or not, from the portable one to the widest.
    pub const ALL: [Kernel; 5] = [
        Kernel::Scalar,
        Kernel::Sse2,
        Kernel::Avx2,
        Kernel::Avx512,
        Kernel::Neon,
    ];

    /// The fastest kernel this CPU (with `std`) or this build (without `std`) can run.
    ///
    /// ```
    /// assert!(q4k::Kernel::best().is_available());
    /// ```
    pub fn best() -> Kernel {
        const PREFERENCE: [Kernel; 4] = [Kernel::Avx512, Kernel::Avx2, Kernel::Sse2, Kernel::Neon];
        PREFERENCE
            .into_iter()
            .find(|kernel| kernel.is_available())
            .unwrap_or(Kernel::Scalar)
    }

    /// Whether this kernel can run here: compiled for this architecture, and supported by the
    /// CPU (with `std`) or enabled in the build's target features (without `std`).
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Sse2 => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => arch::x86_64::has_avx2_fma(),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => arch::x86_64::has_avx512f(),
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => arch::aarch64::has_neon(),
            _ => false,
        }
    }

    /// A short human name: `"scalar"`, `"sse2"`, `"avx2"`, `"avx512"` or `"neon"`.
    pub const fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Sse2 => "sse2",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
            Kernel::Neon => "neon",
        }
    }

    /// Decodes `blocks` into `out` (256 values per block, lengths checked by the caller), with
    /// non-temporal stores if `streaming` and the kernel has them.
    pub(crate) fn run(
        self,
        blocks: &[BlockQ4K],
        out: &mut [f32],
        streaming: bool,
    ) -> Result<(), Error> {
        if !self.is_available() {
            return Err(Error::KernelUnavailable { kernel: self });
        }
        // Miri cannot run non-temporal stores (inline assembly) or `sfence`; under Miri the
        // kernels' cached paths are checked instead.
        let streaming = streaming && !cfg!(miri);
        match self {
            Kernel::Scalar => {
                // Plain Rust has no non-temporal store; the scalar kernel always caches.
                let _ = streaming;
                scalar::decode_blocks(blocks, out)
            }
            #[cfg(target_arch = "x86_64")]
            // SAFETY: SSE2 is part of the x86_64 baseline.
            Kernel::Sse2 => unsafe { arch::x86_64::sse2::decode(blocks, out, streaming) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `is_available` checked AVX2 and FMA above.
            Kernel::Avx2 => unsafe { arch::x86_64::avx2::decode(blocks, out, streaming) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `is_available` checked AVX-512F above.
            Kernel::Avx512 => unsafe { arch::x86_64::avx512::decode(blocks, out, streaming) },
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => {
                // NEON has no practical non-temporal store (STNP is only a hint): always cached.
                let _ = streaming;
                // SAFETY: `is_available` returned true above, so this aarch64 CPU (or build) has
                // NEON, the one target feature `neon::decode` enables.
                unsafe { arch::aarch64::neon::decode(blocks, out) }
            }
            _ => return Err(Error::KernelUnavailable { kernel: self }),
        }
        Ok(())
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Kernel;

    /// The kernel `best()` must pick from the build's target features alone (without `std`),
    /// or at least that one (with `std`, the CPU may offer more).
    fn compile_time_kernel() -> Kernel {
        if cfg!(all(target_arch = "x86_64", target_feature = "avx512f")) {
            Kernel::Avx512
        } else if cfg!(all(
            target_arch = "x86_64",
            target_feature = "avx2",
            target_feature = "fma"
        )) {
            Kernel::Avx2
        } else if cfg!(target_arch = "x86_64") {
            Kernel::Sse2
        } else if cfg!(all(target_arch = "aarch64", target_feature = "neon")) {
            Kernel::Neon
        } else {
            Kernel::Scalar
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot execute SIMD intrinsics")]
    fn test_imp_001_best_kernel_follows_the_build() {
        let best = Kernel::best();
        let expected = compile_time_kernel();
        std::eprintln!("best kernel: {best}; from the build's target features: {expected}");
        assert!(best.is_available());
        assert!(
            expected.is_available(),
            "{expected} is compiled in, so it must be available"
        );
        if cfg!(feature = "std") {
            // Runtime detection may find more than the build promised, never less.
            assert!(best >= expected, "{best} is slower than the build allows");
        } else {
            assert_eq!(best, expected);
        }
    }

    #[test]
    fn names_are_distinct_and_only_scalar_is_everywhere() {
        for (i, a) in Kernel::ALL.iter().enumerate() {
            for b in &Kernel::ALL[i + 1..] {
                assert_ne!(a.name(), b.name());
            }
        }
        assert!(Kernel::Scalar.is_available());
        let x86 = [Kernel::Sse2, Kernel::Avx2, Kernel::Avx512];
        if !cfg!(target_arch = "x86_64") {
            assert!(x86.iter().all(|k| !k.is_available()));
        }
        if !cfg!(target_arch = "aarch64") {
            assert!(!Kernel::Neon.is_available());
        }
    }
}
