//! Unix domain sockets through the reactor: listening on `unix:PATH` (or a `UnixServer`),
//! connecting to `unix:path=PATH` (or a `UnixClient`), bytes both ways, who the peer is
//! (`SO_PEERCRED`), the socket file's mode, and the file's life: a stale one is replaced,
//! a live one or a file that is not a socket is refused and left alone, and the file is
//! removed when the port stops listening and when the reactor stops.
//!
//! Each test works in a directory of its own under the system's temporary directory.
#![cfg(unix)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{run_bounded, LIMIT};
use torsade::endpoints::{
    IntoClientEndpoint, IntoServerEndpoint, PeerCredentials, UnixClient, UnixServer,
};
use torsade::prelude::*;
use torsade::{factory_fn, Address, Error, Failure, Reactor};

/// A directory of its own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("torsade-unix-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("the temporary directory is writable");
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Fails only if something else removed it already.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `path` as text, for endpoint strings.
fn text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

/// What one end of a connection saw.
#[derive(Clone, Debug, Default)]
struct Seen {
    received: Vec<u8>,
    credentials: Option<PeerCredentials>,
    peer: Option<Address>,
    host: Option<Address>,
    lost: Option<String>,
}

type Shared = Arc<Mutex<Seen>>;

/// Records who is at each end as the connection is made.
fn note_ends(seen: &Shared, cx: &impl Transport) {
    let mut seen = seen.lock().unwrap();
    seen.credentials = cx.peer_credentials();
    seen.peer = Some(cx.peer_addr().clone());
    seen.host = Some(cx.host_addr().clone());
}

const SERVER_HELLO: &[u8] = b"the server says hello\n";
const CLIENT_HELLO: &[u8] = b"the client says hello\n";

/// Says hello, then echoes.
struct Server(Shared);

impl Protocol for Server {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        note_ends(&self.0, cx);
        cx.write(SERVER_HELLO);
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        self.0.lock().unwrap().received.extend_from_slice(&data);
        cx.write(&data);
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.0.lock().unwrap().lost = Some(reason.to_string());
    }
}

/// Says hello; hangs up once it has the server's hello and its own back; stops the
/// reactor when the connection is over.
struct Client(Shared, Reactor);

impl Protocol for Client {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        note_ends(&self.0, cx);
        cx.write(CLIENT_HELLO);
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        let mut seen = self.0.lock().unwrap();
        seen.received.extend_from_slice(&data);
        if seen.received.len() >= SERVER_HELLO.len() + CLIENT_HELLO.len() {
            cx.lose_connection();
        }
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.0.lock().unwrap().lost = Some(reason.to_string());
        let _ = self.1.stop();
    }
}

