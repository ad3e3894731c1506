//! Decoding options: which kernel, and how the output is stored.

use crate::{Error, Kernel, check};

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
    /// Streaming stores when the output is larger than
    /// [`STREAMING_THRESHOLD_BYTES`](crate::STREAMING_THRESHOLD_BYTES), ordinary stores below.
    #[default]
    Auto,
    /// Always ordinary stores: the output stays in the caches for the code that reads it next.
    Cached,
    /// Always streaming stores, where the kernel has them (SIMD kernels on x86_64).
    Streaming,
}

impl Stores {
    /// Whether to stream an output of `output_bytes` bytes.
    pub(crate) const fn streaming(self, output_bytes: usize) -> bool {
        match self {
            Stores::Auto => output_bytes > crate::STREAMING_THRESHOLD_BYTES,
            Stores::Cached => false,
            Stores::Streaming => true,
        }
    }
}

/// A decode configuration: the kernel (the best one by default) and the store policy.
///
/// [`decode`](crate::decode) and [`decode_with`](crate::decode_with) are shortcuts for the
/// common cases; `Decoder` names everything explicitly.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Decoder {
    kernel: Option<Kernel>,
    stores: Stores,
}

impl Decoder {
    /// The best kernel for this CPU, [`Stores::Auto`].
    pub const fn new() -> Self {
        Decoder {
            kernel: None,
            stores: Stores::Auto,
        }
    }

    /// Uses `kernel` instead of the best available one.
    pub const fn kernel(self, kernel: Kernel) -> Self {
        Decoder {
            kernel: Some(kernel),
            ..self
        }
    }

    /// Sets the store policy.
    pub const fn stores(self, stores: Stores) -> Self {
        Decoder { stores, ..self }
    }

    /// The kernel this decoder runs: the one set, or [`Kernel::best`].
    pub fn selected_kernel(&self) -> Kernel {
        self.kernel.unwrap_or_else(Kernel::best)
    }

    /// The store policy.
    pub const fn store_policy(&self) -> Stores {
        self.stores
    }

    /// Decodes on the calling thread; same contract as [`decode`](crate::decode).
    pub fn decode(&self, input: &[u8], output: &mut [f32]) -> Result<(), Error> {
        let blocks = check(input, output)?;
        let streaming = self.stores.streaming(core::mem::size_of_val(output));
        self.selected_kernel().run(blocks, output, streaming)
    }

    /// Decodes on the threads of the current rayon pool; same contract and same output as
    /// [`decode`](Self::decode), see [`decode_parallel`](crate::decode_parallel).
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
    #[cfg(feature = "parallel")]
    pub fn decode_parallel(&self, input: &[u8], output: &mut [f32]) -> Result<(), Error> {
        if crate::parallel::serial(input.len()) {
            // Small inputs and one-thread pools take exactly the path of `decode`.
            return self.decode(input, output);
        }
        let blocks = check(input, output)?;
        let streaming = self.stores.streaming(core::mem::size_of_val(output));
        crate::parallel::run(self.selected_kernel(), blocks, output, streaming)
    }
}
