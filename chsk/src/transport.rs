//! The transport of a connection, shared by the client and the server.

use std::fmt;

/// Which transport a connection uses.
///
/// The client reports it in [`ClientState::transport`](crate::client::ClientState::transport)
/// (always `Ws` or `Ajax`; which one it tries is chosen by
/// [`TransportMode`](crate::client::TransportMode)); the server tells it to its hooks and
/// handlers, where `Local` marks an in-process call.
///
/// ```
/// use chsk::Transport;
/// assert_eq!(Transport::Ws.to_string(), "ws");
/// assert_eq!(Transport::Ajax.to_string(), "ajax");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// A WebSocket.
    Ws,
    /// Ajax long-polling (GET polls, POST sends).
    Ajax,
    /// Server only: an in-process call made with `Server::call_local` (feature `server`),
    /// without a network connection. A client never uses it.
    Local,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Ws => "ws",
            Transport::Ajax => "ajax",
            Transport::Local => "local",
        })
    }
}
