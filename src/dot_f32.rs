//! Q4_K weights times `f32` activations: [`dot_f32`], [`matvec_f32`], their `_with` forms
//! that name the kernel, and the one dispatch point from a [`Kernel`] to its kernel.

#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(
        target_arch = "aarch64",
        target_feature = "neon",
        target_endian = "little"
    )
))]
use crate::arch;
use crate::{BLOCK_BYTES, BLOCK_VALUES, BlockQ4K, Error, Kernel, blocks, scalar};

/// Writes `out[r] = dot(row r, activations)` for each row: `out.len()` rows of
/// `activations.len() / 256` blocks back to back in `blocks` (rows beyond either length are not
/// touched; without activations every row is `+0.0`). The row loop of every kernel:
/// `inline(always)`, so that it is compiled into each kernel's `#[target_feature]` function.
#[inline(always)]
pub(crate) fn for_each_row(
    blocks: &[BlockQ4K],
    activations: &[f32],
    out: &mut [f32],
    mut dot: impl FnMut(&[BlockQ4K], &[[f32; BLOCK_VALUES]]) -> f32,
) {
    let (chunks, _) = activations.as_chunks::<BLOCK_VALUES>();
    if chunks.is_empty() {
        out.fill(0.0);
        return;
    }
    for (row, out) in blocks.chunks_exact(chunks.len()).zip(out) {
        *out = dot(row, chunks);
    }
}

/// Checks that `activations` is whole blocks and `weights` holds exactly `rows` rows of one
/// block per 256 activations; returns the weights as blocks.
fn check<'a>(weights: &'a [u8], activations: &[f32], rows: usize) -> Result<&'a [BlockQ4K], Error> {
    let len = activations.len();
    if !len.is_multiple_of(BLOCK_VALUES) {
        return Err(Error::ActivationLength { len });
    }
    let row_bytes = len / BLOCK_VALUES * BLOCK_BYTES;
    if rows.checked_mul(row_bytes) != Some(weights.len()) {
        return Err(Error::WeightsLength {
            len: weights.len(),
            rows,
            row_bytes,
        });
    }
    // Whole blocks: `weights.len()` is a multiple of `row_bytes`, itself of 144.
    blocks(weights)
}

/// Multiplies `out.len()` rows of `activations.len() / 256` blocks each (lengths checked by
/// the caller) by `activations` with `kernel`. The one dispatch point of the `f32` products:
/// availability is checked here, before anything is written.
fn run(
    kernel: Kernel,
    blocks: &[BlockQ4K],
    activations: &[f32],
    out: &mut [f32],
) -> Result<(), Error> {
    if !kernel.is_available() {
        return Err(Error::KernelUnavailable { kernel });
    }
    match kernel {
        Kernel::Scalar => scalar::dot_f32::matvec(blocks, activations, out),
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: this build's float ABI has SSE2 (the module's cfg), so every CPU it runs on
        // has it.
        Kernel::Sse2 => unsafe { arch::x86_64::sse2::dot_f32::matvec(blocks, activations, out) },
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: `is_available` checked AVX2 and FMA above.
        Kernel::Avx2 => unsafe { arch::x86_64::avx2::dot_f32::matvec(blocks, activations, out) },
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: `is_available` checked AVX-512F above.
        Kernel::Avx512 => unsafe {
            arch::x86_64::avx512::dot_f32::matvec(blocks, activations, out)
        },
        #[cfg(all(
            target_arch = "aarch64",
            target_feature = "neon",
            target_endian = "little"
        ))]
        // SAFETY: this build has NEON in its target features (the module's cfg), so the
        // kernel's one target feature is present on every CPU it runs on.
        Kernel::Neon => unsafe { arch::aarch64::neon::dot_f32::matvec(blocks, activations, out) },
        #[allow(unreachable_patterns)]
        _ => return Err(Error::KernelUnavailable { kernel }),
    }
    Ok(())
}

