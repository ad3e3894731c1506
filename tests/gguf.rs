//! The GGUF reader against files written by llama.cpp's own writer (the `gguf` Python package,
//! tests/vectors/gguf/generate.py): every field against what the script wrote and what the
//! package's reader reads back (the `.txt` manifests), the Q4_K tensors decoded against the
//! reference values, and malformed files (truncated at every byte, patched at every byte, and
//! built by hand to break one rule each) that must give an `Err`, never a panic.

use q4k::gguf::{
    Array, DEFAULT_ALIGNMENT, ErrorKind, GgmlType, Gguf, MAX_ARRAY_DEPTH, TensorInfo, Value,
    ValueType,
};
use q4k::{BLOCK_BYTES, BLOCK_VALUES};

const V3_METADATA: &[u8] = include_bytes!("vectors/gguf/v3-metadata.gguf");
const V2_ALIGN_1: &[u8] = include_bytes!("vectors/gguf/v2-align-1.gguf");
const V3_ALIGN_8: &[u8] = include_bytes!("vectors/gguf/v3-align-8.gguf");
const V2_ALIGN_256: &[u8] = include_bytes!("vectors/gguf/v2-align-256.gguf");
const BLOCKS: &[u8] = include_bytes!("vectors/q4k_blocks.bin");
const EXPECTED: &[u8] = include_bytes!("vectors/q4k_expected.f32");

/// Each file with its manifest.
const FILES: [(&str, &[u8], &str); 4] = [
    (
        "v3-metadata",
        V3_METADATA,
        include_str!("vectors/gguf/v3-metadata.txt"),
    ),
    (
        "v2-align-1",
        V2_ALIGN_1,
        include_str!("vectors/gguf/v2-align-1.txt"),
    ),
    (
        "v3-align-8",
        V3_ALIGN_8,
        include_str!("vectors/gguf/v3-align-8.txt"),
    ),
    (
        "v2-align-256",
        V2_ALIGN_256,
        include_str!("vectors/gguf/v2-align-256.txt"),
    ),
];

/// What `gguf.GGUFReader` read back from one file.
struct Manifest {
    version: u32,
    alignment: usize,
    data_offset: usize,
    metadata: usize,
    tensors: Vec<ManifestTensor>,
}

struct ManifestTensor {
    name: String,
    type_id: u32,
    dims: Vec<u64>,
    file_offset: usize,
    size: usize,
}

fn manifest(text: &str) -> Manifest {
    let mut m = Manifest {
        version: 0,
        alignment: 0,
        data_offset: 0,
        metadata: 0,
        tensors: Vec::new(),
    };
    let mut count = 0;
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| words[i].parse::<u64>().expect("a number");
        match words[0] {
            "version" => m.version = num(1) as u32,
            "alignment" => m.alignment = num(1) as usize,
            "data_offset" => m.data_offset = num(1) as usize,
            "metadata" => m.metadata = num(1) as usize,
            "tensors" => count = num(1) as usize,
            "tensor" => {
                let n_dims = num(3) as usize;
                m.tensors.push(ManifestTensor {
                    name: words[1].to_owned(),
                    type_id: num(2) as u32,
                    dims: (0..n_dims).map(|i| num(4 + i)).collect(),
                    file_offset: num(4 + n_dims) as usize,
                    size: num(5 + n_dims) as usize,
                });
            }
            other => panic!("unknown manifest line {other}"),
        }
    }
    assert_eq!(m.tensors.len(), count);
    m
}

/// The file offset of a sub-slice of `file`.
fn offset_in(file: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - file.as_ptr() as usize
}

#[test]
fn every_file_matches_what_the_gguf_package_reads_back() {
    for (name, bytes, text) in FILES {
        let m = manifest(text);
        let gguf = Gguf::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(gguf.version(), m.version, "{name}");
        assert_eq!(gguf.alignment(), m.alignment, "{name}");
        assert_eq!(gguf.data_offset(), m.data_offset, "{name}");
        assert_eq!(gguf.metadata_len(), m.metadata, "{name}");
        assert_eq!(gguf.metadata().count(), m.metadata, "{name}");
        assert_eq!(gguf.tensor_count(), m.tensors.len(), "{name}");
        assert_eq!(gguf.bytes().len(), bytes.len());
        let infos: Vec<TensorInfo<'_>> = gguf.tensors().collect();
        assert_eq!(infos.len(), m.tensors.len(), "{name}");
        for (index, (info, want)) in infos.iter().zip(&m.tensors).enumerate() {
            let what = format!("{name}: {}", want.name);
            assert_eq!(info.name(), want.name, "{what}");
            assert_eq!(info.index(), index, "{what}");
            assert_eq!(info.ggml_type().id(), want.type_id, "{what}");
            assert_eq!(info.dims(), want.dims.as_slice(), "{what}");
            assert_eq!(info.size_bytes(), want.size as u64, "{what}");
            assert_eq!(
                gguf.data_offset() as u64 + info.offset(),
                want.file_offset as u64,
                "{what}"
            );
            assert_eq!(info.offset() % m.alignment as u64, 0, "{what}");
            let data = gguf
                .read(info)
                .map(|t| t.bytes())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(offset_in(bytes, data), want.file_offset, "{what}");
            assert_eq!(data.len(), want.size, "{what}");
            let tensor = gguf.tensor(&want.name).expect("found by name");
            assert_eq!(tensor.info(), info);
            assert_eq!(tensor.bytes(), data);
            assert_eq!(gguf.tensor_info(&want.name), Ok(*info));
        }
    }
}

