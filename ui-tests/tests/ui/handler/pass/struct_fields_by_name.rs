//! Struct-variant parameters bind fields by name, in any order; `_name` binds `name` without
//! an unused-variable warning; tuple-variant parameters bind in order.
#![deny(warnings)]

#[chsk::events(ns = "board")]
#[derive(Debug, Clone, PartialEq)]
pub enum BoardEvent {
    #[reply((String, String))]
    Move { from: String, to: String },
    #[reply(u32)]
    Pair(u8, String),
    r#Type { r#type: u8, kind: u16 },
    Ping,
}

#[chsk::handler(BoardEvent::Move)]
async fn mv(to: String, from: String) -> (String, String) {
    (from, to)
}

#[chsk::handler(BoardEvent::Pair)]
async fn pair(_cx: chsk::Ctx<()>, number: u8, text: String) -> u32 {
    u32::from(number) + text.len() as u32
}

#[chsk::handler(BoardEvent::r#Type)]
async fn kind(_kind: u16, r#type: u8) {
    let _ = r#type;
}

#[chsk::handler(board_event::Ping)]
async fn ping() {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let moved = chsk::handler::of(mv).run("b".into(), "a".into()).await;
    assert_eq!(moved, ("a".to_string(), "b".to_string()));
    // Through the real decode -> dispatch path: `from` gets the `from` field.
    let server = chsk::Server::builder(())
        .handler(mv)
        .handler(pair)
        .handler(kind)
        .handler(ping)
        .skip_csrf_check()
        .build();
    let request = board_event::Move {
        from: "a".into(),
        to: "b".into(),
    };
    let reply = server.call_local(None, request).await;
    assert_eq!(reply, Ok(("a".to_string(), "b".to_string())));
    let reply = server.call_local(None, board_event::Pair(1, "xy".into())).await;
    assert_eq!(reply, Ok(3));
}
