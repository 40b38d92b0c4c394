//! The chsk chat demo's browser UI: plain `web_sys` DOM on top of chsk's client, connected with
//! [`chsk_web::connect_with_credentials`].
//!
//! The page (served by `chat-server`) has the static layout; this fills it in: rooms, messages
//! (history through `send_with_reply`, new ones pushed), who is online (pushed on change),
//! nudges (pushed to every tab of the nudged user), and the connection state and transport.
//!
//! Reconnects use chsk's recovery: when the server replayed every message pushed while the tab
//! was away ([`Recovery::Recovered`]) the message list is whole and is not reloaded; when it
//! could not ([`Recovery::NotRecovered`]: the server restarted, or the tab was away too long)
//! the room's history is loaded again. The "offline" switch disconnects the tab to try it.
//! The state element carries `data-recovery` (`fresh`, `recovered`, `not-recovered`) and the
//! message list `data-loads` (how many times the history was loaded), for the end-to-end test.
//!
//! The message list is a scrolling pane that follows new messages while it is scrolled to the
//! bottom (and always after your own post); notices fade out after 6 s (the page's CSS) or go
//! on a click; the online list marks you with "(you)", and its nudge buttons
//! are disabled (and the list dimmed) while the connection is not open.

use std::{cell::RefCell, rc::Rc, time::Duration};

use chat_events::{chat_event, ChatEvent, ChatPush, Message, ROOMS};
use chsk_web::{
    Client, ClientExt, ClientOptions, ClientState, CloseReason, Recovery, StateChange, Transport,
    TransportMode,
};
use wasm_bindgen::{closure::Closure, prelude::wasm_bindgen, JsCast, JsValue};
use web_sys::{Document, Element, HtmlInputElement};

type ChatClient = Client<ChatEvent, ChatPush>;

/// How close to the bottom (in CSS pixels) the message pane counts as "at the bottom".
const STICK_PX: i32 = 24;

struct App {
    doc: Document,
    client: ChatClient,
    user: String,
    room: RefCell<String>,
    /// The last online list received, re-rendered when the connection opens or closes.
    online: RefCell<Vec<String>>,
    /// How many times the history was loaded (the message list's `data-loads`).
    loads: std::cell::Cell<u32>,
}

/// Runs when the module loads.
#[wasm_bindgen(start)]
pub fn start() {
    if let Err(e) = run() {
        web_sys::console::error_1(&e);
    }
}

fn run() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let doc = window.document().ok_or("no document")?;
    let params = web_sys::UrlSearchParams::new_with_str(&window.location().search()?)?;
    let Some(user) = params.get("user") else {
        return Ok(()); // the name form: nothing to do
    };
    let force_ajax = params.get("transport").as_deref() == Some("ajax");
    // The token comes from the page's <meta>; after a server restart the server refuses it
    // (403) and the client fetches the new one from /csrf-token, then opens again by itself.
    let client: ChatClient = chsk_web::connect_with_credentials(
        "/chsk",
        ClientOptions {
            transport: if force_ajax {
                TransportMode::Ajax
            } else {
                TransportMode::Auto
            },
            params: vec![("user".into(), user.clone())],
            ..Default::default()
        },
        chsk_web::refresh_csrf_from("/csrf-token"),
    );
    let app = Rc::new(App {
        doc,
        client,
        user,
        room: RefCell::new(ROOMS[0].to_string()),
        online: RefCell::new(Vec::new()),
        loads: std::cell::Cell::new(0),
    });
    app.force_ajax_switch(force_ajax)?;
    app.offline_switch()?;
    app.render_rooms()?;
    app.render_state(&app.client.state());
    let a = Rc::clone(&app);
    app.client.on_state_change(move |change: StateChange| {
        a.render_state(&change.new);
        if change.old.open != change.new.open {
            let users = a.online.borrow().clone();
            let _ = a.render_online_as(&users, change.new.open); // nudges on or off
        }
        if change.opened() {
            // Recovered: every message missed while away was replayed (the pushes come next),
            // so the list is whole. Otherwise (first open, or not recovered) load the history.
            // Either way it is seamless: no notice.
            if change.new.recovery != Recovery::Recovered {
                a.load_history();
            }
            a.load_online(); // presence pushes are volatile: ask for the current list
        }
    });
    let a = Rc::clone(&app);
    app.client.on_push(move |push| a.on_push(push));
    // Keeps "reconnecting in N s" counting down.
    let a = Rc::clone(&app);
    let tick = Closure::<dyn FnMut()>::new(move || a.render_state(&a.client.state()));
    window.set_interval_with_callback_and_timeout_and_arguments_0(
        tick.as_ref().unchecked_ref(),
        250,
    )?;
    tick.forget();
    // A notice goes when clicked or when its fade-out animation ends (one listener for all).
    let notices = app.by_id("notices")?;
    for event in ["click", "animationend"] {
        on(&notices, event, |e| {
            if let Some(notice) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) {
                if notice.class_name() == "notice" {
                    notice.remove();
                }
            }
        })?;
    }
    let a = Rc::clone(&app);
    on(&app.by_id("compose")?, "submit", move |e| {
        e.prevent_default();
        a.post();
    })?;
    Ok(())
}

