//! Pausing a line receiver: once its handler pauses reading, no further line of what was
//! already read is delivered; when reading resumes, the lines held back come at once,
//! then reading goes on (Twisted's `_PauseableMixin`). Each case fed split every way.

mod common;

use bytes::Bytes;
use common::{exceeded, join_raw, line, raw, Event, RawSwitch};
use torsade::testing::{every_split, TestConnection};
use torsade::{Protocol, Transport};
use torsade_protocols::{Line, LineContext, LineHandler, LineMode, LineOnlyReceiver, LineReceiver};

/// Records what it sees and pauses reading: on the line `pause_on`, on an over-long line,
/// and once the raw bytes asked for with `raw:N` are in (the rest pushed back).
#[derive(Debug, Default)]
struct Pauser {
    events: Vec<Event>,
    pause_on: &'static [u8],
    raw_left: usize,
}

impl Pauser {
    fn pausing_on(pause_on: &'static [u8]) -> Pauser {
        Pauser {
            pause_on,
            ..Pauser::default()
        }
    }
}

impl<M: LineMode> LineHandler<M> for Pauser
where
    for<'a> LineContext<'a, M>: RawSwitch,
{
    fn line_received(&mut self, lines: &mut LineContext<'_, M>, received: Line<'_>) {
        self.events.push(line(&received));
        if &received[..] == self.pause_on {
            lines.pause_reading();
        }
        if let Some(count) = received.strip_prefix(b"raw:") {
            if lines.try_raw_mode() {
                self.raw_left = std::str::from_utf8(count).unwrap().parse().unwrap();
            }
        }
    }

    fn raw_data_received(&mut self, lines: &mut LineContext<'_, M>, mut data: Bytes) {
        let taken = data.split_to(self.raw_left.min(data.len()));
        self.raw_left -= taken.len();
        self.events.push(raw(&taken));
        if self.raw_left == 0 {
            lines.set_line_mode(data);
            lines.pause_reading();
        }
    }

    fn line_length_exceeded(&mut self, lines: &mut LineContext<'_, M>, partial: Bytes) {
        self.events.push(exceeded(&partial));
        lines.pause_reading();
    }
}

/// A receiver of a [`Pauser`].
trait Paused: Protocol {
    fn events(&self) -> Vec<Event>;
}

impl Paused for LineReceiver<Pauser> {
    fn events(&self) -> Vec<Event> {
        join_raw(self.handler().events.clone())
    }
}

impl Paused for LineOnlyReceiver<Pauser> {
    fn events(&self) -> Vec<Event> {
        join_raw(self.handler().events.clone())
    }
}

/// How the test resumes reading.
#[derive(Clone, Copy, Debug)]
enum Resume {
    /// From outside, through a transport handle.
    ThroughAHandle,
    /// From a later callback (a handle's call), through its context.
    FromACallback,
}

/// Feeds `input` every way it can be split to receivers from `make`, and returns what
/// was delivered before the resume, after it, and after `later` was received.
fn paused_then_resumed<P: Paused>(
    input: &[u8],
    make: impl Fn() -> P,
    resume: Resume,
    later: &'static [u8],
) -> (Vec<Event>, Vec<Event>, Vec<Event>) {
    every_split(input, make, |connection: &mut TestConnection<P>| {
        let paused = connection.protocol().events();
        match resume {
            Resume::ThroughAHandle => connection.transport_handle().resume_reading(),
            Resume::FromACallback => {
                connection
                    .handle()
                    .call(|_, cx| cx.resume_reading())
                    .detach();
            }
        }
        connection.run_pending();
        let resumed = connection.protocol().events();
        connection.receive(later);
        (paused, resumed, connection.protocol().events())
    })
}

#[test]
fn a_pause_holds_the_rest_of_the_chunk_until_reading_resumes() {
    for resume in [Resume::ThroughAHandle, Resume::FromACallback] {
        let expected = (
            vec![line(b"a")],
            vec![line(b"a"), line(b"b"), line(b"c")],
            vec![line(b"a"), line(b"b"), line(b"c"), line(b"d")],
        );
        let seen = paused_then_resumed(
            b"a\r\nb\r\nc\r\n",
            || LineReceiver::new(Pauser::pausing_on(b"a")),
            resume,
            b"d\r\n",
        );
        assert_eq!(seen, expected, "{resume:?}");
        let seen = paused_then_resumed(
            b"a\r\nb\r\nc\r\n",
            || LineOnlyReceiver::new(Pauser::pausing_on(b"a")),
            resume,
            b"d\r\n",
        );
        assert_eq!(seen, expected, "{resume:?}, lines only");
    }
}

#[test]
fn bytes_that_arrive_while_paused_follow_the_held_lines() {
    let mut connection = TestConnection::new(LineReceiver::new(Pauser::pausing_on(b"a")));
    connection.receive(b"a\r\nb\r\nc");
    connection.receive(b"\r\nd\r\n");
    assert_eq!(connection.protocol().events(), [line(b"a")]);
    connection.transport_handle().resume_reading();
    connection.run_pending();
    assert_eq!(
        connection.protocol().events(),
        [line(b"a"), line(b"b"), line(b"c"), line(b"d")]
    );
}

#[test]
fn a_pause_in_line_length_exceeded_holds_the_lines_after_it() {
    let make = || LineOnlyReceiver::new(Pauser::default()).with_max_length(3);
    let (paused, resumed, _) =
        paused_then_resumed(b"abcdef\r\nok\r\n", make, Resume::ThroughAHandle, b"");
    assert_eq!(paused, [exceeded(b"abc")]);
    assert_eq!(resumed, [exceeded(b"abc"), line(b"ok")]);
}

#[test]
fn a_pause_in_raw_data_received_holds_the_pushed_back_lines() {
    let (paused, resumed, _) = paused_then_resumed(
        b"raw:2\r\nxyb\r\nc\r\n",
        || LineReceiver::new(Pauser::default()),
        Resume::FromACallback,
        b"",
    );
    assert_eq!(paused, [line(b"raw:2"), raw(b"xy")]);
    assert_eq!(
        resumed,
        [line(b"raw:2"), raw(b"xy"), line(b"b"), line(b"c")]
    );
}

#[test]
fn pause_and_resume_in_one_callback_hold_nothing_back() {
    struct Fidget(Vec<Event>);
    impl LineHandler for Fidget {
        fn line_received(&mut self, lines: &mut LineContext<'_>, received: Line<'_>) {
            self.0.push(line(&received));
            lines.pause_reading();
            lines.resume_reading();
        }
    }
    let mut connection = TestConnection::new(LineOnlyReceiver::new(Fidget(Vec::new())));
    connection.receive(b"a\r\nb\r\n");
    assert_eq!(connection.protocol().handler().0, [line(b"a"), line(b"b")]);
}
