//! A socket that holds no read buffer while it is idle.
//!
//! tungstenite keeps a read buffer per connection for the connection's whole life; the size of
//! that buffer is the most it reads from the socket at a time. A large buffer costs every idle
//! connection memory, a small one costs many reads for a burst. [`LeanRead`] lets tungstenite
//! keep a small buffer: each read from the socket goes into a buffer of the worker thread
//! ([`SCRATCH`] bytes), tungstenite gets what fits in its buffer, and what is left waits in a
//! buffer of the connection's own that exists only until tungstenite has taken it. So an idle
//! connection holds tungstenite's small buffer and nothing else, and a burst still takes one
//! read per `SCRATCH` bytes.

use std::{
    cell::RefCell,
    io,
    pin::Pin,
    task::{ready, Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most bytes read from the socket at a time.
pub(crate) const SCRATCH: usize = 16 * 1024;

thread_local! {
    /// The read buffer of this thread's connections: filled by one read, emptied before the
    /// read returns (into the caller's buffer and the connection's leftover).
    static BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH].into_boxed_slice());
}

/// `io` whose reads go through the thread's buffer; see the module docs.
#[derive(Debug)]
pub(crate) struct LeanRead<T> {
    io: T,
    /// Bytes read from the socket that the caller had no room for (never empty).
    left: Option<Box<Leftover>>,
}

#[derive(Debug)]
struct Leftover {
    bytes: Vec<u8>,
    at: usize,
}

impl<T> LeanRead<T> {
    pub(crate) fn new(io: T) -> Self {
        Self { io, left: None }
    }

    /// Gives the caller what is left over from the last read (all of it or what fits).
    fn drain_into(&mut self, buf: &mut ReadBuf<'_>) {
        let Some(left) = &mut self.left else { return };
        let n = buf.remaining().min(left.bytes.len() - left.at);
        buf.put_slice(&left.bytes[left.at..left.at + n]);
        left.at += n;
        if left.at == left.bytes.len() {
            // Taken: the connection holds nothing again.
            self.left = None;
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for LeanRead<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.left.is_some() {
            this.drain_into(buf);
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= SCRATCH {
            // Room for a whole read: no copy.
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        BUFFER.with(|scratch| {
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                // Only if a read were made from inside another (never, with tokio's I/O).
                return Pin::new(&mut this.io).poll_read(cx, buf);
            };
            let mut read = ReadBuf::new(&mut scratch[..]);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
            let got = read.filled();
            let n = buf.remaining().min(got.len());
            buf.put_slice(&got[..n]);
            if n < got.len() {
                this.left = Some(Box::new(Leftover {
                    bytes: got[n..].to_vec(),
                    at: 0,
                }));
            }
            Poll::Ready(Ok(()))
        })
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for LeanRead<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn small_reads_get_every_byte_in_order_and_keep_nothing_after() {
        let (mut tx, rx) = tokio::io::duplex(64 * 1024);
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        tx.write_all(&data).await.unwrap();
        drop(tx);
        let mut lean = LeanRead::new(rx);
        let mut got = Vec::new();
        let mut chunk = [0u8; 100];
        loop {
            let n = lean.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got, data);
        assert!(lean.left.is_none(), "nothing held once everything was read");
    }

    #[tokio::test]
    async fn a_large_read_goes_straight_to_the_caller() {
        let (mut tx, rx) = tokio::io::duplex(64 * 1024);
        tx.write_all(&[7u8; 30_000]).await.unwrap();
        let mut lean = LeanRead::new(rx);
        let mut big = vec![0u8; 32 * 1024];
        let n = lean.read(&mut big).await.unwrap();
        assert!(n > 0 && big[..n].iter().all(|&b| b == 7));
        assert!(lean.left.is_none());
    }

    #[tokio::test]
    async fn leftover_is_served_before_the_next_socket_read() {
        let (mut tx, rx) = tokio::io::duplex(64 * 1024);
        tx.write_all(b"abcdef").await.unwrap();
        let mut lean = LeanRead::new(rx);
        let mut two = [0u8; 2];
        lean.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ab");
        assert!(lean.left.is_some());
        tx.write_all(b"gh").await.unwrap();
        let mut rest = [0u8; 6];
        lean.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"cdefgh");
        assert!(lean.left.is_none());
    }
}