/// Adds an event listener that lives as long as the page.
fn on(
    target: &Element,
    name: &str,
    f: impl FnMut(web_sys::Event) + 'static,
) -> Result<(), JsValue> {
    let cb = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    target.add_event_listener_with_callback(name, cb.as_ref().unchecked_ref())?;
    cb.forget();
    Ok(())
}

impl App {
    fn by_id(&self, id: &str) -> Result<Element, JsValue> {
        self.doc
            .get_element_by_id(id)
            .ok_or_else(|| JsValue::from_str(&format!("no #{id}")))
    }

    fn el(&self, tag: &str, class: &str, text: &str) -> Result<Element, JsValue> {
        let el = self.doc.create_element(tag)?;
        if !class.is_empty() {
            el.set_class_name(class);
        }
        el.set_text_content(Some(text));
        Ok(el)
    }

    /// The "force Ajax" checkbox reloads the page with or without `transport=ajax`.
    fn force_ajax_switch(&self, checked: bool) -> Result<(), JsValue> {
        let input: HtmlInputElement = self.by_id("force-ajax")?.dyn_into()?;
        input.set_checked(checked);
        let user = self.user.clone();
        on(&input.clone().into(), "change", move |_| {
            let search = if input.checked() {
                format!("?user={user}&transport=ajax")
            } else {
                format!("?user={user}")
            };
            if let Some(w) = web_sys::window() {
                let _ = w.location().set_search(&search);
            }
        })
    }

    /// The "offline" checkbox disconnects the client (no reconnecting) and connects it again.
    fn offline_switch(&self) -> Result<(), JsValue> {
        let input: HtmlInputElement = self.by_id("offline")?.dyn_into()?;
        let client = self.client.clone();
        on(&input.clone().into(), "change", move |_| {
            if input.checked() {
                client.disconnect();
            } else {
                client.reconnect();
            }
        })
    }

    fn render_rooms(self: &Rc<Self>) -> Result<(), JsValue> {
        let nav = self.by_id("rooms")?;
        nav.set_inner_html("");
        for room in ROOMS {
            let current = *self.room.borrow() == *room;
            let button = self.el(
                "button",
                if current { "current" } else { "" },
                &format!("#{room}"),
            )?;
            button.set_attribute("data-room", room)?;
            let app = Rc::clone(self);
            on(&button, "click", move |_| {
                *app.room.borrow_mut() = room.to_string();
                let _ = app.render_rooms();
                app.load_history();
            })?;
            nav.append_child(&button)?;
        }
        Ok(())
    }

    fn render_state(&self, st: &ClientState) {
        let Ok(el) = self.by_id("state") else { return };
        let transport = match st.transport {
            Some(Transport::Ws) => "WebSocket",
            Some(Transport::Ajax) => "Ajax",
            _ => "-", // not open yet (`Local` is the server's, never a client's)
        };
        let text = if st.open {
            format!("open · {transport}")
        } else if let Some(at) = st.next_reconnect {
            let secs = at.saturating_sub(self.client.now()).as_secs_f64();
            format!("closed · reconnecting in {secs:.1} s")
        } else if st.last_close_reason() == Some(&CloseReason::RequestedDisconnect) {
            "offline".to_string()
        } else if st.ever_opened {
            "closed".to_string()
        } else {
            "connecting…".to_string()
        };
        el.set_text_content(Some(&text));
        el.set_class_name(if st.open { "open" } else { "" });
        // Why the last connection closed (e.g. `HTTP 403: bad CSRF token`), on hover.
        let recovery = match st.recovery {
            Recovery::Recovered => "recovered",
            Recovery::NotRecovered => "not-recovered",
            _ => "fresh",
        };
        let why = st.last_close.as_ref().map_or_else(String::new, |c| {
            let detail = c.detail.as_deref().unwrap_or("");
            format!("last close: {:?} {detail}; reconnect: {recovery}", c.reason)
        });
        let _ = el.set_attribute("title", &why);
        // `ws` or `ajax` (`Transport`'s `Display`), empty before the first open.
        let data = st.transport.map(|t| t.to_string()).unwrap_or_default();
        let _ = el.set_attribute("data-transport", &data);
        let _ = el.set_attribute("data-recovery", recovery);
    }

    fn on_push(self: &Rc<Self>, push: ChatPush) {
        let result = match push {
            ChatPush::NewMessage(msg) if msg.room == *self.room.borrow() => {
                self.append(&msg, msg.from == self.user)
            }
            ChatPush::NewMessage(_) => Ok(()),
            ChatPush::Online(users) => self.render_online(&users),
            ChatPush::Nudged { by } => self.notice(&format!("{by} nudged you")),
        };
        if let Err(e) = result {
            web_sys::console::error_1(&e);
        }
    }