#[test]
fn metadata_of_every_value_type() {
    let gguf = Gguf::parse(V3_METADATA).expect("valid");
    let value = |key: &str| gguf.value(key).unwrap_or_else(|e| panic!("{key}: {e}"));
    assert_eq!(gguf.str_value("general.architecture"), Ok("q4ktest"));
    assert_eq!(gguf.str_value("general.name"), Ok("q4k test model"));
    assert_eq!(value("test.u8"), Value::U8(200));
    assert_eq!(value("test.i8"), Value::I8(-100));
    assert_eq!(value("test.u16"), Value::U16(60000));
    assert_eq!(value("test.i16"), Value::I16(-30000));
    assert_eq!(value("test.u32"), Value::U32(4_000_000_000));
    assert_eq!(value("test.i32"), Value::I32(-2_000_000_000));
    assert_eq!(
        value("test.f32").as_f64().map(|v| (v as f32).to_bits()),
        Some(0.1f32.to_bits())
    );
    assert_eq!(value("test.bool.true"), Value::Bool(true));
    assert_eq!(value("test.bool.false"), Value::Bool(false));
    assert_eq!(value("test.string"), Value::String("Grüße, 世界"));
    assert_eq!(value("test.string.empty"), Value::String(""));
    assert_eq!(value("test.u64"), Value::U64((1 << 63) + 5));
    assert_eq!(value("test.i64"), Value::I64(-(1 << 62) - 3));
    assert_eq!(
        value("test.f64").as_f64().map(f64::to_bits),
        Some(0.1f64.to_bits())
    );
    assert_eq!(value(""), Value::String("the empty key"));

    let array = |key: &str| {
        value(key)
            .as_array()
            .unwrap_or_else(|| panic!("{key}: array"))
    };
    fn items(a: Array<'_>) -> Vec<Value<'_>> {
        a.iter().collect()
    }
    let check = |key: &str, ty: ValueType, want: &[Value<'_>]| {
        let a = array(key);
        assert_eq!(a.element_type(), ty, "{key}");
        assert_eq!(a.len(), want.len(), "{key}");
        assert_eq!(items(a), want, "{key}");
        for (i, w) in want.iter().enumerate() {
            assert_eq!(a.get(i).as_ref(), Some(w), "{key}[{i}]");
        }
        assert_eq!(a.get(want.len()), None, "{key}");
    };
    use Value as V;
    check(
        "test.array.u8",
        ValueType::U8,
        &[V::U8(0), V::U8(1), V::U8(255)],
    );
    check("test.array.i8", ValueType::I8, &[V::I8(-128), V::I8(127)]);
    check(
        "test.array.u16",
        ValueType::U16,
        &[V::U16(65535), V::U16(1)],
    );
    check("test.array.i16", ValueType::I16, &[V::I16(-32768)]);
    check(
        "test.array.u32",
        ValueType::U32,
        &[V::U32(1), V::U32(2), V::U32(3), V::U32(u32::MAX)],
    );
    check(
        "test.array.i32",
        ValueType::I32,
        &[V::I32(-1), V::I32(0), V::I32(7)],
    );
    check(
        "test.array.f32",
        ValueType::F32,
        &[V::F32(0.5), V::F32(-2.0), V::F32(1e-3)],
    );
    check(
        "test.array.bool",
        ValueType::Bool,
        &[V::Bool(true), V::Bool(false), V::Bool(true)],
    );
    check(
        "test.array.string",
        ValueType::String,
        &[V::String("a"), V::String(""), V::String("ünï")],
    );
    check(
        "test.array.u64",
        ValueType::U64,
        &[V::U64(u64::MAX), V::U64(0)],
    );
    check("test.array.i64", ValueType::I64, &[V::I64(i64::MIN)]);
    let f64s = array("test.array.f64");
    let bits: Vec<u64> = f64s
        .iter()
        .map(|v| v.as_f64().expect("f64").to_bits())
        .collect();
    assert_eq!(bits, [1e300f64.to_bits(), (-0.0f64).to_bits()]);
    assert_eq!(f64s.raw_bytes().len(), 16);

    let ints = |v: Value<'_>| -> Vec<i64> {
        v.as_array()
            .expect("inner array")
            .iter()
            .map(|x| x.as_i64().expect("int"))
            .collect()
    };
    let nested = array("test.array.nested");
    assert_eq!(nested.element_type(), ValueType::Array);
    let inner: Vec<Vec<i64>> = nested.iter().map(ints).collect();
    assert_eq!(inner, [vec![1, 2], vec![3]]);
    assert_eq!(nested.get(1).map(ints), Some(vec![3]));
    let strings: Vec<Vec<&str>> = array("test.array.nested_strings")
        .iter()
        .map(|v| {
            let a = v.as_array().expect("inner array");
            assert_eq!(a.element_type(), ValueType::String);
            a.iter().map(|s| s.as_str().expect("string")).collect()
        })
        .collect();
    assert_eq!(strings, [vec!["x"], vec!["", "yz"]]);
    let deep: Vec<Vec<Vec<i64>>> = array("test.array.deep")
        .iter()
        .map(|v| v.as_array().expect("depth 2").iter().map(ints).collect())
        .collect();
    assert_eq!(deep, [vec![vec![5, 6]], vec![vec![7]]]);

    // The entries come in file order, keys included.
    let keys: Vec<&str> = gguf.metadata().map(|(k, _)| k).collect();
    assert_eq!(
        keys[..3],
        ["general.architecture", "general.name", "test.u8"]
    );
    assert_eq!(keys.last(), Some(&"test.array.deep"));

    // Lookups that fail.
    let err = gguf.value("test.missing").unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::MissingKey, None));
    assert_eq!(
        gguf.str_value("test.u8").unwrap_err().kind(),
        ErrorKind::WrongValueType {
            expected: ValueType::String,
            found: ValueType::U8
        }
    );
    assert_eq!(gguf.alignment(), DEFAULT_ALIGNMENT);
}

