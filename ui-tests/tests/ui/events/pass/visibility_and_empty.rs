//! A private enum gets a private module whose items are visible to the enum's module; an empty
//! enum is allowed (a side that sends nothing); docs and derives are copied; no warnings.
#![deny(warnings, missing_docs, unreachable_pub, missing_debug_implementations)]

mod inner {
    /// Pushes, crate-visible.
    #[chsk::events(ns = "push")]
    #[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
    pub(crate) enum Push {
        /// Someone joined.
        UserJoined {
            /// Who.
            user: String,
        },
        /// Ping.
        #[default]
        Ping,
    }

    #[chsk::events(ns = "none")]
    #[derive(Debug)]
    enum Nothing {}

    pub(crate) fn nothing_ids() -> &'static [&'static str] {
        <Nothing as chsk::Event>::IDS
    }

    pub(crate) fn decode_nothing() -> bool {
        <Nothing as chsk::Event>::decode("none/x", &chsk::Payload(vec![]), chsk::Codec::Json)
            .is_err()
    }
}

use inner::push;

fn main() {
    let joined = push::UserJoined { user: "ann".into() };
    // Derives are copied onto the variant structs (serde's are not needed there).
    let copy = joined.clone();
    assert_eq!(copy, joined);
    let _ = std::collections::HashSet::from([joined.clone()]);
    assert_eq!(push::Ping::default(), push::Ping);
    assert_eq!(push::UserJoined::ID, "push/user-joined");
    let event: inner::Push = joined.into();
    assert_eq!(event, inner::Push::UserJoined { user: "ann".into() });
    assert!(inner::nothing_ids().is_empty());
    assert!(inner::decode_nothing());
}
