//! The HTML page: a name form, or the chat (the wasm UI fills it in).

use std::collections::HashMap;

use axum::{extract::Query, response::Html};

use crate::valid_user;

const STYLE: &str = r#"
body { font: 15px system-ui, sans-serif; margin: 0; color: #222; background: #f6f6f4; }
header { display: flex; gap: 1em; align-items: center; padding: .6em 1em; background: #283845; color: #fff; }
header h1 { font-size: 1.1em; margin: 0; }
#state { padding: .15em .6em; border-radius: 1em; background: #a33; }
#state.open { background: #2a7a3a; }
main { display: grid; grid-template-columns: 9em 1fr 13em; gap: 1em; padding: 1em; }
#rooms button { display: block; width: 100%; margin-bottom: .3em; }
#rooms button.current { font-weight: bold; }
#messages { list-style: none; padding: 0; margin: 0 0 1em; min-height: 18em; background: #fff; border: 1px solid #ddd; }
#messages li { padding: .3em .6em; border-bottom: 1px solid #eee; }
#messages .from { font-weight: bold; margin-right: .5em; }
#compose { display: flex; gap: .5em; } #text { flex: 1; }
#online li button { margin-left: .5em; font-size: .8em; }
#notices div { background: #fff3c4; padding: .3em .6em; margin-top: .3em; }
"#;

/// `GET /`: the chat for `?user=<name>`, else a form asking for a name.
pub(crate) async fn index(Query(q): Query<HashMap<String, String>>, csrf: String) -> Html<String> {
    let Some(user) = q.get("user").filter(|u| valid_user(u)) else {
        return Html(format!(
            r#"<!doctype html><html><head><meta charset="utf-8"><title>chsk chat</title>
<style>{STYLE}</style></head><body><header><h1>chsk chat</h1></header><main>
<form method="get" action="/"><p>Pick a name (letters, digits, - and _):</p>
<input name="user" id="user" pattern="[A-Za-z0-9_\-]{{1,24}}" required autofocus>
<label><input type="checkbox" name="transport" value="ajax"> force Ajax</label>
<button>Join</button></form></main></body></html>"#
        ));
    };
    // `user` is validated: only [A-Za-z0-9_-], safe in HTML.
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>chsk chat: {user}</title>
<meta name="csrf-token" content="{csrf}">
<style>{STYLE}</style></head><body>
<header><h1>chsk chat</h1><span>you are <b id="me">{user}</b></span>
<span id="state">loading…</span>
<label><input type="checkbox" id="force-ajax"> force Ajax</label></header>
<main><nav id="rooms"></nav>
<section><ul id="messages"></ul>
<form id="compose"><input id="text" autocomplete="off" placeholder="Say something" maxlength="500"><button id="send">Send</button></form></section>
<aside><h2>Online</h2><ul id="online"></ul><div id="notices"></div></aside></main>
<script type="module">import init from '/pkg/chat_web.js'; init();</script>
</body></html>"#
    ))
}
