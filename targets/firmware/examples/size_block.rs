//! Code-size probe: `BlockQ4K::decode` of one block (the scalar kernel alone).
#![no_std]
#![no_main]

q4k_firmware::size_probe!(|input, output| {
    match (input.first_chunk(), output.first_chunk_mut()) {
        (Some(bytes), Some(values)) => {
            q4k::BlockQ4K::from_bytes(*bytes).decode(values);
            true
        }
        _ => false,
    }
});
