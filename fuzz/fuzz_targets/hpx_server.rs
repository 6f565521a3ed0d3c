#![no_main]
//! `hpx_server`: see crates/tether-fuzz.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tether_fuzz::hpx_server(data));