/// Listens on `server` and connects a client to `client`; runs until the client hangs
/// up. Returns what the server's end and the client's end saw.
fn exchange(server: impl IntoServerEndpoint, client: impl IntoClientEndpoint) -> (Seen, Seen) {
    let reactor = Reactor::new().unwrap();
    let (server_seen, client_seen) = (Shared::default(), Shared::default());
    let s = server_seen.clone();
    reactor
        .listen(server, factory_fn(move |_: &Address| Server(s.clone())))
        .expect("the reactor listens");
    let (c, r) = (client_seen.clone(), reactor.clone());
    let failure = Arc::new(Mutex::new(None));
    let (f, stopper) = (failure.clone(), reactor.clone());
    reactor
        .connect(
            client,
            factory_fn(move |_: &Address| Client(c.clone(), r.clone())),
        )
        .add_callbacks(
            |_connected| Ok::<(), Failure>(()),
            move |error: Failure| {
                *f.lock().unwrap() = Some(error.to_string());
                let _ = stopper.stop();
                Ok::<(), Failure>(())
            },
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(*failure.lock().unwrap(), None, "the client connects");
    let server = server_seen.lock().unwrap().clone();
    let client = client_seen.lock().unwrap().clone();
    (server, client)
}

/// The uid of this process: the owner of a file it just made.
fn my_uid(dir: &TempDir) -> u32 {
    let probe = dir.join("probe");
    std::fs::write(&probe, b"").expect("a file in the temporary directory");
    std::fs::metadata(&probe).expect("its metadata").uid()
}

/// Asserts both ends exchanged their hellos over the socket at `path`, and know each
/// other: this process at both ends, the socket's path on the server's side.
fn assert_exchanged(dir: &TempDir, path: &Path, (server, client): (Seen, Seen)) {
    assert_eq!(server.received, CLIENT_HELLO);
    assert_eq!(client.received, [SERVER_HELLO, CLIENT_HELLO].concat());
    assert_eq!(client.lost.as_deref(), Some("connection closed cleanly"));
    assert_eq!(server.lost.as_deref(), Some("connection closed cleanly"));
    let me = (Some(std::process::id() as i32), my_uid(dir));
    for (end, seen) in [("server", &server), ("client", &client)] {
        let credentials = seen
            .credentials
            .unwrap_or_else(|| panic!("the {end} knows its peer's credentials"));
        assert_eq!((credentials.pid, credentials.uid), me, "the {end}'s peer");
    }
    assert_eq!(server.host, Some(Address::unix(path)));
    assert_eq!(client.peer, Some(Address::unix(path)));
}

#[test]
fn endpoint_strings_listen_and_connect_and_both_ends_know_each_other() {
    let dir = TempDir::new("strings");
    let path = dir.join("app.sock");
    let seen = exchange(
        format!("unix:{}", text(&path)).as_str(),
        format!("unix:path={}", text(&path)).as_str(),
    );
    assert_exchanged(&dir, &path, seen);
}

#[test]
fn endpoint_values_listen_and_connect() {
    let dir = TempDir::new("values");
    let path = dir.join("app.sock");
    let seen = exchange(UnixServer::new(&path), UnixClient::new(&path));
    assert_exchanged(&dir, &path, seen);
}

#[test]
fn a_listening_port_says_where_it_listens() {
    let dir = TempDir::new("local");
    let path = dir.join("app.sock");
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen(
            UnixServer::new(&path),
            factory_fn(|_: &Address| Server(Shared::default())),
        )
        .unwrap();
    assert_eq!(port.local_addr(), Address::unix(&path));
    assert_eq!(
        port.local_addr().to_string(),
        format!("unix:{}", text(&path))
    );
}

#[test]
fn the_mode_sets_the_socket_files_permissions() {
    let dir = TempDir::new("mode");
    let reactor = Reactor::new().unwrap();
    let factory = || factory_fn(|_: &Address| Server(Shared::default()));
    let by_string = dir.join("by-string.sock");
    reactor
        .listen(
            format!("unix:{}:mode=660", text(&by_string)).as_str(),
            factory(),
        )
        .unwrap();
    let by_value = dir.join("by-value.sock");
    reactor
        .listen(UnixServer::new(&by_value).mode(0o600), factory())
        .unwrap();
    for (path, mode) in [(by_string, 0o660), (by_value, 0o600)] {
        let metadata = std::fs::metadata(&path).expect("the socket file exists");
        assert_eq!(
            metadata.permissions().mode() & 0o7777,
            mode,
            "{}",
            path.display()
        );
    }
}

#[test]
fn a_socket_file_left_by_a_dead_server_is_replaced() {
    let dir = TempDir::new("stale");
    let path = dir.join("app.sock");
    // A listener dropped without removing its file: nothing accepts there any more.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let seen = exchange(UnixServer::new(&path), UnixClient::new(&path));
    assert_exchanged(&dir, &path, seen);
}

/// The I/O error inside `error`, which must be a failure to listen.
fn listen_failure(error: Error) -> std::io::Error {
    match error {
        Error::CannotListen { source, .. } => source,
        other => panic!("not a failure to listen: {other}"),
    }
}

#[test]
fn a_socket_a_live_server_listens_on_is_refused_and_left_alone() {
    let dir = TempDir::new("live");
    let path = dir.join("app.sock");
    let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let reactor = Reactor::new().unwrap();
    let error = reactor
        .listen(
            UnixServer::new(&path),
            factory_fn(|_: &Address| Server(Shared::default())),
        )
        .expect_err("a live server's socket is taken");
    let message = error.to_string();
    let source = listen_failure(error);
    assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse, "{message}");
    assert!(message.contains("a server is listening on"), "{message}");
    // The live server still has its socket.
    std::os::unix::net::UnixStream::connect(&path).expect("the live server still accepts");
    live.accept().expect("and gets the connection");
}

