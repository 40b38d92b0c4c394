//! Fixtures of the randomized protocol tests: a recursive payload type and a spread of ordinary
//! events, samples of them, and a small deterministic PRNG.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub children: Vec<Node>,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Plain,
    Number(i64),
    Named { name: String },
}

#[chsk::events(ns = "t")]
#[derive(Debug, Clone, PartialEq)]
pub enum TreeEvent {
    Tree(Node),
    Opt(Option<Box<Node>>),
    Pair(Node, u8),
    Many { nodes: Vec<Node>, kind: Kind },
    Unit,
}

#[chsk::events(ns = "chat")]
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Post(String),
    #[reply(Vec<String>)]
    History(String, u32),
    New(u8),
    Kinds(Vec<Kind>),
    Wide {
        big: i128,
        small: u16,
        flag: bool,
        c: char,
    },
}

// ---------------------------------------------------------------------------------------------
// A small deterministic PRNG (SplitMix64): fixed seeds, no dependency.

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Samples of the event types.

pub fn leaf(label: &str) -> Node {
    Node {
        children: vec![],
        label: label.into(),
    }
}

pub fn sample_tree() -> Node {
    Node {
        children: vec![
            leaf("a"),
            Node {
                children: vec![leaf("b"), leaf("")],
                label: "c".into(),
            },
        ],
        label: "root".into(),
    }
}

pub fn tree_events() -> Vec<TreeEvent> {
    vec![
        TreeEvent::Tree(sample_tree()),
        TreeEvent::Opt(Some(Box::new(sample_tree()))),
        TreeEvent::Opt(None),
        TreeEvent::Pair(leaf("x"), 7),
        TreeEvent::Many {
            nodes: vec![sample_tree(), leaf("y")],
            kind: Kind::Named { name: "k".into() },
        },
        TreeEvent::Unit,
    ]
}

pub fn chat_events() -> Vec<ChatEvent> {
    vec![
        ChatEvent::Post("hi".into()),
        ChatEvent::History("lobby".into(), 2),
        ChatEvent::New(1),
        ChatEvent::Kinds(vec![Kind::Plain, Kind::Number(-3)]),
        ChatEvent::Wide {
            big: -1,
            small: 300,
            flag: true,
            c: 'é',
        },
    ]
}
