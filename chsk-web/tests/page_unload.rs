//! No reconnect once the page unloads. In its own binary: it leaves the page "unloading".
#![cfg(target_arch = "wasm32")]

mod common;

use std::time::Duration;

use chsk::client::TransportMode;
use common::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn no_reconnect_once_the_page_unloads() {
    let uid = new_uid("unload");
    let client = connect("/chsk", TransportMode::Ws, &uid);
    client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("opens");
    let window = web_sys::window().expect("window");
    let pagehide = web_sys::Event::new("pagehide").expect("event");
    window.dispatch_event(&pagehide).expect("dispatch");
    restart_server(200).await;
    sleep(3000).await;
    assert!(
        !connected_uids().await.contains(&uid),
        "the unloading page did not reconnect"
    );
}
