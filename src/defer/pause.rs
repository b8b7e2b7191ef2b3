//! Holding a Deferred's callbacks back for a while: [`Deferred::pause`] and the
//! [`PauseGuard`] that unpauses it.
//!
//! Twisted's `pause`/`unpause`, on the untyped chain: pauses count, and no link runs —
//! and no result is handed out — until every pause is undone. A result that arrives
//! meanwhile waits in the chain. Each pause is a guard, so a pause cannot be undone twice
//! (Twisted lets `unpause` count below zero), and the right to unpause stays with whoever
//! paused even after the Deferred itself has been handed on — returned from a callback,
//! say, where no handle on it is left.

use std::fmt;
use std::sync::Arc;

use super::chain::Chain;
use super::Deferred;

/// One [`pause`](Deferred::pause) of a Deferred, undone by
/// [`unpause`](PauseGuard::unpause) or by dropping the guard.
///
/// `Send` and `Sync`: a pause may be undone on any thread; the callbacks that waited
/// then run there.
#[must_use = "dropping the guard unpauses the Deferred at once"]
pub struct PauseGuard {
    chain: Arc<Chain>,
}

impl<T: Send + 'static> Deferred<T> {
    /// Stops running callbacks until the returned guard is
    /// [unpaused](PauseGuard::unpause) (or dropped). Twisted's `pause`.
    ///
    /// While paused, the Deferred may still be fired: its result waits, and callbacks added
    /// meanwhile queue behind it. Awaiting a paused Deferred (or
    /// [`take_result`](Deferred::take_result)) waits too. A paused Deferred returned by
    /// another's callback holds that one back as well, even if it already has its result;
    /// the guard still unpauses it. Pauses count: the callbacks run once every guard is
    /// gone. A callback may pause its own Deferred; the callbacks after it then wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::Deferred;
    ///
    /// let (deferred, resolver) = Deferred::<u32>::new();
    /// let paused = deferred.pause();
    /// resolver.callback(20).unwrap();
    /// let mut doubled = deferred.add_callback(|n| n * 2);
    /// assert!(doubled.is_paused());
    /// assert!(doubled.take_result().is_none()); // fired, but paused
    ///
    /// paused.unpause();
    /// assert_eq!(doubled.take_result().unwrap().unwrap(), 40);
    /// ```
    #[doc(alias = "unpause")]
    pub fn pause(&self) -> PauseGuard {
        self.chain().pause();
        PauseGuard {
            chain: self.chain().clone(),
        }
    }

    /// Whether the Deferred is paused. Twisted's `paused`.
    #[doc(alias = "paused")]
    pub fn is_paused(&self) -> bool {
        self.chain().is_paused()
    }
}

impl PauseGuard {
    /// Undoes this pause; if it was the last one, the callbacks that waited run now, on
    /// this thread. The same as dropping the guard. Twisted's `unpause`.
    pub fn unpause(self) {}
}

impl Drop for PauseGuard {
    fn drop(&mut self) {
        self.chain.unpause();
    }
}

impl fmt::Debug for PauseGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PauseGuard")
            .field("still_paused", &self.chain.is_paused())
            .finish()
    }
}