#[test]
fn value_conversions() {
    assert_eq!(Value::U8(7).as_u64(), Some(7));
    assert_eq!(Value::I32(-1).as_u64(), None);
    assert_eq!(Value::I16(-1).as_i64(), Some(-1));
    assert_eq!(Value::U64(u64::MAX).as_i64(), None);
    assert_eq!(Value::U32(5).as_i64(), Some(5));
    assert_eq!(Value::F32(0.5).as_f64(), Some(0.5));
    assert_eq!(Value::String("x").as_f64(), None);
    assert_eq!(Value::Bool(true).as_bool(), Some(true));
    assert_eq!(Value::U8(1).as_bool(), None);
    assert_eq!(Value::String("x").as_str(), Some("x"));
    assert_eq!(Value::F64(1.0).value_type(), ValueType::F64);
}

/// The reference decode of blocks `first..first + n` of `q4k_blocks.bin`.
fn expected_values(first: usize, n: usize) -> Vec<f32> {
    EXPECTED[first * BLOCK_VALUES * 4..(first + n) * BLOCK_VALUES * 4]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect()
}

fn assert_same_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "{what}: value {i}");
        } else {
            assert_eq!(g.to_bits(), w.to_bits(), "{what}: value {i}");
        }
    }
}

#[test]
fn q4k_tensors_decode_to_the_reference_values() {
    eprintln!("q4k_tensors: kernel {}", q4k::Kernel::best());
    // (file, tensor, rows, blocks per row, first block in q4k_blocks.bin), as generate.py wrote.
    let cases: [(&[u8], &str, usize, usize, usize); 7] = [
        (V3_METADATA, "blk.0.ffn_up.weight", 2, 2, 0),
        (V3_METADATA, "blk.0.attn_q.weight", 3, 1, 4),
        (V3_METADATA, "blk.1.ffn_down.weight", 1, 1, 57),
        (V2_ALIGN_1, "q4k.a", 2, 1, 0),
        (V2_ALIGN_1, "q4k.b", 1, 2, 2),
        (V3_ALIGN_8, "q4k.b", 1, 2, 2),
        (V2_ALIGN_256, "q4k.a", 2, 1, 0),
    ];
    for (file, name, rows, row_blocks, first) in cases {
        let gguf = Gguf::parse(file).expect("valid");
        let tensor = gguf.tensor(name).expect("present");
        let n = rows * row_blocks;
        assert_eq!(
            tensor.bytes(),
            &BLOCKS[first * BLOCK_BYTES..(first + n) * BLOCK_BYTES],
            "{name}"
        );
        let w = tensor.q4k().expect("a Q4_K tensor");
        assert_eq!(
            (w.rows(), w.row_values()),
            (rows, row_blocks * BLOCK_VALUES)
        );
        assert_eq!(w.row_bytes(), row_blocks * BLOCK_BYTES);
        assert_eq!(w.values(), n * BLOCK_VALUES);
        assert_eq!(w.blocks().len(), n);
        assert_eq!(q4k::as_bytes(w.blocks()), tensor.bytes());
        let mut values = vec![0f32; w.values()];
        q4k::decode(w.bytes(), &mut values).expect("decodes");
        assert_same_bits(&values, &expected_values(first, n), name);
        for r in 0..rows {
            let row = w.row(r).expect("row");
            let mut out = vec![0f32; w.row_values()];
            q4k::decode_with(q4k::Kernel::Scalar, row, &mut out).expect("decodes");
            assert_same_bits(
                &out,
                &expected_values(first + r * row_blocks, row_blocks),
                name,
            );
        }
        assert_eq!(w.row(rows), None);

        // The matrix shape is what `matvec_f32` needs: row r of its output is row r's dot.
        let x: Vec<f32> = (0..w.row_values()).map(|i| (i % 7) as f32 - 3.0).collect();
        let mut y = vec![f32::NAN; w.rows()];
        q4k::matvec_f32(w.bytes(), &x, &mut y).expect("the shapes fit");
        for (r, y) in y.iter().enumerate() {
            let row = w.row(r).expect("row");
            let dot = q4k::dot_f32(row, &x).expect("one row");
            assert_eq!(y.to_bits(), dot.to_bits(), "{name}: row {r}");
        }
    }
}

