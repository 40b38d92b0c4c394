//! `web_sys::WebSocket` as the core's [`WsConnection`] (two channels).

use std::{cell::RefCell, rc::Rc};

use chsk::client::runtime::{TransportClosed, WsConnection, WsEvent, WsOpenError};
use futures::{
    channel::{mpsc, oneshot},
    future::LocalBoxFuture,
    StreamExt,
};
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::{error::js_text, page};

/// Opens a WebSocket; resolves once it is open, or with why it could not open. A refused
/// upgrade and a refused connection look the same (close code 1006, no status): that is
/// [`WsOpenError::Unexplained`], and the client core probes the endpoint over HTTP to learn
/// the status and body of a refusal.
///
/// Dropping the future before it resolves closes the socket. While the page unloads nothing is
/// opened (the future never resolves), so a closing page never reconnects.
pub(crate) fn connect(
    url: String,
    binary: bool,
) -> LocalBoxFuture<'static, Result<WsConnection, WsOpenError>> {
    Box::pin(async move {
        if page::unloading() {
            return std::future::pending().await;
        }
        let (open_tx, open_rx) = oneshot::channel();
        let (in_tx, in_rx) = mpsc::unbounded();
        let socket = Socket::open(&url, open_tx, in_tx).map_err(WsOpenError::Failed)?;
        match open_rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(WsOpenError::Unexplained(e)),
            Err(oneshot::Canceled) => {
                return Err(WsOpenError::Unexplained(
                    "WebSocket closed before opening".into(),
                ))
            }
        }
        let (out_tx, mut out_rx) = mpsc::unbounded::<Vec<u8>>();
        wasm_bindgen_futures::spawn_local(async move {
            while let Some(bytes) = out_rx.next().await {
                if let Err(e) = socket.send(&bytes, binary) {
                    tracing::warn!(error = %e, "chsk-web: WebSocket send failed");
                }
            }
            // The driver dropped its sender: close (code 1000) and detach the handlers.
            drop(socket);
        });
        Ok(WsConnection {
            outgoing: out_tx,
            incoming: in_rx,
        })
    })
}

type OpenTx = Rc<RefCell<Option<oneshot::Sender<Result<(), String>>>>>;

/// A socket and its event handlers. Dropping it detaches the handlers (nothing is reported
/// after) and closes the socket with code 1000.
struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    fn open(
        url: &str,
        open_tx: oneshot::Sender<Result<(), String>>,
        in_tx: mpsc::UnboundedSender<WsEvent>,
    ) -> Result<Self, String> {
        let ws = WebSocket::new(url).map_err(|e| js_text(&e))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let open_tx: OpenTx = Rc::new(RefCell::new(Some(open_tx)));

        let tx = Rc::clone(&open_tx);
        let on_open = Closure::<dyn FnMut()>::new(move || {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(Ok(()));
            }
        });
        let msg_tx = in_tx.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            let bytes = if let Some(text) = data.as_string() {
                text.into_bytes()
            } else if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                js_sys::Uint8Array::new(buf).to_vec()
            } else {
                return;
            };
            let _ = msg_tx.unbounded_send(WsEvent::Message(bytes));
        });
        // An `error` event is always followed by `close`, which has the code: only `close`
        // is reported.
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            let how = match e.code() {
                1000 => TransportClosed::Clean,
                code => {
                    let reason = e.reason();
                    TransportClosed::Error(if reason.is_empty() {
                        format!("WebSocket closed with code {code}")
                    } else {
                        format!("WebSocket closed with code {code}: {reason}")
                    })
                }
            };
            if let Some(tx) = open_tx.borrow_mut().take() {
                let detail = match how {
                    TransportClosed::Clean => "WebSocket closed before opening".to_string(),
                    TransportClosed::Error(e) => e,
                    other => format!("{other:?}"),
                };
                let _ = tx.send(Err(detail));
            } else if !page::unloading() {
                let _ = in_tx.unbounded_send(WsEvent::Closed(how));
            }
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends one message: binary, or text (the JSON codec).
    fn send(&self, bytes: &[u8], binary: bool) -> Result<(), String> {
        let sent = if binary {
            self.ws.send_with_u8_array(bytes)
        } else {
            self.ws.send_with_str(&String::from_utf8_lossy(bytes))
        };
        sent.map_err(|e| js_text(&e))
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close_with_code(1000);
    }
}