#[test]
fn a_path_that_is_not_a_socket_is_refused_and_left_alone() {
    let dir = TempDir::new("not-a-socket");
    let path = dir.join("precious.txt");
    std::fs::write(&path, b"keep me").unwrap();
    let reactor = Reactor::new().unwrap();
    let error = reactor
        .listen(
            format!("unix:{}", text(&path)).as_str(),
            factory_fn(|_: &Address| Server(Shared::default())),
        )
        .expect_err("a regular file is not replaced");
    let message = error.to_string();
    assert!(message.contains(text(&path)), "{message}");
    assert!(message.contains("is not a socket"), "{message}");
    assert_eq!(
        listen_failure(error).kind(),
        std::io::ErrorKind::AlreadyExists
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
}

#[test]
fn the_socket_file_is_removed_once_the_port_stops_listening() {
    let dir = TempDir::new("stop-listening");
    let path = dir.join("app.sock");
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen(
            UnixServer::new(&path),
            factory_fn(|_: &Address| Server(Shared::default())),
        )
        .unwrap();
    let port = Arc::new(port);
    let exists_when_stopped = Arc::new(Mutex::new(None));
    let (p, seen, r, file) = (
        port.clone(),
        exists_when_stopped.clone(),
        reactor.clone(),
        path.clone(),
    );
    reactor.call_when_running(move || {
        p.stop_listening()
            .add_callback(move |()| {
                *seen.lock().unwrap() = Some(file.exists());
                let _ = r.stop();
            })
            .detach();
    });
    assert!(path.exists(), "the file exists while the port listens");
    run_bounded(&reactor, LIMIT);
    assert_eq!(
        *exists_when_stopped.lock().unwrap(),
        Some(false),
        "the file is gone when stop_listening's Deferred fires"
    );
    assert!(!port.is_listening());
}

#[test]
fn the_socket_file_is_removed_when_the_reactor_stops() {
    let dir = TempDir::new("reactor-stop");
    let path = dir.join("app.sock");
    let reactor = Reactor::new().unwrap();
    reactor
        .listen(
            UnixServer::new(&path),
            factory_fn(|_: &Address| Server(Shared::default())),
        )
        .unwrap();
    let r = reactor.clone();
    reactor.call_when_running(move || {
        let _ = r.stop();
    });
    assert!(path.exists());
    run_bounded(&reactor, LIMIT);
    assert!(!path.exists(), "{} is left behind", path.display());
}

#[test]
fn connecting_where_nothing_listens_fails_with_the_path() {
    let dir = TempDir::new("nothing");
    let path = dir.join("nobody.sock");
    let reactor = Reactor::new().unwrap();
    let failure = Arc::new(Mutex::new(None));
    let (f, r) = (failure.clone(), reactor.clone());
    reactor
        .connect(
            UnixClient::new(&path),
            factory_fn(|_: &Address| Server(Shared::default())),
        )
        .add_callbacks(
            |_| -> Result<(), Failure> { panic!("connected to nothing") },
            move |error: Failure| {
                let failed = error.downcast_ref::<Error>().map(|error| match error {
                    Error::ConnectFailed { address, source } => {
                        Some((address.clone(), source.kind()))
                    }
                    _ => None,
                });
                *f.lock().unwrap() = Some(failed.flatten());
                let _ = r.stop();
                Ok::<(), Failure>(())
            },
        )
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(
        *failure.lock().unwrap(),
        Some(Some((
            text(&path).to_string(),
            std::io::ErrorKind::NotFound
        )))
    );
}
