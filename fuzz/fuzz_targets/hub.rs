#![no_main]
//! `hub`: see crates/tether-fuzz.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tether_fuzz::hub(data));
