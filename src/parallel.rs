//! Multi-threaded decoding of whole tensors with rayon (feature `parallel`).
//!
//! The output is split on block boundaries into chunks of [`PARALLEL_CHUNK_BLOCKS`] blocks (by
//! default; see [`Decoder::parallel_chunk_blocks`]), and
//! the chunks are decoded by the threads of the rayon pool the caller runs in. Below
//! [`PARALLEL_THRESHOLD_BLOCKS`] blocks, or in a one-thread pool, the work stays on the calling
//! thread: waking another thread costs more than it saves there.

use rayon::prelude::*;

use crate::decode::{Values, check, run_values};
#[cfg(feature = "half")]
use crate::decode_half::HalfFloat;
use crate::{BLOCK_VALUES, BlockQ4K, Decoder, Error, Kernel};

/// Blocks per parallel task, the default of [`Decoder::parallel_chunk_blocks`]: 256 blocks are
/// 36 KiB of input and 256 KiB of output.
///
/// Large enough that the cost of a task is lost in the decode, small enough that a chunk's
/// output fits in a core's L2 cache and that a 1 MiB input still makes 29 chunks for the threads
/// to share. Measured on a 2-core Zen 5 (decode time per call, median of hundreds of samples,
/// with the scalar kernel and with a store loop standing in for a kernel as fast as the stores
/// allow): 16-block chunks cost up to a quarter of the stand-in's speed, 64 blocks about 1 %,
/// 128 to 4096 blocks were equal within the noise.
pub const PARALLEL_CHUNK_BLOCKS: usize = 256;

/// Inputs with fewer blocks than this are decoded on the calling thread by
/// [`decode_parallel`], exactly as [`decode`](fn@crate::decode) would; the default of
/// [`Decoder::parallel_threshold_blocks`].
///
/// 1024 blocks are 144 KiB of input and 1 MiB of output. Measured on a 2-core Zen 5 by timing
/// the serial decode against a split in a 2-thread pool at 64 to 8192 blocks (fastest of
/// hundreds of samples): with the scalar kernel the split paid off from about 256 blocks
/// (1.45x; 1.6-1.8x at 384-512), with a store loop standing in for a kernel as fast as the
/// stores allow it gave 1.15x at 512 blocks, 1.4x at 768 and 1.6x at 1024. The threshold is
/// where even the fastest possible kernel gains clearly, so small inputs are never slower than
/// `decode`.
pub const PARALLEL_THRESHOLD_BLOCKS: usize = 1024;

/// How a [`Decoder`] splits work across threads: the tuning constants, settable per decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Split {
    /// Fewer blocks than this stay on the calling thread.
    threshold_blocks: usize,
    /// Blocks per task, at least 1.
    chunk_blocks: usize,
}

impl Split {
    pub(crate) const DEFAULT: Split = Split {
        threshold_blocks: PARALLEL_THRESHOLD_BLOCKS,
        chunk_blocks: PARALLEL_CHUNK_BLOCKS,
    };
}

#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
impl Decoder {
    /// Sets the block count below which [`decode_parallel`](Self::decode_parallel) stays on the
    /// calling thread (default [`PARALLEL_THRESHOLD_BLOCKS`]).
    #[must_use]
    pub const fn parallel_threshold_blocks(mut self, blocks: usize) -> Self {
        self.parallel.threshold_blocks = blocks;
        self
    }

    /// Sets the blocks per parallel task (default [`PARALLEL_CHUNK_BLOCKS`]; 0 counts as 1).
    #[must_use]
    pub const fn parallel_chunk_blocks(mut self, blocks: usize) -> Self {
        self.parallel.chunk_blocks = if blocks == 0 { 1 } else { blocks };
        self
    }

    /// Decodes on the threads of the current rayon pool; same contract and same output as
    /// [`decode`](Self::decode), see [`decode_parallel`].
    ///
    /// The store policy is resolved once, for the whole output, before the work is split.
    ///
    /// ```
    /// use q4k::{Decoder, Kernel};
    ///
    /// let input = vec![0u8; 4096 * q4k::BLOCK_BYTES];
    /// let mut output = vec![0f32; q4k::output_len(input.len())];
    /// Decoder::new().kernel(Kernel::Scalar).decode_parallel(&input, &mut output)?;
    /// # Ok::<(), q4k::Error>(())
    /// ```
    pub fn decode_parallel(&self, input: &[u8], output: &mut [f32]) -> Result<(), Error> {
        self.parallel_values(input, Values::F32(output))
    }

    /// Decodes to binary16 bits on the threads of the current rayon pool; same contract as
    /// [`decode_f16`](Self::decode_f16), and the store policy is resolved as in
    /// [`decode_parallel`](Self::decode_parallel).
    pub fn decode_f16_parallel(&self, input: &[u8], output: &mut [u16]) -> Result<(), Error> {
        self.parallel_values(input, Values::F16(output))
    }

    /// Decodes to bfloat16 bits on the threads of the current rayon pool; same contract as
    /// [`decode_bf16`](Self::decode_bf16), and the store policy is resolved as in
    /// [`decode_parallel`](Self::decode_parallel).
    pub fn decode_bf16_parallel(&self, input: &[u8], output: &mut [u16]) -> Result<(), Error> {
        self.parallel_values(input, Values::Bf16(output))
    }

