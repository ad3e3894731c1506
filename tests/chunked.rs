//! The chunked decoder against the one-shot `decode`: any split of any input gives the same bits.

use q4k::{BLOCK_BYTES, BLOCK_VALUES, ChunkedDecoder, Error};
use quickcheck::{Gen, QuickCheck, TestResult};

/// Property test cases per property: `Q4K_QUICKCHECK_TESTS`, 200 by default.
fn cases() -> u64 {
    std::env::var("Q4K_QUICKCHECK_TESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

/// Inputs up to about 12 blocks; chunk lengths up to a few blocks.
fn check<A: quickcheck::Testable>(property: A) {
    QuickCheck::new()
        .tests(cases())
        .rng(Gen::new(12 * BLOCK_BYTES))
        .quickcheck(property);
}

/// Deterministic test bytes (an LCG); every byte pattern is a valid block.
fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect()
}

/// One-shot decode of the whole blocks at the front of `input`.
fn one_shot(input: &[u8]) -> Vec<f32> {
    let whole = input.len() - input.len() % BLOCK_BYTES;
    let mut output = vec![0f32; q4k::output_len(whole)];
    q4k::decode(&input[..whole], &mut output).expect("whole blocks decode");
    output
}

/// Splits `input` into chunks of the given lengths (cycled), then one last chunk with the rest.
fn split<'a>(input: &'a [u8], lengths: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut rest = input;
    for &len in lengths.iter().cycle().take(4 * input.len() + 1) {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks.push(rest);
    chunks
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Decodes `chunks` with `feed`, returning the values and what `finish` said.
fn through_feed(chunks: &[&[u8]]) -> (Vec<f32>, Result<(), Error>) {
    let mut stream = ChunkedDecoder::new();
    let mut values = Vec::new();
    for chunk in chunks {
        stream
            .feed(chunk, |block| values.extend_from_slice(block))
            .expect("feed");
    }
    assert_eq!(
        stream.blocks_decoded() as usize,
        values.len() / BLOCK_VALUES
    );
    (values, stream.finish())
}

/// Decodes `chunks` with `feed_into` into a buffer of exactly the needed size per chunk.
fn through_feed_into(chunks: &[&[u8]]) -> (Vec<f32>, Result<(), Error>) {
    let mut stream = ChunkedDecoder::new();
    let mut values = Vec::new();
    for chunk in chunks {
        let mut output = vec![f32::from_bits(0x7fc0_dead); stream.output_len(chunk.len())];
        let written = stream.feed_into(chunk, &mut output).expect("feed_into");
        assert_eq!(written, output.len());
        values.extend_from_slice(&output);
    }
    (values, stream.finish())
}

fn expected_finish(input_len: usize) -> Result<(), Error> {
    match input_len % BLOCK_BYTES {
        0 => Ok(()),
        count => Err(Error::TrailingBytes { count }),
    }
}

#[test]
#[cfg_attr(miri, ignore = "quickcheck is too slow under Miri")]
fn any_split_matches_one_shot() {
    fn property(input: Vec<u8>, lengths: Vec<u16>) -> bool {
        let lengths: Vec<usize> = lengths.iter().map(|&n| usize::from(n) % 500).collect();
        let chunks = split(&input, &lengths);
        let reference = bits(&one_shot(&input));
        let finish = expected_finish(input.len());
        let (fed, fed_finish) = through_feed(&chunks);
        let (into, into_finish) = through_feed_into(&chunks);
        bits(&fed) == reference
            && bits(&into) == reference
            && fed_finish == finish
            && into_finish == finish
    }
    check(property as fn(Vec<u8>, Vec<u16>) -> bool);
}

#[test]
#[cfg_attr(miri, ignore = "quickcheck is too slow under Miri")]
fn too_small_output_consumes_nothing() {
    fn property(input: Vec<u8>, head: u16, shortfall: u16) -> TestResult {
        let head = usize::from(head) % BLOCK_BYTES;
        if input.len() < head {
            return TestResult::discard();
        }
        let (first, second) = input.split_at(head);
        let mut stream = ChunkedDecoder::new();
        stream
            .feed_into(first, &mut [])
            .expect("a partial block writes nothing");
        let needed = stream.output_len(second.len());
        if needed == 0 {
            return TestResult::discard();
        }
        let short = needed - 1 - usize::from(shortfall) % needed;
        let mut output = vec![f32::from_bits(0x1234_5678); needed];
        let refused = stream.feed_into(second, &mut output[..short]);
        let untouched = output.iter().all(|v| v.to_bits() == 0x1234_5678);
        let pending = stream.pending_bytes() == head;
        let retried = stream.feed_into(second, &mut output) == Ok(needed);
        TestResult::from_bool(
            refused
                == Err(Error::OutputLength {
                    expected: needed,
                    actual: short,
                })
                && untouched
                && pending
                && retried
                && bits(&output) == bits(&one_shot(&input)),
        )
    }
    check(property as fn(Vec<u8>, u16, u16) -> TestResult);
}

#[test]
fn empty_chunks_change_nothing() {
    let input = bytes(3 * BLOCK_BYTES + 10, 1);
    let mut chunks = Vec::new();
    for chunk in input.chunks(50) {
        chunks.extend([&[][..], chunk, &[][..]]);
    }
    let reference = bits(&one_shot(&input));
    let (fed, fed_finish) = through_feed(&chunks);
    let (into, into_finish) = through_feed_into(&chunks);
    assert_eq!(bits(&fed), reference);
    assert_eq!(bits(&into), reference);
    assert_eq!(fed_finish, Err(Error::TrailingBytes { count: 10 }));
    assert_eq!(into_finish, Err(Error::TrailingBytes { count: 10 }));
}

#[test]
fn only_empty_chunks() {
    let mut stream = ChunkedDecoder::new();
    let mut calls = 0;
    stream.feed(&[], |_| calls += 1).unwrap();
    assert_eq!(stream.feed_into(&[], &mut []), Ok(0));
    assert_eq!(calls, 0);
    assert_eq!(stream.finish(), Ok(()));
}

#[test]
fn one_byte_chunks() {
    let input = bytes(4 * BLOCK_BYTES, 2);
    let chunks: Vec<&[u8]> = input.chunks(1).collect();
    let reference = bits(&one_shot(&input));
    let (fed, fed_finish) = through_feed(&chunks);
    let (into, into_finish) = through_feed_into(&chunks);
    assert_eq!(bits(&fed), reference);
    assert_eq!(bits(&into), reference);
    assert_eq!(fed_finish, Ok(()));
    assert_eq!(into_finish, Ok(()));
}

#[test]
fn chunk_of_exactly_one_block_never_buffers() {
    let input = bytes(5 * BLOCK_BYTES, 3);
    let reference = one_shot(&input);
    let mut stream = ChunkedDecoder::new();
    for (i, chunk) in input.chunks(BLOCK_BYTES).enumerate() {
        let mut output = [0f32; BLOCK_VALUES];
        assert_eq!(stream.feed_into(chunk, &mut output), Ok(BLOCK_VALUES));
        assert_eq!(stream.pending_bytes(), 0);
        assert_eq!(
            bits(&output),
            bits(&reference[i * BLOCK_VALUES..][..BLOCK_VALUES])
        );
    }
    assert_eq!(stream.blocks_decoded(), 5);
    assert_eq!(stream.finish(), Ok(()));
}

#[test]
fn trailing_bytes_are_counted_and_reset() {
    let input = bytes(2 * BLOCK_BYTES + 143, 4);
    let mut stream = ChunkedDecoder::new();
    let mut blocks = 0;
    stream.feed(&input, |_| blocks += 1).unwrap();
    assert_eq!(blocks, 2);
    assert_eq!(stream.pending_bytes(), 143);
    let error = stream.finish().unwrap_err();
    assert_eq!(error, Error::TrailingBytes { count: 143 });
    assert!(error.to_string().contains("143 bytes"), "{error}");
    // Reset: a fresh stream of one whole block decodes cleanly.
    assert_eq!(stream.pending_bytes(), 0);
    assert_eq!(stream.blocks_decoded(), 0);
    let mut output = [0f32; BLOCK_VALUES];
    assert_eq!(
        stream.feed_into(&input[..BLOCK_BYTES], &mut output),
        Ok(256)
    );
    assert_eq!(bits(&output), bits(&one_shot(&input[..BLOCK_BYTES])));
    assert_eq!(stream.finish(), Ok(()));
}

#[test]
fn longer_output_is_written_only_at_the_front() {
    let input = bytes(BLOCK_BYTES + 1, 5);
    let mut stream = ChunkedDecoder::new();
    let mut output = vec![f32::from_bits(7); 3 * BLOCK_VALUES];
    assert_eq!(stream.feed_into(&input, &mut output), Ok(BLOCK_VALUES));
    assert_eq!(
        bits(&output[..BLOCK_VALUES]),
        bits(&one_shot(&input[..BLOCK_BYTES]))
    );
    assert!(output[BLOCK_VALUES..].iter().all(|v| v.to_bits() == 7));
    assert_eq!(stream.pending_bytes(), 1);
}

#[test]
fn unavailable_kernel_consumes_nothing() {
    let Some(kernel) = q4k::Kernel::ALL.iter().copied().find(|k| !k.is_available()) else {
        return; // every kernel runs here
    };
    let mut stream = ChunkedDecoder::with_decoder(q4k::Decoder::new().kernel(kernel));
    let input = bytes(BLOCK_BYTES + 5, 6);
    let mut output = [0f32; BLOCK_VALUES];
    let refused = Err(Error::KernelUnavailable { kernel });
    assert_eq!(stream.feed_into(&input, &mut output), refused.map(|()| 0));
    assert_eq!(stream.feed(&input, |_| {}), refused);
    assert_eq!(stream.pending_bytes(), 0);
    assert!(output.iter().all(|v| v.to_bits() == 0));
}
