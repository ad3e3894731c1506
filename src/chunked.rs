//! Decoding a byte stream that arrives in chunks of any size.

use heapless::Vec;

use crate::decode::Values;
#[cfg(feature = "half")]
use crate::decode_half::HalfFloat;
use crate::{BLOCK_BYTES, BLOCK_VALUES, Decoder, Error};

/// Decodes Q4_K blocks from input that arrives in pieces: SPI flash pages, UART frames, socket
/// reads. No allocation: the only state is the partial block (at most 143 bytes) between chunks.
///
/// Whole blocks that lie inside one chunk are decoded straight from the chunk; only a block that
/// straddles two chunks is copied into the internal buffer first. Two ways to receive the values:
///
/// - [`feed`](Self::feed) calls a closure with each decoded block (`&[f32; 256]`), for code that
///   consumes values as they come (checksum, dot product, transfer to another memory);
/// - [`feed_into`](Self::feed_into) writes into a slice of yours and says how many values it
///   wrote, running the decoder's kernel on each run of whole blocks at once.
///
/// At the end of the stream, [`finish`](Self::finish) reports bytes that did not make up a whole
/// block as [`Error::TrailingBytes`].
///
/// ```
/// use q4k::ChunkedDecoder;
///
/// let input = [0u8; 3 * q4k::BLOCK_BYTES];
/// let mut stream = ChunkedDecoder::new();
/// let mut sum = 0.0f32;
/// for chunk in input.chunks(100) {                  // e.g. 100-byte reads from flash
///     stream.feed(chunk, |values| sum += values.iter().sum::<f32>())?;
/// }
/// stream.finish()?;                                 // Err(TrailingBytes) if a block was cut off
/// assert_eq!(sum, 0.0);
///
/// // Into a buffer: each call writes the values of the blocks it completes.
/// let mut output = [0f32; 3 * q4k::BLOCK_VALUES];
/// let mut written = 0;
/// for chunk in input.chunks(200) {
///     written += stream.feed_into(chunk, &mut output[written..])?;
/// }
/// stream.finish()?;
/// assert_eq!(written, output.len());
/// # Ok::<(), q4k::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ChunkedDecoder {
    decoder: Decoder,
    partial: Vec<u8, BLOCK_BYTES, u8>,
    blocks_decoded: u64,
}

impl ChunkedDecoder {
    /// A chunked decoder running [`Decoder::new`] (the best kernel).
    pub const fn new() -> Self {
        Self::with_decoder(Decoder::new())
    }

    /// A chunked decoder running `decoder` (a chosen kernel or store policy).
    pub const fn with_decoder(decoder: Decoder) -> Self {
        ChunkedDecoder {
            decoder,
            partial: Vec::new(),
            blocks_decoded: 0,
        }
    }

    /// Bytes of an incomplete block held since the last chunk (0..=143).
    pub fn pending_bytes(&self) -> usize {
        self.partial.len()
    }

    /// Blocks decoded since this decoder was created or last [finished](Self::finish).
    pub const fn blocks_decoded(&self) -> u64 {
        self.blocks_decoded
    }

    /// The number of values [`feed_into`](Self::feed_into) writes for a chunk of `chunk_len`
    /// bytes: 256 for each block that the held bytes plus the chunk complete (saturating).
    ///
    /// ```
    /// let mut stream = q4k::ChunkedDecoder::new();
    /// assert_eq!(stream.output_len(143), 0);
    /// stream.feed_into(&[0u8; 100], &mut [])?;
    /// assert_eq!(stream.output_len(44), 256);
    /// # Ok::<(), q4k::Error>(())
    /// ```
    pub fn output_len(&self, chunk_len: usize) -> usize {
        crate::output_len(self.partial.len().saturating_add(chunk_len))
    }

