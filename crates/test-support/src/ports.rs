//! Loopback ports for servers that cannot be told to bind port 0 and say
//! which port they got.
//!
//! Picking a free port, closing it and handing the number to a child races
//! with every other test: one of them may bind the same port first. Instead
//! the port stays held here, bound with `SO_REUSEADDR` but not listening, for
//! as long as the value lives. While it is held, Linux hands the port to no
//! one else: a bind to port 0 and an outgoing connection's local port skip
//! it, and a bind naming it fails unless that socket sets `SO_REUSEADDR` too.
//! A server that sets it (slapd does, as most servers) can then bind and
//! listen on the held port; a test that only needs a port where nobody
//! listens gets "connection refused" from it for as long as it holds it.

use std::net::{Ipv4Addr, SocketAddr};

use socket2::{Domain, Socket, Type};

/// A loopback port held for one test (see the module's documentation).
pub struct ReservedPort {
    _socket: Socket,
    port: u16,
}

impl ReservedPort {
    /// Holds a port of 127.0.0.1 that nothing else is using.
    pub fn new() -> Self {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        socket
            .set_reuse_address(true)
            .expect("SO_REUSEADDR on the socket holding the port");
        socket
            .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .expect("a loopback port");
        let port = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .expect("the port just bound")
            .port();
        Self {
            _socket: socket,
            port,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Default for ReservedPort {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_is_refused_to_others_but_taken_by_a_reusing_server() {
        let held = ReservedPort::new();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, held.port()));
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "nobody listens on a held port"
        );
        // A socket without SO_REUSEADDR cannot bind it.
        let plain = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        assert!(plain.bind(&addr.into()).is_err());
        // Port 0 never hands it out.
        let others: Vec<std::net::TcpListener> = (0..200)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        assert!(
            others
                .iter()
                .all(|l| l.local_addr().unwrap().port() != held.port())
        );
        // A server that sets SO_REUSEADDR, as slapd does, listens on it.
        let server = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        server.set_reuse_address(true).unwrap();
        server.bind(&addr.into()).unwrap();
        server.listen(1).unwrap();
        assert!(std::net::TcpStream::connect(addr).is_ok());
    }
}
