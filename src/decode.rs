//! Decoding to `f32`: [`decode`], [`decode_with`], the [`Decoder`] that carries the choices, and
//! the one dispatch point from a [`Kernel`] to its decode kernel.

#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(
        target_arch = "aarch64",
        target_feature = "neon",
        target_endian = "little"
    )
))]
use crate::arch;
use crate::decode_half::{self, Half};
use crate::{BLOCK_VALUES, BlockQ4K, Error, Kernel, blocks, scalar};

/// Default output size in bytes above which [`Stores::Auto`] switches to streaming stores
/// (see [`Decoder::streaming_threshold`]).
///
/// Below it the output fits in the caches of a typical desktop or server core and ordinary
/// stores are faster; above it streaming stores avoid the read-for-ownership and the cache
/// pollution. Where the two cross depends on the machine: measured with the AVX-512 kernel on
/// one core, cached stores were 2.7x faster than streaming at 15 MB of output on a Zen 5 EPYC
/// with 32 MiB of L3 (streaming won from 30 MB on), while on a Xeon the two were level from
/// 7.5 MB. 24 MiB keeps cached stores wherever they can win; lower it on machines like the
/// Xeon.
pub const STREAMING_THRESHOLD_BYTES: usize = 24 << 20;

/// How a kernel writes its output to memory.
///
/// Ordinary stores keep the output in the caches, which is what you want when you read the
/// values right after decoding them (decode a row, use the row). Streaming (non-temporal) stores
/// bypass the caches; they are much faster when the output is far larger than the last-level
/// cache (a whole tensor) and much slower when it would have fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Stores {
    /// Streaming stores when the output is larger than the decoder's
    /// [streaming threshold](Decoder::streaming_threshold), ordinary stores below.
    #[default]
    Auto,
    /// Always ordinary stores: the output stays in the caches for the code that reads it next.
    Cached,
    /// Always streaming stores, where the kernel has them (SIMD kernels on x86_64).
    Streaming,
}

/// A decode configuration: the kernel (the best one by default), the store policy, and the
/// tuning thresholds.
///
/// [`decode`] and [`decode_with`] are shortcuts for the common cases; `Decoder` names everything
/// explicitly. It is a small `Copy` value: build one per call site, or keep one around.
///
/// ```
/// use q4k::{Decoder, Stores};
///
/// let input = vec![0u8; 4 * q4k::BLOCK_BYTES];
/// let mut row = vec![0f32; q4k::output_len(input.len())];
/// // Decode a row that is used right away: keep it in the caches.
/// Decoder::new().stores(Stores::Cached).decode(&input, &mut row)?;
/// # Ok::<(), q4k::Error>(())
/// ```
///
/// The builder methods return a new `Decoder` and are `#[must_use]`, so a call whose result is
/// dropped is flagged:
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let decoder = q4k::Decoder::new();
/// decoder.kernel(q4k::Kernel::Scalar); // does nothing: the configured decoder is dropped
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decoder {
    kernel: Option<Kernel>,
    stores: Stores,
    streaming_threshold: usize,
    #[cfg(feature = "parallel")]
    pub(crate) parallel: crate::parallel::Split,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// The best kernel for this CPU, [`Stores::Auto`], and the default thresholds.
    #[must_use]
    pub const fn new() -> Self {
        Decoder {
            kernel: None,
            stores: Stores::Auto,
            streaming_threshold: STREAMING_THRESHOLD_BYTES,
            #[cfg(feature = "parallel")]
            parallel: crate::parallel::Split::DEFAULT,
        }
    }

    /// Uses `kernel` instead of the best available one.
    #[must_use]
    pub const fn kernel(self, kernel: Kernel) -> Self {
        Decoder {
            kernel: Some(kernel),
            ..self
        }
    }

    /// Sets the store policy.
    #[must_use]
    pub const fn stores(self, stores: Stores) -> Self {
        Decoder { stores, ..self }
    }

    /// Sets the output size in bytes above which [`Stores::Auto`] streams (default
    /// [`STREAMING_THRESHOLD_BYTES`]). Where cached and streaming stores cross differs between
    /// machines; time both with [`Stores::Cached`] and [`Stores::Streaming`] to place it.
    #[must_use]
    pub const fn streaming_threshold(self, bytes: usize) -> Self {
        Decoder {
            streaming_threshold: bytes,
            ..self
        }
    }

    /// The kernel this decoder runs: the one set, or [`Kernel::best`].
    #[must_use]
    pub fn selected_kernel(&self) -> Kernel {
        self.kernel.unwrap_or_else(Kernel::best)
    }

    /// The store policy.
    #[must_use]
    pub const fn store_policy(&self) -> Stores {
        self.stores
    }

    /// Whether this decoder streams an output of `output_bytes` bytes.
    pub(crate) const fn streams(&self, output_bytes: usize) -> bool {
        match self.stores {
            Stores::Auto => output_bytes > self.streaming_threshold,
            Stores::Cached => false,
            Stores::Streaming => true,
        }
    }

    /// Decodes on the calling thread; same contract as [`decode`].
    pub fn decode(&self, input: &[u8], output: &mut [f32]) -> Result<(), Error> {
        self.decode_values(input, Values::F32(output))
    }

    /// Decodes into an output of any format on the calling thread: checks the lengths and
    /// resolves the store policy, then runs the kernel. Inline, as [`run_values`] is, so that
    /// a caller with one format links only that format's kernels.
    #[inline(always)]
    pub(crate) fn decode_values(&self, input: &[u8], output: Values<'_>) -> Result<(), Error> {
        let blocks = check(input, output.len())?;
        let streaming = self.streams(output.bytes());
        run_values(self.selected_kernel(), blocks, output, streaming)
    }
}

