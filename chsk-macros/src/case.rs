//! Name mapping shared by both macros: variant names to wire ids (kebab-case) and enum names to
//! module names (snake_case).
//!
//! Words are split at every lowercase-or-digit → uppercase boundary, before the last capital of
//! a run of capitals followed by a lowercase letter (so acronyms stay one word), and at `_`:
//! `UserJoined` → `user-joined`, `HTTPPing` → `http-ping`, `GetHTTP` → `get-http`,
//! `V2Ping` → `v2-ping`, `Post2` → `post2`. A raw identifier's `r#` is dropped.

/// `UserJoined` → `user-joined`.
pub(crate) fn kebab_case(name: &str) -> String {
    join_words(name, '-')
}

/// `ChatEvent` → `chat_event`.
pub(crate) fn snake_case(name: &str) -> String {
    join_words(name, '_')
}

fn join_words(name: &str, sep: char) -> String {
    let name = name.strip_prefix("r#").unwrap_or(name);
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' {
            if !out.is_empty() && !out.ends_with(sep) {
                out.push(sep);
            }
            continue;
        }
        if c.is_uppercase() && i > 0 && !out.is_empty() && !out.ends_with(sep) {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower)
            {
                out.push(sep);
            }
        }
        out.extend(c.to_lowercase());
    }
    while out.ends_with(sep) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab() {
        for (input, want) in [
            ("Post", "post"),
            ("UserJoined", "user-joined"),
            ("HTTPPing", "http-ping"),
            ("GetHTTP", "get-http"),
            ("HTTP", "http"),
            ("V2Ping", "v2-ping"),
            ("Post2", "post2"),
            ("A", "a"),
            ("ABCDef", "abc-def"),
            ("XMLHttpRequest", "xml-http-request"),
            ("r#Type", "type"),
            ("Snake_Case", "snake-case"),
            ("Über", "über"),
        ] {
            assert_eq!(kebab_case(input), want, "{input}");
        }
    }

    #[test]
    fn snake() {
        assert_eq!(snake_case("ChatEvent"), "chat_event");
        assert_eq!(snake_case("HTTPEvent"), "http_event");
        assert_eq!(snake_case("Events"), "events");
        assert_eq!(snake_case("ChatPushV2"), "chat_push_v2");
    }
}
