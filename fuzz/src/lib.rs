//! What the fuzz targets share: reading a case from raw bytes, placing the input and output so
//! that AddressSanitizer and sentinels see any access outside them, the expected result of a
//! call, and the oracles the values are compared with.

use q4k::{BLOCK_BYTES, BLOCK_VALUES, Error, Kernel, Stores};

/// A bit pattern no decode can produce: a signalling NaN whose low 13 significand bits are set.
/// Arithmetic only yields quiet NaNs, and an f16 NaN widened to f32 has those 13 bits clear.
pub const SENTINEL: u32 = 0x7FA5_A5A5;

/// Reads the fields of a case from the front of the fuzzer's bytes; past the end every field
/// reads as zero, so any byte string is a case.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub fn u8(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&b, rest)) => {
                self.bytes = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// Any kernel, available here or not.
    pub fn kernel(&mut self) -> Kernel {
        Kernel::ALL[usize::from(self.u8()) % Kernel::ALL.len()]
    }

    pub fn stores(&mut self) -> Stores {
        [Stores::Auto, Stores::Cached, Stores::Streaming][usize::from(self.u8()) % 3]
    }

    /// The next `len` bytes (fewer if the case ends first).
    pub fn take(&mut self, len: usize) -> &'a [u8] {
        let (head, rest) = self.bytes.split_at(len.min(self.bytes.len()));
        self.bytes = rest;
        head
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.bytes)
    }
}

/// The layout most targets share: where the input and output sit in memory, how long the output
/// is, and the input bytes themselves.
///
/// Bytes: input offset, output offset, guard length, output length mode, output length delta,
/// repeat byte `r`, then the input pattern, repeated `1 + (r % repeat_range) * repeat_step` times
/// to reach inputs larger than a fuzz case.
pub struct Layout {
    pub input: Input,
    pub output: Output,
}

impl Layout {
    pub fn read(reader: &mut Reader<'_>, repeat_range: u16, repeat_step: usize) -> Layout {
        let input_offset = usize::from(reader.u8() % 64);
        let output_offset = usize::from(reader.u8() % 16);
        let guard = usize::from(reader.u8() % 17);
        let mode = reader.u8();
        let delta = reader.u8() as i8;
        let repeat = 1 + usize::from(u16::from(reader.u8()) % repeat_range) * repeat_step;
        let pattern = reader.rest();
        let mut bytes = Vec::with_capacity(pattern.len() * repeat);
        for _ in 0..repeat {
            bytes.extend_from_slice(pattern);
        }
        let input = Input::new(&bytes, input_offset);
        let fitting = q4k::output_len(bytes.len());
        // Three cases in four get the fitting length, so most calls reach a kernel.
        let output_len = if mode < 0xC0 {
            fitting
        } else {
            fitting.saturating_add_signed(isize::from(delta))
        };
        let output = Output::new(output_offset, output_len, guard);
        Layout { input, output }
    }
}

/// Input bytes at an offset in their own allocation that ends where they end, so AddressSanitizer
/// reports a read one byte past them, and every alignment of the start is reached.
pub struct Input {
    buffer: Vec<u8>,
    offset: usize,
}

impl Input {
    pub fn new(bytes: &[u8], offset: usize) -> Input {
        let mut buffer = Vec::with_capacity(offset + bytes.len());
        buffer.resize(offset, 0xEE);
        buffer.extend_from_slice(bytes);
        buffer.shrink_to_fit();
        Input { buffer, offset }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buffer[self.offset..]
    }
}

/// An output slice between sentinel-filled guards: `offset` values before it and `guard` after.
/// With no guard after, it ends at the end of its allocation, where AddressSanitizer watches.
pub struct Output {
    buffer: Vec<f32>,
    offset: usize,
    len: usize,
}