    /// Decodes the blocks that `chunk` completes and calls `on_block` with each one's 256 values,
    /// in stream order; keeps the bytes of a trailing incomplete block for the next call.
    ///
    /// Fails, consuming nothing, only with [`Error::KernelUnavailable`] if the decoder was set up
    /// with a kernel that cannot run here. Uses a 1 KiB buffer on the stack for the values.
    pub fn feed<F>(&mut self, chunk: &[u8], on_block: F) -> Result<(), Error>
    where
        F: FnMut(&[f32; BLOCK_VALUES]),
    {
        self.feed_blocks(chunk, |v| Values::F32(v), on_block)
    }

    /// [`feed`](Self::feed) with binary16 values (their bits, as
    /// [`decode_f16`](crate::decode_f16) writes them); a 512-byte buffer on the stack.
    pub fn feed_f16<F>(&mut self, chunk: &[u8], on_block: F) -> Result<(), Error>
    where
        F: FnMut(&[u16; BLOCK_VALUES]),
    {
        self.feed_blocks(chunk, |v| Values::F16(v), on_block)
    }

    /// [`feed`](Self::feed) with bfloat16 values (their bits, as
    /// [`decode_bf16`](crate::decode_bf16) writes them); a 512-byte buffer on the stack.
    pub fn feed_bf16<F>(&mut self, chunk: &[u8], on_block: F) -> Result<(), Error>
    where
        F: FnMut(&[u16; BLOCK_VALUES]),
    {
        self.feed_blocks(chunk, |v| Values::Bf16(v), on_block)
    }

    /// Decodes the blocks that `chunk` completes into the start of `output` and returns the
    /// number of values written (256 per block, see [`output_len`](Self::output_len)); keeps
    /// the bytes of a trailing incomplete block for the next call.
    ///
    /// `output` may be longer than needed; the rest is not written. If it is shorter, the call
    /// fails with [`Error::OutputLength`] (`expected` = the values this chunk completes) and
    /// consumes nothing: feed the same chunk again with a larger slice, or a shorter chunk.
    /// [`Error::KernelUnavailable`] likewise consumes nothing.
    pub fn feed_into(&mut self, chunk: &[u8], output: &mut [f32]) -> Result<usize, Error> {
        self.feed_values(chunk, Values::F32(output))
    }

    /// [`feed_into`](Self::feed_into) writing binary16 values (their bits, as
    /// [`decode_f16`](crate::decode_f16) writes them).
    ///
    /// ```
    /// let input = [0u8; 2 * q4k::BLOCK_BYTES];
    /// let mut stream = q4k::ChunkedDecoder::new();
    /// let mut output = [0u16; 2 * q4k::BLOCK_VALUES];
    /// let mut written = 0;
    /// for chunk in input.chunks(100) {
    ///     written += stream.feed_into_f16(chunk, &mut output[written..])?;
    /// }
    /// stream.finish()?;
    /// assert_eq!(written, output.len());
    /// # Ok::<(), q4k::Error>(())
    /// ```
    pub fn feed_into_f16(&mut self, chunk: &[u8], output: &mut [u16]) -> Result<usize, Error> {
        self.feed_values(chunk, Values::F16(output))
    }

    /// [`feed_into`](Self::feed_into) writing bfloat16 values (their bits, as
    /// [`decode_bf16`](crate::decode_bf16) writes them).
    pub fn feed_into_bf16(&mut self, chunk: &[u8], output: &mut [u16]) -> Result<usize, Error> {
        self.feed_values(chunk, Values::Bf16(output))
    }

    /// [`feed_into`](Self::feed_into) writing [`half::f16`] or [`half::bf16`] values.
    #[cfg(feature = "half")]
    #[cfg_attr(docsrs, doc(cfg(feature = "half")))]
    pub fn feed_into_half<T: HalfFloat>(
        &mut self,
        chunk: &[u8],
        output: &mut [T],
    ) -> Result<usize, Error> {
        self.feed_values(chunk, T::values(output))
    }

