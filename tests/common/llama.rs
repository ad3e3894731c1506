//! Readers for the llama.cpp reference vectors in `tests/vectors/llama/` (layouts in its
//! README.md): Q8_K quantization, the Q4_K x Q8_K dot product, and the Q4_K encoders.
//!
//! Everything is raw bytes and `f32`s, as llama.cpp's C wrote them; no crate type is needed to
//! read them. A malformed file panics with the file name and byte offset.
#![allow(dead_code)]

static Q8K_FILE: &[u8] = include_bytes!("../vectors/llama/q8k.bin");
static DOT_FILE: &[u8] = include_bytes!("../vectors/llama/dot.bin");
static ENCODE_FILE: &[u8] = include_bytes!("../vectors/llama/encode.bin");
static ENCODE_WEIGHTED_FILE: &[u8] = include_bytes!("../vectors/llama/encode_weighted.bin");

/// Values per Q4_K or Q8_K block.
pub const BLOCK_VALUES: usize = 256;
/// Bytes per Q4_K block.
pub const Q4K_BLOCK_BYTES: usize = 144;
/// Bytes per Q8_K block: `d: f32`, `qs: [i8; 256]`, `bsums: [i16; 16]`.
pub const Q8K_BLOCK_BYTES: usize = 292;

/// An activation row and its Q8_K blocks from `quantize_row_q8_K_ref`.
#[derive(Clone, Debug)]
pub struct Q8kCase {
    /// What kind of input this is, e.g. `tie_negative_first`.
    pub name: String,
    /// `256 * blocks` activations.
    pub input: Vec<f32>,
    /// `292 * blocks` bytes. Block sums of an all-zero block are 0.
    pub expected: Vec<u8>,
}

/// One row of Q4_K blocks, its Q8_K activations, and `ggml_vec_dot_q4_K_q8_K_generic`'s result.
#[derive(Clone, Debug)]
pub struct DotCase {
    /// What kind of row this is, e.g. `d_7c00` (a block with an infinite `d`).
    pub name: String,
    /// `144 * blocks` bytes of Q4_K.
    pub q4k: Vec<u8>,
    /// `292 * blocks` bytes of Q8_K (quantized by `quantize_row_q8_K_ref`).
    pub q8k: Vec<u8>,
    /// The bits of the f32 dot product.
    pub result_bits: u32,
}

impl DotCase {
    /// Number of blocks in the row.
    pub fn blocks(&self) -> usize {
        self.q4k.len() / Q4K_BLOCK_BYTES
    }

    /// The expected dot product.
    pub fn result(&self) -> f32 {
        f32::from_bits(self.result_bits)
    }
}

/// A row encoded by `quantize_row_q4_K_ref` (the same bytes as `quantize_q4_K` without
/// importance weights), and the decode of those bytes by `dequantize_row_q4_K`.
#[derive(Clone, Debug)]
pub struct EncodeCase {
    /// What kind of input this is, e.g. `halfway`.
    pub name: String,
    /// The values, a multiple of 256.
    pub input: Vec<f32>,
    /// `input.len() / 256 * 144` bytes of Q4_K.
    pub expected: Vec<u8>,
    /// `dequantize_row_q4_K(expected)`, `input.len()` values.
    pub decoded: Vec<f32>,
}

/// A matrix encoded by `quantize_q4_K` with importance weights, and its decode.
#[derive(Clone, Debug)]
pub struct EncodeWeightedCase {
    /// What kind of input and weights this is, e.g. `cauchy_w_with_zeros`.
    pub name: String,
    /// Number of rows.
    pub nrow: usize,
    /// Values per row, a multiple of 256.
    pub n_per_row: usize,
    /// `nrow * n_per_row` values, row-major.
    pub input: Vec<f32>,
    /// The importance of each column: `n_per_row` values, the same for every row.
    pub weights: Vec<f32>,
    /// `nrow * n_per_row / 256 * 144` bytes of Q4_K.
    pub expected: Vec<u8>,
    /// `dequantize_row_q4_K(expected)`, `nrow * n_per_row` values.
    pub decoded: Vec<f32>,
}

/// Every Q8_K case (`q8k.bin`).
pub fn q8k_cases() -> Vec<Q8kCase> {
    read_cases("q8k.bin", Q8K_FILE, |r, name| {
        let blocks = r.count();
        Q8kCase {
            name,
            input: r.f32s(blocks * BLOCK_VALUES),
            expected: r.bytes(blocks * Q8K_BLOCK_BYTES),
        }
    })
}

