//! `#[derive]` may also come before `#[chsk::events]`: the enum gets its derives, but the macro
//! does not see them, so the variant structs get none (write `#[chsk::events]` first to have
//! them copied).

#[derive(Debug, Clone, PartialEq)]
#[chsk::events(ns = "order")]
pub enum Order {
    #[reply(bool)]
    Place {
        item: String,
        count: u16,
    },
    Cancel(u64),
}

fn main() {
    use chsk::{Codec, Event};
    let place = order::Place {
        item: "tea".into(),
        count: 2,
    };
    let event: Order = place.into();
    assert_eq!(event.clone(), event);
    let bytes = event.encode_payload(Codec::Postcard).unwrap();
    assert_eq!(bytes.0, [3, b't', b'e', b'a', 2]);
    assert_eq!(
        Order::decode("order/place", &bytes, Codec::Postcard).unwrap(),
        event
    );
    assert_eq!(format!("{event:?}"), r#"Place { item: "tea", count: 2 }"#);
    assert_eq!(order::Cancel::ID, "order/cancel");
}
