//! Code-size probe: the same program without any decoding.
#![no_std]
#![no_main]

q4k_firmware::size_probe!(|input, output| input.len() == output.len());
