//! The kernels and how each is detected. Each operation dispatches from a [`Kernel`] to its
//! own kernel functions in one place (for decode, `decode::run`).

use core::fmt;

#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(
        target_arch = "aarch64",
        target_feature = "neon",
        target_endian = "little"
    )
))]
use crate::arch;

/// A family of kernels: the implementations of the crate's operations for one instruction set.
///
/// All kernels give bit-identical output. [`decode`](fn@crate::decode) picks [`Kernel::best`];
/// [`decode_with`](crate::decode_with) runs the one you name, for testing and benchmarking.
///
/// With the `std` feature, availability is detected at run time from the CPU. Without it, a
/// kernel is available when the build's target features include its instruction set (for
/// example `-C target-cpu=native`, or `-C target-feature=+avx2,+fma`).
///
/// The SIMD kernels are compiled only where the target's float ABI has the registers they use:
/// on soft-float targets (`x86_64-unknown-none`, `x86_64-unknown-uefi`,
/// `aarch64-unknown-none-softfloat`) and on big-endian aarch64, only [`Kernel::Scalar`] is
/// available.
///
/// There is deliberately no ordering between kernels: which is fastest depends on the CPU and
/// the operation, and [`Kernel::best`] answers that question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Kernel {
    /// Portable Rust, every target; the reference the others are tested against.
    Scalar,
    /// x86_64 SSE2, present on every x86_64 CPU.
    Sse2,
    /// x86_64 AVX2 with FMA.
    ///
    /// The Q8_K dot products also widen the f16 scales with F16C, which every AVX2 CPU has (on
    /// one that reports AVX2 without it they run the SSE2 kernel), and use AVX-VNNI's
    /// `vpdpwssd` where the CPU has it (Intel since Alder Lake, Zen 5): the same bits either
    /// way.
    Avx2,
    /// x86_64 AVX-512 Foundation (AVX-512F); decode needs no other AVX-512 subset.
    ///
    /// The Q8_K dot products ([`matvec_q8k`](crate::matvec_q8k)) use 512-bit vectors where the
    /// CPU also has AVX-512BW and AVX512-VNNI (Ice Lake, Zen 4 and later), and otherwise run the
    /// AVX2 kernel, which every AVX-512 CPU has: the same bits either way.
    Avx512,
    /// aarch64 Advanced SIMD (NEON). The Q8_K dot products use `SDOT` where the CPU has the
    /// dot-product extension (detected), with the same bits.
    Neon,
}

impl Kernel {
    /// Every kernel, available here or not, from the portable one to the widest. A slice, so
    /// that adding a kernel is not a breaking change.
    pub const ALL: &'static [Kernel] = &[
        Kernel::Scalar,
        Kernel::Sse2,
        Kernel::Avx2,
        Kernel::Avx512,
        Kernel::Neon,
    ];

    /// The fastest kernel this CPU (with `std`) or this build (without `std`) can run.
    ///
    /// The same family is the fastest for decode and for the Q8_K dot products: the widest one.
    /// (In cache the AVX-512 Q8_K matvec ran 1.1-1.25x the AVX2 one on a Zen 4 core and
    /// 1.03-1.15x the AVX2 one with AVX-VNNI on a Sapphire Rapids-class Xeon; without VNNI the
    /// AVX-512 family runs the AVX2 dot, so it is never slower.)
    ///
    /// ```
    /// assert!(q4k::Kernel::best().is_available());
    /// ```
    #[must_use]
    pub fn best() -> Kernel {
        const PREFERENCE: [Kernel; 4] = [Kernel::Avx512, Kernel::Avx2, Kernel::Sse2, Kernel::Neon];
        PREFERENCE
            .into_iter()
            .find(|kernel| kernel.is_available())
            .unwrap_or(Kernel::Scalar)
    }

    /// Whether this kernel can run here: compiled for this architecture, and supported by the
    /// CPU (with `std`) or enabled in the build's target features (without `std`).
    #[must_use]
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Kernel::Sse2 => true,
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Kernel::Avx2 => arch::x86_64::has_avx2_fma(),
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            Kernel::Avx512 => arch::x86_64::has_avx512f(),
            #[cfg(all(
                target_arch = "aarch64",
                target_feature = "neon",
                target_endian = "little"
            ))]
            Kernel::Neon => arch::aarch64::has_neon(),
            _ => false,
        }
    }

    /// A short human name: `"scalar"`, `"sse2"`, `"avx2"`, `"avx512"` or `"neon"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Sse2 => "sse2",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
            Kernel::Neon => "neon",
        }
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
        if cfg!(all(
            target_arch = "x86_64",
            target_feature = "sse2",
            target_feature = "avx512f"
        )) {
            Kernel::Avx512
        } else if cfg!(all(
            target_arch = "x86_64",
            target_feature = "avx2",
            target_feature = "fma"
        )) {
            Kernel::Avx2
        } else if cfg!(all(target_arch = "x86_64", target_feature = "sse2")) {
            Kernel::Sse2
        } else if cfg!(all(
            target_arch = "aarch64",
            target_feature = "neon",
            target_endian = "little"
        )) {
            Kernel::Neon
        } else {
            Kernel::Scalar
        }
    }

    /// Preference among the kernels of one architecture, widest first.
    fn rank(kernel: Kernel) -> usize {
        match kernel {
            Kernel::Avx512 => 3,
            Kernel::Avx2 => 2,
            Kernel::Sse2 | Kernel::Neon => 1,
            _ => 0,
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
            assert!(
                rank(best) >= rank(expected),
                "{best} is slower than the build allows"
            );
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
