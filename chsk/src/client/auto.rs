//! `Auto` mode: when to fall back from WebSocket to Ajax, and when to try WebSocket again.

use super::options::TransportMode;
use crate::transport::Transport;

/// The `Auto` mode decisions, kept apart from the state machine so they can be tested alone.
///
/// - Use WebSocket until it has failed without ever completing a handshake; then downgrade to
///   Ajax at once (no backoff), as Sente's `ChAutoSocket` does.
/// - Once a WebSocket handshake succeeded, later WebSocket failures never downgrade (the server
///   is just down or restarting; retry WebSocket with backoff).
/// - Unlike Sente, when Ajax also fails before ever opening (the server is simply unreachable,
///   not refusing WebSocket), the next attempt tries WebSocket again, so a client started while
///   the server is down does not stay on Ajax for its whole life.
/// - A requested reconnect starts over with WebSocket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AutoFallback {
    downgraded: bool,
    ws_opened: bool,
    ajax_opened: bool,
}

impl AutoFallback {
    /// The transport of the next connection attempt.
    pub(crate) fn transport(&self, mode: TransportMode) -> Transport {
        match mode {
            TransportMode::Ws => Transport::Ws,
            TransportMode::Ajax => Transport::Ajax,
            TransportMode::Auto if self.downgraded => Transport::Ajax,
            TransportMode::Auto => Transport::Ws,
        }
    }

    /// A handshake succeeded on `transport`.
    pub(crate) fn on_open(&mut self, transport: Transport) {
        match transport {
            Transport::Ws => self.ws_opened = true,
            Transport::Ajax => self.ajax_opened = true,
            _ => {} // never a client's transport
        }
    }

    /// Whether a failure of `transport` now would downgrade to Ajax (see
    /// [`on_failure`](Self::on_failure)), without recording it.
    pub(crate) fn would_downgrade(&self, mode: TransportMode, transport: Transport) -> bool {
        mode == TransportMode::Auto
            && transport == Transport::Ws
            && !self.ws_opened
            && !self.downgraded
    }

    /// A connection on `transport` failed or was lost (not on request). Returns `true` when the
    /// client should downgrade to Ajax now, skipping the backoff.
    pub(crate) fn on_failure(&mut self, mode: TransportMode, transport: Transport) -> bool {
        if mode != TransportMode::Auto {
            return false;
        }
        match transport {
            Transport::Ws if !self.ws_opened && !self.downgraded => {
                self.downgraded = true;
                true
            }
            Transport::Ws => false,
            Transport::Ajax => {
                if !self.ajax_opened {
                    self.downgraded = false;
                }
                false
            }
            _ => false, // never a client's transport
        }
    }

    /// A requested reconnect: try WebSocket first again.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Transport::{Ajax, Ws};
    use TransportMode::Auto;

    #[test]
    fn ws_that_never_opened_downgrades_once() {
        let mut a = AutoFallback::default();
        assert_eq!(a.transport(Auto), Ws);
        assert!(a.on_failure(Auto, Ws));
        assert_eq!(a.transport(Auto), Ajax);
        a.on_open(Ajax);
        // Ajax worked: it stays on Ajax through later failures.
        assert!(!a.on_failure(Auto, Ajax));
        assert_eq!(a.transport(Auto), Ajax);
    }

    #[test]
    fn ws_that_opened_never_downgrades() {
        let mut a = AutoFallback::default();
        a.on_open(Ws);
        for _ in 0..3 {
            assert!(!a.on_failure(Auto, Ws));
            assert_eq!(a.transport(Auto), Ws);
        }
    }

    #[test]
    fn unreachable_server_alternates_ws_then_ajax() {
        let mut a = AutoFallback::default();
        assert!(a.on_failure(Auto, Ws));
        assert_eq!(a.transport(Auto), Ajax);
        assert!(!a.on_failure(Auto, Ajax));
        assert_eq!(
            a.transport(Auto),
            Ws,
            "Ajax never opened either: try WS again"
        );
        assert!(a.on_failure(Auto, Ws));
        assert_eq!(a.transport(Auto), Ajax);
    }

    #[test]
    fn requested_reconnect_tries_ws_again() {
        let mut a = AutoFallback::default();
        assert!(a.on_failure(Auto, Ws));
        a.on_open(Ajax);
        a.reset();
        assert_eq!(a.transport(Auto), Ws);
        assert!(a.on_failure(Auto, Ws), "still refused: downgrade again");
    }

    #[test]
    fn fixed_modes_never_switch() {
        let mut a = AutoFallback::default();
        assert!(!a.on_failure(TransportMode::Ws, Ws));
        assert_eq!(a.transport(TransportMode::Ws), Ws);
        assert!(!a.on_failure(TransportMode::Ajax, Ajax));
        assert_eq!(a.transport(TransportMode::Ajax), Ajax);
    }
}
