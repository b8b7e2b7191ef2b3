//! Twisted's chat protocol, shared by the `chat` server and the `sim_chat` simulation:
//! each connection is asked its name, then every line it sends goes to everyone else as
//! `<name> line`; `/who` lists who is here; arrivals and departures are announced.
//!
//! The state every connection shares is the `Room`, held by the factory and handed to
//! each connection it builds (Twisted's `self.factory.users`): a table of `LineSender`s,
//! one per named user. A user whose unsent lines pass its connection's high-water mark
//! (64 KiB by default) does not read: the next line for it drops it instead of buffering
//! more. The table is behind a `Mutex`, so connections on different loops can share it.
//! The tests at the end of this file put three users in memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use torsade::{Address, DisconnectReason, ProtocolFactory, Transport};
use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver, LineSender};

/// Who is in the chat and how to reach them, shared by every connection. Cheap to clone;
/// `Send + Sync`, as the factory that holds it must be.
#[derive(Clone, Debug, Default)]
struct Room {
    /// The users by name (sorted, for `/who`), each with a sender to its connection.
    users: Arc<Mutex<BTreeMap<String, LineSender>>>,
}

impl Room {
    fn users(&self) -> MutexGuard<'_, BTreeMap<String, LineSender>> {
        // Each change under the lock is one insert or remove, so a panic elsewhere while it
        // was held left the table whole.
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `name`, reached through `sender`, and announces it to the others; `false` if
    /// the name is taken. Checking and taking under one lock: two connections on two loops
    /// cannot both get a name.
    fn join(&self, name: &str, sender: LineSender) -> bool {
        let mut users = self.users();
        if users.contains_key(name) {
            return false;
        }
        send_to_all(&users, name, format!("* {name} has joined").as_bytes());
        users.insert(name.to_string(), sender);
        true
    }

    /// Removes `name` and announces it to the others.
    fn leave(&self, name: &str) {
        let mut users = self.users();
        users.remove(name);
        send_to_all(&users, name, format!("* {name} has left").as_bytes());
    }

    /// Sends `<from> line` to everyone but `from`.
    fn say(&self, from: &str, line: &[u8]) {
        let message = [b"<", from.as_bytes(), b"> ", line].concat();
        send_to_all(&self.users(), from, &message);
    }

    /// The names of everyone here, in order.
    fn names(&self) -> Vec<String> {
        self.users().keys().cloned().collect()
    }
}

/// Sends `line` to every user but `except`. Sending under the room's lock gives every
/// user the lines in the same order, whichever loops their writers are on.
fn send_to_all(users: &BTreeMap<String, LineSender>, except: &str, line: &[u8]) {
    for (name, sender) in users {
        if name == except {
            continue;
        }
        let connection = sender.transport();
        if connection.is_write_buffer_full() {
            // More than its high-water mark (64 KiB by default) is unsent: it does not
            // read, and buffering more for it would grow without bound. An abort, not a
            // close, which would wait for it to read; its `connection_lost` takes it out
            // of the room.
            let peer = connection.peer_addr();
            tracing::warn!(%peer, name, "dropping a user that does not read");
            connection.abort_connection();
        } else {
            sender.send_line(line);
        }
    }
}

/// One user's connection (Twisted's `Chat(LineReceiver)`).
#[derive(Debug)]
pub struct Chat {
    room: Room,
    /// `None` while the name is being asked (Twisted's `GETNAME` state).
    name: Option<String>,
}

impl LineHandler for Chat {
    fn connection_made(&mut self, lines: &mut LineContext<'_>) {
        lines.send_line(b"What's your name?");
    }

    fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
        match &self.name {
            None => self.choose_name(lines, String::from_utf8_lossy(&line).into_owned()),
            Some(_) if &line[..] == b"/who" => {
                let here = format!("Here: {}", self.room.names().join(", "));
                lines.send_line(here.as_bytes());
            }
            Some(name) => self.room.say(name, &line),
        }
    }

    // A client that sends `/who` after `/who` and never reads the answers: stop reading
    // from it while they wait, as `line_echo` does.
    fn pause_producing(&mut self, lines: &mut LineContext<'_>) {
        lines.pause_reading();
    }

    fn resume_producing(&mut self, lines: &mut LineContext<'_>) {
        lines.resume_reading();
    }

    fn connection_lost(&mut self, _: DisconnectReason) {
        if let Some(name) = self.name.take() {
            self.room.leave(&name);
        }
    }
}

impl Chat {
    fn choose_name(&mut self, lines: &mut LineContext<'_>, name: String) {
        if name.is_empty() {
            lines.send_line(b"What's your name?");
        } else if !self.room.join(&name, lines.line_sender()) {
            lines.send_line(b"Name taken, please choose another.");
        } else {
            lines.send_line(format!("Welcome, {name}!").as_bytes());
            self.name = Some(name);
        }
    }
}

