//! Raw clients over loopback: a WebSocket (tokio-tungstenite) and an HTTP client (reqwest)
//! that send and read frames encoded with `chsk::Codec`, for tests of the routes themselves.

use chsk::{
    protocol::{Frame, Handshake},
    Codec, Event,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, protocol::WebSocketConfig, Error, Message},
    MaybeTlsStream, WebSocketStream,
};

use super::{CEvent, CPush, Running, WAIT};

impl Running {
    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/chsk?{}", self.addr, versioned(query))
    }

    pub fn http_url(&self, query: &str) -> String {
        format!("http://{}/chsk?{}", self.addr, versioned(query))
    }

    /// A WebSocket that has read its handshake.
    pub async fn ws(&self, query: &str) -> (Ws, Handshake) {
        let (socket, _) = tokio_tungstenite::connect_async(self.ws_url(query))
            .await
            .expect("websocket connects");
        let mut ws = Ws { socket };
        let hs = ws.handshake().await;
        (ws, hs)
    }

    /// A WebSocket whose socket receive buffer is small, so a server writing to it stalls as
    /// soon as the client stops reading.
    pub async fn tight_ws(&self, query: &str) -> Ws {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(self.addr).await.unwrap();
        let config = WebSocketConfig::default()
            .max_message_size(Some(64 << 20))
            .max_frame_size(Some(64 << 20));
        let (socket, _) = tokio_tungstenite::client_async_with_config(
            self.ws_url(query),
            MaybeTlsStream::Plain(stream),
            Some(config),
        )
        .await
        .unwrap();
        let mut ws = Ws { socket };
        ws.handshake().await;
        ws
    }

    /// The HTTP status and body of a refused WebSocket upgrade (`101` when accepted).
    pub async fn ws_status(&self, query: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut req = self.ws_url(query).into_client_request().unwrap();
        for (k, v) in headers {
            let name = http::HeaderName::from_bytes(k.as_bytes()).unwrap();
            req.headers_mut().insert(name, v.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok(_) => (101, String::new()),
            Err(Error::Http(resp)) => {
                let body = resp
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                (resp.status().as_u16(), body)
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    /// An HTTP client for the Ajax routes with this query.
    pub fn ajax(&self, query: &str) -> Ajax {
        Ajax {
            http: reqwest::Client::new(),
            url: self.http_url(query),
        }
    }
}

/// The client → server frame of a request.
pub fn request(reply_id: u32, ev: CEvent) -> Frame {
    Frame::Request {
        reply_id,
        event: ev.to_frame(Codec::Postcard).unwrap(),
    }
}

pub fn reply_ok<T: serde::de::DeserializeOwned>(frame: Frame) -> (u32, T) {
    match frame {
        Frame::Reply {
            reply_id,
            result: Ok(payload),
        } => (reply_id, Codec::Postcard.decode_payload(&payload).unwrap()),
        other => panic!("expected an Ok reply, got {other:?}"),
    }
}

/// A raw WebSocket client (postcard frames).
pub struct Ws {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the server sent: a frame, or the end of the socket.
#[derive(Debug)]
pub enum Got {
    Frame(Frame),
    Closed(Option<(u16, String)>),
}

impl Ws {
    pub async fn send(&mut self, frame: &Frame) {
        let bytes = Codec::Postcard.encode_frame(frame).unwrap();
        self.send_raw(bytes).await;
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.socket
            .send(Message::Binary(bytes.into()))
            .await
            .unwrap();
    }

    /// The next message (frame or close), waiting at most 10 s.
    pub async fn next(&mut self) -> Got {
        loop {
            let msg = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a message within 10 s");
            match msg {
                None | Some(Err(_)) => return Got::Closed(None),
                Some(Ok(Message::Binary(b))) => {
                    return Got::Frame(Codec::Postcard.decode_frame(&b).expect("a valid frame"))
                }
                Some(Ok(Message::Close(c))) => {
                    return Got::Closed(c.map(|c| (u16::from(c.code), c.reason.to_string())))
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn frame(&mut self) -> Frame {
        match self.next().await {
            Got::Frame(f) => f,
            Got::Closed(c) => panic!("socket closed: {c:?}"),
        }
    }

    pub async fn handshake(&mut self) -> Handshake {
        match self.frame().await {
            Frame::Handshake(h) => h,
            other => panic!("expected a handshake, got {other:?}"),
        }
    }

    /// Skips frames until a close; returns the `Close` frame's reason and the close code.
    pub async fn closed(&mut self) -> (Option<String>, Option<u16>) {
        let mut reason = None;
        loop {
            match self.next().await {
                Got::Frame(Frame::Close { reason: r }) => reason = Some(r),
                Got::Frame(_) => {}
                Got::Closed(c) => return (reason, c.map(|c| c.0)),
            }
        }
    }

    /// The events of the next push.
    pub async fn push(&mut self) -> Vec<CPush> {
        match self.frame().await {
            frame @ Frame::Push(_) => frame
                .pushed_events()
                .map(|e| CPush::from_frame(e, Codec::Postcard).unwrap())
                .collect(),
            other => panic!("expected a push, got {other:?}"),
        }
    }
}

/// A raw HTTP client of the Ajax routes.
pub struct Ajax {
    pub http: reqwest::Client,
    pub url: String,
}

impl Ajax {
    /// A `GET` with `extra` appended to the query.
    pub async fn get(&self, extra: &str) -> reqwest::Response {
        let url = if extra.is_empty() {
            self.url.clone()
        } else {
            format!("{}&{extra}", self.url)
        };
        self.http.get(url).send().await.unwrap()
    }

    pub async fn get_frame(&self, extra: &str) -> Frame {
        frame_of(self.get(extra).await).await
    }

    pub async fn post_raw(&self, body: Vec<u8>) -> reqwest::Response {
        self.http.post(&self.url).body(body).send().await.unwrap()
    }

    pub async fn post(&self, frame: &Frame) -> reqwest::Response {
        self.post_raw(Codec::Postcard.encode_frame(frame).unwrap())
            .await
    }
}

/// The frame of a `200` response.
pub async fn frame_of(resp: reqwest::Response) -> Frame {
    let status = resp.status();
    let body = resp.bytes().await.unwrap();
    assert_eq!(status, 200, "body: {}", String::from_utf8_lossy(&body));
    Codec::Postcard.decode_frame(&body).unwrap()
}

/// The query with the protocol version (`v=2`) unless it sets `v` itself.
fn versioned(query: &str) -> String {
    if query.split('&').any(|kv| kv.starts_with("v=")) {
        query.to_owned()
    } else {
        format!("v={}&{query}", chsk::protocol::VERSION)
    }
}
