//! libFuzzer entry for the `dpkg_status` target (see crates/envsync-fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| envsync_fuzz::dpkg_status(data));
