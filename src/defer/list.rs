//! Waiting for several Deferreds at once: [`DeferredList`] and [`gather_results`].
//!
//! Twisted's `DeferredList(deferreds, fireOnOneCallback, fireOnOneErrback,
//! consumeErrors)` fires with a list whose shape depends on its flags. Here the flags that
//! change the result's type are separate finishing methods, so each result is typed:
//!
//! | Twisted | torsade | fires with |
//! | --- | --- | --- |
//! | `DeferredList(ds)` | `DeferredList::new(ds).into_deferred()` | `Vec<Result<T, Failure>>` in input order |
//! | `fireOnOneErrback=True` | `.fire_on_one_errback()` | … or fails with [`FirstError`] |
//! | `fireOnOneCallback=True` | `.first_success()` | `Ok((index, value))`, or `Err(failures)` if all failed |
//! | `consumeErrors=True` | `.consume_errors()` | (the inputs' failures count as handled) |
//! | `gatherResults(ds)` | [`gather_results(ds)`](gather_results), `.gather()` | `Vec<T>`, or fails with [`FirstError`] |

use std::mem;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::chain::Chain;
use super::{Deferred, Failure, FirstError, Resolver};

/// Waits for several Deferreds of the same type, and fires with all their results (or at
/// the first success or failure, as configured). Twisted's `DeferredList`.
///
/// Build it with [`new`](DeferredList::new), set options, then finish it with
/// [`into_deferred`](DeferredList::into_deferred),
/// [`first_success`](DeferredList::first_success) or [`gather`](DeferredList::gather),
/// which return the Deferred of the list's result (see the module table).
///
/// - Inputs that already have their result are processed while the list is built.
/// - A list with no inputs fires at once (with an empty `Vec`; `first_success`: with
///   `Err` of no failures).
/// - [Cancelling](Deferred::cancel) the list's Deferred before it fires cancels every
///   input that has not fired; the list then fires as its inputs' results say (usually
///   with their `Cancelled` failures). Cancelling it after it fired does nothing.
/// - Each input is taken over by the list: its value moves into the list's result.
///   Without [`consume_errors`](DeferredList::consume_errors), an input's failure stays on
///   the input's own chain as well, where nobody can handle it any more, so it is logged
///   as unhandled when the input is dropped — as in Twisted. With it, the list's result is
///   the only place the failure goes.
/// - The list does not keep its inputs alive (their resolvers do): an input that nobody
///   can fire any more is dropped, and the list then never fires by itself; cancelling it
///   then fails it with [`Error::Cancelled`](crate::Error::Cancelled).
///
/// # Examples
///
/// ```
/// use torsade::{Deferred, DeferredList, Error};
///
/// let (first, first_resolver) = Deferred::<u32>::new();
/// let (second, second_resolver) = Deferred::<u32>::new();
/// let mut all = DeferredList::new([first, second, Deferred::succeed(3)])
///     .consume_errors()
///     .into_deferred();
///
/// second_resolver.errback(Error::Cancelled).unwrap();
/// assert!(all.take_result().is_none());
/// first_resolver.callback(1).unwrap();
///
/// let results = all.take_result().unwrap().unwrap();
/// assert_eq!(results[0].as_ref().ok(), Some(&1));
/// assert!(results[1].is_err());
/// assert_eq!(results[2].as_ref().ok(), Some(&3));
/// ```
#[must_use = "a DeferredList does nothing until finished with into_deferred, first_success or gather"]
pub struct DeferredList<T> {
    inputs: Vec<Deferred<T>>,
    consume_errors: bool,
    fire_on_one_errback: bool,
}

