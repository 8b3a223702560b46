//! libFuzzer entry for the `snapshot` target (see crates/envsync-fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| envsync_fuzz::snapshot(data));
