//! Dot products of Q4_K weights with Q8_K activations: [`dot_q8k`], [`matvec_q8k`], their
//! `_with` forms that name the kernel, and the one dispatch point from a [`Kernel`] to its
//! matrix-vector kernel (a dot product is a matrix of one row).

#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(
        target_arch = "aarch64",
        target_feature = "neon",
        target_endian = "little"
    )
))]
use crate::arch;
use crate::{BLOCK_BYTES, BlockQ4K, BlockQ8K, Error, Kernel, blocks, scalar};

/// Writes `out[r] = dot(row r, activations)` for each row: `out.len()` rows of
/// `activations.len()` blocks back to back in `weights` (rows beyond either length are not
/// touched; without activations every row is `+0.0`). The row loop of the kernels that take
/// the activations as they are: `inline(always)`, so that it is compiled into each kernel's
/// `#[target_feature]` function.
#[inline(always)]
pub(crate) fn for_each_row(
    weights: &[BlockQ4K],
    activations: &[BlockQ8K],
    out: &mut [f32],
    mut dot: impl FnMut(&[BlockQ4K], &[BlockQ8K]) -> f32,
) {
    if activations.is_empty() {
        out.fill(0.0);
        return;
    }
    for (row, y) in weights.chunks_exact(activations.len()).zip(out) {
        *y = dot(row, activations);
    }
}

/// Checks that `weights` is exactly `rows` rows of `activations.len()` blocks; returns the
/// weights as blocks. With no activations the rows are empty and any `rows` is fine.
pub(crate) fn check<'a>(
    weights: &'a [u8],
    activations: &[BlockQ8K],
    rows: usize,
) -> Result<&'a [BlockQ4K], Error> {
    let row_bytes = activations.len() * BLOCK_BYTES;
    if Some(weights.len()) != row_bytes.checked_mul(rows) {
        return Err(Error::WeightsLength {
            len: weights.len(),
            rows,
            row_bytes,
        });
    }
    // Whole rows are whole blocks.
    blocks(weights)
}

/// `out[r] = dot(row r, activations)` with `kernel`, lengths checked by the caller. The one
/// dispatch point of the Q8_K dot products: availability is checked here, before anything is
/// written.
pub(crate) fn run(
    kernel: Kernel,
    weights: &[BlockQ4K],
    activations: &[BlockQ8K],
    out: &mut [f32],
) -> Result<(), Error> {
    if !kernel.is_available() {
        return Err(Error::KernelUnavailable { kernel });
    }
    match kernel {
        Kernel::Scalar => scalar::dot::matvec(weights, activations, out),
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: this build's float ABI has SSE2 (the module's cfg), so every CPU it runs on
        // has it.
        Kernel::Sse2 => unsafe { arch::x86_64::sse2::dot::matvec(weights, activations, out) },
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        Kernel::Avx2 => avx2(weights, activations, out),
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        Kernel::Avx512 => {
            if arch::x86_64::has_avx512_vnni()
                && arch::x86_64::has_avx512vbmi()
                && arch::x86_64::has_gfni()
            {
                // SAFETY: AVX-512 F, BW, VNNI, VBMI and GFNI were just detected.
                unsafe { arch::x86_64::avx512::dot::matvec_vbmi_gfni(weights, activations, out) }
            } else if arch::x86_64::has_avx512_vnni() {
                // SAFETY: AVX-512 F, BW and VNNI were just detected.
                unsafe { arch::x86_64::avx512::dot::matvec(weights, activations, out) }
            } else {
                // Every AVX-512 CPU has AVX2 and FMA; the dot needs more than AVX-512F to
                // use the wide registers.
                avx2(weights, activations, out)
            }
        }
        #[cfg(all(
            target_arch = "aarch64",
            target_feature = "neon",
            target_endian = "little"
        ))]
        Kernel::Neon => {
            if arch::aarch64::has_dotprod() {
                // SAFETY: NEON is in this build's target features and dotprod was just
                // detected.
                unsafe { arch::aarch64::neon::dot::matvec_dotprod(weights, activations, out) }
            } else {
                // SAFETY: this build has NEON in its target features (the module's cfg).
                unsafe { arch::aarch64::neon::dot::matvec(weights, activations, out) }
            }
        }
        #[allow(unreachable_patterns)]
        _ => return Err(Error::KernelUnavailable { kernel }),
    }
    Ok(())
}

