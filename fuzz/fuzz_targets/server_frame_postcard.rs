//! Bytes a client sends to the server (a WebSocket message or an Ajax POST body), postcard codec:
//! the frame, then for an `Event` or a `Request` the event payload as `FuzzEvent`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    chsk_fuzz::server_bound(chsk::Codec::Postcard, data);
});
