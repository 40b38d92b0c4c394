//! Helpers of the browser tests: the test server's addresses, options, waiting.
#![allow(dead_code, unused_imports, unreachable_pub, missing_docs)]

use chsk::client::{ClientOptions, StateChange, TransportMode};
pub use chsk_web::ClientExt;
use chsk_web::{Ajax, Client};
pub use chsk_web_test_server::{test_event, TestEvent, TestPush, CSRF_TOKEN};
use futures::{
    future::{select, Either},
    StreamExt,
};

pub type TestClient = Client<TestEvent, TestPush>;

pub fn base() -> String {
    format!("http://{}", chsk_web_test_server::CHSK_ADDR)
}

pub fn endpoint(path: &str) -> String {
    format!("{}{path}", base())
}

/// A fresh user id, so tests never see each other's pushes.
pub fn new_uid(prefix: &str) -> String {
    format!("{prefix}-{}", (js_sys::Math::random() * 1e9) as u64)
}

pub fn opts(transport: TransportMode, uid: &str) -> ClientOptions {
    ClientOptions {
        transport,
        csrf_token: Some(CSRF_TOKEN.into()),
        params: vec![("uid".into(), uid.into())],
        ..Default::default()
    }
}

pub fn connect(path: &str, transport: TransportMode, uid: &str) -> TestClient {
    chsk_web::connect(&endpoint(path), opts(transport, uid))
}

pub async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Waits for a state change satisfying `pred` (or for the current state to satisfy it).
pub async fn wait_state(
    client: &TestClient,
    ms: u32,
    mut pred: impl FnMut(&chsk::client::ClientState) -> bool,
) -> Result<chsk::client::ClientState, String> {
    let mut changes = client.state_changes();
    let now = client.state();
    if pred(&now) {
        return Ok(now);
    }
    let wait = async {
        while let Some(StateChange { new, .. }) = changes.next().await {
            if pred(&new) {
                return Some(new);
            }
        }
        None
    };
    let wait = std::pin::pin!(wait);
    match select(wait, std::pin::pin!(sleep(ms))).await {
        Either::Left((Some(st), _)) => Ok(st),
        Either::Left((None, _)) => Err("the client is gone".into()),
        Either::Right(_) => Err(format!("timed out; state: {:?}", client.state())),
    }
}

/// Restarts the test server: every connection and all state dropped, the port closed for
/// `down_ms`.
pub async fn restart_server(down_ms: u32) {
    control(&format!("/restart?down_ms={down_ms}")).await;
}

/// Sends `POST <path>` to the test server's control routes.
async fn control(path: &str) {
    let url = format!("http://{}{path}", chsk_web_test_server::CONTROL_ADDR);
    let answer = Ajax::post(url).send().await;
    if let Err(e) = answer {
        panic!("the control endpoint {path} failed: {e:?}");
    }
}

/// `path` on the test server through its relay (whose connections [`cut_relay`] cuts).
pub fn relayed(path: &str) -> String {
    format!("http://{}{path}", chsk_web_test_server::RELAY_ADDR)
}

/// Cuts every connection through the relay and refuses new ones for `down_ms`.
pub async fn cut_relay(down_ms: u32) {
    control(&format!("/cut?down_ms={down_ms}")).await;
}

/// The user ids connected to `/chsk`, as the server sees them.
pub async fn connected_uids() -> Vec<String> {
    let resp = Ajax::get(endpoint("/connected"))
        .send()
        .await
        .expect("/connected answers");
    resp.text().lines().map(str::to_string).collect()
}

/// Races `fut` against a timer.
pub async fn within<T>(ms: u32, fut: impl std::future::Future<Output = T>) -> Option<T> {
    match select(std::pin::pin!(fut), std::pin::pin!(sleep(ms))).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}