/// The AVX2 dot kernel, on a CPU with AVX2 and FMA: with AVX-VNNI where the CPU has it, and the
/// SSE2 kernel on the odd CPU (or virtual machine) without F16C, which the AVX2 kernel uses to
/// widen the f16 scales.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
fn avx2(weights: &[BlockQ4K], activations: &[BlockQ8K], out: &mut [f32]) {
    use arch::x86_64::{avx2::dot::matvec, has_avx_vnni, has_avx2_fma, has_f16c};
    if !has_avx2_fma() || !has_f16c() {
        // SAFETY: this build's float ABI has SSE2 (the module's cfg).
        unsafe { arch::x86_64::sse2::dot::matvec(weights, activations, out) }
    } else if has_avx_vnni() {
        // SAFETY: AVX2, FMA, F16C and AVX-VNNI were just detected.
        unsafe { matvec::<true>(weights, activations, out) }
    } else {
        // SAFETY: AVX2, FMA and F16C were just detected.
        unsafe { matvec::<false>(weights, activations, out) }
    }
}

/// The dot product of one row of Q4_K weights with Q8_K activations, with the fastest kernel
/// this CPU has.
///
/// `weights` must be exactly `144 * activations.len()` bytes ([`Error::WeightsLength`] with
/// `rows: 1` otherwise); no alignment is needed. Bit for bit llama.cpp's
/// `ggml_vec_dot_q4_K_q8_K_generic` as its C source reads, every multiply and add rounded on its
/// own, on every kernel:
///
/// - per block, eight exact `i32` lane sums `aux32[l]` (lane `l` takes the values whose index
///   is `l mod 8`, each product scaled by its sub-block's 6-bit scale), and the exact
///   `sumi = Σ bsums[k] * min[k / 2]`;
/// - eight `f32` lanes carried across blocks, `sums[l] += (d_w * d_a) * aux32[l]`, and
///   `sumf -= (dmin_w * d_a) * sumi`;
/// - at the end `sumf += sums[0]`, then `sums[1]`, ... `sums[7]`.
///
/// Activations come from [`quantize_q8k`](crate::quantize_q8k). The SIMD kernels rearrange
/// them for their 4-byte dot-product instructions on every call (in registers on x86_64,
/// through a stack buffer with NEON): for the rows of a matrix, [`matvec_q8k`] shares that work
/// between rows and is faster.
///
/// ```
/// let weights = [0u8; 144];                  // one block: d = dmin = 0
/// let mut activations = [q4k::BlockQ8K::ZERO];
/// q4k::quantize_q8k(&[1.0; 256], &mut activations)?;
/// assert_eq!(q4k::dot_q8k(&weights, &activations)?, 0.0);
/// assert!(q4k::dot_q8k(&weights[..143], &activations).is_err());
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn dot_q8k(weights: &[u8], activations: &[BlockQ8K]) -> Result<f32, Error> {
    dot_q8k_with(Kernel::best(), weights, activations)
}

/// [`dot_q8k`] with one chosen kernel.
///
/// The length check comes first, then [`Error::KernelUnavailable`] if `kernel` cannot run here.
///
/// ```
/// let activations = [q4k::BlockQ8K::ZERO];
/// assert_eq!(q4k::dot_q8k_with(q4k::Kernel::Scalar, &[0u8; 144], &activations)?, 0.0);
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn dot_q8k_with(
    kernel: Kernel,
    weights: &[u8],
    activations: &[BlockQ8K],
) -> Result<f32, Error> {
    let weights = check(weights, activations, 1)?;
    let mut out = [0f32];
    run(kernel, weights, activations, &mut out)?;
    Ok(out[0])
}

/// A matrix of Q4_K weights times a vector of Q8_K activations, with the fastest kernel this
/// CPU has: `output[r]` is exactly [`dot_q8k`] of row `r`.
///
/// `weights` holds `output.len()` rows, back to back, of `activations.len()` blocks each
/// (row-major, as GGUF stores a matrix), [`Error::WeightsLength`] otherwise. With no
/// activations every row is empty, `weights` must be too, and every output value is 0. On
/// error the output is untouched.
///
/// ```
/// let (rows, cols) = (3, 512);
/// let weights = vec![0u8; rows * cols / 256 * 144];
/// let mut activations = vec![q4k::BlockQ8K::ZERO; cols / 256];
/// q4k::quantize_q8k(&vec![0.5; cols], &mut activations)?;
/// let mut output = vec![f32::NAN; rows];
/// q4k::matvec_q8k(&weights, &activations, &mut output)?;
/// assert_eq!(output, [0.0; 3]);
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn matvec_q8k(
    weights: &[u8],
    activations: &[BlockQ8K],
    output: &mut [f32],
) -> Result<(), Error> {
    matvec_q8k_with(Kernel::best(), weights, activations, output)
}