    /// Appends a message; scrolls to it when the pane was at the bottom, or when `follow`.
    fn append(&self, msg: &Message, follow: bool) -> Result<(), JsValue> {
        let ul = self.by_id("messages")?;
        let item = self.message_item(msg)?;
        self.keep_at_bottom(follow, || ul.append_child(&item).map(drop))
    }

    /// Runs `f`, which changes the page, then scrolls the message pane to its bottom if it was
    /// there before (or if `force`): new messages are followed, and so is the pane when the
    /// layout around it changes (on a narrow window the online list sits below it).
    fn keep_at_bottom(
        &self,
        force: bool,
        f: impl FnOnce() -> Result<(), JsValue>,
    ) -> Result<(), JsValue> {
        let ul = self.by_id("messages")?;
        let at_bottom = ul.scroll_height() - ul.scroll_top() - ul.client_height() <= STICK_PX;
        f()?;
        if force || at_bottom {
            ul.set_scroll_top(ul.scroll_height());
        }
        Ok(())
    }

    fn message_item(&self, msg: &Message) -> Result<Element, JsValue> {
        let li = self.el("li", "", "")?;
        let (from, text) = (
            self.el("span", "from", &msg.from)?,
            self.el("span", "text", &msg.text)?,
        );
        li.append_child(&from)?;
        li.append_child(&text)?;
        Ok(li)
    }

    fn post(&self) {
        let Ok(input) = self
            .by_id("text")
            .and_then(|e| Ok(e.dyn_into::<HtmlInputElement>()?))
        else {
            return;
        };
        let text = input.value();
        if text.trim().is_empty() {
            return;
        }
        let room = self.room.borrow().clone();
        match self.client.send(chat_event::Post { room, text }) {
            Ok(()) => input.set_value(""),
            Err(e) => {
                let _ = self.notice(&format!("not sent: {e}"));
            }
        }
    }

    fn load_history(self: &Rc<Self>) {
        let app = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            let room = app.room.borrow().clone();
            let request = chat_event::History {
                room: room.clone(),
                limit: 50,
            };
            let reply = app
                .client
                .send_with_reply(request, Duration::from_secs(8))
                .await;
            if *app.room.borrow() != room {
                return; // switched meanwhile
            }
            let result = match reply {
                Ok(messages) => app.by_id("messages").and_then(|ul| {
                    app.loads.set(app.loads.get() + 1);
                    ul.set_attribute("data-loads", &app.loads.get().to_string())?;
                    ul.set_inner_html("");
                    for m in &messages {
                        let item = app.message_item(m)?;
                        ul.append_child(&item)?;
                    }
                    ul.set_scroll_top(ul.scroll_height());
                    Ok(())
                }),
                Err(e) => app.notice(&format!("history of #{room}: {e}")),
            };
            if let Err(e) = result {
                web_sys::console::error_1(&e);
            }
        });
    }

    fn load_online(self: &Rc<Self>) {
        let app = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            let reply = app
                .client
                .send_with_reply(chat_event::Online, Duration::from_secs(8))
                .await;
            if let Ok(users) = reply {
                let _ = app.render_online(&users);
            }
        });
    }

    fn render_online(self: &Rc<Self>, users: &[String]) -> Result<(), JsValue> {
        self.render_online_as(users, self.client.state().open)
    }

    /// The online users, you first and marked "(you)"; nudges enabled only when `open`.
    fn render_online_as(self: &Rc<Self>, users: &[String], open: bool) -> Result<(), JsValue> {
        // The server sends the users sorted (a `BTreeSet`): move yourself to the front.
        let mut users = users.to_vec();
        if let Some(i) = users.iter().position(|u| *u == self.user) {
            users[..=i].rotate_right(1);
        }
        *self.online.borrow_mut() = users.clone();
        self.keep_at_bottom(false, || self.fill_online(&users, open))
    }

    fn fill_online(self: &Rc<Self>, users: &[String], open: bool) -> Result<(), JsValue> {
        let ul = self.by_id("online")?;
        ul.set_inner_html("");
        ul.set_class_name(if open { "" } else { "stale" });
        for user in users {
            let li = self.el("li", "", "")?;
            li.set_attribute("data-user", user)?;
            let name = self.el("span", "name", user)?;
            li.append_child(&name)?;
            if *user == self.user {
                let you = self.el("span", "you", "(you)")?;
                li.append_child(&you)?;
            } else {
                let button = self.el("button", "nudge", "nudge")?;
                if !open {
                    button.set_attribute("disabled", "")?;
                    button.set_attribute("title", "not connected")?;
                }
                let (app, to) = (Rc::clone(self), user.clone());
                on(&button, "click", move |_| {
                    let _ = app.client.send(chat_event::Nudge { user: to.clone() });
                })?;
                li.append_child(&button)?;
            }
            ul.append_child(&li)?;
        }
        Ok(())
    }

    /// Shows a notice. It goes away by itself: the page's CSS fades it out after a few seconds
    /// and the `animationend` listener of [`run`] removes it (as a click does).
    fn notice(&self, text: &str) -> Result<(), JsValue> {
        let div = self.el("div", "notice", text)?;
        self.by_id("notices")?.append_child(&div)?;
        Ok(())
    }
}
