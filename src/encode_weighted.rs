//! Encoding `f32` to Q4_K with an importance vector: [`encode_weighted`],
//! [`encode_weighted_with`], their parallel versions, the checks, and the one dispatch point
//! from a [`Kernel`] to its weighted-encode kernel.

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
use crate::encode::{Bf16, Element, F16, F32, check_finite};
use crate::{BLOCK_BYTES, BLOCK_VALUES, Error, Kernel, scalar};

/// The number of encoded bytes for `values` input values (whole blocks).
const fn encoded_len(values: usize) -> usize {
    values / BLOCK_VALUES * BLOCK_BYTES
}

/// Checks the lengths (`input_len` values in), then the importance values, and returns the
/// first problem.
fn check_shape(input_len: usize, importance: &[f32], output: &[u8]) -> Result<(), Error> {
    let row = importance.len();
    if row == 0 || !row.is_multiple_of(BLOCK_VALUES) {
        return Err(Error::ImportanceLength { len: row });
    }
    if !input_len.is_multiple_of(row) {
        return Err(Error::InputRows {
            len: input_len,
            row,
        });
    }
    let expected = encoded_len(input_len);
    if output.len() != expected {
        return Err(Error::EncodeLength {
            values: input_len,
            output: output.len(),
        });
    }
    if let Some(index) = importance.iter().position(|v| !v.is_finite() || *v < 0.0) {
        return Err(if importance[index].is_finite() {
            Error::NegativeImportance { index }
        } else {
            Error::ImportanceNonFinite { index }
        });
    }
    Ok(())
}

/// Checks the lengths, then the importance values, then the input values, in that order, and
/// returns the first problem.
pub(crate) fn check(input: &[f32], importance: &[f32], output: &[u8]) -> Result<(), Error> {
    check_shape(input.len(), importance, output)?;
    check_finite::<F32>(input)
}

/// Encodes the whole blocks of `input` into `out` with `kernel`. `importance` is one row of
/// importance values and `first` the position in its row (in blocks) of `input`'s first block;
/// everything was checked by the caller. The one dispatch point of the weighted encoder.
pub(crate) fn run(
    kernel: Kernel,
    input: &[f32],
    importance: &[f32],
    first: usize,
    out: &mut [u8],
) -> Result<(), Error> {
    if !kernel.is_available() {
        return Err(Error::KernelUnavailable { kernel });
    }
    match kernel {
        Kernel::Scalar => {
            scalar::encode_weighted::encode_blocks(input, importance, first, out);
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: this build's float ABI has SSE2 (the module's cfg), so every CPU it runs on
        // has it.
        Kernel::Sse2 => unsafe {
            arch::x86_64::sse2::encode_weighted::encode(input, importance, first, out);
        },
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: `is_available` checked AVX2 (and FMA, which this kernel does not use) above.
        Kernel::Avx2 => unsafe {
            arch::x86_64::avx2::encode_weighted::encode(input, importance, first, out);
        },
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: `is_available` checked AVX-512F above.
        Kernel::Avx512 => unsafe {
            arch::x86_64::avx512::encode_weighted::encode(input, importance, first, out);
        },
        #[cfg(all(
            target_arch = "aarch64",
            target_feature = "neon",
            target_endian = "little"
        ))]
        // SAFETY: this build has NEON in its target features (the module's cfg), so every CPU
        // it runs on has it.
        Kernel::Neon => unsafe {
            arch::aarch64::neon::encode_weighted::encode(input, importance, first, out);
        },
        #[allow(unreachable_patterns)]
        _ => return Err(Error::KernelUnavailable { kernel }),
    }
    Ok(())
}