impl Output {
    pub fn new(offset: usize, len: usize, guard: usize) -> Output {
        let total = offset + len + guard;
        let mut buffer = Vec::with_capacity(total);
        buffer.resize(total, f32::from_bits(SENTINEL));
        buffer.shrink_to_fit();
        Output {
            buffer,
            offset,
            len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn slice_mut(&mut self) -> &mut [f32] {
        &mut self.buffer[self.offset..self.offset + self.len]
    }

    pub fn values(&self) -> &[f32] {
        &self.buffer[self.offset..self.offset + self.len]
    }

    /// Panics unless every value outside the slice still holds the sentinel.
    pub fn assert_guards_intact(&self) {
        let (before, rest) = self.buffer.split_at(self.offset);
        let after = &rest[self.len..];
        for (i, v) in before.iter().chain(after).enumerate() {
            assert_eq!(v.to_bits(), SENTINEL, "guard value {i} was written");
        }
    }

    /// Panics unless no value at all was written.
    pub fn assert_untouched(&self) {
        for (i, v) in self.buffer.iter().enumerate() {
            assert_eq!(
                v.to_bits(),
                SENTINEL,
                "value {i} was written by a call that failed"
            );
        }
    }
}

/// What a one-shot decode of `input_len` bytes into `output_len` values with `kernel` must
/// return: the length errors first, then the kernel's availability.
pub fn expected_result(kernel: Kernel, input_len: usize, output_len: usize) -> Result<(), Error> {
    if !input_len.is_multiple_of(BLOCK_BYTES) {
        return Err(Error::InputLength { len: input_len });
    }
    let expected = q4k::output_len(input_len);
    if output_len != expected {
        return Err(Error::OutputLength {
            expected,
            actual: output_len,
        });
    }
    if !kernel.is_available() {
        return Err(Error::KernelUnavailable { kernel });
    }
    Ok(())
}

/// The scalar kernel's values for whole blocks: the oracle for every other kernel.
pub fn scalar_values(input: &[u8]) -> Vec<f32> {
    let mut values = vec![0f32; q4k::output_len(input.len())];
    q4k::decode_with(Kernel::Scalar, input, &mut values).expect("scalar decodes whole blocks");
    values
}

/// Panics unless `got` has the bits of `want`, except that where `want` is a NaN `got` need only
/// be a NaN.
pub fn assert_same_values(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "{what}: value {i} is {g:e}, expected a NaN");
        } else {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "{what}: value {i} is {g:e} ({:#010x}), expected {w:e} ({:#010x})",
                g.to_bits(),
                w.to_bits()
            );
        }
    }
}

/// Runs one decode call on a layout and checks everything the contract promises: the result,
/// the values against the scalar kernel on success, the guards, and no write at all on failure.
pub fn check_call(
    kernel: Kernel,
    layout: &mut Layout,
    what: &str,
    call: impl FnOnce(&[u8], &mut [f32]) -> Result<(), Error>,
) {
    let input = layout.input.bytes();
    let expected = expected_result(kernel, input.len(), layout.output.len());
    let result = call(input, layout.output.slice_mut());
    assert_eq!(result, expected, "{what}: result");
    match result {
        Ok(()) => {
            layout.output.assert_guards_intact();
            if kernel != Kernel::Scalar {
                assert_same_values(layout.output.values(), &scalar_values(input), what);
            }
        }
        Err(_) => layout.output.assert_untouched(),
    }
}

/// IEEE 754 binary16 to binary32, built from the value's parts in f64 (a different construction
/// from the crate's bit manipulation).
pub fn reference_f16(bits: u16) -> f32 {
    let negative = bits & 0x8000 != 0;
    let exponent = i32::from((bits >> 10) & 0x1F);
    let mantissa = u32::from(bits & 0x03FF);
    let sign = if negative { 0x8000_0000u32 } else { 0 };
    let magnitude = match exponent {
        0 => f64::from(mantissa) * 2f64.powi(-24),
        31 if mantissa == 0 => f64::INFINITY,
        31 => return f32::from_bits(sign | 0x7F80_0000 | (mantissa << 13)),
        _ => (1.0 + f64::from(mantissa) / 1024.0) * 2f64.powi(exponent - 15),
    };
    if negative {
        -magnitude as f32
    } else {
        magnitude as f32
    }
}

/// The 6-bit scale and min of sub-block `j`, unpacked as the format describes it.
pub fn reference_scale_min(scales: &[u8], j: usize) -> (u8, u8) {
    if j < 4 {
        (scales[j] & 63, scales[j + 4] & 63)
    } else {
        (
            (scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4),
            (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4),
        )
    }
}

/// The 4-bit quant of value `i` of a block, read value by value from the format description.
pub fn reference_quant(block: &[u8], i: usize) -> u8 {
    let (group, within) = (i / 64, i % 64);
    let byte = block[16 + 32 * group + within % 32];
    if within < 32 { byte & 0x0F } else { byte >> 4 }
}

/// One block's 256 values straight from the format description: `(d * sc) * q - (dmin * m)` in
/// f32, value by value.
pub fn reference_block(block: &[u8]) -> [f32; BLOCK_VALUES] {
    let d = reference_f16(u16::from_le_bytes([block[0], block[1]]));
    let dmin = reference_f16(u16::from_le_bytes([block[2], block[3]]));
    let scales = &block[4..16];
    core::array::from_fn(|i| {
        let (sc, m) = reference_scale_min(scales, i / 32);
        let q = reference_quant(block, i);
        (d * f32::from(sc)) * f32::from(q) - (dmin * f32::from(m))
    })
}
