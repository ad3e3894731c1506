//! `ChunkedDecoder` over arbitrary chunkings, mixing `feed` and `feed_into` with exact, longer,
//! shorter and empty output slices: the values of the whole stream must be the scalar kernel's
//! one-shot values, a failed call must write nothing and consume nothing, and `finish` must
//! count the trailing bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use q4k::{BLOCK_BYTES, BLOCK_VALUES, ChunkedDecoder, Decoder, Error, Kernel};
use q4k_fuzz::{Input, Output, Reader, SENTINEL, assert_same_values, scalar_values};

/// The decoder, what it has produced so far, and how far into the stream it is.
struct Run {
    stream: ChunkedDecoder,
    kernel: Kernel,
    values: Vec<f32>,
    consumed: usize,
}

impl Run {
    fn kernel_ok(&self) -> bool {
        self.kernel.is_available()
    }

    fn assert_state(&self) {
        assert_eq!(self.stream.pending_bytes(), self.consumed % BLOCK_BYTES);
        assert_eq!(
            self.stream.blocks_decoded(),
            (self.consumed / BLOCK_BYTES) as u64
        );
        assert_eq!(self.values.len(), q4k::output_len(self.consumed));
    }

    fn feed(&mut self, chunk: &[u8]) {
        let before = self.values.len();
        let expected = self.stream.output_len(chunk.len());
        let values = &mut self.values;
        let result = self.stream.feed(chunk, |block: &[f32; BLOCK_VALUES]| {
            values.extend_from_slice(block)
        });
        if self.kernel_ok() {
            assert_eq!(result, Ok(()), "feed");
            assert_eq!(
                self.values.len() - before,
                expected,
                "feed: values delivered"
            );
            self.consumed += chunk.len();
        } else {
            assert_eq!(
                result,
                Err(Error::KernelUnavailable {
                    kernel: self.kernel
                })
            );
            assert_eq!(self.values.len(), before, "feed called back after failing");
        }
        self.assert_state();
    }

    /// `feed_into` with an output of `len` values; returns whether the chunk was consumed.
    fn feed_into(&mut self, chunk: &[u8], len: usize, offset: usize, guard: usize) -> bool {
        let expected = self.stream.output_len(chunk.len());
        assert_eq!(
            expected,
            q4k::output_len(self.stream.pending_bytes() + chunk.len())
        );
        let mut output = Output::new(offset, len, guard);
        let result = self.stream.feed_into(chunk, output.slice_mut());
        let short = Error::OutputLength {
            expected,
            actual: len,
        };
        let unavailable = Error::KernelUnavailable {
            kernel: self.kernel,
        };
        let consumed = match result {
            Ok(written) => {
                assert!(
                    len >= expected && self.kernel_ok(),
                    "feed_into: Ok({written})"
                );
                assert_eq!(written, expected, "feed_into: values written");
                output.assert_guards_intact();
                let (front, back) = output.values().split_at(written);
                assert!(
                    back.iter().all(|v| v.to_bits() == SENTINEL),
                    "feed_into wrote past the values it reported"
                );
                self.values.extend_from_slice(front);
                self.consumed += chunk.len();
                true
            }
            Err(error) => {
                // Either reason may be reported when both hold.
                let allowed = (len < expected && error == short)
                    || (!self.kernel_ok() && error == unavailable);
                assert!(allowed, "feed_into: {error:?} (short: {})", len < expected);
                output.assert_untouched();
                false
            }
        };
        self.assert_state();
        consumed
    }
}

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let choice = reader.u8() % 6;
    let stores = reader.stores();
    let stream_len = usize::from(reader.u16() % 4096);
    let stream_input = Input::new(reader.take(stream_len), 0);
    let stream_bytes = stream_input.bytes();
    let (stream, kernel) = match Kernel::ALL.get(usize::from(choice)) {
        Some(&kernel) => (
            ChunkedDecoder::with_decoder(Decoder::new().kernel(kernel).stores(stores)),
            kernel,
        ),
        None => (ChunkedDecoder::new(), Kernel::best()),
    };
    let mut run = Run {
        stream,
        kernel,
        values: Vec::new(),
        consumed: 0,
    };

    // Steps of three bytes: an operation and a chunk length; what is left at the end goes in
    // one last `feed_into`.
    while run.consumed < stream_bytes.len() {
        let op = reader.u8();
        let chunk_len = usize::from(reader.u16() % 640);
        let last = op == 0 && chunk_len == 0 && reader.is_empty();
        let remaining = &stream_bytes[run.consumed..];
        let take = if last {
            remaining.len()
        } else {
            chunk_len.min(remaining.len())
        };
        // Each chunk in its own allocation, so that a read past its end is reported.
        let chunk = Input::new(&remaining[..take], usize::from(op >> 5));
        let chunk = chunk.bytes();
        let expected = run.stream.output_len(chunk.len());
        let extra = usize::from(op >> 3 & 3);
        if last {
            run.feed_into(chunk, expected, 0, 0);
        } else if op & 1 == 0 {
            run.feed(chunk);
        } else {
            let len = match op >> 1 & 3 {
                0 => expected,
                1 => expected + extra + 1,
                2 => expected.saturating_sub(extra + 1),
                _ => 0,
            };
            let guard = usize::from(op >> 5 & 1) * 4;
            if !run.feed_into(chunk, len, extra, guard) && run.kernel_ok() {
                // Refused for its length: the same chunk with the right length goes through.
                assert!(
                    run.feed_into(chunk, expected, 0, 0),
                    "retry with the right length"
                );
            }
        }
        if !run.kernel_ok() {
            break;
        }
    }

    let whole = run.consumed - run.consumed % BLOCK_BYTES;
    assert_same_values(
        &run.values,
        &scalar_values(&stream_bytes[..whole]),
        "chunked",
    );
    let trailing = run.consumed % BLOCK_BYTES;
    let expected_finish = if trailing == 0 {
        Ok(())
    } else {
        Err(Error::TrailingBytes { count: trailing })
    };
    assert_eq!(run.stream.finish(), expected_finish);
    assert_eq!(run.stream.pending_bytes(), 0);
    assert_eq!(run.stream.blocks_decoded(), 0);
});