/// The dot product of one row of Q4_K weights with `f32` activations, with the fastest kernel
/// this CPU has.
///
/// `weights` holds `activations.len() / 256` blocks (144 bytes each, no alignment needed);
/// `activations.len()` must be a multiple of 256. The weights are not rounded to anything
/// coarser: each weight is exactly the `f32` that [`decode`](fn@crate::decode) gives, and the
/// activations are used as they are.
///
/// # The summation order
///
/// Every kernel (scalar, SSE2, AVX2, AVX-512, NEON, and the scalar kernel on a
/// microcontroller) computes exactly this, each multiply and each add rounded on its own in
/// `f32` (no fused multiply-add), so all of them return the same bits:
///
/// 1. `w[i]` is weight `i` of the row decoded as [`decode`](fn@crate::decode) does, and
///    `p[i] = w[i] * a[i]`.
/// 2. Sixteen lanes `acc[0..16]` start at `+0.0`. For each block in order, with its 256
///    products `p[0..256]` and `j` in `0..16`, sub-block `s` (0..8) gives
///    `t[s] = p[32s + j] + p[32s + 16 + j]`, and the lane takes
///    `acc[j] = acc[j] + (((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7])))`.
/// 3. The lanes are reduced by halves: `h8[j] = acc[j] + acc[j + 8]`,
///    `h4[j] = h8[j] + h8[j + 4]`, `h2[j] = h4[j] + h4[j + 2]`, and the result is
///    `h2[0] + h2[1]`.
///
/// Sixteen lanes are one AVX-512 vector, two AVX2 and four SSE2 or NEON vectors; the tree
/// inside a block keeps a single dependent add per block, so a kernel is never waiting on its
/// accumulator. An empty row gives `+0.0`.
///
/// # Accuracy
///
/// Against the exact dot product of the decoded weights, the error of this order is at most
/// `(n / 256 + 9) * 2^-24 * sum |w[i] * a[i]|` for `n` activations (each value passes through
/// one multiply, four adds in its block's tree, one add per block and four in the reduction),
/// plus the underflow of tiny products. In practice it is far smaller. Measured against an
/// `f64` dot product of the decoded weights, over 4096 random rows of 4096 values (f16 `d` and
/// `dmin` between 2^-10 and 2^-3, random scales and quants, activations normal with standard
/// deviation 1; `examples/matvec_f32.rs`):
///
/// | error | median | max |
/// |---|---|---|
/// | relative to the exact result | 8.9e-8 | 2.9e-4 (rows that nearly cancel) |
/// | relative to `sum abs(w[i] * a[i])` | 3.0e-9 | 2.1e-8 |
///
/// (`f32` epsilon is 1.2e-7; the bound above is 1.5e-6 of the second kind.)
///
/// # Non-finite values
///
/// Infinities and NaN propagate as IEEE 754 says: a NaN activation, or a block whose `d` or
/// `dmin` is an f16 infinity or NaN, makes the result NaN (or infinite) in every kernel alike.
/// NaN payloads may differ between kernels.
///
/// # Errors
///
/// [`Error::ActivationLength`] if `activations.len()` is not a multiple of 256, and
/// [`Error::WeightsLength`] (with `rows` 1) if `weights` is not one row of
/// `activations.len() / 256` blocks.
///
/// ```
/// let weights = [0u8; 2 * q4k::BLOCK_BYTES];
/// let activations = [1.0f32; 512];
/// assert_eq!(q4k::dot_f32(&weights, &activations)?, 0.0);
/// assert!(q4k::dot_f32(&weights, &activations[..256]).is_err());
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn dot_f32(weights: &[u8], activations: &[f32]) -> Result<f32, Error> {
    dot_f32_with(Kernel::best(), weights, activations)
}

/// [`dot_f32`] with one chosen kernel.
///
/// Same contract and same bits as [`dot_f32`]; the length checks come first, then
/// [`Error::KernelUnavailable`] if `kernel` cannot run here.
///
/// ```
/// let weights = [0u8; q4k::BLOCK_BYTES];
/// let activations = [0.5f32; 256];
/// let result = q4k::dot_f32_with(q4k::Kernel::Scalar, &weights, &activations)?;
/// assert_eq!(result.to_bits(), q4k::dot_f32(&weights, &activations)?.to_bits());
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn dot_f32_with(kernel: Kernel, weights: &[u8], activations: &[f32]) -> Result<f32, Error> {
    let blocks = check(weights, activations, 1)?;
    let mut out = [0f32];
    run(kernel, blocks, activations, &mut out)?;
    Ok(out[0])
}