/// An output slice in one of the formats the kernels write.
pub enum Values<'a> {
    /// `f32` values, written by the decode kernels.
    F32(&'a mut [f32]),
    /// binary16 bits, written by the half kernels.
    F16(&'a mut [u16]),
    /// bfloat16 bits, written by the half kernels.
    Bf16(&'a mut [u16]),
}

impl<'a> Values<'a> {
    /// The number of values the slice holds.
    pub(crate) const fn len(&self) -> usize {
        match self {
            Values::F32(out) => out.len(),
            Values::F16(out) | Values::Bf16(out) => out.len(),
        }
    }

    /// The size of the slice in bytes.
    pub(crate) const fn bytes(&self) -> usize {
        match self {
            Values::F32(out) => core::mem::size_of_val(*out),
            Values::F16(out) | Values::Bf16(out) => core::mem::size_of_val(*out),
        }
    }

    /// The first `mid` values and the rest, or `None` if there are fewer than `mid`.
    pub(crate) fn split_at(self, mid: usize) -> Option<(Values<'a>, Values<'a>)> {
        Some(match self {
            Values::F32(out) => {
                let (a, b) = out.split_at_mut_checked(mid)?;
                (Values::F32(a), Values::F32(b))
            }
            Values::F16(out) => {
                let (a, b) = out.split_at_mut_checked(mid)?;
                (Values::F16(a), Values::F16(b))
            }
            Values::Bf16(out) => {
                let (a, b) = out.split_at_mut_checked(mid)?;
                (Values::Bf16(a), Values::Bf16(b))
            }
        })
    }
}

/// Checks that `input` is whole blocks and that an output of `output_len` values holds exactly
/// their values.
pub(crate) fn check(input: &[u8], output_len: usize) -> Result<&[BlockQ4K], Error> {
    let blocks = blocks(input)?;
    let expected = blocks.len() * BLOCK_VALUES;
    if output_len != expected {
        return Err(Error::OutputLength {
            expected,
            actual: output_len,
        });
    }
    Ok(blocks)
}

/// Decodes `blocks` into `out` in its format: [`run`] for `f32`, the half dispatch otherwise.
/// Inline, so that the format is known where it is matched: as a call, it linked the half
/// kernels into every program that decodes in chunks (on a Cortex-M4F, `ChunkedDecoder` took
/// 4.3 KB of code for 1.8 KB of its own).
#[inline(always)]
pub(crate) fn run_values(
    kernel: Kernel,
    blocks: &[BlockQ4K],
    out: Values<'_>,
    streaming: bool,
) -> Result<(), Error> {
    match out {
        Values::F32(out) => run(kernel, blocks, out, streaming),
        Values::F16(out) => decode_half::run(kernel, Half::F16, blocks, out, streaming),
        Values::Bf16(out) => decode_half::run(kernel, Half::Bf16, blocks, out, streaming),
    }
}

/// The start of every decode dispatch: `Err` unless `kernel` can run here, else whether to use
/// its non-temporal stores (`streaming`, except under Miri, which cannot run them or `sfence`;
/// there the kernels' cached paths are checked instead).
pub(crate) fn check_kernel(kernel: Kernel, streaming: bool) -> Result<bool, Error> {
    if !kernel.is_available() {
        return Err(Error::KernelUnavailable { kernel });
    }
    Ok(streaming && !cfg!(miri))
}

/// Decodes `blocks` into `out` with `kernel` (256 values per block, lengths checked by the
/// caller), with non-temporal stores if `streaming` and the kernel has them. The one dispatch
/// point of decode: availability is checked here, before anything is written.
pub(crate) fn run(
    kernel: Kernel,
    blocks: &[BlockQ4K],
    out: &mut [f32],
    streaming: bool,
) -> Result<(), Error> {
    let streaming = check_kernel(kernel, streaming)?;
    match kernel {
        Kernel::Scalar => {
            // Plain Rust has no non-temporal store; the scalar kernel always caches.
            let _ = streaming;
            scalar::decode::decode_blocks(blocks, out)
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: this build's float ABI has SSE2 (the module's cfg), so every CPU it runs on
        // has it.
        Kernel::Sse2 => unsafe { arch::x86_64::sse2::decode::decode(blocks, out, streaming) },
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: `check_kernel` checked that AVX2 and FMA are available.
        Kernel::Avx2 => unsafe { arch::x86_64::avx2::decode::decode(blocks, out, streaming) },
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: `check_kernel` checked that AVX-512F is available.
        Kernel::Avx512 => unsafe { arch::x86_64::avx512::decode::decode(blocks, out, streaming) },
        #[cfg(all(
            target_arch = "aarch64",
            target_feature = "neon",
            target_endian = "little"
        ))]
        Kernel::Neon => {
            // NEON has no practical non-temporal store (STNP is only a hint): always cached.
            let _ = streaming;
            // SAFETY: this build has NEON in its target features (the module's cfg), so the
            // kernel's one target feature is present on every CPU it runs on.
            unsafe { arch::aarch64::neon::decode::decode(blocks, out) }
        }
        #[allow(unreachable_patterns)]
        _ => return Err(Error::KernelUnavailable { kernel }),
    }
    Ok(())
}

/// Decodes Q4_K blocks into `f32` values with the fastest kernel this CPU has.
///
/// `input.len()` must be a multiple of [`BLOCK_BYTES`](crate::BLOCK_BYTES) and `output.len()`
/// must be exactly [`output_len(input.len())`](crate::output_len). Neither slice needs any
/// alignment. On error the output is left untouched.
///
/// ```
/// let input = [0u8; 144];
/// let mut output = [0f32; 256];
/// q4k::decode(&input, &mut output)?;
/// assert!(q4k::decode(&input, &mut output[..255]).is_err());
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn decode(input: &[u8], output: &mut [f32]) -> Result<(), Error> {
    Decoder::new().decode(input, output)
}

/// Decodes Q4_K blocks with one chosen kernel.
///
/// Same contract as [`decode`]; the length checks come first, then
/// [`Error::KernelUnavailable`] if `kernel` cannot run here.
///
/// ```
/// let input = [0u8; 144];
/// let mut output = [0f32; 256];
/// q4k::decode_with(q4k::Kernel::Scalar, &input, &mut output)?;
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn decode_with(kernel: Kernel, input: &[u8], output: &mut [f32]) -> Result<(), Error> {
    Decoder::new().kernel(kernel).decode(input, output)
}
