//! What a stopping reactor does with the children it started: [`ChildPolicy`].

use std::time::Duration;

/// How long [`ChildPolicy::default`] lets a child handle SIGTERM before SIGKILL.
pub const CHILD_TERMINATE_GRACE: Duration = Duration::from_secs(5);

/// What [`Reactor::stop`](crate::Reactor::stop) does with the child processes still
/// running ([`Reactor::set_child_policy`](crate::Reactor::set_child_policy)). Either way
/// [`run`](crate::Reactor::run) returns only once every child has ended and its
/// `process_ended` has run (the child reaped), and
/// [`stop_with_deadline`](crate::Reactor::stop_with_deadline)'s deadline kills (SIGKILL)
/// those still running when it passes. A child whose output pipes are held open by a
/// grandchild keeps `run` waiting until they close.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use torsade::process::ChildPolicy;
/// use torsade::Reactor;
///
/// let reactor = Reactor::new()?;
/// reactor.set_child_policy(ChildPolicy::Terminate { grace: Duration::from_secs(1) });
/// assert_eq!(ChildPolicy::default(), ChildPolicy::Terminate { grace: Duration::from_secs(5) });
/// # Ok::<(), torsade::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildPolicy {
    /// Send SIGTERM when the reactor starts stopping, then SIGKILL to a child still
    /// running `grace` later (on non-Unix platforms, where there is no SIGTERM, kill at
    /// once). The default, with [`CHILD_TERMINATE_GRACE`].
    Terminate {
        /// How long a child has to exit after SIGTERM.
        grace: Duration,
    },
    /// Signal nothing: wait for the children to exit on their own.
    Wait,
}

impl Default for ChildPolicy {
    fn default() -> ChildPolicy {
        ChildPolicy::Terminate {
            grace: CHILD_TERMINATE_GRACE,
        }
    }
}
