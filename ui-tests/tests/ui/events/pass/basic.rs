//! Unit, one-field, n-field tuple and struct variants, reply types and an id override;
//! round trips through both codecs.

use chsk::{Codec, DecodeError, Event, Payload, Request, Variant};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub from: String,
    pub text: String,
}

#[chsk::events(ns = "chat")]
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// A new message.
    Post(Message),
    #[reply(Vec<Message>)]
    History {
        room: String,
        limit: u32,
    },
    #[event(id = "chat/who")]
    #[reply(Vec<String>)]
    Online,
    Pair(u8, String),
    UserJoined {
        user: String,
    },
    HTTPPing,
}

fn round_trip(event: ChatEvent) {
    for codec in [Codec::Postcard, Codec::Json] {
        let payload = event.encode_payload(codec).unwrap();
        let back = ChatEvent::decode(event.id(), &payload, codec).unwrap();
        assert_eq!(back, event, "{codec:?}");
        let frame = event.to_frame(codec).unwrap();
        assert_eq!(ChatEvent::from_frame(&frame, codec).unwrap(), event);
    }
}

fn json(event: &ChatEvent) -> String {
    String::from_utf8(event.encode_payload(Codec::Json).unwrap().0).unwrap()
}

fn reply_of<R: Request>(_: &R) -> &'static str {
    std::any::type_name::<R::Reply>()
}

fn main() {
    assert_eq!(ChatEvent::NAME, "ChatEvent");
    assert_eq!(
        ChatEvent::IDS,
        [
            "chat/post",
            "chat/history",
            "chat/who",
            "chat/pair",
            "chat/user-joined",
            "chat/http-ping"
        ]
    );
    let msg = Message {
        from: "ann".into(),
        text: "hi".into(),
    };
    let events = [
        ChatEvent::Post(msg.clone()),
        ChatEvent::History {
            room: "a".into(),
            limit: 5,
        },
        ChatEvent::Online,
        ChatEvent::Pair(7, "x".into()),
        ChatEvent::UserJoined { user: "bob".into() },
        ChatEvent::HTTPPing,
    ];
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.index(), i);
        assert_eq!(event.id(), ChatEvent::IDS[i]);
        assert_eq!(ChatEvent::index_of(event.id()), Some(i));
        round_trip(event.clone());
    }

    // Payload shapes: JSON stays readable.
    assert_eq!(json(&events[0]), r#"{"from":"ann","text":"hi"}"#);
    assert_eq!(json(&events[1]), r#"{"room":"a","limit":5}"#);
    assert_eq!(json(&events[2]), "null");
    assert_eq!(json(&events[3]), r#"[7,"x"]"#);
    // Postcard is positional.
    assert_eq!(
        events[1].encode_payload(Codec::Postcard).unwrap().0,
        [1, b'a', 5]
    );
    assert_eq!(
        events[2].encode_payload(Codec::Postcard).unwrap().0,
        [0u8; 0]
    );

    // Decoding errors, never panics.
    let bad = Payload(b"{\"room\":1}".to_vec());
    assert!(matches!(
        ChatEvent::decode("chat/history", &bad, Codec::Json),
        Err(DecodeError::BadPayload {
            id: "chat/history",
            ..
        })
    ));
    assert!(matches!(
        ChatEvent::decode("chat/nope", &bad, Codec::Json),
        Err(DecodeError::UnknownId { ref id, ty: "ChatEvent" }) if id == "chat/nope"
    ));
    assert!(ChatEvent::decode("chat/post", &Payload(vec![0xff; 3]), Codec::Postcard).is_err());
    assert!(ChatEvent::decode("chat/history", &Payload(vec![]), Codec::Postcard).is_err());

    // Variant structs.
    let history = chat_event::History {
        room: "a".into(),
        limit: 5,
    };
    assert_eq!(chat_event::History::ID, "chat/history");
    assert_eq!(<chat_event::History as Variant>::ID, "chat/history");
    assert_eq!(<chat_event::History as Variant>::INDEX, 1);
    assert_eq!(chat_event::Online::ID, "chat/who");
    assert_eq!(chat_event::HTTPPing::ID, "chat/http-ping");
    assert!(
        reply_of(&history).ends_with("Vec<trybuild000::Message>")
            || reply_of(&history).contains("Message>")
    );
    assert!(reply_of(&chat_event::Online).contains("Vec<alloc::string::String>"));
    let event: ChatEvent = history.clone().into();
    assert_eq!(event, events[1]);
    assert_eq!(
        chat_event::History::try_from_event(event.clone()).unwrap(),
        history
    );
    assert_eq!(history.clone().into_fields(), ("a".to_string(), 5));
    assert_eq!(chat_event::Post(msg.clone()).into_fields(), (msg.clone(),));
    assert_eq!(chat_event::Online.into_fields(), ());
    assert_eq!(
        chat_event::Pair(1, "y".into()).into_fields(),
        (1, "y".to_string())
    );
    assert_eq!(
        chat_event::Post::try_from_event(event.clone()).unwrap_err(),
        event
    );
    let _: <chat_event::Post as Variant>::Output = ();
    let _: <chat_event::History as Variant>::Output = Vec::<Message>::new();
}
