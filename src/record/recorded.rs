//! A factory whose connections are recorded: [`Recorded`].

use std::fmt;

use super::Recorder;
use crate::{Address, ClientFactory, DisconnectReason, Error, ProtocolFactory};

/// A factory, `F`, whose connections a [`Recorder`] records; made by
/// [`Recorder::wrap`]. It builds the same protocols as `F` and passes every hook on to
/// it: wrapping changes nothing but the recording.
pub struct Recorded<F> {
    factory: F,
    recorder: Recorder,
}

impl<F> Recorded<F> {
    pub(crate) fn new(factory: F, recorder: Recorder) -> Recorded<F> {
        Recorded { factory, recorder }
    }

    /// The factory wrapped.
    pub fn inner(&self) -> &F {
        &self.factory
    }
}

impl<F: ProtocolFactory> ProtocolFactory for Recorded<F> {
    type Protocol = F::Protocol;

    fn build_protocol(&self, peer: &Address) -> Option<Self::Protocol> {
        self.factory.build_protocol(peer)
    }

    fn start_factory(&self) {
        self.factory.start_factory();
    }

    fn stop_factory(&self) {
        self.factory.stop_factory();
    }

    fn recorder(&self) -> Option<&Recorder> {
        Some(&self.recorder)
    }
}

impl<F: ClientFactory> ClientFactory for Recorded<F> {
    fn started_connecting(&self, address: &str) {
        self.factory.started_connecting(address);
    }

    fn client_connection_failed(&self, error: &Error) {
        self.factory.client_connection_failed(error);
    }

    fn client_connection_lost(&self, reason: &DisconnectReason) {
        self.factory.client_connection_lost(reason);
    }
}

impl<F> fmt::Debug for Recorded<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorded")
            .field("recorder", &self.recorder)
            .finish_non_exhaustive()
    }
}
