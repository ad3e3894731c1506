//! Decoding to half-width values: [`decode_f16`] and [`decode_bf16`] (binary16 and bfloat16
//! bits in `u16`), their `_with` and [`Decoder`] forms, and the one dispatch point from a
//! [`Kernel`] to its half kernel.
//!
//! Each value is the `f32` that [`decode`](fn@crate::decode) produces, rounded to nearest, ties
//! to even: the bits of llama.cpp's `ggml_compute_fp32_to_fp16` and `ggml_compute_fp32_to_bf16`
//! for every value that is not a NaN, a NaN where decode gives a NaN, and infinities for values
//! too large for binary16.
//!
//! Decode's finite values are multiples of 2^-24 (an f16 times small integers, minus another),
//! so none is an `f32` subnormal: converters that treat subnormal inputs as zero (AVX512-BF16's
//! `vcvtne2ps2bf16`) give the exact rounding here.

#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(
        target_arch = "aarch64",
        target_feature = "neon",
        target_endian = "little"
    )
))]
use crate::arch;
use crate::decode::Values;
use crate::{BlockQ4K, Decoder, Error, Kernel, scalar};

/// The half-width format a kernel writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Half {
    /// IEEE 754 binary16.
    F16,
    /// bfloat16: the top half of an `f32`.
    Bf16,
}

impl Decoder {
    /// Decodes to binary16 bits on the calling thread; same contract as [`decode_f16`].
    ///
    /// ```
    /// use q4k::{Decoder, Stores};
    ///
    /// let input = vec![0u8; 4 * q4k::BLOCK_BYTES];
    /// let mut row = vec![0u16; q4k::output_len(input.len())];
    /// Decoder::new().stores(Stores::Cached).decode_f16(&input, &mut row)?;
    /// # Ok::<(), q4k::Error>(())
    /// ```
    pub fn decode_f16(&self, input: &[u8], output: &mut [u16]) -> Result<(), Error> {
        self.decode_values(input, Values::F16(output))
    }

    /// Decodes to bfloat16 bits on the calling thread; same contract as [`decode_bf16`].
    pub fn decode_bf16(&self, input: &[u8], output: &mut [u16]) -> Result<(), Error> {
        self.decode_values(input, Values::Bf16(output))
    }

    /// Decodes to [`half::f16`] or [`half::bf16`] values on the calling thread: the same bits
    /// as [`decode_f16`](Self::decode_f16) or [`decode_bf16`](Self::decode_bf16).
    ///
    /// ```
    /// let input = vec![0u8; q4k::BLOCK_BYTES];
    /// let mut output = vec![half::bf16::ZERO; q4k::output_len(input.len())];
    /// q4k::Decoder::new().decode_half(&input, &mut output)?;
    /// # Ok::<(), q4k::Error>(())
    /// ```
    #[cfg(feature = "half")]
    #[cfg_attr(docsrs, doc(cfg(feature = "half")))]
    pub fn decode_half<T: HalfFloat>(&self, input: &[u8], output: &mut [T]) -> Result<(), Error> {
        self.decode_values(input, T::values(output))
    }
}

/// The value types of the `half` crate that the decoders write and the encoders read:
/// [`half::f16`] and [`half::bf16`]. Sealed: implemented only here.
#[cfg(feature = "half")]
#[cfg_attr(docsrs, doc(cfg(feature = "half")))]
pub trait HalfFloat: sealed::Sealed {}

#[cfg(feature = "half")]
pub(crate) mod sealed {
    use half::slice::HalfFloatSliceExt;

    use crate::decode::Values;

    /// How a `half` type's slice reaches the kernels: as its bits, with its format.
    pub trait Sealed: Sized {
        /// The slice as the bits of its values, to write.
        fn values(output: &mut [Self]) -> Values<'_>;
        /// The slice as the bits of its values, to read.
        fn bits(input: &[Self]) -> HalfBits<'_>;
    }

    /// The bits of an input slice of `half` values, with their format.
    pub enum HalfBits<'a> {
        /// Binary16.
        F16(&'a [u16]),
        /// Bfloat16.
        Bf16(&'a [u16]),
    }

    impl Sealed for half::f16 {
        fn values(output: &mut [Self]) -> Values<'_> {
            Values::F16(output.reinterpret_cast_mut())
        }
        fn bits(input: &[Self]) -> HalfBits<'_> {
            HalfBits::F16(input.reinterpret_cast())
        }
    }

    impl Sealed for half::bf16 {
        fn values(output: &mut [Self]) -> Values<'_> {
            Values::Bf16(output.reinterpret_cast_mut())
        }
        fn bits(input: &[Self]) -> HalfBits<'_> {
            HalfBits::Bf16(input.reinterpret_cast())
        }
    }
}

#[cfg(feature = "half")]
impl HalfFloat for half::f16 {}
#[cfg(feature = "half")]
impl HalfFloat for half::bf16 {}