/// Encodes `f32` values to Q4_K blocks the way llama.cpp's `quantize_q4_K` does when it is
/// given an importance matrix, byte for byte, with the fastest kernel this CPU has.
///
/// `importance` holds one non-negative weight per position of a row; its length is the row
/// length, a non-zero multiple of 256. `input` holds whole rows of that length, and `output`
/// must be exactly `input.len() / 256 * 144` bytes. Each row is encoded on its own with the
/// same importance vector, as llama.cpp does.
///
/// Errors, with the output untouched: wrong lengths ([`Error::ImportanceLength`],
/// [`Error::InputRows`], [`Error::EncodeLength`]); a NaN or infinite or negative importance
/// value ([`Error::ImportanceNonFinite`], [`Error::NegativeImportance`]); a NaN or infinite
/// input value ([`Error::NonFinite`]). Each names the first bad index.
///
/// ```
/// let row: Vec<f32> = (0..512).map(|i| (i as f32 * 0.37).sin()).collect();
/// let importance = vec![1.0f32; 512];
/// let mut blocks = vec![0u8; 2 * q4k::BLOCK_BYTES];
/// q4k::encode_weighted(&row, &importance, &mut blocks)?;
///
/// let mut back = vec![0f32; 512];
/// q4k::decode(&blocks, &mut back)?;
/// assert!(row.iter().zip(&back).all(|(a, b)| (a - b).abs() < 0.1));
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn encode_weighted(input: &[f32], importance: &[f32], output: &mut [u8]) -> Result<(), Error> {
    encode_weighted_with(Kernel::best(), input, importance, output)
}

/// [`encode_weighted`] with one chosen kernel: the same bytes from every kernel.
///
/// The checks come first, then [`Error::KernelUnavailable`] if `kernel` cannot run here.
pub fn encode_weighted_with(
    kernel: Kernel,
    input: &[f32],
    importance: &[f32],
    output: &mut [u8],
) -> Result<(), Error> {
    check(input, importance, output)?;
    run(kernel, input, importance, 0, output)
}

/// Blocks widened to `f32` at a time by the f16 and bf16 entry points (8 KiB on the stack).
const WIDEN_BLOCKS: usize = 8;

/// The f16 and bf16 entry points: checks everything on the narrow values, then widens
/// [`WIDEN_BLOCKS`] blocks at a time into a stack buffer and encodes them.
fn encode_widened<E: Element<Raw = u16>>(
    kernel: Kernel,
    input: &[u16],
    importance: &[f32],
    output: &mut [u8],
) -> Result<(), Error> {
    check_shape(input.len(), importance, output)?;
    check_finite::<E>(input)?;
    if !kernel.is_available() {
        return Err(Error::KernelUnavailable { kernel });
    }
    let per_row = importance.len() / BLOCK_VALUES;
    let mut wide = [0.0f32; WIDEN_BLOCKS * BLOCK_VALUES];
    for (c, (narrow, out)) in input
        .chunks(WIDEN_BLOCKS * BLOCK_VALUES)
        .zip(output.chunks_mut(WIDEN_BLOCKS * BLOCK_BYTES))
        .enumerate()
    {
        let wide = &mut wide[..narrow.len()];
        E::widen_slice(narrow, wide);
        run(kernel, wide, importance, c * WIDEN_BLOCKS % per_row, out)?;
    }
    Ok(())
}

/// [`encode_weighted`] for values stored as IEEE 754 half precision (f16 bits, as in most
/// published models): the same bytes as widening them to `f32` first, without a buffer for
/// the whole input.
///
/// ```
/// let row: Vec<u16> = (0..256).map(|i| 0x3C00 + i as u16).collect(); // 1.0, 1.000977, ...
/// let mut block = [0u8; q4k::BLOCK_BYTES];
/// q4k::encode_weighted_f16(&row, &[1.0; 256], &mut block)?;
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn encode_weighted_f16(
    input: &[u16],
    importance: &[f32],
    output: &mut [u8],
) -> Result<(), Error> {
    encode_widened::<F16>(Kernel::best(), input, importance, output)
}