/// [`matvec_q8k`] with one chosen kernel.
///
/// The length checks come first, then [`Error::KernelUnavailable`] if `kernel` cannot run here.
///
/// ```
/// let activations = [q4k::BlockQ8K::ZERO];
/// let mut output = [1.0f32; 2];
/// q4k::matvec_q8k_with(q4k::Kernel::Scalar, &[0u8; 288], &activations, &mut output)?;
/// assert_eq!(output, [0.0, 0.0]);
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn matvec_q8k_with(
    kernel: Kernel,
    weights: &[u8],
    activations: &[BlockQ8K],
    output: &mut [f32],
) -> Result<(), Error> {
    let weights = check(weights, activations, output.len())?;
    run(kernel, weights, activations, output)
}

#[cfg(feature = "parallel")]
pub use parallel::{
    MATVEC_PARALLEL_TASKS_PER_THREAD, MATVEC_PARALLEL_THRESHOLD_BYTES, matvec_q8k_parallel,
    matvec_q8k_parallel_with,
};

#[cfg(feature = "parallel")]
mod parallel {
    use rayon::prelude::*;

    use super::{check, run};
    use crate::{BLOCK_BYTES, BlockQ8K, Error, Kernel};

    /// Weight bytes below which [`matvec_q8k_parallel`] stays on the calling thread: 1 MiB
    /// (about 1.9 M weights), where waking a second thread still costs a visible part of the
    /// call.
    pub const MATVEC_PARALLEL_THRESHOLD_BYTES: usize = 1 << 20;

    /// Tasks per thread of the pool that [`matvec_q8k_parallel`] splits the rows into: a few,
    /// so that the threads can balance a late start, and not many, since each task prepares
    /// the activations for its kernel once.
    pub const MATVEC_PARALLEL_TASKS_PER_THREAD: usize = 4;

    /// [`matvec_q8k`](crate::matvec_q8k) on the threads of the current rayon pool, with the
    /// fastest kernel this CPU has.
    ///
    /// Same contract and same output bits as `matvec_q8k`: lengths are checked before anything
    /// is written. The rows are split into [`MATVEC_PARALLEL_TASKS_PER_THREAD`] tasks per
    /// thread (each a multiple of eight rows, but the last); matrices under
    /// [`MATVEC_PARALLEL_THRESHOLD_BYTES`], and one-thread pools, stay on the calling thread.
    /// No allocation.
    ///
    /// ```
    /// let activations = vec![q4k::BlockQ8K::ZERO; 16];
    /// let weights = vec![0u8; 4096 * 16 * 144];
    /// let mut output = vec![1.0f32; 4096];
    /// q4k::matvec_q8k_parallel(&weights, &activations, &mut output)?;
    /// assert!(output.iter().all(|&y| y == 0.0));
    /// # Ok::<(), q4k::Error>(())
    /// ```
    pub fn matvec_q8k_parallel(
        weights: &[u8],
        activations: &[BlockQ8K],
        output: &mut [f32],
    ) -> Result<(), Error> {
        matvec_q8k_parallel_with(Kernel::best(), weights, activations, output)
    }

    /// [`matvec_q8k_parallel`] with one chosen kernel.
    ///
    /// The length checks come first, then [`Error::KernelUnavailable`] if `kernel` cannot run
    /// here.
    pub fn matvec_q8k_parallel_with(
        kernel: Kernel,
        weights: &[u8],
        activations: &[BlockQ8K],
        output: &mut [f32],
    ) -> Result<(), Error> {
        let blocks = check(weights, activations, output.len())?;
        let row_blocks = activations.len();
        if blocks.len() * BLOCK_BYTES < MATVEC_PARALLEL_THRESHOLD_BYTES
            || rayon::current_num_threads() < 2
        {
            return run(kernel, blocks, activations, output);
        }
        if !kernel.is_available() {
            return Err(Error::KernelUnavailable { kernel });
        }
        let threads = rayon::current_num_threads();
        let tasks = threads.saturating_mul(MATVEC_PARALLEL_TASKS_PER_THREAD);
        // Whole groups of eight rows, which the x86 kernels multiply side by side (on long
        // rows, and with AVX-512 on Intel on all): no task ends in a few rows multiplied one
        // at a time.
        let rows_per_task = output.len().div_ceil(tasks).max(1).next_multiple_of(8);
        output
            .par_chunks_mut(rows_per_task)
            .zip(blocks.par_chunks(rows_per_task * row_blocks))
            .try_for_each(|(out, weights)| run(kernel, weights, activations, out))
    }
}
