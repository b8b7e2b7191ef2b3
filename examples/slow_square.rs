//! `slow_square(3)` four ways, from Autobahn's "Asynchronous Programming" page (seed
//! `000`): a function that takes a second to square a number without blocking, written
//! with a Deferred, with inlineCallbacks, with an asyncio-style Future, and with
//! async/await. Each prints `9`, labelled with its style.
//!
//! ```text
//! cargo run --example slow_square                   # all four, one after another (4 s)
//! cargo run --example slow_square -- async          # one: deferred|inline|future|async
//! cargo run --example slow_square -- --fake-clock   # the same, instantly, on a fake clock
//! ```
//!
//! How the Python maps to Rust:
//!
//! | seed (Python)                                     | here                                             |
//! |---------------------------------------------------|--------------------------------------------------|
//! | `Deferred()`, `callLater(1, resolve)`             | `Deferred::new()`, `call_later(1 s, ..)`         |
//! | `@inlineCallbacks`, `yield sleep(1)`              | `Deferred::from_future(async { sleep(..).await })` |
//! | `asyncio.Future()`, `f.set_result(..)`            | a `oneshot` channel: the receiver is the future  |
//! | `f.add_done_callback(done)`                       | a task that awaits the future, then calls `done` |
//! | `async def`, `await asyncio.sleep(1)`             | `async fn`, `sleep(clock, 1 s).await`            |
//! | `loop.run_until_complete(test())`                 | a task on the loop (`Reactor::spawn`)            |
//!
//! The program is written against a clock, so `--fake-clock` runs it on
//! `torsade::testing::FakeClock`, advanced from one due call to the next.

mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::{Args, ClockReactor};
use torsade::Deferred;

const USAGE: &str = "usage: slow_square [deferred|inline|future|async] [--fake-clock]
  (no style: all four, one after another)";

/// How long squaring takes.
const SLOW: Duration = Duration::from_secs(1);

/// The seed's first listing: a Deferred, fired by a timed call.
mod with_deferred {
    use std::sync::Arc;

    use super::SLOW;
    use torsade::{Clock, ClockExt, Deferred};

    /// `d = Deferred(); reactor.callLater(1, resolve); return d`
    pub(crate) fn slow_square(clock: &Arc<dyn Clock>, x: u64) -> Deferred<u64> {
        let (d, resolver) = Deferred::new();
        clock.call_later(SLOW, move || {
            // Fails only if the Deferred was already fired; this call is its only firer.
            let _ = resolver.callback(x * x);
        });
        d
    }

    /// `d = slow_square(3); d.addCallback(on_success)`
    pub(crate) fn test(clock: &Arc<dyn Clock>) -> Deferred<()> {
        slow_square(clock, 3).add_callback(|res| println!("deferred: {res}"))
    }
}

/// The seed's second listing: `@inlineCallbacks` — a sequential-looking function that
/// waits on Deferreds and *returns a Deferred*, so callback code can use it too.
/// `Deferred::from_future` is `inlineCallbacks`: it runs the body at once, up to its first
/// wait, with no executor, and resumes it whenever the awaited Deferred fires.
mod with_inline_callbacks {
    use std::sync::Arc;

    use super::SLOW;
    use torsade::{sleep, Clock, Deferred, Failure};

    /// `yield sleep(1); returnValue(x * x)`
    pub(crate) fn slow_square(clock: Arc<dyn Clock>, x: u64) -> Deferred<u64> {
        Deferred::from_try_future(async move {
            sleep(&clock, SLOW).await?;
            Ok::<u64, Failure>(x * x)
        })
    }

    /// `res = yield slow_square(3); print(res)`
    pub(crate) fn test(clock: Arc<dyn Clock>) -> Deferred<()> {
        Deferred::from_try_future(async move {
            let res = slow_square(clock, 3).await?;
            println!("inline: {res}");
            Ok::<(), Failure>(())
        })
    }
}

/// The seed's third listing: a plain asyncio `Future` set by a timed call, with a done
/// callback. An asyncio Future is a one-shot result holder with no chain of callbacks:
/// here a `oneshot` channel, whose sender is `set_result` and whose receiver is the
/// future. A Rust future has no list of done callbacks either — it does nothing until
/// polled — so `add_done_callback(done)` is a task that awaits the future and then calls
/// `done` with its result (`f.result()`, which fails if the future was abandoned).
mod with_future {
    use std::future::Future;

