//! A minimal HTTP/1.1 keep-alive client (content-length and chunked bodies), enough for the
//! trigger endpoints and the Ajax long-poll load without pulling an HTTP client crate in.

use std::{io, net::SocketAddr};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

/// One keep-alive connection.
#[derive(Debug)]
pub struct HttpConn {
    stream: BufReader<TcpStream>,
    buf: Vec<u8>,
}

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

fn bad(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl HttpConn {
    /// Opens a connection.
    pub async fn connect(addr: SocketAddr) -> io::Result<HttpConn> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        Ok(HttpConn {
            stream: BufReader::with_capacity(8 * 1024, tcp),
            buf: Vec::with_capacity(512),
        })
    }

    /// Sends one request and reads its response.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> io::Result<Response> {
        self.buf.clear();
        self.buf.extend_from_slice(method.as_bytes());
        self.buf.push(b' ');
        self.buf.extend_from_slice(path.as_bytes());
        self.buf
            .extend_from_slice(b" HTTP/1.1\r\nhost: 127.0.0.1\r\n");
        if let Some(ct) = content_type {
            self.buf.extend_from_slice(b"content-type: ");
            self.buf.extend_from_slice(ct.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        }
        if method != "GET" || !body.is_empty() {
            self.buf
                .extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(body);
        self.stream.get_mut().write_all(&self.buf).await?;
        self.read_response(method == "HEAD").await
    }

    async fn read_response(&mut self, head: bool) -> io::Result<Response> {
        let mut line = String::new();
        if self.stream.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "eof in headers",
                ));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.parse().map_err(bad)?);
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let mut body = Vec::new();
        if head || status == 204 || status == 304 || (100..200).contains(&status) {
        } else if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(bad)?;
                let start = body.len();
                body.resize(start + size, 0);
                self.stream.read_exact(&mut body[start..]).await?;
                let mut crlf = [0u8; 2];
                self.stream.read_exact(&mut crlf).await?;
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.stream.read_exact(&mut body).await?;
        } else {
            self.stream.read_to_end(&mut body).await?;
        }
        Ok(Response { status, body })
    }
}

/// One GET on a fresh connection.
pub async fn get(addr: SocketAddr, path: &str) -> io::Result<Response> {
    HttpConn::connect(addr)
        .await?
        .request("GET", path, None, &[])
        .await
}
