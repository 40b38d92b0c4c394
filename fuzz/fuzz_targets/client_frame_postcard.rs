//! Bytes the server sends to a client (a WebSocket message or an Ajax response body), postcard
//! codec: the frame, then handshake data, reply values and pushed events.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    chsk_fuzz::client_bound(chsk::Codec::Postcard, data);
});
