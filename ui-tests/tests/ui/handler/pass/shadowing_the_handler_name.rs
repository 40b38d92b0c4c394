//! The handler's name is a plain function item: a `let` binding or a parameter of the same
//! name, in the same module, shadows it (a unit struct could not be shadowed: E0530).
#![deny(warnings)]

use chsk::Ctx;

#[chsk::events(ns = "chat")]
#[derive(Debug)]
pub enum ChatEvent {
    #[reply(Vec<u32>)]
    History { limit: u32 },
    Post(String),
}

#[chsk::handler(ChatEvent::History)]
async fn history(_cx: Ctx<()>, limit: u32) -> Vec<u32> {
    // Inside the handler too.
    let history: Vec<u32> = (0..limit).collect();
    history
}

#[chsk::handler(ChatEvent::Post)]
async fn post(text: String) {
    let _ = text;
}

// `#[cfg]` after the attribute applies to every generated item.
#[chsk::handler(ChatEvent::Post)]
#[cfg(any())]
async fn never(text: String) {
    let _ = text;
}

fn count(history: &[u32]) -> usize {
    history.len()
}

fn post_twice(post: &str) -> String {
    let post = format!("{post}{post}");
    post
}

fn main() {
    let history = vec![1];
    assert_eq!(count(&history), 1);
    let post = post_twice("a");
    assert_eq!(post, "aa");
    let _server = chsk::Server::builder(())
        .handler(self::history)
        .handler(self::post)
        .skip_csrf_check()
        .build();
    match Some(3) {
        Some(history) => assert_eq!(history, 3),
        None => {}
    }
}
