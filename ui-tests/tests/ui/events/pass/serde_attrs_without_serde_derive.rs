//! `#[serde(..)]` on the fields of a struct variant applies to the payload, whether or not the
//! enum derives serde's traits.

#[chsk::events(ns = "chat")]
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Post {
        #[serde(rename = "body")]
        text: String,
        #[serde(default)]
        room: String,
    },
}

#[chsk::events(ns = "chat")]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum WithDerives {
    Post {
        #[serde(rename = "body")]
        text: String,
    },
}

use chsk::{Codec, Event};

fn main() {
    let event = ChatEvent::Post { text: "hi".into(), room: "a".into() };
    let payload = event.encode_payload(Codec::Json).unwrap();
    assert_eq!(payload.as_bytes(), br#"{"body":"hi","room":"a"}"#);
    let back = ChatEvent::decode("chat/post", &chsk::Payload(br#"{"body":"yo"}"#.to_vec()), Codec::Json);
    assert_eq!(back.unwrap(), ChatEvent::Post { text: "yo".into(), room: String::new() });
    let payload = WithDerives::Post { text: "hi".into() }.encode_payload(Codec::Json).unwrap();
    assert_eq!(payload.as_bytes(), br#"{"body":"hi"}"#);
}
