//! Whether a line receiver has a raw mode, as a type: [`LineMode`], with its two values
//! [`LinesOnly`] and [`WithRawMode`].
//!
//! A [`LineHandler<M>`](crate::LineHandler) gets a [`LineContext<'_, M>`](crate::LineContext);
//! only a `LineContext<'_, WithRawMode>` has
//! [`set_raw_mode`](crate::LineContext::set_raw_mode), so asking a receiver without a raw
//! mode for one does not compile.

/// Whether a line receiver has a raw mode: [`LinesOnly`] or [`WithRawMode`]. Sealed.
pub trait LineMode: sealed::Sealed + Send + 'static {}

/// Lines and nothing else: the mode of a [`LineOnlyReceiver`](crate::LineOnlyReceiver),
/// and of a [`LineHandler`](crate::LineHandler) unless it says otherwise.
#[derive(Debug)]
pub enum LinesOnly {}

/// Lines, and a raw mode ([`set_raw_mode`](crate::LineContext::set_raw_mode)): the mode
/// of a [`LineReceiver`](crate::LineReceiver).
#[derive(Debug)]
pub enum WithRawMode {}

impl LineMode for LinesOnly {}
impl LineMode for WithRawMode {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::LinesOnly {}
    impl Sealed for super::WithRawMode {}
}