/// A matrix of Q4_K weights times a vector of `f32` activations, with the fastest kernel this
/// CPU has.
///
/// `weights` holds `output.len()` rows back to back (row-major, as GGUF stores a matrix), each
/// of `activations.len() / 256` blocks; `activations.len()` must be a multiple of 256.
/// `output[r]` is exactly [`dot_f32`] of row `r`, bit for bit, whatever the kernel.
///
/// # Errors
///
/// [`Error::ActivationLength`] if `activations.len()` is not a multiple of 256, and
/// [`Error::WeightsLength`] if `weights` is not `output.len()` rows of
/// `activations.len() / 256` blocks. The output is untouched on error.
///
/// ```
/// let (rows, columns) = (3, 512);
/// let weights = vec![0u8; rows * columns / 256 * q4k::BLOCK_BYTES];
/// let activations = vec![1.0f32; columns];
/// let mut output = vec![f32::NAN; rows];
/// q4k::matvec_f32(&weights, &activations, &mut output)?;
/// assert_eq!(output, [0.0; 3]);
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn matvec_f32(weights: &[u8], activations: &[f32], output: &mut [f32]) -> Result<(), Error> {
    matvec_f32_with(Kernel::best(), weights, activations, output)
}

/// [`matvec_f32`] with one chosen kernel.
///
/// Same contract and same bits as [`matvec_f32`]; the length checks come first, then
/// [`Error::KernelUnavailable`] if `kernel` cannot run here.
///
/// ```
/// let weights = [0u8; 2 * q4k::BLOCK_BYTES];
/// let mut output = [1.0f32; 2];
/// q4k::matvec_f32_with(q4k::Kernel::Scalar, &weights, &[1.0; 256], &mut output)?;
/// assert_eq!(output, [0.0; 2]);
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn matvec_f32_with(
    kernel: Kernel,
    weights: &[u8],
    activations: &[f32],
    output: &mut [f32],
) -> Result<(), Error> {
    let blocks = check(weights, activations, output.len())?;
    run(kernel, blocks, activations, output)
}

/// [`matvec_f32`] on the threads of the current rayon pool, with the fastest kernel this CPU
/// has.
///
/// Same contract and same output bits as [`matvec_f32`]. The rows are split into tasks of about
/// [`PARALLEL_CHUNK_BLOCKS`](crate::PARALLEL_CHUNK_BLOCKS) blocks (whole rows, at least one),
/// shared by the threads of the pool the caller runs in (`pool.install(|| ...)`), or rayon's
/// global pool. Matrices of fewer than
/// [`PARALLEL_THRESHOLD_BLOCKS`](crate::PARALLEL_THRESHOLD_BLOCKS) blocks, single rows and
/// one-thread pools stay on the calling thread. No allocation.
///
/// # Errors
///
/// As [`matvec_f32`]; the output is untouched on error.
///
/// ```
/// let (rows, columns) = (64, 4096);
/// let weights = vec![0u8; rows * columns / 256 * q4k::BLOCK_BYTES];
/// let mut output = vec![1.0f32; rows];
/// q4k::matvec_f32_parallel(&weights, &vec![1.0; columns], &mut output)?;
/// assert!(output.iter().all(|v| *v == 0.0));
/// # Ok::<(), q4k::Error>(())
/// ```
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub fn matvec_f32_parallel(
    weights: &[u8],
    activations: &[f32],
    output: &mut [f32],
) -> Result<(), Error> {
    matvec_f32_parallel_with(Kernel::best(), weights, activations, output)
}

/// [`matvec_f32_parallel`] with one chosen kernel.
///
/// Same contract and same bits as [`matvec_f32`]; the length checks come first, then
/// [`Error::KernelUnavailable`] if `kernel` cannot run here.
///
/// ```
/// let weights = vec![0u8; 8 * q4k::BLOCK_BYTES];
/// let mut output = [1.0f32; 8];
/// q4k::matvec_f32_parallel_with(q4k::Kernel::Scalar, &weights, &[1.0; 256], &mut output)?;
/// # Ok::<(), q4k::Error>(())
/// ```
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub fn matvec_f32_parallel_with(
    kernel: Kernel,
    weights: &[u8],
    activations: &[f32],
    output: &mut [f32],
) -> Result<(), Error> {
    use rayon::prelude::*;

    let blocks = check(weights, activations, output.len())?;
    if blocks.len() < crate::PARALLEL_THRESHOLD_BLOCKS
        || output.len() < 2
        || rayon::current_num_threads() < 2
    {
        return run(kernel, blocks, activations, output);
    }
    if !kernel.is_available() {
        return Err(Error::KernelUnavailable { kernel });
    }
    // At least one block per row here: `blocks` is not empty.
    let per_row = activations.len() / BLOCK_VALUES;
    let rows_per_task = (crate::PARALLEL_CHUNK_BLOCKS / per_row).max(1);
    output
        .par_chunks_mut(rows_per_task)
        .zip(blocks.par_chunks(rows_per_task * per_row))
        .try_for_each(|(out, blocks)| run(kernel, blocks, activations, out))
}