    /// The stream decode behind the `feed` methods, for values of type `T` that `wrap` turns
    /// into an output of the right format.
    fn feed_blocks<T, F>(
        &mut self,
        chunk: &[u8],
        wrap: fn(&mut [T]) -> Values<'_>,
        mut on_block: F,
    ) -> Result<(), Error>
    where
        T: Copy + Default,
        F: FnMut(&[T; BLOCK_VALUES]),
    {
        let decoder = self.resolved_decoder()?;
        let mut values = [T::default(); BLOCK_VALUES];
        let (completed, rest) = self.top_up(chunk);
        if completed {
            decoder.decode_values(&self.partial, wrap(&mut values))?;
            self.partial.clear();
            self.blocks_decoded = self.blocks_decoded.saturating_add(1);
            on_block(&values);
        }
        let (whole, tail) = rest.as_chunks::<BLOCK_BYTES>();
        for block in whole {
            decoder.decode_values(block, wrap(&mut values))?;
            self.blocks_decoded = self.blocks_decoded.saturating_add(1);
            on_block(&values);
        }
        self.hold(tail);
        Ok(())
    }

    /// The stream decode behind the `feed_into` methods, for an output of any format. Inline
    /// into each of them, so that each links the kernels of its own format only.
    #[inline(always)]
    fn feed_values(&mut self, chunk: &[u8], output: Values<'_>) -> Result<usize, Error> {
        let expected = self.output_len(chunk.len());
        let too_small = Error::OutputLength {
            expected,
            actual: output.len(),
        };
        let (output, _) = output.split_at(expected).ok_or(too_small)?;
        let completes_partial = !self.partial.is_empty()
            && self.partial.len().saturating_add(chunk.len()) >= BLOCK_BYTES;
        let (first_values, run_values) = if completes_partial {
            let (first, run) = output.split_at(BLOCK_VALUES).ok_or(too_small)?;
            (Some(first), run)
        } else {
            (None, output)
        };
        let decoder = self.resolved_decoder()?;
        // Nothing below fails: the lengths and the kernel are checked.
        let (completed, rest) = self.top_up(chunk);
        if let (true, Some(first_values)) = (completed, first_values) {
            decoder.decode_values(&self.partial, first_values)?;
            self.partial.clear();
        }
        let (whole, tail) = rest.split_at(rest.len() - rest.len() % BLOCK_BYTES);
        decoder.decode_values(whole, run_values)?;
        self.blocks_decoded = self
            .blocks_decoded
            .saturating_add((expected / BLOCK_VALUES) as u64);
        self.hold(tail);
        Ok(expected)
    }

    /// Ends the stream: `Ok` if it was whole blocks, [`Error::TrailingBytes`] with the number of
    /// held bytes otherwise. Either way the decoder is reset for a new stream.
    pub fn finish(&mut self) -> Result<(), Error> {
        let count = self.partial.len();
        self.partial.clear();
        self.blocks_decoded = 0;
        if count == 0 {
            Ok(())
        } else {
            Err(Error::TrailingBytes { count })
        }
    }

    /// The decoder with its kernel resolved once for this chunk; fails if the kernel cannot run,
    /// before any state changes.
    fn resolved_decoder(&self) -> Result<Decoder, Error> {
        let kernel = self.decoder.selected_kernel();
        if kernel.is_available() {
            Ok(self.decoder.kernel(kernel))
        } else {
            Err(Error::KernelUnavailable { kernel })
        }
    }

    /// Tops up the held partial block from the front of `chunk`; returns whether that completed
    /// it (the block is then `self.partial`, to be decoded and cleared) and the rest of `chunk`.
    fn top_up<'a>(&mut self, chunk: &'a [u8]) -> (bool, &'a [u8]) {
        if self.partial.is_empty() {
            return (false, chunk);
        }
        let take = chunk.len().min(BLOCK_BYTES - self.partial.len());
        let (head, rest) = chunk.split_at(take);
        self.hold(head);
        (self.partial.is_full(), rest)
    }

    /// Appends bytes that are known to fit in the partial-block buffer.
    fn hold(&mut self, bytes: &[u8]) {
        // Callers pass at most `BLOCK_BYTES - pending` bytes (a top-up, or a tail shorter than a
        // block after the buffer was emptied), so this never runs out of capacity.
        let _ = self.partial.extend_from_slice(bytes);
    }
}