/// Decodes `blocks` into `out` as `half` values with `kernel` (256 per block, lengths checked
/// by the caller), with non-temporal stores if `streaming` and the kernel has them. The one
/// dispatch point of the half decode: availability is checked here, before anything is
/// written. The sub-features (F16C, AVX-512BW, AVX512-BF16) are detected here too; without
/// them a family runs its narrower kernel, with the same bits.
pub(crate) fn run(
    kernel: Kernel,
    half: Half,
    blocks: &[BlockQ4K],
    out: &mut [u16],
    streaming: bool,
) -> Result<(), Error> {
    let streaming = crate::decode::check_kernel(kernel, streaming)?;
    match kernel {
        Kernel::Scalar => {
            // Plain Rust has no non-temporal store; the scalar kernel always caches.
            let _ = streaming;
            scalar::decode_half::decode_blocks(blocks, out, half);
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        Kernel::Avx512 if arch::x86_64::has_avx512bw() => {
            let bf16 = arch::x86_64::has_avx512bf16();
            // SAFETY: `check_kernel` checked AVX-512F and the guard AVX-512BW; `bf16` is true
            // only where AVX512-BF16 was detected.
            unsafe { arch::x86_64::avx512::decode_half::decode(blocks, out, half, streaming, bf16) }
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        Kernel::Avx512 | Kernel::Avx2
            if arch::x86_64::has_avx2_fma() && arch::x86_64::has_f16c() =>
        {
            // SAFETY: the guard checked AVX2, FMA and F16C.
            unsafe { arch::x86_64::avx2::decode_half::decode(blocks, out, half, streaming) }
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        Kernel::Sse2 | Kernel::Avx2 | Kernel::Avx512 => {
            // SAFETY: this build's float ABI has SSE2 (the module's cfg), so every CPU it runs
            // on has it.
            unsafe { arch::x86_64::sse2::decode_half::decode(blocks, out, half, streaming) }
        }
        #[cfg(all(
            target_arch = "aarch64",
            target_feature = "neon",
            target_endian = "little"
        ))]
        Kernel::Neon => {
            // NEON has no practical non-temporal store: always cached.
            let _ = streaming;
            // SAFETY: this build has NEON in its target features (the module's cfg), so the
            // kernel's one target feature is present on every CPU it runs on.
            unsafe { arch::aarch64::neon::decode_half::decode(blocks, out, half) }
        }
        #[allow(unreachable_patterns)]
        _ => return Err(Error::KernelUnavailable { kernel }),
    }
    Ok(())
}

/// Decodes Q4_K blocks into IEEE 754 binary16 values (their bits) with the fastest kernel this
/// CPU has.
///
/// Each value is the `f32` of [`decode`](fn@crate::decode) rounded to nearest, ties to even:
/// llama.cpp's `ggml_compute_fp32_to_fp16` of it. Values beyond the binary16 range become
/// infinities, and NaNs stay NaN. The length contract is that of `decode`: `input.len()` a
/// multiple of [`BLOCK_BYTES`](crate::BLOCK_BYTES), `output.len()` exactly
/// [`output_len(input.len())`](crate::output_len), no alignment needed; on error the output is
/// untouched.
///
/// ```
/// let mut input = [0u8; 144];
/// input[0..2].copy_from_slice(&0x3C00u16.to_le_bytes()); // d = 1
/// input[4] = 1; // sub-block 0: scale 1
/// input[16] = 0x03; // value 0: quant 3
/// let mut output = [0u16; 256];
/// q4k::decode_f16(&input, &mut output)?;
/// assert_eq!(output[0], 0x4200); // 3.0 in binary16
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn decode_f16(input: &[u8], output: &mut [u16]) -> Result<(), Error> {
    Decoder::new().decode_f16(input, output)
}

/// Decodes Q4_K blocks into bfloat16 values (their bits) with the fastest kernel this CPU has.
///
/// Each value is the `f32` of [`decode`](fn@crate::decode) rounded to nearest, ties to even:
/// llama.cpp's `ggml_compute_fp32_to_bf16` of it, and a NaN where decode gives a NaN. Same
/// length contract as [`decode_f16`].
///
/// ```
/// let mut input = [0u8; 144];
/// input[0..2].copy_from_slice(&0x3C00u16.to_le_bytes()); // d = 1
/// input[4] = 1; // sub-block 0: scale 1
/// input[16] = 0x03; // value 0: quant 3
/// let mut output = [0u16; 256];
/// q4k::decode_bf16(&input, &mut output)?;
/// assert_eq!(output[0], 0x4040); // 3.0 in bfloat16
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn decode_bf16(input: &[u8], output: &mut [u16]) -> Result<(), Error> {
    Decoder::new().decode_bf16(input, output)
}

/// [`decode_f16`] with one chosen kernel: the length checks come first, then
/// [`Error::KernelUnavailable`] if `kernel` cannot run here.
pub fn decode_f16_with(kernel: Kernel, input: &[u8], output: &mut [u16]) -> Result<(), Error> {
    Decoder::new().kernel(kernel).decode_f16(input, output)
}

/// [`decode_bf16`] with one chosen kernel: the length checks come first, then
/// [`Error::KernelUnavailable`] if `kernel` cannot run here.
pub fn decode_bf16_with(kernel: Kernel, input: &[u8], output: &mut [u16]) -> Result<(), Error> {
    Decoder::new().kernel(kernel).decode_bf16(input, output)
}

/// Decodes Q4_K blocks into [`half::f16`] or [`half::bf16`] values with the fastest kernel this
/// CPU has: the same values as [`decode_f16`] or [`decode_bf16`].
///
/// ```
/// let input = vec![0u8; 2 * q4k::BLOCK_BYTES];
/// let mut output = vec![half::f16::ZERO; q4k::output_len(input.len())];
/// q4k::decode_half(&input, &mut output)?;
/// # Ok::<(), q4k::Error>(())
/// ```
#[cfg(feature = "half")]
#[cfg_attr(docsrs, doc(cfg(feature = "half")))]
pub fn decode_half<T: HalfFloat>(input: &[u8], output: &mut [T]) -> Result<(), Error> {
    Decoder::new().decode_half(input, output)
}