#[test]
fn other_tensor_types_are_described_not_decoded() {
    let gguf = Gguf::parse(V3_METADATA).expect("valid");

    let norm = gguf.tensor("blk.0.attn_norm.weight").expect("present");
    assert_eq!(norm.info().ggml_type(), GgmlType::F32);
    assert_eq!((norm.info().rows(), norm.info().row_values()), (3, 7));
    let values: Vec<f32> = norm
        .bytes()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect();
    let want: Vec<f32> = (0..21).map(|i| i as f32 * 0.25 - 2.0).collect();
    assert_eq!(values, want);
    let err = norm.q4k().unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotQ4K {
            found: GgmlType::F32
        }
    );
    assert_eq!(err.offset(), Some(norm.info().info_offset()));

    let embd = gguf.tensor("token_embd.weight").expect("present");
    assert_eq!(embd.info().ggml_type(), GgmlType::F16);
    assert_eq!((embd.info().rows(), embd.info().elements()), (1, 5));
    let halves: Vec<f32> = embd
        .bytes()
        .chunks_exact(2)
        .map(|b| q4k::f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
        .collect();
    assert_eq!(halves, [-1.5, -1.0, -0.5, 0.0, 0.5]);

    let out = gguf.tensor("output.weight").expect("present");
    assert_eq!(out.info().ggml_type(), GgmlType::Q6_K);
    assert_eq!(out.info().size_bytes(), 2 * 210);
    let pattern: Vec<u8> = (0..420).map(|i| ((i * 37 + 11) % 256) as u8).collect();
    assert_eq!(out.bytes(), pattern.as_slice());
    assert!(out.q4k().is_err());

    let err = gguf.tensor("no.such.tensor").unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::MissingTensor, None));
}

#[test]
fn ggml_types_match_llama_cpp() {
    // (id, name, values per block, bytes per block) from ggml.h and ggml.c's type_traits.
    let table: [(u32, &str, usize, usize); 35] = [
        (0, "F32", 1, 4),
        (1, "F16", 1, 2),
        (2, "Q4_0", 32, 18),
        (3, "Q4_1", 32, 20),
        (6, "Q5_0", 32, 22),
        (7, "Q5_1", 32, 24),
        (8, "Q8_0", 32, 34),
        (9, "Q8_1", 32, 36),
        (10, "Q2_K", 256, 84),
        (11, "Q3_K", 256, 110),
        (12, "Q4_K", 256, 144),
        (13, "Q5_K", 256, 176),
        (14, "Q6_K", 256, 210),
        (15, "Q8_K", 256, 292),
        (16, "IQ2_XXS", 256, 66),
        (17, "IQ2_XS", 256, 74),
        (18, "IQ3_XXS", 256, 98),
        (19, "IQ1_S", 256, 50),
        (20, "IQ4_NL", 32, 18),
        (21, "IQ3_S", 256, 110),
        (22, "IQ2_S", 256, 82),
        (23, "IQ4_XS", 256, 136),
        (24, "I8", 1, 1),
        (25, "I16", 1, 2),
        (26, "I32", 1, 4),
        (27, "I64", 1, 8),
        (28, "F64", 1, 8),
        (29, "IQ1_M", 256, 56),
        (30, "BF16", 1, 2),
        (34, "TQ1_0", 256, 54),
        (35, "TQ2_0", 256, 66),
        (39, "MXFP4", 32, 17),
        (40, "NVFP4", 64, 36),
        (41, "Q1_0", 128, 18),
        (42, "Q2_0", 64, 18),
    ];
    for (id, name, values, bytes) in table {
        let t = GgmlType::from_id(id).unwrap_or_else(|| panic!("type {id}"));
        assert_eq!(
            (t.id(), t.name(), t.block_values(), t.block_bytes()),
            (id, name, values, bytes)
        );
        assert_eq!(t.to_string(), name);
    }
    assert_eq!(GgmlType::ALL.len(), table.len());
    for id in [4, 5, 31, 32, 33, 36, 37, 38, 43, 1000, u32::MAX] {
        assert_eq!(GgmlType::from_id(id), None, "id {id}");
    }
}

/// Every check a damaged file gets: iterating and asking for every tensor must not panic, and
/// a tensor's data must lie inside the file.
fn exercise(bytes: &[u8]) {
    let Ok(gguf) = Gguf::parse(bytes) else { return };
    // Each lookup reads all the entries: a few keys are enough to reach every path.
    let lookups = if cfg!(miri) { 2 } else { 6 };
    for (i, (key, value)) in gguf.metadata().enumerate() {
        if i < lookups {
            let _ = gguf.value(key);
        }
        if let Value::Array(a) = value {
            let _ = a.iter().count();
            let _ = a.get(a.len().saturating_sub(1));
        }
    }
    for info in gguf.tensors() {
        if let Ok(data) = gguf.read(&info).map(|t| t.bytes()) {
            let start = offset_in(bytes, data);
            assert!(start + data.len() <= bytes.len());
            assert_eq!(data.len() as u64, info.size_bytes());
        }
        let _ = gguf.tensor(info.name()).and_then(|t| t.q4k());
    }
}