    use tokio::sync::oneshot;

    use super::{ClockReactor, SLOW};
    use torsade::{Deferred, Failure};

    /// `f = asyncio.Future(); loop.call_later(1, resolve); return f`
    pub(crate) fn slow_square(reactor: &ClockReactor, x: u64) -> oneshot::Receiver<u64> {
        let (sender, f) = oneshot::channel();
        reactor.call_later(SLOW, move || {
            // `f.set_result(x * x)`; fails only if nobody holds the future any more, and
            // then there is nobody to tell.
            let _ = sender.send(x * x);
        });
        f
    }

    /// `f.add_done_callback(done)`: the callback runs once the future is done.
    fn add_done_callback<F, R>(
        reactor: &ClockReactor,
        f: F,
        done: impl FnOnce(F::Output) -> R + Send + 'static,
    ) -> Deferred<R>
    where
        F: Future + Send + 'static,
        R: Send + 'static,
    {
        reactor.spawn(async move { done(f.await) })
    }

    /// `f = slow_square(3); f.add_done_callback(done); return f`
    pub(crate) fn test(reactor: &ClockReactor) -> Deferred<()> {
        let f = slow_square(reactor, 3);
        let done = |result: Result<u64, oneshot::error::RecvError>| {
            let res = result?;
            println!("future: {res}");
            Ok::<(), Failure>(())
        };
        add_done_callback(reactor, f, done).and_then(|outcome| outcome)
    }
}

/// The seed's last listing: coroutines with async/await. Nothing runs until the
/// coroutine is driven by a task (`loop.run_until_complete`).
mod with_async_await {
    use super::SLOW;
    use torsade::{sleep, Clock, Failure};

    /// `await asyncio.sleep(1); return x * x`
    pub(crate) async fn slow_square(clock: &dyn Clock, x: u64) -> Result<u64, Failure> {
        sleep(clock, SLOW).await?;
        Ok(x * x)
    }

    /// `res = await slow_square(3); print(res)`
    pub(crate) async fn test(clock: &dyn Clock) -> Result<(), Failure> {
        let res = slow_square(clock, 3).await?;
        println!("async: {res}");
        Ok(())
    }
}

/// One way of writing `slow_square`.
#[derive(Clone, Copy, Debug)]
enum Style {
    Deferred,
    Inline,
    Future,
    Async,
}

impl Style {
    const ALL: [Style; 4] = [Style::Deferred, Style::Inline, Style::Future, Style::Async];

    fn from_name(name: &str) -> Option<Style> {
        match name {
            "deferred" => Some(Style::Deferred),
            "inline" => Some(Style::Inline),
            "future" => Some(Style::Future),
            "async" => Some(Style::Async),
            _ => None,
        }
    }

    /// Runs this style's `test()`; the Deferred fires once it has printed.
    fn test(self, reactor: &ClockReactor) -> Deferred<()> {
        let clock = reactor.clock().clone();
        match self {
            Style::Deferred => with_deferred::test(&clock),
            Style::Inline => with_inline_callbacks::test(clock),
            Style::Future => with_future::test(reactor),
            Style::Async => reactor
                .spawn(async move { with_async_await::test(&*clock).await })
                .and_then(|outcome| outcome),
        }
    }
}

fn main() -> ExitCode {
    common::init_logging();
    let (args, operands) = match Args::parse_command(USAGE, &[], &["fake-clock"], 1) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let styles = match operands.first() {
        None => Style::ALL.to_vec(),
        Some(name) => match Style::from_name(name) {
            Some(style) => vec![style],
            None => {
                eprintln!("error: unknown style {name:?}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        },
    };
    common::run_timers(args.flag("fake-clock"), move |reactor| {
        // One style after another: each starts when the previous one has printed.
        let mut all = Deferred::succeed(());
        for style in styles {
            let r = reactor.clone();
            all = all.and_then(move |()| style.test(&r));
        }
        reactor.stop_when(all);
    })
}