/// Twisted's `ChatFactory`: holds the room, and hands it to every connection it builds.
#[derive(Debug, Default)]
pub struct ChatFactory {
    room: Room,
}

impl ProtocolFactory for ChatFactory {
    type Protocol = LineOnlyReceiver<Chat>;

    fn build_protocol(&self, _: &Address) -> Option<LineOnlyReceiver<Chat>> {
        let room = self.room.clone();
        Some(LineOnlyReceiver::new(Chat { room, name: None }))
    }
}

/// Three users in memory: each a `TestConnection` built by one factory, so they share its
/// room. A line sent through another connection's `LineSender` waits in that connection's
/// inbox until the test next drives it (`take_written` does).
#[cfg(test)]
mod tests {
    use super::*;
    use torsade::testing::TestConnection;
    use torsade::WRITE_BUFFER_HIGH;

    type User = TestConnection<LineOnlyReceiver<Chat>>;

    /// A new connection to `factory`'s room, asked its name.
    fn connect(factory: &ChatFactory) -> User {
        let peer = Address::Tcp(([192, 168, 1, 1], 54321).into());
        let mut user = TestConnection::new(factory.build_protocol(&peer).unwrap());
        assert_eq!(user.take_written(), "What's your name?\r\n");
        user
    }

    /// A new user called `name`, welcomed.
    fn join(factory: &ChatFactory, name: &str) -> User {
        let mut user = connect(factory);
        user.receive(format!("{name}\r\n").as_bytes());
        assert_eq!(user.take_written(), format!("Welcome, {name}!\r\n"));
        user
    }

    #[test]
    fn three_users_chat_and_hear_who_comes_and_goes() {
        let factory = ChatFactory::default();
        let mut alice = join(&factory, "alice");
        let mut bob = join(&factory, "bob");
        assert_eq!(alice.take_written(), "* bob has joined\r\n");

        // A taken name is refused and asked again; an empty one is asked again.
        let mut carol = connect(&factory);
        carol.receive(b"alice\r\n\r\ncarol\r\n");
        assert_eq!(
            carol.take_written(),
            "Name taken, please choose another.\r\nWhat's your name?\r\nWelcome, carol!\r\n"
        );
        assert_eq!(alice.take_written(), "* carol has joined\r\n");
        assert_eq!(bob.take_written(), "* carol has joined\r\n");

        // A line reaches the two others, not its sender.
        bob.receive(b"hi all\r\n");
        assert_eq!(alice.take_written(), "<bob> hi all\r\n");
        assert_eq!(carol.take_written(), "<bob> hi all\r\n");
        assert_eq!(bob.take_written(), "");

        // `/who` answers its sender only.
        carol.receive(b"/who\r\n");
        assert_eq!(carol.take_written(), "Here: alice, bob, carol\r\n");
        assert_eq!(
            (alice.take_written(), bob.take_written()),
            ("".into(), "".into())
        );

        // Bob leaves: the others are told, and his name is free again.
        bob.receive_eof();
        assert!(bob.is_lost());
        assert_eq!(alice.take_written(), "* bob has left\r\n");
        assert_eq!(carol.take_written(), "* bob has left\r\n");
        carol.receive(b"/who\r\n");
        assert_eq!(carol.take_written(), "Here: alice, carol\r\n");
        let _bob_again = join(&factory, "bob");
        assert_eq!(alice.take_written(), "* bob has joined\r\n");
    }

    #[test]
    fn a_user_that_does_not_read_is_dropped_once_its_unread_lines_pass_the_high_water_mark() {
        let factory = ChatFactory::default();
        let mut alice = join(&factory, "alice");
        let mut bob = join(&factory, "bob");
        let mut carol = join(&factory, "carol");
        assert_eq!(
            alice.take_written(),
            "* bob has joined\r\n* carol has joined\r\n"
        );
        assert_eq!(bob.take_written(), "* carol has joined\r\n");
        let carol_connection = carol.transport_handle();
        let line = [b'x'; 1000];
        let message_length = "<alice> \r\n".len() + line.len();
        // Alice talks; Bob reads every line, Carol none.
        let mut sent = 0;
        while !carol_connection.is_closing() {
            assert!(
                sent < 2 * WRITE_BUFFER_HIGH / line.len(),
                "Carol was never dropped"
            );
            alice.receive(&[&line[..], b"\r\n"].concat());
            sent += 1;
            assert_eq!(bob.take_written().len(), message_length);
            carol.run_pending();
            // Never more than one line past the mark is held for her.
            assert!(carol_connection.write_buffer_size() <= WRITE_BUFFER_HIGH + message_length);
        }
        assert!(sent > WRITE_BUFFER_HIGH / message_length);
        carol.run_pending();
        assert!(carol.is_lost());
        assert_eq!(alice.take_written(), "* carol has left\r\n");
        assert_eq!(bob.take_written(), "* carol has left\r\n");
        alice.receive(b"/who\r\n");
        assert_eq!(alice.take_written(), "Here: alice, bob\r\n");
    }
}
