//! The program's own standard input and output as a connection: [`Reactor::standard_io`]
//! (Twisted's `stdio.StandardIO`).

use super::Reactor;
use crate::factory::OnceFactory;
use crate::{Address, Deferred, Protocol, ProtocolHandle};

impl Reactor {
    /// Runs `protocol` on this program's standard input and output, as on a socket: what
    /// is read from stdin reaches `data_received`, what the protocol writes goes to stdout.
    /// Twisted's `stdio.StandardIO(protocol)`. The Deferred fires with the protocol's
    /// handle once `connection_made` has run.
    ///
    /// The end of stdin is the peer's EOF: `eof_received`, then (unless it keeps the
    /// connection half-open) `connection_lost` once what was written is flushed.
    /// [`lose_connection`](crate::Transport::lose_connection) flushes stdout, then closes
    /// the connection. Both ends are named `stdio` ([`Address::Named`]).
    ///
    /// Reading stdin takes one of tokio's blocking threads (stdin cannot be read
    /// asynchronously everywhere), and a read under way cannot be interrupted: a program that
    /// stops while stdin is still open exits once that read returns, or when the process
    /// ends.
    ///
    /// # Examples
    ///
    /// A protocol that answers each chunk read with its length, stopping the reactor when
    /// stdin ends (the `stdio_lines` example is a line-based one):
    ///
    /// ```no_run
    /// use bytes::Bytes;
    /// use torsade::prelude::*;
    /// use torsade::{DisconnectReason, Reactor};
    ///
    /// struct Count(Reactor);
    ///
    /// impl Protocol for Count {
    ///     fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
    ///         cx.write(format!("{} bytes\n", data.len()).as_bytes());
    ///     }
    ///     fn connection_lost(&mut self, _: DisconnectReason) {
    ///         let _ = self.0.stop();
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// reactor.standard_io(Count(reactor.clone())).detach();
    /// reactor.run()?;
    /// # Ok::<(), torsade::Error>(())
    /// ```
    #[doc(alias = "StandardIO")]
    pub fn standard_io<P: Protocol>(&self, protocol: P) -> Deferred<ProtocolHandle<P>> {
        let stream = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
        let name = Address::named("stdio");
        self.connect_stream(stream, name.clone(), name, OnceFactory::new(protocol))
    }
}
