//! The HTML page: a name form, or the chat (the wasm UI fills it in).
//!
//! The page is served `Cache-Control: no-cache` (it names the current bundle version, and the
//! CSRF token changes with each server process); the stylesheet and the bundle it loads are
//! cached for good (their URLs carry a hash of their contents).

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hasher},
    sync::OnceLock,
};

use axum::{
    extract::{Path, Query},
    http::header,
    response::{Html, IntoResponse, Response},
};

use crate::{bundle::IMMUTABLE, valid_user};

const STYLE: &str = r#"
* { box-sizing: border-box; }
html, body { height: 100%; }
body { font: 15px system-ui, sans-serif; margin: 0; color: #222; background: #f6f6f4; display: flex; flex-direction: column; }
header { flex: none; display: flex; flex-wrap: wrap; gap: .4em 1em; align-items: center; padding: .6em 1em; background: #283845; color: #fff; }
header h1 { font-size: 1.1em; margin: 0; }
#state { padding: .15em .6em; border-radius: 1em; background: #a33; }
#state.open { background: #2a7a3a; }
main.chat { flex: 1; min-height: 0; display: grid; grid-template-columns: 9em minmax(0, 1fr) 13em; gap: 1em; padding: 1em; }
#rooms button { display: block; width: 100%; margin-bottom: .3em; text-align: left; }
#rooms button.current { font-weight: bold; }
main.chat > section { display: flex; flex-direction: column; min-height: 0; gap: .6em; }
#messages { flex: 1; min-height: 0; overflow-y: auto; list-style: none; padding: 0; margin: 0; background: #fff; border: 1px solid #ddd; }
#messages:empty::before { content: "No messages yet."; display: block; padding: .6em; color: #888; }
#messages li { padding: .3em .6em; border-bottom: 1px solid #eee; overflow-wrap: anywhere; }
#messages .from { font-weight: bold; margin-right: .5em; }
#compose { flex: none; display: flex; gap: .5em; } #text { flex: 1; min-width: 0; }
aside { min-height: 0; overflow-y: auto; }
aside h2 { font-size: 1em; margin: 0 0 .4em; }
#online { list-style: none; padding: 0; margin: 0; }
#online li { display: flex; align-items: center; gap: .4em; padding: .2em 0; }
#online .you { color: #666; font-size: .9em; }
#online li button { margin-left: auto; font-size: .8em; }
#online.stale { opacity: .5; }
#notices { position: fixed; right: 1em; bottom: 1em; display: flex; flex-direction: column; gap: .4em; max-width: 13em; }
#notices div { background: #fff3c4; border: 1px solid #e0cf86; border-radius: .3em; padding: .4em .8em; box-shadow: 0 1px 4px #0002; cursor: pointer; animation: notice-out .5s ease-in 6s forwards; }
@keyframes notice-out { to { opacity: 0; transform: translateY(.5em); } }
main.join { flex: 1; display: flex; justify-content: center; align-items: flex-start; padding: 3em 1em; }
main.join form { background: #fff; border: 1px solid #ddd; border-radius: .5em; padding: 1.2em 1.5em; width: 100%; max-width: 24em; display: flex; flex-direction: column; gap: .8em; }
main.join p { margin: 0; }
main.join .row { display: flex; gap: .5em; } main.join #user { flex: 1; min-width: 0; }
@media (max-width: 42em) {
  main.chat { grid-template-columns: minmax(0, 1fr); grid-template-rows: auto minmax(0, 1fr) auto; }
  #rooms { display: flex; gap: .3em; } #rooms button { width: auto; margin: 0; }
  #notices { bottom: 4em; }
}
"#;

/// A hash of [`STYLE`]: the stylesheet's URL is `/style/<version>.css`.
fn style_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h = DefaultHasher::new();
        h.write(STYLE.as_bytes());
        format!("{:016x}", h.finish())
    })
}

/// `GET /style/{file}`: the stylesheet, immutable under its current versioned name, else
/// `no-cache`.
pub(crate) async fn style(Path(file): Path<String>) -> Response {
    let current = file.strip_suffix(".css") == Some(style_version());
    let cache = if current { IMMUTABLE } else { "no-cache" };
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
        ],
        STYLE,
    )
        .into_response()
}

/// `GET /`: the chat for `?user=<name>`, else a form asking for a name. `version` names the
/// bundle's versioned URLs (see the `bundle` module).
pub(crate) async fn index(
    Query(q): Query<HashMap<String, String>>,
    csrf: String,
    version: String,
) -> Response {
    let style = style_version();
    let html = match q.get("user").filter(|u| valid_user(u)) {
        None => format!(
            r#"<!doctype html><html><head><meta charset="utf-8"><title>chsk chat</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/style/{style}.css"></head><body><header><h1>chsk chat</h1></header><main class="join">
<form method="get" action="/"><p>Pick a name (letters, digits, - and _):</p>
<div class="row"><input name="user" id="user" pattern="[A-Za-z0-9_\-]{{1,24}}" maxlength="24" required autofocus>
<button>Join</button></div>
<label><input type="checkbox" name="transport" value="ajax"> force Ajax (long-polling)</label>
</form></main></body></html>"#
        ),
        // `user` is validated: only [A-Za-z0-9_-], safe in HTML; `version` is hex or "missing".
        Some(user) => format!(
            r#"<!doctype html><html><head><meta charset="utf-8"><title>chsk chat: {user}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{csrf}">
<link rel="modulepreload" href="/pkg/{version}/chat_web.js">
<link rel="stylesheet" href="/style/{style}.css"></head><body>
<header><h1>chsk chat</h1><span>you are <b id="me">{user}</b></span>
<span id="state">loading…</span>
<label><input type="checkbox" id="force-ajax"> force Ajax</label>
<label title="disconnect; what is posted meanwhile is replayed when you come back"><input type="checkbox" id="offline"> offline</label></header>
<main class="chat"><nav id="rooms"></nav>
<section><ul id="messages"></ul>
<form id="compose"><input id="text" autocomplete="off" placeholder="Say something" maxlength="500"><button id="send">Send</button></form></section>
<aside><h2>Online</h2><ul id="online"></ul><div id="notices" role="status"></div></aside></main>
<script type="module">import init from '/pkg/{version}/chat_web.js'; init();</script>
</body></html>"#
        ),
    };
    ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response()
}
