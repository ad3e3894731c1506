//! Encoding to Q4_K: [`encode`] and its variants, the [`Encoder`] that carries the choices, the
//! checks every encoder shares (lengths, non-finite values), the input element types, and the
//! one dispatch point from a [`Kernel`] to its encode kernel.
//!
//! The bytes are those of llama.cpp's `quantize_row_q4_K_ref` (which `quantize_q4_K` also runs
//! without an importance matrix) compiled with each float operation rounded on its own.

#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(
        target_arch = "aarch64",
        target_feature = "neon",
        target_endian = "little"
    )
))]
use crate::arch;
#[cfg(feature = "half")]
use crate::decode_half::{HalfFloat, sealed::HalfBits};
use crate::f16::f16_to_f32;
use crate::{BLOCK_BYTES, BLOCK_VALUES, Error, Kernel, scalar};

/// An input element type of the encoders: how one stored value widens to `f32` and whether it
/// is finite. Implemented by zero-sized markers, since f16 and bf16 both arrive as `u16` bits.
pub(crate) trait Element: Copy + Send + Sync + 'static {
    /// The stored value.
    type Raw: Copy + Send + Sync;
    /// The value as `f32`, exactly.
    fn widen(raw: Self::Raw) -> f32;
    /// Whether the value is neither NaN nor infinite.
    fn is_finite(raw: Self::Raw) -> bool;
    /// [`widen`](Element::widen) of each value of `raw` into `out` (as many as both hold).
    #[inline(always)]
    fn widen_slice(raw: &[Self::Raw], out: &mut [f32]) {
        for (w, &r) in out.iter_mut().zip(raw) {
            *w = Self::widen(r);
        }
    }
}

/// `f32` input.
#[derive(Clone, Copy)]
pub(crate) struct F32;

/// IEEE 754 binary16 input, as bits.
#[derive(Clone, Copy)]
pub(crate) struct F16;

/// bfloat16 input (the top half of an `f32`), as bits.
#[derive(Clone, Copy)]
pub(crate) struct Bf16;

impl Element for F32 {
    type Raw = f32;
    #[inline(always)]
    fn widen(raw: f32) -> f32 {
        raw
    }
    #[inline(always)]
    fn is_finite(raw: f32) -> bool {
        raw.is_finite()
    }
}

impl Element for F16 {
    type Raw = u16;
    #[inline(always)]
    fn widen(raw: u16) -> f32 {
        f16_to_f32(raw)
    }
    #[inline(always)]
    fn is_finite(raw: u16) -> bool {
        crate::f16::f16_is_finite(raw)
    }
    #[inline(always)]
    fn widen_slice(raw: &[u16], out: &mut [f32]) {
        crate::f16::widen_f16_slice(raw, out);
    }
}

impl Element for Bf16 {
    type Raw = u16;
    #[inline(always)]
    fn widen(raw: u16) -> f32 {
        f32::from_bits(u32::from(raw) << 16)
    }
    #[inline(always)]
    fn is_finite(raw: u16) -> bool {
        raw & 0x7F80 != 0x7F80
    }
}

/// Checks the lengths (whole 256-value blocks in, exactly 144 bytes per block out), then that
/// every value is finite. Returns the number of blocks.
pub(crate) fn check_lengths(values: usize, output: usize) -> Result<usize, Error> {
    let blocks = values / BLOCK_VALUES;
    if !values.is_multiple_of(BLOCK_VALUES) || blocks.checked_mul(BLOCK_BYTES) != Some(output) {
        return Err(Error::EncodeLength { values, output });
    }
    Ok(blocks)
}

/// [`Error::NonFinite`] with the index of the first NaN or infinite value, if there is one.
pub(crate) fn check_finite<E: Element>(input: &[E::Raw]) -> Result<(), Error> {
    // Whole chunks first, with no early exit inside a chunk, so that the scan vectorises.
    const CHUNK: usize = 64;
    let (chunks, rest) = input.as_chunks::<CHUNK>();
    let bad = chunks
        .iter()
        .position(|c| !c.iter().fold(true, |ok, &v| ok & E::is_finite(v)));
    let start = bad.map_or(chunks.len() * CHUNK, |c| c * CHUNK);
    let tail = if bad.is_some() {
        &input[start..start + CHUNK]
    } else {
        rest
    };
    match tail.iter().position(|&v| !E::is_finite(v)) {
        Some(i) => Err(Error::NonFinite { index: start + i }),
        None => Ok(()),
    }
}

