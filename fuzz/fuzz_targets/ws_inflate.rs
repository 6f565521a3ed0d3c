#![no_main]
//! `ws_inflate`: see crates/tether-fuzz.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tether_fuzz::ws_inflate(data));