    /// Decodes to [`half::f16`] or [`half::bf16`] values on the threads of the current rayon
    /// pool; same as [`decode_f16_parallel`](Self::decode_f16_parallel) or
    /// [`decode_bf16_parallel`](Self::decode_bf16_parallel).
    #[cfg(feature = "half")]
    #[cfg_attr(docsrs, doc(cfg(feature = "half")))]
    pub fn decode_half_parallel<T: HalfFloat>(
        &self,
        input: &[u8],
        output: &mut [T],
    ) -> Result<(), Error> {
        self.parallel_values(input, T::values(output))
    }

    /// The parallel decode of an output of any format.
    fn parallel_values(&self, input: &[u8], output: Values<'_>) -> Result<(), Error> {
        let blocks = check(input, output.len())?;
        let kernel = self.selected_kernel();
        let streaming = self.streams(output.bytes());
        if blocks.len() < self.parallel.threshold_blocks || rayon::current_num_threads() < 2 {
            // Small inputs and one-thread pools take exactly the path of `decode`.
            return run_values(kernel, blocks, output, streaming);
        }
        if !kernel.is_available() {
            return Err(Error::KernelUnavailable { kernel });
        }
        let chunk = self.parallel.chunk_blocks;
        let task =
            |blocks: &[BlockQ4K], out: Values<'_>| run_values(kernel, blocks, out, streaming);
        match output {
            Values::F32(out) => split(blocks, out, chunk, |b, o| task(b, Values::F32(o))),
            Values::F16(out) => split(blocks, out, chunk, |b, o| task(b, Values::F16(o))),
            Values::Bf16(out) => split(blocks, out, chunk, |b, o| task(b, Values::Bf16(o))),
        }
    }
}

/// Runs `task` on chunks of `chunk` blocks and their outputs, on the threads of the pool.
fn split<T: Send>(
    blocks: &[BlockQ4K],
    output: &mut [T],
    chunk: usize,
    task: impl Fn(&[BlockQ4K], &mut [T]) -> Result<(), Error> + Sync,
) -> Result<(), Error> {
    output
        .par_chunks_mut(chunk.saturating_mul(BLOCK_VALUES))
        .zip(blocks.par_chunks(chunk))
        .try_for_each(|(out, blocks)| task(blocks, out))
}

/// Decodes Q4_K blocks into `f32` values on the threads of the current rayon pool, with the
/// fastest kernel this CPU has.
///
/// Same contract and same output bits as [`decode`](fn@crate::decode): the lengths are checked
/// before anything is written, and on error the output is untouched. Runs in the pool of the
/// caller (`pool.install(|| ...)`), or rayon's global pool; inputs below
/// [`PARALLEL_THRESHOLD_BLOCKS`] blocks stay on the calling thread. No allocation.
///
/// ```
/// let input = vec![0u8; 4096 * q4k::BLOCK_BYTES];
/// let mut output = vec![0f32; q4k::output_len(input.len())];
/// q4k::decode_parallel(&input, &mut output)?;
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn decode_parallel(input: &[u8], output: &mut [f32]) -> Result<(), Error> {
    Decoder::new().decode_parallel(input, output)
}

/// Decodes Q4_K blocks on the threads of the current rayon pool with one chosen kernel.
///
/// Same contract as [`decode_with`](crate::decode_with): the length checks come first, then
/// [`Error::KernelUnavailable`] if `kernel` cannot run here.
///
/// ```
/// let input = vec![0u8; 4096 * q4k::BLOCK_BYTES];
/// let mut output = vec![0f32; q4k::output_len(input.len())];
/// q4k::decode_parallel_with(q4k::Kernel::Scalar, &input, &mut output)?;
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn decode_parallel_with(kernel: Kernel, input: &[u8], output: &mut [f32]) -> Result<(), Error> {
    Decoder::new().kernel(kernel).decode_parallel(input, output)
}

/// Decodes Q4_K blocks into binary16 bits on the threads of the current rayon pool; the same
/// output as [`decode_f16`](crate::decode_f16), split as [`decode_parallel`] splits.
///
/// ```
/// let input = vec![0u8; 4096 * q4k::BLOCK_BYTES];
/// let mut output = vec![0u16; q4k::output_len(input.len())];
/// q4k::decode_f16_parallel(&input, &mut output)?;
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn decode_f16_parallel(input: &[u8], output: &mut [u16]) -> Result<(), Error> {
    Decoder::new().decode_f16_parallel(input, output)
}

/// Decodes Q4_K blocks into bfloat16 bits on the threads of the current rayon pool; the same
/// output as [`decode_bf16`](crate::decode_bf16), split as [`decode_parallel`] splits.
///
/// ```
/// let input = vec![0u8; 4096 * q4k::BLOCK_BYTES];
/// let mut output = vec![0u16; q4k::output_len(input.len())];
/// q4k::decode_bf16_parallel(&input, &mut output)?;
/// # Ok::<(), q4k::Error>(())
/// ```
pub fn decode_bf16_parallel(input: &[u8], output: &mut [u16]) -> Result<(), Error> {
    Decoder::new().decode_bf16_parallel(input, output)
}