/// Encodes with `kernel` (lengths and values checked by the caller). The one dispatch point of
/// encode: availability is checked here, before anything is written.
pub(crate) fn run<E: Element>(
    kernel: Kernel,
    input: &[E::Raw],
    out: &mut [u8],
) -> Result<(), Error> {
    if !kernel.is_available() {
        return Err(Error::KernelUnavailable { kernel });
    }
    match kernel {
        Kernel::Scalar => scalar::encode::encode_blocks::<E>(input, out),
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: this build's float ABI has SSE2 (the module's cfg), so every CPU it runs on
        // has it.
        Kernel::Sse2 => unsafe { arch::x86_64::sse2::encode::encode::<E>(input, out) },
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: `is_available` checked AVX2 (and FMA) above.
        Kernel::Avx2 => unsafe { arch::x86_64::avx2::encode::encode::<E>(input, out) },
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: `is_available` checked AVX-512F above.
        Kernel::Avx512 => unsafe { arch::x86_64::avx512::encode::encode::<E>(input, out) },
        #[cfg(all(
            target_arch = "aarch64",
            target_feature = "neon",
            target_endian = "little"
        ))]
        // SAFETY: `is_available` checked NEON above.
        Kernel::Neon => unsafe { arch::aarch64::neon::encode::encode::<E>(input, out) },
        #[allow(unreachable_patterns)]
        _ => return Err(Error::KernelUnavailable { kernel }),
    }
    Ok(())
}

/// An encode configuration: the kernel (the best one by default).
///
/// [`encode`] and [`encode_with`] are shortcuts; `Encoder` also takes f16 and bf16 input.
///
/// ```
/// use q4k::{Encoder, Kernel};
///
/// let weights = vec![0.5f32; 512];
/// let mut blocks = vec![0u8; 2 * q4k::BLOCK_BYTES];
/// Encoder::new().kernel(Kernel::Scalar).encode(&weights, &mut blocks)?;
/// # Ok::<(), q4k::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Encoder {
    kernel: Option<Kernel>,
}

impl Encoder {
    /// The best kernel for this CPU.
    #[must_use]
    pub const fn new() -> Self {
        Encoder { kernel: None }
    }

    /// Uses `kernel` instead of the best available one.
    #[must_use]
    pub const fn kernel(self, kernel: Kernel) -> Self {
        Encoder {
            kernel: Some(kernel),
        }
    }

    /// The kernel this encoder runs: the one set, or [`Kernel::best`].
    #[must_use]
    pub fn selected_kernel(&self) -> Kernel {
        self.kernel.unwrap_or_else(Kernel::best)
    }

    fn run<E: Element>(&self, input: &[E::Raw], output: &mut [u8]) -> Result<(), Error> {
        check_lengths(input.len(), output.len())?;
        check_finite::<E>(input)?;
        run::<E>(self.selected_kernel(), input, output)
    }

    /// Encodes `f32` values on the calling thread; same contract as [`encode`].
    pub fn encode(&self, input: &[f32], output: &mut [u8]) -> Result<(), Error> {
        self.run::<F32>(input, output)
    }

    /// Encodes IEEE 754 half-precision values, given as their bits (`u16`, as stored in f16
    /// tensors); same contract as [`encode`]. Each block is widened to `f32` inside the kernel,
    /// exactly, so the bytes are those of [`encode`] on the widened values.
    ///
    /// ```
    /// let halves = vec![0x3C00u16; 256]; // 1.0 in f16
    /// let mut block = [0u8; q4k::BLOCK_BYTES];
    /// q4k::Encoder::new().encode_f16(&halves, &mut block)?;
    /// # Ok::<(), q4k::Error>(())
    /// ```
    pub fn encode_f16(&self, input: &[u16], output: &mut [u8]) -> Result<(), Error> {
        self.run::<F16>(input, output)
    }

    /// Encodes bfloat16 values, given as their bits (`u16`, the top half of an `f32`); same
    /// contract as [`encode`], and the bytes of [`encode`] on the widened values.
    ///
    /// ```
    /// let brains = vec![0x3F80u16; 256]; // 1.0 in bf16
    /// let mut block = [0u8; q4k::BLOCK_BYTES];
    /// q4k::Encoder::new().encode_bf16(&brains, &mut block)?;
    /// # Ok::<(), q4k::Error>(())
    /// ```
    pub fn encode_bf16(&self, input: &[u16], output: &mut [u8]) -> Result<(), Error> {
        self.run::<Bf16>(input, output)
    }

