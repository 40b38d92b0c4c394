//! What the app asks of the core: send, request, disconnect, reconnect; and the send buffer
//! that holds calls made while the client is not open.

use std::time::Duration;

use super::{AttemptId, Buffered, ClientCore, Output};
use crate::{
    client::state::CloseReason,
    error::CbError,
    protocol::{EventFrame, Frame, ReplyId},
};

impl ClientCore {
    /// Sends an event that wants no reply. Fails with [`CbError::Closed`] when the client is
    /// stopped, or not open and the send buffer does not take it; with [`CbError::Encode`] when
    /// the frame cannot be encoded.
    pub fn send(&mut self, event: EventFrame) -> Result<(), CbError> {
        if self.stopped {
            return Err(CbError::Closed);
        }
        let frame = Frame::Event(event);
        let bytes = self
            .opts
            .codec
            .encode_frame(&frame)
            .map_err(CbError::Encode)?;
        if let Some(id) = self.open_attempt() {
            self.queue(id, bytes, None);
            Ok(())
        } else if self.buffer_has_room() {
            self.buffer.push_back(Buffered::Event(bytes));
            Ok(())
        } else {
            Err(CbError::Closed)
        }
    }

    /// Sends a request; its [`Output::Reply`] comes exactly once: the reply, a timeout after
    /// `timeout`, or [`CbError::Closed`]. Fails at once as [`send`](Self::send) does.
    pub fn request(
        &mut self,
        now: Duration,
        event: EventFrame,
        timeout: Duration,
    ) -> Result<ReplyId, CbError> {
        if self.stopped {
            return Err(CbError::Closed);
        }
        let open = self.open_attempt();
        if open.is_none() && !self.buffer_has_room() {
            return Err(CbError::Closed);
        }
        let reply_id = self.pending.insert(now + timeout, open.is_some());
        let frame = Frame::Request { reply_id, event };
        let bytes = match self.opts.codec.encode_frame(&frame) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.pending.complete(reply_id);
                return Err(CbError::Encode(e));
            }
        };
        match open {
            Some(id) => self.queue(id, bytes, Some(reply_id)),
            None => self.buffer.push_back(Buffered::Request(reply_id, bytes)),
        }
        Ok(reply_id)
    }

    /// Closes the connection and stops reconnecting (reason
    /// [`RequestedDisconnect`](CloseReason::RequestedDisconnect)). Every pending request gets
    /// [`CbError::Closed`]; the send buffer is emptied.
    pub fn disconnect(&mut self, now: Duration) {
        self.close_on_request(now, CloseReason::RequestedDisconnect);
        self.halt();
        self.commit();
    }

    /// Closes the connection (reason [`RequestedReconnect`](CloseReason::RequestedReconnect))
    /// and connects again at once, WebSocket first in `Auto` mode. Also resumes after
    /// [`disconnect`](Self::disconnect) or after the client stopped on a refusal.
    pub fn reconnect(&mut self, now: Duration) {
        self.started = true;
        self.stopped = false;
        self.st().stopped = false;
        self.close_on_request(now, CloseReason::RequestedReconnect);
        self.last_refusal = None;
        self.auto.reset();
        self.backoff.reset();
        self.connect_now(now);
        self.commit();
    }

    /// The current attempt, when it is open (handshaken).
    fn open_attempt(&self) -> Option<AttemptId> {
        self.attempt.as_ref().filter(|a| a.handshaken).map(|a| a.id)
    }

    fn buffer_has_room(&self) -> bool {
        self.opts
            .send_buffer
            .is_some_and(|cap| self.buffer.len() < cap)
    }

    /// Sends the buffered calls on the connection of `attempt`, which just opened, in order.
    pub(super) fn flush_buffer(&mut self, attempt: AttemptId) {
        while let Some(b) = self.buffer.pop_front() {
            match b {
                Buffered::Event(bytes) => self.queue(attempt, bytes, None),
                Buffered::Request(reply_id, bytes) => {
                    // A buffered request may have timed out meanwhile.
                    if self.pending.contains(reply_id) {
                        self.pending.mark_sent(reply_id);
                        self.queue(attempt, bytes, Some(reply_id));
                    }
                }
            }
        }
    }

    fn queue(&mut self, attempt: AttemptId, bytes: Vec<u8>, reply_id: Option<ReplyId>) {
        self.out.push_back(Output::Send {
            attempt,
            bytes,
            reply_id,
        });
    }

    /// Encodes and sends a frame of the core's own (`Ping`, `Pong`).
    pub(super) fn send_frame(&mut self, attempt: AttemptId, frame: &Frame) {
        match self.opts.codec.encode_frame(frame) {
            Ok(bytes) => self.queue(attempt, bytes, None),
            Err(e) => tracing::error!(error = %e, "chsk client: cannot encode {frame:?}"),
        }
    }
}