/// Whether to try byte `at` of a file: all of them natively; under Miri, which is some
/// thousand times slower, the first `head` and every `stride`-th after.
fn tried(at: usize, head: usize, stride: usize) -> bool {
    !cfg!(miri) || at < head || at.is_multiple_of(stride)
}

#[test]
fn truncated_at_every_byte() {
    for (name, bytes, text) in FILES {
        let m = manifest(text);
        // The shortest prefix that parses: the end of the tensor descriptions, which lies
        // within one alignment before the data section. (Every prefix tried below checks that
        // parsing fails exactly below it.)
        let lengths: Vec<usize> = (0..=bytes.len()).collect();
        let first_ok = lengths.partition_point(|&len| Gguf::parse(&bytes[..len]).is_err());
        assert!(
            first_ok + m.alignment > m.data_offset && first_ok <= m.data_offset,
            "{name}: parses from {first_ok} bytes, data at {}",
            m.data_offset
        );
        let around = |len: usize| len.abs_diff(first_ok) <= 1;
        for len in (0..bytes.len()).filter(|&len| tried(len, 64, 61) || around(len)) {
            let file = &bytes[..len];
            match Gguf::parse(file) {
                Err(e) => {
                    assert!(len < first_ok, "{name}: {len} bytes fail: {e}");
                    assert!(e.offset().is_some_and(|o| o <= len), "{name}: {len}: {e}");
                    assert!(
                        matches!(
                            e.kind(),
                            ErrorKind::UnexpectedEnd { .. }
                                | ErrorKind::TooManyTensors { .. }
                                | ErrorKind::TooManyEntries { .. }
                                | ErrorKind::ArrayTooLong { .. }
                        ),
                        "{name}: {len}: {e}"
                    );
                }
                Ok(gguf) => {
                    assert!(len >= first_ok, "{name}: {len} bytes parse");
                    assert_eq!(gguf.data_offset(), m.data_offset, "{name}: {len}");
                    for (info, want) in gguf.tensors().zip(&m.tensors) {
                        let fits = want.file_offset + want.size <= len;
                        let data = gguf.read(&info).map(|t| t.bytes());
                        assert_eq!(data.is_ok(), fits, "{name}: {len}: {}", want.name);
                        if let Err(e) = data {
                            assert!(matches!(e.kind(), ErrorKind::DataOutOfRange { .. }));
                            assert_eq!(e.offset(), Some(info.info_offset()));
                        }
                    }
                }
            }
        }
        assert!(Gguf::parse(bytes).is_ok());
    }
}

#[test]
fn patched_at_every_byte() {
    for (name, bytes, text) in FILES {
        let m = manifest(text);
        let mut file = bytes.to_vec();
        let mut failures = 0;
        for at in (0..m.data_offset).filter(|&at| tried(at, 16, 257)) {
            let original = file[at];
            let patches = [0xFF, original ^ 0x80, 0x00, original.wrapping_add(1)];
            for patch in &patches[..if cfg!(miri) { 2 } else { 4 }] {
                let patch = *patch;
                file[at] = patch;
                failures += usize::from(Gguf::parse(&file).is_err());
                exercise(&file);
            }
            file[at] = original;
        }
        assert_eq!(file, bytes);
        eprintln!("{name}: {failures} patched files refused");
        assert!(failures > 0, "{name}");
    }
}

/// Writes GGUF files by hand, to break one rule at a time.
struct Builder {
    bytes: Vec<u8>,
}

