//! Code-size probe: `q4k::gguf::Gguf::parse`, a tensor found by name and its Q4_K view (every
//! check of the header, the metadata and the tensor list), then `decode` of its bytes.
#![no_std]
#![no_main]

q4k_firmware::size_probe!(|input, output| {
    let found = q4k::gguf::Gguf::parse(input)
        .and_then(|gguf| gguf.tensor(core::hint::black_box("blk.0.ffn_down.weight")))
        .and_then(|tensor| tensor.q4k());
    match found {
        Ok(weights) => q4k::decode(weights.bytes(), output).is_ok(),
        Err(_) => false,
    }
});
