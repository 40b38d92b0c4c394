//! The page around the client: the CSRF token from `<meta name="csrf-token">`, and the `Ajax`
//! helper.
#![cfg(target_arch = "wasm32")]

mod common;

use std::time::Duration;

use chsk::client::{ClientOptions, TransportMode};
use chsk_web::{Ajax, AjaxError};
use common::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn set_meta_token(token: Option<&str>) {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .expect("a document");
    if let Ok(Some(old)) = doc.query_selector("meta[name='csrf-token']") {
        old.remove();
    }
    if let Some(token) = token {
        let meta = doc.create_element("meta").expect("create meta");
        meta.set_attribute("name", "csrf-token").expect("attr");
        meta.set_attribute("content", token).expect("attr");
        doc.head()
            .expect("head")
            .append_child(&meta)
            .expect("append");
    }
}

#[wasm_bindgen_test]
async fn csrf_token_is_read_from_the_page_meta_tag() {
    set_meta_token(Some(CSRF_TOKEN));
    assert_eq!(
        chsk_web::csrf_token_from_meta().as_deref(),
        Some(CSRF_TOKEN)
    );
    let options = ClientOptions {
        csrf_token: None,
        ..opts(TransportMode::Ajax, &new_uid("meta"))
    };
    let client = chsk_web::connect::<TestEvent, TestPush>(&endpoint("/chsk"), options.clone());
    client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("opens with the page's token");
    client.disconnect();

    set_meta_token(None);
    let client = chsk_web::connect::<TestEvent, TestPush>(&endpoint("/chsk"), options);
    let st = wait_state(&client, 5000, |s| s.last_close.is_some())
        .await
        .expect("refused without a token");
    assert!(!st.ever_opened);
    client.disconnect();
}

#[wasm_bindgen_test]
async fn ajax_helper_fetches_large_bodies_and_reports_errors() {
    let big = Ajax::get(endpoint("/big")).send().await.expect("200");
    assert_eq!(big.status, 200);
    assert_eq!(big.body.len(), chsk_web_test_server::BIG_LEN);
    assert!(big
        .body
        .iter()
        .enumerate()
        .all(|(i, b)| *b == (i % 251) as u8));

    let missing = Ajax::get(endpoint("/nope")).send().await;
    assert!(
        matches!(missing, Err(AjaxError::Status { status: 404, .. })),
        "{missing:?}"
    );
    let slow = Ajax::get(endpoint("/slow"))
        .query("ms", "2000")
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert_eq!(slow, Err(AjaxError::Timeout));
    let refused = Ajax::get("http://127.0.0.1:9/").send().await;
    assert!(matches!(refused, Err(AjaxError::Network(_))), "{refused:?}");
}

#[wasm_bindgen_test]
async fn a_page_entering_the_back_forward_cache_is_not_unloading() {
    let uid = new_uid("bfcache");
    let client = connect("/chsk", TransportMode::Ws, &uid);
    client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("opens");
    let pagehide = web_sys::Event::new("pagehide").expect("event");
    js_sys::Reflect::set(&pagehide, &"persisted".into(), &true.into()).expect("set");
    web_sys::window()
        .expect("window")
        .dispatch_event(&pagehide)
        .expect("dispatch");
    restart_server(200).await;
    wait_state(&client, 15_000, |s| s.last_close.is_some() && s.open)
        .await
        .expect("reconnects: a cached page may come back");
    client.disconnect();
}
