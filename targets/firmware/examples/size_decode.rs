//! Code-size probe: `q4k::decode` (length checks, kernel dispatch, scalar kernel).
#![no_std]
#![no_main]

q4k_firmware::size_probe!(|input, output| q4k::decode(input, output).is_ok());
