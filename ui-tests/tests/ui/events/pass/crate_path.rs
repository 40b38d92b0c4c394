//! `crate = ".."` names a renamed chsk; no `::chsk` path is generated.

extern crate chsk as my_chsk;

#[my_chsk::events(ns = "renamed", crate = "::my_chsk")]
#[derive(Debug, PartialEq)]
pub enum Renamed {
    #[reply(u8)]
    Ask { question: String },
    Tell(String, u8),
}

fn main() {
    use my_chsk::{Codec, Event, Variant};
    let event = Renamed::Ask { question: "?".into() };
    let payload = event.encode_payload(Codec::Json).unwrap();
    assert_eq!(Renamed::decode("renamed/ask", &payload, Codec::Json).unwrap(), event);
    assert_eq!(<renamed::Tell as Variant>::ID, "renamed/tell");
}