impl<T: Send + 'static> DeferredList<T> {
    /// A list of `deferreds`, in this order, with no options set.
    pub fn new(deferreds: impl IntoIterator<Item = Deferred<T>>) -> DeferredList<T> {
        DeferredList {
            inputs: deferreds.into_iter().collect(),
            consume_errors: false,
            fire_on_one_errback: false,
        }
    }

    /// Marks every input's failure as handled once the list has it, so it is not logged
    /// as unhandled. Twisted's `consumeErrors=True`.
    #[doc(alias = "consumeErrors")]
    pub fn consume_errors(mut self) -> DeferredList<T> {
        self.consume_errors = true;
        self
    }

    /// Fails the list as soon as an input fails, with a [`FirstError`] holding the
    /// input's index and failure. Twisted's `fireOnOneErrback=True`.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::{Deferred, DeferredList, Error, FirstError};
    ///
    /// let (pending, _resolver) = Deferred::<u32>::new();
    /// let mut list = DeferredList::new([pending, Deferred::fail(Error::Cancelled)])
    ///     .consume_errors()
    ///     .fire_on_one_errback()
    ///     .into_deferred();
    /// let failure = list.take_result().unwrap().unwrap_err();
    /// assert_eq!(failure.downcast_ref::<FirstError>().unwrap().index, 1);
    /// ```
    #[doc(alias = "fireOnOneErrback")]
    pub fn fire_on_one_errback(mut self) -> DeferredList<T> {
        self.fire_on_one_errback = true;
        self
    }

    /// The Deferred of the whole list: it fires once every input has, with their results
    /// in input order (or, with [`fire_on_one_errback`](DeferredList::fire_on_one_errback),
    /// fails at the first failure).
    pub fn into_deferred(self) -> Deferred<Vec<Result<T, Failure>>> {
        let fire_on_one_errback = self.fire_on_one_errback;
        self.collect(
            move |index, result| match result {
                Err(failure) if fire_on_one_errback => {
                    Early::Fire(Err(first_error(index, failure)))
                }
                other => Early::Keep(other),
            },
            |results| results,
        )
    }

    /// The Deferred of the first success: it fires with `Ok((index, value))` as soon as
    /// an input succeeds, or with `Err(failures)` (in input order) once every input has
    /// failed. Twisted's `fireOnOneCallback=True`, which fires with `(value, index)`, or
    /// with the full result list when nothing succeeded.
    ///
    /// The other inputs are left running; with
    /// [`fire_on_one_errback`](DeferredList::fire_on_one_errback), the first failure fails
    /// the list instead.
    ///
    /// Unlike Twisted, which never fires an empty `fireOnOneCallback` list, an empty list
    /// fires at once with `Err` of no failures: nothing succeeded.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::{Deferred, DeferredList};
    ///
    /// let (slow, _slow_resolver) = Deferred::<&str>::new();
    /// let (fast, fast_resolver) = Deferred::<&str>::new();
    /// let mut first = DeferredList::new([slow, fast]).first_success();
    /// fast_resolver.callback("fast").unwrap();
    /// let (index, value) = first.take_result().unwrap().unwrap().unwrap();
    /// assert_eq!((index, value), (1, "fast"));
    /// ```
    #[doc(alias = "fireOnOneCallback")]
    pub fn first_success(self) -> Deferred<Result<(usize, T), Vec<Failure>>> {
        let fire_on_one_errback = self.fire_on_one_errback;
        self.collect(
            move |index, result| match result {
                Ok(value) => Early::Fire(Ok(Ok((index, value)))),
                Err(failure) if fire_on_one_errback => {
                    Early::Fire(Err(first_error(index, failure)))
                }
                failed => Early::Keep(failed),
            },
            |results| Err(results.into_iter().filter_map(Result::err).collect()),
        )
    }

    /// The Deferred of all the values, in input order; it fails with a [`FirstError`] at
    /// the first failure. Twisted's `gatherResults`; see also [`gather_results`].
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::{Deferred, DeferredList};
    ///
    /// let (second, resolver) = Deferred::<u32>::new();
    /// let mut values = DeferredList::new([Deferred::succeed(1), second])
    ///     .consume_errors()
    ///     .gather();
    /// resolver.callback(2).unwrap();
    /// assert_eq!(values.take_result().unwrap().unwrap(), [1, 2]);
    /// ```
    #[doc(alias = "gatherResults")]
    pub fn gather(self) -> Deferred<Vec<T>> {
        self.fire_on_one_errback()
            .into_deferred()
            .and_then(|results| results.into_iter().collect::<Result<Vec<T>, Failure>>())
    }

    /// Hooks every input to the list: `early` sees each result as it arrives and says
    /// whether the list fires now; `all` makes the list's value once every input has
    /// arrived without that.
    fn collect<O, E, A>(self, early: E, all: A) -> Deferred<O>
    where
        O: Send + 'static,
        E: Fn(usize, Result<T, Failure>) -> Early<T, O> + Send + Sync + 'static,
        A: Fn(Vec<Result<T, Failure>>) -> O + Send + Sync + 'static,
    {
        let inputs: Vec<Weak<Chain>> = self
            .inputs
            .iter()
            .map(|input| Arc::downgrade(input.chain()))
            .collect();
        let (deferred, resolver) = Deferred::with_canceller(move |_| {
            // Weak: an input nobody can fire any more cannot be cancelled either.
            for input in inputs.iter().filter_map(Weak::upgrade) {
                input.cancel();
            }
        });
        let collector = Arc::new(Collector {
            progress: Mutex::new(Progress {
                results: (0..self.inputs.len()).map(|_| None).collect(),
                remaining: self.inputs.len(),
                fired: false,
            }),
            early,
            all,
            resolver,
        });
        collector.fire_if_done();
        let consume_errors = self.consume_errors;
        for (index, input) in self.inputs.into_iter().enumerate() {
            let collector = collector.clone();
            input
                .add_both(move |result: Result<T, Failure>| {
                    let passed_on = match &result {
                        Err(failure) if !consume_errors => Err(failure.clone()),
                        _ => Ok(()),
                    };
                    collector.arrived(index, result);
                    passed_on
                })
                .detach();
        }
        deferred
    }
}

