//! Generated code uses absolute paths only: it compiles without the prelude.
#![no_implicit_prelude]
#![deny(warnings)]

#[::chsk::events(ns = "hy")]
#[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::cmp::PartialEq)]
pub enum Hygiene {
    Unit,
    One(::std::string::String),
    #[reply(::std::vec::Vec<u8>)]
    Two(u8, ::std::string::String),
    Named {
        a: u8,
        b: ::std::option::Option<::std::string::String>,
    },
}

#[::chsk::handler(Hygiene::Named)]
async fn named(_cx: ::chsk::Ctx<u8>, _a: u8, _b: ::std::option::Option<::std::string::String>) {}

#[::chsk::handler(Hygiene::Two)]
async fn two(a: u8, _b: ::std::string::String) -> ::std::vec::Vec<u8> {
    ::std::vec![a]
}

fn main() {
    use ::chsk::Event;
    let events = [
        Hygiene::Unit,
        Hygiene::One(::std::string::ToString::to_string("x")),
        Hygiene::Two(1, ::std::string::String::new()),
        Hygiene::Named {
            a: 2,
            b: ::std::option::Option::None,
        },
    ];
    for event in &events {
        for codec in [::chsk::Codec::Postcard, ::chsk::Codec::Json] {
            let payload = event.encode_payload(codec).unwrap();
            let back = Hygiene::decode(event.id(), &payload, codec).unwrap();
            ::std::assert_eq!(&back, event);
        }
    }
    ::std::assert_eq!(hygiene::Two::ID, "hy/two");
    let _ = (named, two);
}
