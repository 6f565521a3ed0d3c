#![no_main]
//! `datadivr`: see crates/tether-fuzz.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tether_fuzz::datadivr(data));