impl<T> std::fmt::Debug for DeferredList<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredList")
            .field("inputs", &self.inputs.len())
            .field("consume_errors", &self.consume_errors)
            .field("fire_on_one_errback", &self.fire_on_one_errback)
            .finish()
    }
}

/// Waits for all of `deferreds` and fires with their values in input order, or fails
/// with a [`FirstError`] at the first failure. Twisted's `gatherResults`.
///
/// The inputs' failures are not consumed (as in Twisted): a failed input is also logged
/// as unhandled. Use `DeferredList::new(deferreds).consume_errors().gather()` to avoid
/// that. Cancelling the result cancels every input that has not fired.
///
/// # Examples
///
/// ```
/// use torsade::{gather_results, Deferred};
///
/// let (later, resolver) = Deferred::<u32>::new();
/// let mut values = gather_results([Deferred::succeed(1), later]);
/// assert!(values.take_result().is_none());
/// resolver.callback(2).unwrap();
/// assert_eq!(values.take_result().unwrap().unwrap(), [1, 2]);
/// ```
#[doc(alias = "gatherResults")]
pub fn gather_results<T: Send + 'static>(
    deferreds: impl IntoIterator<Item = Deferred<T>>,
) -> Deferred<Vec<T>> {
    DeferredList::new(deferreds).gather()
}

fn first_error(index: usize, failure: Failure) -> Failure {
    Failure::new(FirstError { index, failure })
}

/// What a list does with a result as it arrives.
enum Early<T, O> {
    /// Fire the list now with this.
    Fire(Result<O, Failure>),
    /// Keep the result for the full list.
    Keep(Result<T, Failure>),
}

/// What a list knows so far.
struct Progress<T> {
    results: Vec<Option<Result<T, Failure>>>,
    remaining: usize,
    fired: bool,
}

impl<T> Progress<T> {
    /// Every result, in input order, once all are there.
    fn take_all(&mut self) -> Option<Vec<Result<T, Failure>>> {
        if self.remaining > 0 || self.fired {
            return None;
        }
        self.fired = true;
        Some(mem::take(&mut self.results).into_iter().flatten().collect())
    }
}

/// The state shared by a list's hooks on its inputs.
struct Collector<T, O, E, A> {
    progress: Mutex<Progress<T>>,
    early: E,
    all: A,
    resolver: Resolver<O>,
}

impl<T, O, E, A> Collector<T, O, E, A>
where
    O: Send + 'static,
    E: Fn(usize, Result<T, Failure>) -> Early<T, O>,
    A: Fn(Vec<Result<T, Failure>>) -> O,
{
    fn lock(&self) -> MutexGuard<'_, Progress<T>> {
        // Only torsade's own code runs under this lock, and it leaves the state
        // consistent at every step.
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fires the list if every input has arrived (at once, for an empty list).
    fn fire_if_done(&self) {
        let all = self.lock().take_all();
        if let Some(results) = all {
            self.fire(Ok((self.all)(results)));
        }
    }

    /// Input `index` has its result.
    fn arrived(&self, index: usize, result: Result<T, Failure>) {
        let mut progress = self.lock();
        progress.remaining = progress.remaining.saturating_sub(1);
        if progress.fired {
            // The list already fired: the late result is dropped (outside the lock).
            drop(progress);
            drop(result);
            return;
        }
        match (self.early)(index, result) {
            Early::Fire(outcome) => {
                progress.fired = true;
                drop(progress);
                self.fire(outcome);
            }
            Early::Keep(result) => {
                if let Some(slot) = progress.results.get_mut(index) {
                    *slot = Some(result);
                }
                drop(progress);
                self.fire_if_done();
            }
        }
    }

    fn fire(&self, outcome: Result<O, Failure>) {
        // Firing fails only if the list was cancelled and already failed meanwhile.
        let _ = match outcome {
            Ok(value) => self.resolver.callback(value),
            Err(failure) => self.resolver.errback(failure),
        };
    }
}
