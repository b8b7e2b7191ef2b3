//! Scheduling: the [`Clock`] trait, the [`DelayedCall`] it returns, the [`LoopingCall`]
//! that repeats a call every interval, and its async face, [`ticks`].
//!
//! Everything in torsade that waits for time goes through a `Clock`, so tests can swap the
//! reactor's clock for [`testing::FakeClock`](crate::testing::FakeClock) and move time by hand.
//! Both run on the same queue, with the same ordering rules (see `TimerQueue`).

mod clock;
mod delayed_call;
mod looping_call;
mod ticks;
pub(crate) mod timer_queue;

pub use self::clock::{Clock, ClockExt};
pub use self::delayed_call::DelayedCall;
pub use self::looping_call::LoopingCall;
pub use self::ticks::{ticks, Ticks};