    /// Encodes [`half::f16`] or [`half::bf16`] values: the bytes of
    /// [`encode_f16`](Self::encode_f16) or [`encode_bf16`](Self::encode_bf16) on their bits,
    /// with the same contract.
    ///
    /// ```
    /// let values = vec![half::f16::from_f32(0.5); 256];
    /// let mut block = [0u8; q4k::BLOCK_BYTES];
    /// q4k::Encoder::new().encode_half(&values, &mut block)?;
    /// # Ok::<(), q4k::Error>(())
    /// ```
    #[cfg(feature = "half")]
    #[cfg_attr(docsrs, doc(cfg(feature = "half")))]
    pub fn encode_half<T: HalfFloat>(&self, input: &[T], output: &mut [u8]) -> Result<(), Error> {
        match T::bits(input) {
            HalfBits::F16(bits) => self.encode_f16(bits, output),
            HalfBits::Bf16(bits) => self.encode_bf16(bits, output),
        }
    }
}

/// Blocks per parallel task in [`Encoder::encode_parallel`]: a multiple of the four blocks the
/// SIMD kernels take at a time, and at about 2 µs a block, tens of microseconds of work, far
/// more than a task costs.
#[cfg(feature = "parallel")]
const PARALLEL_CHUNK_BLOCKS: usize = 16;

#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
impl Encoder {
    fn run_parallel<E: Element>(&self, input: &[E::Raw], output: &mut [u8]) -> Result<(), Error> {
        use rayon::prelude::*;

        let blocks = check_lengths(input.len(), output.len())?;
        check_finite::<E>(input)?;
        let kernel = self.selected_kernel();
        if blocks <= PARALLEL_CHUNK_BLOCKS || rayon::current_num_threads() < 2 {
            return run::<E>(kernel, input, output);
        }
        if !kernel.is_available() {
            return Err(Error::KernelUnavailable { kernel });
        }
        output
            .par_chunks_mut(PARALLEL_CHUNK_BLOCKS * BLOCK_BYTES)
            .zip(input.par_chunks(PARALLEL_CHUNK_BLOCKS * BLOCK_VALUES))
            .try_for_each(|(out, input)| run::<E>(kernel, input, out))
    }

    /// Encodes `f32` values on the threads of the current rayon pool: same contract and same
    /// bytes as [`encode`](Self::encode), blocks split across the threads. Every check is made
    /// before any work starts, so on error the output is untouched.
    ///
    /// ```
    /// let weights: Vec<f32> = (0..4096 * 16).map(|i| (i as f32).cos()).collect();
    /// let mut blocks = vec![0u8; q4k::input_len(weights.len()).unwrap()];
    /// q4k::Encoder::new().encode_parallel(&weights, &mut blocks)?;
    /// # Ok::<(), q4k::Error>(())
    /// ```
    pub fn encode_parallel(&self, input: &[f32], output: &mut [u8]) -> Result<(), Error> {
        self.run_parallel::<F32>(input, output)
    }

    /// [`encode_f16`](Self::encode_f16) on the threads of the current rayon pool.
    pub fn encode_f16_parallel(&self, input: &[u16], output: &mut [u8]) -> Result<(), Error> {
        self.run_parallel::<F16>(input, output)
    }

    /// [`encode_bf16`](Self::encode_bf16) on the threads of the current rayon pool.
    pub fn encode_bf16_parallel(&self, input: &[u16], output: &mut [u8]) -> Result<(), Error> {
        self.run_parallel::<Bf16>(input, output)
    }

    /// [`encode_half`](Self::encode_half) on the threads of the current rayon pool.
    #[cfg(feature = "half")]
    #[cfg_attr(docsrs, doc(cfg(all(feature = "parallel", feature = "half"))))]
    pub fn encode_half_parallel<T: HalfFloat>(
        &self,
        input: &[T],
        output: &mut [u8],
    ) -> Result<(), Error> {
        match T::bits(input) {
            HalfBits::F16(bits) => self.encode_f16_parallel(bits, output),
            HalfBits::Bf16(bits) => self.encode_bf16_parallel(bits, output),
        }
    }
}

/// Encodes `f32` values on the threads of the current rayon pool with the fastest kernel: the
/// bytes of [`encode`], with blocks split across the threads; see
/// [`Encoder::encode_parallel`].
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub fn encode_parallel(input: &[f32], output: &mut [u8]) -> Result<(), Error> {
    Encoder::new().encode_parallel(input, output)
}