/// Every dot-product case (`dot.bin`).
pub fn dot_cases() -> Vec<DotCase> {
    read_cases("dot.bin", DOT_FILE, |r, name| {
        let blocks = r.count();
        DotCase {
            name,
            q4k: r.bytes(blocks * Q4K_BLOCK_BYTES),
            q8k: r.bytes(blocks * Q8K_BLOCK_BYTES),
            result_bits: r.u32(),
        }
    })
}

/// Every case of the encoder without importance weights (`encode.bin`).
pub fn encode_cases() -> Vec<EncodeCase> {
    read_cases("encode.bin", ENCODE_FILE, |r, name| {
        let values = r.count();
        assert!(
            values.is_multiple_of(BLOCK_VALUES),
            "encode.bin: {name}: {values} values is not whole blocks"
        );
        EncodeCase {
            name,
            input: r.f32s(values),
            expected: r.bytes(values / BLOCK_VALUES * Q4K_BLOCK_BYTES),
            decoded: r.f32s(values),
        }
    })
}

/// Every case of the encoder with importance weights (`encode_weighted.bin`).
pub fn encode_weighted_cases() -> Vec<EncodeWeightedCase> {
    read_cases("encode_weighted.bin", ENCODE_WEIGHTED_FILE, |r, name| {
        let nrow = r.count();
        let n_per_row = r.count();
        assert!(
            n_per_row.is_multiple_of(BLOCK_VALUES),
            "encode_weighted.bin: {name}: {n_per_row} values per row is not whole blocks"
        );
        let values = nrow * n_per_row;
        EncodeWeightedCase {
            name,
            nrow,
            n_per_row,
            input: r.f32s(values),
            weights: r.f32s(n_per_row),
            expected: r.bytes(values / BLOCK_VALUES * Q4K_BLOCK_BYTES),
            decoded: r.f32s(values),
        }
    })
}

/// The Q8_K block fields of `block` (292 bytes): `d`, the 256 quants and the 16 block sums.
pub fn q8k_fields(block: &[u8]) -> (f32, Vec<i8>, Vec<i16>) {
    assert_eq!(block.len(), Q8K_BLOCK_BYTES, "a Q8_K block is 292 bytes");
    let d = f32::from_le_bytes(block[..4].try_into().unwrap());
    let qs = block[4..260].iter().map(|&b| b as i8).collect();
    let bsums = block[260..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    (d, qs, bsums)
}

/// Reads a file of the common shape: a `u32` case count, then per case a name (`u16` length,
/// ASCII) followed by what `case` reads. The whole file must be consumed.
fn read_cases<T>(
    file: &str,
    bytes: &'static [u8],
    mut case: impl FnMut(&mut Reader, String) -> T,
) -> Vec<T> {
    let mut r = Reader { file, bytes, at: 0 };
    let count = r.u32() as usize;
    let mut cases = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::from(u16::from_le_bytes(r.take(2).try_into().unwrap()));
        let name = String::from_utf8(r.take(len).to_vec())
            .unwrap_or_else(|_| panic!("{file}: case name at byte {} is not UTF-8", r.at - len));
        cases.push(case(&mut r, name));
    }
    assert_eq!(
        r.at,
        bytes.len(),
        "{file}: {} bytes left after {count} cases",
        bytes.len() - r.at
    );
    cases
}

struct Reader<'a> {
    file: &'a str,
    bytes: &'static [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, len: usize) -> &'static [u8] {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len());
        let end = end.unwrap_or_else(|| {
            panic!(
                "{}: {len} bytes wanted at byte {}, the file has {}",
                self.file,
                self.at,
                self.bytes.len()
            )
        });
        let taken = &self.bytes[self.at..end];
        self.at = end;
        taken
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }

    /// A `u32` count, checked to be small enough to be plausible.
    fn count(&mut self) -> usize {
        let at = self.at;
        let n = self.u32() as usize;
        assert!(
            n <= 1 << 20,
            "{}: count {n} at byte {at} is implausible",
            self.file
        );
        n
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        self.take(len).to_vec()
    }

    fn f32s(&mut self, len: usize) -> Vec<f32> {
        self.take(len * 4)
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }
}
