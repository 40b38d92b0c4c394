//! The page around the client: the CSRF `<meta>` tag, page unload, and URLs.

use std::sync::atomic::{AtomicBool, Ordering};

use wasm_bindgen::{closure::Closure, JsCast};

/// Reads the CSRF token from `<meta name="csrf-token" content="…">`, if the page has one.
///
/// [`connect`](crate::connect) uses it when the options carry no token.
pub fn csrf_token_from_meta() -> Option<String> {
    let doc = web_sys::window()?.document()?;
    let el = doc
        .query_selector("meta[name='csrf-token']")
        .ok()
        .flatten()?;
    el.get_attribute("content").filter(|t| !t.is_empty())
}

static UNLOADING: AtomicBool = AtomicBool::new(false);
static WATCHING: AtomicBool = AtomicBool::new(false);

/// `true` once the page is being unloaded (`pagehide` without `persisted`, which comes before
/// the browser closes the page's sockets): from then on the client opens nothing and reports no
/// close, so a closing page never reconnects (Sente does the same with `beforeunload`, which also
/// fires for download links and cancelled navigations). A page that goes into the back-forward
/// cache (`persisted`) is not unloading: its timers are frozen there, and if its socket closed
/// meanwhile it reconnects when restored.
pub(crate) fn unloading() -> bool {
    UNLOADING.load(Ordering::Relaxed)
}

/// Listens for the page's unload events (once per page).
pub(crate) fn watch_unload() {
    if WATCHING.swap(true, Ordering::Relaxed) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let listen = |name: &str, f: Box<dyn FnMut(web_sys::Event)>| {
        let cb = Closure::wrap(f);
        let _ = window.add_event_listener_with_callback(name, cb.as_ref().unchecked_ref());
        // The listeners live as long as the page.
        cb.forget();
    };
    let persisted = |e: &web_sys::Event| {
        js_sys::Reflect::get(e, &"persisted".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    };
    listen(
        "pagehide",
        Box::new(move |e| {
            if !persisted(&e) {
                UNLOADING.store(true, Ordering::Relaxed);
            }
        }),
    );
    listen(
        "pageshow",
        Box::new(move |e| {
            if persisted(&e) {
                UNLOADING.store(false, Ordering::Relaxed);
            }
        }),
    );
}

/// Resolves `path` against the page's location: `/chsk` → `http://host:port/chsk`. An absolute
/// `http(s)://` URL is kept as it is.
pub(crate) fn absolute_url(path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        return path.to_string();
    }
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    if path.starts_with('/') {
        format!("{origin}{path}")
    } else {
        format!("{origin}/{path}")
    }
}
