//! libFuzzer entry for the `tar_stream` target (see crates/envsync-fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| envsync_fuzz::tar_stream(data));