impl Builder {
    fn new(version: u32, tensors: u64, entries: u64) -> Self {
        let mut bytes = b"GGUF".to_vec();
        bytes.extend(version.to_le_bytes());
        bytes.extend(tensors.to_le_bytes());
        bytes.extend(entries.to_le_bytes());
        Builder { bytes }
    }
    fn u32(mut self, v: u32) -> Self {
        self.bytes.extend(v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.bytes.extend(v.to_le_bytes());
        self
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.bytes.extend(b);
        self
    }
    fn str(self, s: &[u8]) -> Self {
        self.u64(s.len() as u64).raw(s)
    }
    /// A key and its type id.
    fn key(self, key: &str, ty: u32) -> Self {
        self.str(key.as_bytes()).u32(ty)
    }
    /// A tensor description.
    fn tensor(self, name: &str, dims: &[u64], ty: u32, offset: u64) -> Self {
        let mut b = self.str(name.as_bytes()).u32(dims.len() as u32);
        for &d in dims {
            b = b.u64(d);
        }
        b.u32(ty).u64(offset)
    }
    /// Zero padding to the next multiple of `alignment`, then `len` data bytes.
    fn data(mut self, alignment: usize, len: usize) -> Self {
        while !self.bytes.len().is_multiple_of(alignment) {
            self.bytes.push(0);
        }
        self.bytes.extend((0..len).map(|i| i as u8));
        self
    }
}

fn err(bytes: &[u8]) -> (ErrorKind, Option<usize>) {
    exercise(bytes);
    let e = Gguf::parse(bytes).expect_err("must be refused");
    assert!(!e.to_string().is_empty());
    (e.kind(), e.offset())
}

fn tensor_err(bytes: &[u8], name: &str) -> (ErrorKind, Option<usize>) {
    exercise(bytes);
    let gguf = Gguf::parse(bytes).expect("the descriptions are valid");
    let e = gguf.tensor(name).expect_err("must be refused");
    (e.kind(), e.offset())
}

#[test]
fn header_errors() {
    assert_eq!(
        err(b""),
        (
            ErrorKind::UnexpectedEnd {
                needed: 4,
                available: 0
            },
            Some(0)
        )
    );
    assert_eq!(
        err(b"GGML\x03\0\0\0"),
        (ErrorKind::BadMagic { found: *b"GGML" }, Some(0))
    );
    let mut wrong = V3_METADATA.to_vec();
    wrong[0] = b'g';
    assert_eq!(err(&wrong).0, ErrorKind::BadMagic { found: *b"gGUF" });
    for version in [0, 1, 4, u32::MAX] {
        let file = Builder::new(version, 0, 0).bytes;
        assert_eq!(
            err(&file),
            (ErrorKind::UnsupportedVersion { version }, Some(4))
        );
    }
    let big_endian = Builder::new(3u32.swap_bytes(), 0, 0).bytes;
    assert_eq!(err(&big_endian), (ErrorKind::BigEndian, Some(4)));
    for version in [2, 3] {
        let file = Builder::new(version, 0, 0).bytes;
        let empty = Gguf::parse(&file).expect("an empty file");
        assert_eq!(
            (empty.version(), empty.tensor_count(), empty.metadata_len()),
            (version, 0, 0)
        );
        assert_eq!(empty.data_offset(), 32);
        assert_eq!(empty.metadata().count() + empty.tensors().count(), 0);
    }
}

#[test]
fn huge_counts_are_refused_at_once() {
    for count in [1 << 60, u64::MAX, 2] {
        let file = Builder::new(3, count, 0).bytes;
        assert_eq!(
            err(&file),
            (ErrorKind::TooManyTensors { count, max: 0 }, Some(8))
        );
        let file = Builder::new(3, 0, count).raw(&[0; 13]).bytes;
        assert_eq!(
            err(&file),
            (ErrorKind::TooManyEntries { count, max: 1 }, Some(16))
        );
        let file = Builder::new(3, 0, 1)
            .key("a", 9)
            .u32(8)
            .u64(count)
            .raw(&[0; 15])
            .bytes;
        assert_eq!(
            err(&file),
            (
                ErrorKind::ArrayTooLong { len: count, max: 1 },
                Some(24 + 8 + 1 + 4 + 4)
            )
        );
    }
    // Counts that the bytes could hold are walked, and the walk ends at the end of the file.
    let file = Builder::new(3, 1, 0).raw(&[0; 24]).bytes;
    assert!(Gguf::parse(&file).is_ok());
    let file = Builder::new(3, 4, 0).raw(&[0; 96]).bytes;
    assert!(Gguf::parse(&file).is_ok());
    // Four 24-byte descriptions fit in 96 bytes; three 32-byte ones leave no room for a fourth.
    let mut b = Builder::new(3, 4, 0);
    for _ in 0..3 {
        b = b.tensor("", &[1], 0, 0);
    }
    assert_eq!(b.bytes.len(), 24 + 96);
    assert!(matches!(err(&b.bytes).0, ErrorKind::UnexpectedEnd { .. }));
}

#[test]
fn metadata_errors() {
    let one = |ty: u32, value: &[u8]| Builder::new(3, 0, 1).key("k", ty).raw(value).bytes;
    let value_at = 24 + 8 + 1 + 4;
    // A key longer than the file.
    let file = Builder::new(3, 0, 1).u64(1 << 40).raw(&[0; 20]).bytes;
    assert_eq!(
        err(&file),
        (
            ErrorKind::UnexpectedEnd {
                needed: 1 << 40,
                available: 20
            },
            Some(32)
        )
    );
    let file = Builder::new(3, 0, 1).u64(u64::MAX).raw(&[0; 20]).bytes;
    assert!(matches!(
        err(&file).0,
        ErrorKind::UnexpectedEnd {
            needed: u64::MAX,
            ..
        }
    ));
    // Not UTF-8: in a key, a value, an array element.
    let file = Builder::new(3, 0, 1).str(b"\xff").u32(0).raw(&[0]).bytes;
    assert_eq!(err(&file), (ErrorKind::InvalidUtf8, Some(32)));
    let file = one(8, &[2, 0, 0, 0, 0, 0, 0, 0, 0xC3, 0x28]);
    assert_eq!(err(&file), (ErrorKind::InvalidUtf8, Some(value_at + 8)));
    let file = one(
        9,
        &[
            8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x80,
        ],
    );
    assert_eq!(err(&file), (ErrorKind::InvalidUtf8, Some(value_at + 20)));
    // Value types.
    for id in [13, 255, u32::MAX] {
        assert_eq!(
            err(&one(id, &[0; 16])),
            (ErrorKind::UnknownValueType { id }, Some(value_at - 4))
        );
        let array = one(9, &[&id.to_le_bytes()[..], &[0; 16]].concat());
        assert_eq!(
            err(&array),
            (ErrorKind::UnknownValueType { id }, Some(value_at))
        );
    }
    assert_eq!(
        err(&one(7, &[2])),
        (ErrorKind::InvalidBool { byte: 2 }, Some(value_at))
    );
    let bools = one(9, &[7, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF]);
    assert_eq!(
        err(&bools),
        (ErrorKind::InvalidBool { byte: 0xFF }, Some(value_at + 13))
    );
    // Every fixed-size type cut short.
    for (id, size) in [
        (0, 1),
        (1, 1),
        (2, 2),
        (3, 2),
        (4, 4),
        (5, 4),
        (6, 4),
        (7, 1),
        (10, 8),
        (11, 8),
        (12, 8),
    ] {
        let file = one(id, &vec![0; size - 1]);
        assert_eq!(
            err(&file).0,
            ErrorKind::UnexpectedEnd {
                needed: size as u64,
                available: size - 1
            }
        );
        assert!(Gguf::parse(&one(id, &vec![0; size])).is_ok());
    }
    // A duplicate key parses, and a lookup of it is refused.
    let file = Builder::new(3, 0, 2)
        .key("k", 0)
        .raw(&[1])
        .key("k", 0)
        .raw(&[2])
        .bytes;
    let gguf = Gguf::parse(&file).expect("parses");
    let e = gguf.value("k").unwrap_err();
    assert_eq!(
        (e.kind(), e.offset()),
        (ErrorKind::DuplicateKey, Some(24 + 14))
    );
    assert_eq!(gguf.metadata().count(), 2);
}

/// An array nested `depth` deep, holding one u8 at the bottom.
fn nested(depth: usize) -> Vec<u8> {
    let mut b = Builder::new(3, 0, 1).key("deep", 9);
    for _ in 1..depth {
        b = b.u32(9).u64(1);
    }
    b.u32(0).u64(1).raw(&[42]).bytes
}

#[test]
fn nesting_is_bounded() {
    let file = nested(MAX_ARRAY_DEPTH);
    let gguf = Gguf::parse(&file).expect("deepest allowed");
    let mut value = gguf.value("deep").expect("present");
    for _ in 0..MAX_ARRAY_DEPTH {
        value = value
            .as_array()
            .expect("array")
            .get(0)
            .expect("one element");
    }
    assert_eq!(value, Value::U8(42));
    assert_eq!(err(&nested(MAX_ARRAY_DEPTH + 1)).0, ErrorKind::ArrayTooDeep);
    // A nesting as deep as the file allows is refused without deep recursion.
    let mut b = Builder::new(3, 0, 1).key("deep", 9);
    for _ in 0..if cfg!(miri) { 100 } else { 10_000 } {
        b = b.u32(9).u64(1);
    }
    assert_eq!(err(&b.bytes).0, ErrorKind::ArrayTooDeep);
}

#[test]
fn alignment_errors() {
    let with = |ty: u32, value: &[u8]| {
        Builder::new(3, 0, 1)
            .key("general.alignment", ty)
            .raw(value)
            .bytes
    };
    let at = 24 + 8 + 17 + 4;
    for alignment in [0u32, 3, 48, u32::MAX] {
        assert_eq!(
            err(&with(4, &alignment.to_le_bytes())),
            (ErrorKind::BadAlignment { alignment }, Some(at))
        );
    }
    assert_eq!(
        err(&with(10, &64u64.to_le_bytes())),
        (
            ErrorKind::AlignmentType {
                found: ValueType::U64
            },
            Some(at)
        )
    );
    for alignment in [1u32, 2, 64, 1 << 31] {
        let file = with(4, &alignment.to_le_bytes());
        let gguf = Gguf::parse(&file).expect("valid");
        assert_eq!(gguf.alignment(), alignment as usize);
        assert_eq!(gguf.data_offset() % alignment as usize, 0);
    }
    let twice = Builder::new(3, 0, 2)
        .key("general.alignment", 4)
        .u32(64)
        .key("general.alignment", 4)
        .u32(64)
        .bytes;
    assert_eq!(
        err(&twice),
        (ErrorKind::DuplicateKey, Some(24 + 8 + 17 + 4 + 4))
    );
}

#[test]
fn tensor_description_errors() {
    let one = |dims: &[u64], ty: u32| {
        Builder::new(3, 1, 0)
            .tensor("t", dims, ty, 0)
            .data(32, 0)
            .bytes
    };
    let info_at = 24;
    let after_name = info_at + 8 + 1;
    assert_eq!(
        err(&one(&[1, 1, 1, 1, 1], 0)),
        (ErrorKind::TooManyDims { dims: 5 }, Some(after_name))
    );
    let file = Builder::new(3, 1, 0)
        .str(b"t")
        .u32(u32::MAX)
        .raw(&[0; 64])
        .bytes;
    assert_eq!(err(&file).0, ErrorKind::TooManyDims { dims: u32::MAX });
    for id in [4, 5, 31, 33, 36, 38, 43, u32::MAX] {
        assert_eq!(
            err(&one(&[32], id)),
            (
                ErrorKind::UnknownTensorType { id },
                Some(after_name + 4 + 8)
            )
        );
    }
    assert_eq!(
        err(&one(&[1 << 32, 1 << 32], 0)),
        (ErrorKind::ShapeOverflow, Some(info_at))
    );
    assert_eq!(
        err(&one(&[0, 1 << 32, 1 << 32], 0)),
        (ErrorKind::ShapeOverflow, Some(info_at))
    );
    // Elements fit in 64 bits, bytes do not.
    assert_eq!(
        err(&one(&[1 << 62], 0)),
        (ErrorKind::ShapeOverflow, Some(info_at))
    );
    assert_eq!(
        err(&one(&[100, 2], 12)),
        (
            ErrorKind::PartialBlock {
                row_values: 100,
                block_values: 256
            },
            Some(info_at)
        )
    );
    assert_eq!(
        err(&one(&[], 12)).0,
        ErrorKind::PartialBlock {
            row_values: 1,
            block_values: 256
        }
    );
    // Zero dimensions is a scalar; a zero dimension an empty tensor.
    let scalar = one(&[], 0);
    let gguf = Gguf::parse(&scalar).expect("valid");
    let info = gguf.tensors().next().expect("one tensor");
    assert_eq!(
        (info.dims(), info.elements(), info.size_bytes()),
        (&[][..], 1, 4)
    );
    assert!(matches!(
        gguf.tensor("t").unwrap_err().kind(),
        ErrorKind::DataOutOfRange { .. }
    ));
    let empty = one(&[0, 3], 12);
    let gguf = Gguf::parse(&empty).expect("valid");
    let t = gguf.tensor("t").expect("empty data is in range");
    assert_eq!(t.bytes(), &[] as &[u8]);
    let w = t.q4k().expect("Q4_K");
    // Rows of no values are not counted: the row count stays bounded by the data, even for a
    // shape like [0, 2^60].
    assert_eq!(
        (w.rows(), w.row_values(), w.values(), w.row(0)),
        (0, 0, 0, None)
    );
    let hostile = one(&[0, 1 << 60], 12);
    let gguf = Gguf::parse(&hostile).expect("valid");
    let w = gguf.tensor("t").expect("empty data").q4k().expect("Q4_K");
    assert_eq!((w.rows(), w.values()), (0, 0));
}

#[test]
fn tensor_data_errors() {
    let block = BLOCK_BYTES as u64;
    // Two one-block Q4_K tensors; `b` placed at `offset`; `len` bytes of data.
    let file = |offset: u64, len: usize| {
        Builder::new(3, 2, 0)
            .tensor("a", &[256], 12, 0)
            .tensor("b", &[256], 12, offset)
            .data(32, len)
            .bytes
    };
    let b_at = 24 + (8 + 1 + 4 + 8 + 4 + 8);
    let good = file(160, 160 + BLOCK_BYTES);
    let gguf = Gguf::parse(&good).expect("valid");
    assert_eq!(gguf.tensor("b").expect("valid").bytes().len(), BLOCK_BYTES);

    let short = file(160, 160 + BLOCK_BYTES - 1);
    let data_offset = Gguf::parse(&short).expect("valid").data_offset() as u64;
    assert_eq!(
        tensor_err(&short, "b"),
        (
            ErrorKind::DataOutOfRange {
                start: data_offset + 160,
                size: block,
                file_len: short.len()
            },
            Some(b_at)
        )
    );
    assert!(Gguf::parse(&short).expect("valid").tensor("a").is_ok());
    for offset in [u64::MAX - 31, 1 << 40, u64::MAX / 2 + 1] {
        assert!(matches!(
            tensor_err(&file(offset, 400), "b").0,
            ErrorKind::DataOutOfRange { .. }
        ));
    }
    assert_eq!(
        tensor_err(&file(161, 400), "b"),
        (
            ErrorKind::MisalignedData {
                offset: 161,
                alignment: 32
            },
            Some(b_at)
        )
    );
    for offset in [0, 32, 128] {
        let overlapping = file(offset, 400);
        assert_eq!(
            tensor_err(&overlapping, "b"),
            (ErrorKind::Overlap { other: 0 }, Some(b_at))
        );
        assert_eq!(
            tensor_err(&overlapping, "a"),
            (ErrorKind::Overlap { other: 1 }, Some(24))
        );
    }
    // Touching is not overlapping.
    assert!(
        Gguf::parse(&file(block.next_multiple_of(32), 400))
            .expect("valid")
            .tensor("a")
            .is_ok()
    );

    let twice = Builder::new(3, 2, 0)
        .tensor("a", &[256], 12, 0)
        .tensor("a", &[256], 12, 160)
        .data(32, 400)
        .bytes;
    assert_eq!(
        tensor_err(&twice, "a"),
        (ErrorKind::DuplicateTensor, Some(b_at))
    );
}

#[test]
fn errors_read_well() {
    let e = Gguf::parse(b"GGML\x03\0\0\0").unwrap_err();
    assert_eq!(
        e.to_string(),
        "not a GGUF file (starts with [47, 47, 4d, 4c], not \"GGUF\") (at byte 0)"
    );
    let gguf = Gguf::parse(V3_METADATA).expect("valid");
    assert_eq!(
        gguf.tensor("x").unwrap_err().to_string(),
        "tensor not found"
    );
    let decode: q4k::gguf::Error = q4k::Error::InputLength { len: 3 }.into();
    assert_eq!(
        decode.kind(),
        ErrorKind::Decode(q4k::Error::InputLength { len: 3 })
    );
    assert_eq!(
        decode.to_string(),
        q4k::Error::InputLength { len: 3 }.to_string()
    );
    assert!(std::error::Error::source(&decode).is_some());
}
