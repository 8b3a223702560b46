//! libFuzzer entry for the `os_release` target (see crates/envsync-fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| envsync_fuzz::os_release(data));