/// [`encode_weighted`] for values stored as bfloat16 (the top 16 bits of an `f32`): the same
/// bytes as widening them to `f32` first, without a buffer for the whole input.
///
/// ```
/// let row: Vec<u16> = (0..256).map(|i| (0.01f32 * i as f32).to_bits().wrapping_shr(16) as u16).collect();
/// let mut block = [0u8; q4k::BLOCK_BYTES];
/// q4k::encode_weighted_bf16(&row, &[1.0; 256], &mut block)?;
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn encode_weighted_bf16(
    input: &[u16],
    importance: &[f32],
    output: &mut [u8],
) -> Result<(), Error> {
    encode_widened::<Bf16>(Kernel::best(), input, importance, output)
}

/// [`encode_weighted`] for [`half::f16`] or [`half::bf16`] values: the bytes of
/// [`encode_weighted_f16`] or [`encode_weighted_bf16`] on their bits.
///
/// ```
/// let row = vec![half::bf16::from_f32(-0.25); 256];
/// let mut block = [0u8; q4k::BLOCK_BYTES];
/// q4k::encode_weighted_half(&row, &[1.0; 256], &mut block)?;
/// # Ok::<(), q4k::Error>(())
/// ```
#[cfg(feature = "half")]
#[cfg_attr(docsrs, doc(cfg(feature = "half")))]
pub fn encode_weighted_half<T: HalfFloat>(
    input: &[T],
    importance: &[f32],
    output: &mut [u8],
) -> Result<(), Error> {
    match T::bits(input) {
        HalfBits::F16(bits) => encode_weighted_f16(bits, importance, output),
        HalfBits::Bf16(bits) => encode_weighted_bf16(bits, importance, output),
    }
}

/// Blocks per parallel task of [`encode_weighted_parallel`]: 16 blocks take tens of
/// microseconds to encode, far more than handing a task to another thread costs, and a
/// 4096 x 4096 matrix still makes 4096 tasks to share.
#[cfg(feature = "parallel")]
const PARALLEL_CHUNK_BLOCKS: usize = 16;

/// [`encode_weighted`] on the threads of the current rayon pool (`pool.install(|| ...)`, or
/// rayon's global pool): the same checks, the same bytes.
///
/// The blocks are split into tasks of 16; fewer than 32 blocks, or a one-thread pool, stay on
/// the calling thread. No allocation.
///
/// ```
/// let input = vec![0.25f32; 64 * 256];
/// let importance = vec![1.0f32; 4096];
/// let mut blocks = vec![0u8; 64 * q4k::BLOCK_BYTES];
/// q4k::encode_weighted_parallel(&input, &importance, &mut blocks)?;
/// # Ok::<(), q4k::Error>(())
/// ```
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub fn encode_weighted_parallel(
    input: &[f32],
    importance: &[f32],
    output: &mut [u8],
) -> Result<(), Error> {
    encode_weighted_parallel_with(Kernel::best(), input, importance, output)
}

/// [`encode_weighted_parallel`] with one chosen kernel: the checks come first, then
/// [`Error::KernelUnavailable`] if `kernel` cannot run here.
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub fn encode_weighted_parallel_with(
    kernel: Kernel,
    input: &[f32],
    importance: &[f32],
    output: &mut [u8],
) -> Result<(), Error> {
    let blocks = input.len() / BLOCK_VALUES;
    if blocks < 2 * PARALLEL_CHUNK_BLOCKS || rayon::current_num_threads() < 2 {
        check(input, importance, output)?;
        return run(kernel, input, importance, 0, output);
    }
    split_tasks::<F32>(kernel, input, importance, output, |x, first, out| {
        run(kernel, x, importance, first, out)
    })
}

