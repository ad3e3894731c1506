//! The block view and everything it exposes, against the format description: `blocks`,
//! `as_bytes`, `BlockQ4K`'s fields and `decode`, `output_len` and `input_len`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use q4k::{BLOCK_BYTES, BLOCK_VALUES, BlockQ4K, Error, Kernel};
use q4k_fuzz::{
    Input, Reader, assert_same_values, reference_block, reference_f16, reference_quant,
    reference_scale_min,
};

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let offset = usize::from(reader.u8() % 64);
    let count = u64::from_le_bytes(core::array::from_fn(|_| reader.u8())) as usize;
    check_lengths(count);
    let input = Input::new(reader.rest(), offset);
    let bytes = input.bytes();

    let view = q4k::blocks(bytes);
    if !bytes.len().is_multiple_of(BLOCK_BYTES) {
        assert_eq!(view, Err(Error::InputLength { len: bytes.len() }));
        return;
    }
    let view = view.expect("whole blocks are a valid view");
    assert_eq!(view.len(), bytes.len() / BLOCK_BYTES);
    let back = q4k::as_bytes(view);
    assert_eq!(back.as_ptr(), bytes.as_ptr(), "the view is in place");
    assert_eq!(back.len(), bytes.len());

    let mut scalar = vec![0f32; q4k::output_len(bytes.len())];
    q4k::decode_with(Kernel::Scalar, bytes, &mut scalar).expect("scalar decodes whole blocks");
    let (stored, _) = bytes.as_chunks::<BLOCK_BYTES>();
    for ((block, stored), scalar) in view.iter().zip(stored).zip(scalar.chunks(BLOCK_VALUES)) {
        check_block(block, stored, scalar);
    }
});

fn check_block(block: &BlockQ4K, stored: &[u8; BLOCK_BYTES], scalar: &[f32]) {
    assert_eq!(&block.to_bytes(), stored);
    assert_eq!(&BlockQ4K::from_bytes(*stored), block);
    let (d_bits, dmin_bits) = block.d_dmin_bits();
    assert_eq!(d_bits, u16::from_le_bytes([stored[0], stored[1]]));
    assert_eq!(dmin_bits, u16::from_le_bytes([stored[2], stored[3]]));
    assert_eq!(block.d().to_bits(), reference_f16(d_bits).to_bits());
    assert_eq!(block.dmin().to_bits(), reference_f16(dmin_bits).to_bits());
    assert_eq!(block.packed_scales(), &stored[4..16]);
    assert_eq!(block.quants(), &stored[16..]);
    for (j, pair) in block.scales_and_mins().into_iter().enumerate() {
        assert_eq!(
            pair,
            reference_scale_min(&stored[4..16], j),
            "sub-block {j}"
        );
    }
    for i in 0..BLOCK_VALUES {
        assert_eq!(
            block.quant(i),
            Some(reference_quant(stored, i)),
            "quant {i}"
        );
    }
    assert_eq!(block.quant(BLOCK_VALUES), None);
    assert_eq!(block.quant(usize::MAX), None);

    let reference = reference_block(stored);
    let mut values = [f32::from_bits(q4k_fuzz::SENTINEL); BLOCK_VALUES];
    block.decode(&mut values);
    assert_same_values(&values, &reference, "BlockQ4K::decode");
    assert_same_values(scalar, &reference, "scalar kernel");
}

fn check_lengths(count: usize) {
    let out = q4k::output_len(count);
    assert_eq!(out, (count / BLOCK_BYTES).saturating_mul(BLOCK_VALUES));
    match q4k::input_len(count) {
        Some(bytes) => {
            assert!(count.is_multiple_of(BLOCK_VALUES));
            assert_eq!(bytes / BLOCK_BYTES * BLOCK_VALUES, count);
            assert_eq!(q4k::output_len(bytes), count);
        }
        None => assert!(
            !count.is_multiple_of(BLOCK_VALUES)
                || (count / BLOCK_VALUES).checked_mul(BLOCK_BYTES).is_none()
        ),
    }
}
