//! Variant names that are also the names of their field types (`Message(Message)`,
//! `String(String)`), `Self` in a field, and `self::` paths: the generated structs still refer
//! to the user's types.

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub text: String,
}

#[chsk::events(ns = "shadow")]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Shadow {
    Message(Message),
    String(String),
    #[reply(Message)]
    Echo {
        message: self::Message,
        tags: Vec<String>,
    },
    Nested(Box<Self>),
}

fn main() {
    use chsk::{Codec, Event, Variant};
    let message = Message { text: "hi".into() };
    let s: shadow::Message = shadow::Message(message.clone());
    assert_eq!(s.0, message);
    let _: <shadow::Echo as chsk::Request>::Reply = message.clone();
    let _: <shadow::String as Variant>::Fields = (String::from("x"),);
    let nested = Shadow::Nested(Box::new(Shadow::String("x".into())));
    for codec in [Codec::Postcard, Codec::Json] {
        let payload = nested.encode_payload(codec).unwrap();
        assert_eq!(
            Shadow::decode("shadow/nested", &payload, codec).unwrap(),
            nested
        );
    }
    let inner: Box<Shadow> = shadow::Nested::try_from_event(nested).unwrap().0;
    assert_eq!(*inner, Shadow::String("x".into()));
    let echo = shadow::Echo {
        message,
        tags: vec![],
    };
    assert_eq!(Shadow::from(echo).id(), "shadow/echo");
}
