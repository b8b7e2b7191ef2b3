//! A datagram protocol that records what happens to it, for the UDP tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use torsade::datagram::{DatagramContext, DatagramProtocol, DatagramTooLong};

/// What a [`Recording`] port saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Started,
    Datagram(Bytes, SocketAddr),
    TooLong(DatagramTooLong),
    Refused,
    Stopped,
}

/// The shared log of a [`Recording`] port.
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Vec<Event>>>);

impl Events {
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The payloads of the datagrams seen so far (taking the whole log).
    pub fn take_payloads(&self) -> Vec<Bytes> {
        self.take()
            .into_iter()
            .filter_map(|event| match event {
                Event::Datagram(data, _) => Some(data),
                _ => None,
            })
            .collect()
    }

    fn push(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

/// Records every callback; echoes datagrams back when `echo` is set.
pub struct Recording {
    pub events: Events,
    pub max_size: usize,
    pub echo: bool,
}

impl Recording {
    pub fn new() -> (Recording, Events) {
        let events = Events::default();
        let recording = Recording {
            events: events.clone(),
            max_size: torsade::datagram::DEFAULT_MAX_SIZE,
            echo: false,
        };
        (recording, events)
    }

    pub fn echoing() -> (Recording, Events) {
        let (mut recording, events) = Recording::new();
        recording.echo = true;
        (recording, events)
    }
}

impl DatagramProtocol for Recording {
    fn max_size(&self) -> usize {
        self.max_size
    }

    fn started(&mut self, _: &mut DatagramContext<'_>) {
        self.events.push(Event::Started);
    }

    fn datagram_received(&mut self, cx: &mut DatagramContext<'_>, data: Bytes, from: SocketAddr) {
        if self.echo {
            cx.write(&data, from).unwrap();
        }
        self.events.push(Event::Datagram(data, from));
    }

    fn datagram_too_long(&mut self, _: &mut DatagramContext<'_>, error: DatagramTooLong) {
        self.events.push(Event::TooLong(error));
    }

    fn connection_refused(&mut self, _: &mut DatagramContext<'_>) {
        self.events.push(Event::Refused);
    }

    fn stopped(&mut self) {
        self.events.push(Event::Stopped);
    }
}
