//! `crate = ".."` names a renamed chsk; no `::chsk` path is generated.

extern crate chsk as my_chsk;

#[my_chsk::events(ns = "renamed", crate = "::my_chsk")]
#[derive(Debug, PartialEq)]
pub enum Renamed {
    #[reply(u8)]
    Ask {
        question: String,
    },
    Tell(String, u8),
}

fn main() {
    use my_chsk::{Codec, Event, Variant};
    let event = Renamed::Ask {
        question: "?".into(),
    };
    let payload = event.encode_payload(Codec::Json).unwrap();
    assert_eq!(
        Renamed::decode("renamed/ask", &payload, Codec::Json).unwrap(),
        event
    );
    assert_eq!(<renamed::Tell as Variant>::ID, "renamed/tell");
}

#[my_chsk::handler(Renamed::Ask, crate = "::my_chsk")]
async fn ask(question: String) -> u8 {
    question.len() as u8
}

#[my_chsk::handler(renamed::Tell, crate = "::my_chsk")]
async fn tell(_cx: my_chsk::Ctx<()>, _text: String, _n: u8) {}

const _: fn() = || {
    fn handler<F: my_chsk::handler::IntoHandler<()>>(_: F) {}
    handler(ask);
    handler(tell);
};
