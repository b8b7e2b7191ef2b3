//! A loopback port that refuses connections for as long as the value lives.

use std::net::SocketAddr;

use socket2::{Domain, Socket, Type};

/// A TCP socket bound to a loopback port and never listening: connecting to the port is
/// refused, and while the socket is held no other test (they run in parallel) can be
/// given the port for a listener, as one could once a dropped listener freed it.
pub struct RefusedPort {
    _socket: Socket,
    address: SocketAddr,
}

impl RefusedPort {
    pub fn new() -> RefusedPort {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        socket.bind(&any_port.into()).expect("a free loopback port");
        let address = socket
            .local_addr()
            .expect("a bound address")
            .as_socket()
            .expect("an IP address");
        RefusedPort {
            _socket: socket,
            address,
        }
    }

    /// The refusing address, `127.0.0.1:PORT`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}
