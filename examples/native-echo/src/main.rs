//! A chsk server and a native chsk client in one process.
//!
//! The server has three handlers; the client connects, gets typed replies, receives pushes,
//! prints everything and exits. Run it with `cargo run -p native-echo`.

use std::time::Duration;

use chsk::{
    client::{Client, ClientOptions, TransportMode},
    CbError, Ctx, Server,
};

/// Client → server events.
#[chsk::events(ns = "echo")]
#[derive(Debug, Clone)]
pub enum EchoEvent {
    /// Broadcast a line to everyone (no reply).
    Say(String),
    /// Echo the text back.
    #[reply(String)]
    Echo {
        /// What to echo.
        text: String,
    },
    /// Push `n` ticks to the caller's user, then reply with `n`.
    #[reply(u32)]
    Count {
        /// How many ticks.
        n: u32,
    },
}

/// Server → client pushes.
#[chsk::events(ns = "echo")]
#[derive(Debug, Clone)]
pub enum EchoPush {
    /// One tick of a count.
    Tick(u32),
    /// Someone said something.
    Said {
        /// Who.
        uid: String,
        /// What.
        text: String,
    },
}

#[chsk::handler(EchoEvent::Say)]
async fn say(cx: Ctx<()>, text: String) {
    let uid = cx.uid().unwrap_or("anonymous").to_string();
    // `Ok(n)`: queued for `n` connections (0 when nobody is connected). An error means the
    // event can never be sent (too large, not encodable): a bug to see, not to ignore.
    if let Err(e) = cx.server().send_to_all(EchoPush::Said { uid, text }) {
        eprintln!("could not push: {e}");
    }
}

#[chsk::handler(EchoEvent::Echo)]
async fn echo(cx: Ctx<()>, text: String) -> String {
    format!("{text} (echoed to {})", cx.uid().unwrap_or("anonymous"))
}

#[chsk::handler(EchoEvent::Count)]
async fn count(cx: Ctx<()>, n: u32) -> u32 {
    if let Some(uid) = cx.uid() {
        for i in 1..=n {
            if let Err(e) = cx.server().send_to_user(uid, EchoPush::Tick(i)) {
                eprintln!("could not push: {e}");
                break;
            }
        }
    }
    n
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The server: user id from the `uid` query parameter (a real app would use its session).
    let server = Server::builder::<EchoEvent, ()>(())
        .handler(say)
        .handler(echo)
        .handler(count)
        .user_id(|req, _client_id| req.query("uid").map(str::to_owned))
        .skip_csrf_check()
        .build();
    let app = axum::Router::new().nest("/chsk", chsk_axum::routes(server.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/chsk", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("server error: {e}");
        }
    });
    println!("server listening at {url}");

    // The client.
    let client = Client::<EchoEvent, EchoPush>::connect(
        &url,
        ClientOptions {
            transport: TransportMode::Auto,
            params: vec![("uid".into(), "demo".into())],
            ..Default::default()
        },
    );
    let mut pushes = client.pushes();
    client.wait_open(Duration::from_secs(3)).await?;
    let st = client.state();
    println!(
        "open: uid={:?} transport={:?} client-id={}",
        st.uid, st.transport, st.client_id
    );

    let reply: String = client
        .send_with_reply(
            echo_event::Echo {
                text: "hello".into(),
            },
            Duration::from_secs(2),
        )
        .await?;
    println!("reply to echo: {reply:?}");

    let n: u32 = client
        .send_with_reply(echo_event::Count { n: 3 }, Duration::from_secs(2))
        .await?;
    println!("reply to count: {n}");

    client.send(EchoEvent::Say("bye".into()))?;

    // 3 ticks, then what we said.
    for _ in 0..4 {
        let push = tokio::time::timeout(Duration::from_secs(2), pushes.recv())
            .await
            .map_err(|_| "no push within 2 s")?
            .ok_or("client gone")??;
        println!("push: {push:?}");
    }

    client.disconnect();
    assert_eq!(
        client.send(EchoEvent::Say("too late".into())),
        Err(CbError::Closed)
    );
    println!("disconnected: {:?}", client.state().last_close_reason());
    Ok(())
}