/// Encodes `f32` values to Q4_K blocks with the fastest kernel this CPU has, byte for byte as
/// llama.cpp's `quantize_row_q4_K_ref`.
///
/// `input.len()` must be a multiple of [`BLOCK_VALUES`] and `output.len()` exactly
/// [`input_len(input.len())`](crate::input_len) bytes (`input.len() / 256 * 144`), else
/// [`Error::EncodeLength`]. Every value must be finite, else [`Error::NonFinite`] names the
/// first that is not. On error the output is left untouched.
///
/// ```
/// let weights: Vec<f32> = (0..512).map(|i| (i as f32 * 0.37).sin()).collect();
/// let mut blocks = vec![0u8; q4k::input_len(weights.len()).unwrap()];
/// q4k::encode(&weights, &mut blocks)?;
///
/// let mut back = vec![0f32; weights.len()];
/// q4k::decode(&blocks, &mut back)?;
/// assert!(weights.iter().zip(&back).all(|(w, b)| (w - b).abs() < 0.1));
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn encode(input: &[f32], output: &mut [u8]) -> Result<(), Error> {
    Encoder::new().encode(input, output)
}

/// Encodes `f32` values with one chosen kernel.
///
/// Same contract as [`encode`]; the checks of the arguments come first, then
/// [`Error::KernelUnavailable`] if `kernel` cannot run here.
///
/// ```
/// let weights = [1.0f32; 256];
/// let mut block = [0u8; q4k::BLOCK_BYTES];
/// q4k::encode_with(q4k::Kernel::Scalar, &weights, &mut block)?;
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn encode_with(kernel: Kernel, input: &[f32], output: &mut [u8]) -> Result<(), Error> {
    Encoder::new().kernel(kernel).encode(input, output)
}

/// Encodes IEEE 754 half-precision values (as `u16` bits) with the fastest kernel; see
/// [`Encoder::encode_f16`].
pub fn encode_f16(input: &[u16], output: &mut [u8]) -> Result<(), Error> {
    Encoder::new().encode_f16(input, output)
}

/// Encodes bfloat16 values (as `u16` bits) with the fastest kernel; see
/// [`Encoder::encode_bf16`].
pub fn encode_bf16(input: &[u16], output: &mut [u8]) -> Result<(), Error> {
    Encoder::new().encode_bf16(input, output)
}

/// Encodes [`half::f16`] or [`half::bf16`] values with the fastest kernel; see
/// [`Encoder::encode_half`].
#[cfg(feature = "half")]
#[cfg_attr(docsrs, doc(cfg(feature = "half")))]
pub fn encode_half<T: HalfFloat>(input: &[T], output: &mut [u8]) -> Result<(), Error> {
    Encoder::new().encode_half(input, output)
}

#[cfg(test)]
mod tests {
    use super::{Bf16, Element, F16, F32, check_finite, check_lengths};
    use crate::Error;

    #[test]
    fn lengths() {
        assert_eq!(check_lengths(0, 0), Ok(0));
        assert_eq!(check_lengths(512, 288), Ok(2));
        for (values, output) in [(256, 143), (255, 144), (257, 144), (512, 144), (0, 144)] {
            assert_eq!(
                check_lengths(values, output),
                Err(Error::EncodeLength { values, output })
            );
        }
        assert!(check_lengths(usize::MAX - 255, 0).is_err());
    }

    #[test]
    fn first_non_finite_index() {
        for len in [0usize, 1, 63, 64, 65, 200, 256, 1000] {
            for bad in [0, 1, 62, 63, 64, 127, 128, 199, 255, 999] {
                for value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut v = std::vec![1.0f32; len];
                    let want = if bad < len {
                        v[bad] = value;
                        // A later bad value must not be reported instead.
                        if bad + 5 < len {
                            v[bad + 5] = f32::NAN;
                        }
                        Err(Error::NonFinite { index: bad })
                    } else {
                        Ok(())
                    };
                    assert_eq!(check_finite::<F32>(&v), want, "len {len} bad {bad}");
                }
            }
        }
    }

    #[test]
    fn f16_and_bf16_finiteness() {
        let stride = if cfg!(miri) { 97 } else { 1 };
        for bits in (0..=u16::MAX)
            .step_by(stride)
            .chain([0x7C00, 0xFC00, 0x7F80, 0xFF80])
        {
            assert_eq!(F16::is_finite(bits), F16::widen(bits).is_finite());
            assert_eq!(Bf16::is_finite(bits), Bf16::widen(bits).is_finite());
        }
    }
}
