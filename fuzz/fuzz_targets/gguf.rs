//! The GGUF reader on any bytes: `Gguf::parse` and everything reachable from a parsed file
//! (metadata lookups, every array element, every tensor's data, the Q4_K view and its decode)
//! must return, never panic, and every slice it hands out must lie inside the file where its
//! description says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use q4k::gguf::{Gguf, Value};
use q4k::{BLOCK_BYTES, BLOCK_VALUES, Kernel};
use q4k_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    // The file ends where its allocation ends, so AddressSanitizer sees a read past it.
    let input = Input::new(data, 0);
    let bytes = input.bytes();
    let gguf = match Gguf::parse(bytes) {
        Ok(gguf) => gguf,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(e.offset().is_some_and(|at| at <= bytes.len()), "{e}");
            return;
        }
    };
    assert!(matches!(gguf.version(), 2 | 3));
    assert!(gguf.alignment().is_power_of_two());
    assert!(gguf.data_offset().is_multiple_of(gguf.alignment()));
    assert!(gguf.data_offset() >= 24);

    let mut entries = 0;
    for (key, value) in gguf.metadata() {
        entries += 1;
        if let Ok(found) = gguf.value(key) {
            assert_eq!(found.value_type(), value.value_type(), "{key}");
        }
        visit(value);
    }
    assert_eq!(entries, gguf.metadata_len());

    let mut tensors = 0;
    for info in gguf.tensors() {
        assert_eq!(info.index(), tensors);
        tensors += 1;
        assert!(info.dims().len() <= q4k::gguf::MAX_DIMS);
        let Ok(tensor) = gguf.read(&info) else {
            continue;
        };
        let data = tensor.bytes();
        let start = data.as_ptr() as usize - bytes.as_ptr() as usize;
        assert!(start + data.len() <= bytes.len());
        assert_eq!(start as u64, gguf.data_offset() as u64 + info.offset());
        assert_eq!(data.len() as u64, info.size_bytes());
        if let Ok(by_name) = gguf.tensor(info.name()) {
            assert_eq!(
                by_name.info(),
                &info,
                "names are unique when the lookup succeeds"
            );
        }
        if let Ok(w) = tensor.q4k() {
            assert_eq!(w.bytes().len(), w.values() / BLOCK_VALUES * BLOCK_BYTES);
            assert_eq!(w.blocks().len() * BLOCK_BYTES, w.bytes().len());
            let rows: usize = (0..w.rows()).map_while(|r| w.row(r)).map(<[u8]>::len).sum();
            assert_eq!(rows, w.bytes().len());
            assert_eq!(w.row(w.rows()), None);
            let mut out = vec![0f32; w.values()];
            q4k::decode_with(Kernel::Scalar, w.bytes(), &mut out).expect("whole blocks");
        }
    }
    assert_eq!(tensors, gguf.tensor_count());
});

/// Reads every element of every array, at every depth, by iteration and by index.
fn visit(value: Value<'_>) {
    if let Value::Array(array) = value {
        let mut n = 0;
        for element in array.iter() {
            assert_eq!(element.value_type(), array.element_type());
            if n < 4 || n + 1 == array.len() {
                let by_index = array.get(n).expect("an element below len");
                assert!(same(&by_index, &element), "{by_index:?} != {element:?}");
            }
            visit(element);
            n += 1;
        }
        assert_eq!(n, array.len());
        assert_eq!(array.get(n), None);
    }
}

/// Whether two values are the same: floats by their bits (a NaN is itself), arrays by their
/// bytes.
fn same(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => x.to_bits() == y.to_bits(),
        (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits(),
        (Value::Array(x), Value::Array(y)) => {
            x.element_type() == y.element_type()
                && x.len() == y.len()
                && core::ptr::eq(x.raw_bytes(), y.raw_bytes())
        }
        _ => a == b,
    }
}
