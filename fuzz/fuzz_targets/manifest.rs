//! libFuzzer entry for the `manifest` target (see crates/envsync-fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| envsync_fuzz::manifest(data));