/// The parallel entry points on a large input: the checks in the serial order (the shapes, the
/// first non-finite value, the kernel), with the scan of the input split across the threads of
/// the pool; then `task(values, first, out)` for each [`PARALLEL_CHUNK_BLOCKS`] blocks of
/// `input`, `first` being the position in its row (in blocks) of the task's first block.
#[cfg(feature = "parallel")]
fn split_tasks<E: Element>(
    kernel: Kernel,
    input: &[E::Raw],
    importance: &[f32],
    output: &mut [u8],
    task: impl Fn(&[E::Raw], usize, &mut [u8]) -> Result<(), Error> + Sync + Send,
) -> Result<(), Error> {
    use rayon::prelude::*;

    check_shape(input.len(), importance, output)?;
    let scan = PARALLEL_CHUNK_BLOCKS * BLOCK_VALUES;
    if let Some(index) = input
        .par_chunks(scan)
        .enumerate()
        .find_map_first(|(c, values)| match check_finite::<E>(values) {
            Err(Error::NonFinite { index }) => Some(c * scan + index),
            _ => None,
        })
    {
        return Err(Error::NonFinite { index });
    }
    if !kernel.is_available() {
        return Err(Error::KernelUnavailable { kernel });
    }
    let per_row = importance.len() / BLOCK_VALUES;
    input
        .par_chunks(PARALLEL_CHUNK_BLOCKS * BLOCK_VALUES)
        .zip(output.par_chunks_mut(PARALLEL_CHUNK_BLOCKS * BLOCK_BYTES))
        .enumerate()
        .try_for_each(|(c, (values, out))| task(values, c * PARALLEL_CHUNK_BLOCKS % per_row, out))
}

/// [`encode_weighted_f16`] on the threads of the current rayon pool: the same checks, the same
/// bytes, split as [`encode_weighted_parallel`] splits `f32` input; each task widens its 16
/// blocks on its own stack (16 KiB). No allocation.
///
/// ```
/// let input = vec![0x3555u16; 64 * 256]; // 0.333 in f16
/// let importance = vec![1.0f32; 4096];
/// let mut blocks = vec![0u8; 64 * q4k::BLOCK_BYTES];
/// q4k::encode_weighted_f16_parallel(&input, &importance, &mut blocks)?;
/// # Ok::<(), q4k::Error>(())
/// ```
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub fn encode_weighted_f16_parallel(
    input: &[u16],
    importance: &[f32],
    output: &mut [u8],
) -> Result<(), Error> {
    encode_widened_parallel::<F16>(Kernel::best(), input, importance, output)
}

/// [`encode_weighted_bf16`] on the threads of the current rayon pool; see
/// [`encode_weighted_f16_parallel`].
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub fn encode_weighted_bf16_parallel(
    input: &[u16],
    importance: &[f32],
    output: &mut [u8],
) -> Result<(), Error> {
    encode_widened_parallel::<Bf16>(Kernel::best(), input, importance, output)
}

/// [`encode_weighted_half`] on the threads of the current rayon pool; see
/// [`encode_weighted_f16_parallel`].
#[cfg(all(feature = "parallel", feature = "half"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "parallel", feature = "half"))))]
pub fn encode_weighted_half_parallel<T: HalfFloat>(
    input: &[T],
    importance: &[f32],
    output: &mut [u8],
) -> Result<(), Error> {
    match T::bits(input) {
        HalfBits::F16(bits) => encode_weighted_f16_parallel(bits, importance, output),
        HalfBits::Bf16(bits) => encode_weighted_bf16_parallel(bits, importance, output),
    }
}

/// The parallel f16 and bf16 entry points: small inputs and one-thread pools take
/// [`encode_widened`]; larger ones are checked as a whole, then split into tasks of
/// [`PARALLEL_CHUNK_BLOCKS`] blocks that each widen their values and encode them.
#[cfg(feature = "parallel")]
fn encode_widened_parallel<E: Element<Raw = u16>>(
    kernel: Kernel,
    input: &[u16],
    importance: &[f32],
    output: &mut [u8],
) -> Result<(), Error> {
    if input.len() / BLOCK_VALUES < 2 * PARALLEL_CHUNK_BLOCKS || rayon::current_num_threads() < 2 {
        return encode_widened::<E>(kernel, input, importance, output);
    }
    split_tasks::<E>(kernel, input, importance, output, |narrow, first, out| {
        let mut wide = [0.0f32; PARALLEL_CHUNK_BLOCKS * BLOCK_VALUES];
        let wide = &mut wide[..narrow.len()];
        E::widen_slice(narrow, wide);
        run(kernel, wide, importance, first, out)
    })
}
