//! Where recorded transcripts go: [`Recorder`], in memory or to a directory.

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::tap::Tap;
use super::transcript::{Side, Transcript};
use super::Recorded;
use crate::{Address, ProtocolFactory};

/// How much of one connection a recorder keeps unless told otherwise
/// ([`Recorder::with_limit`]): 1 MiB.
pub const DEFAULT_LIMIT: usize = 1 << 20;

/// A callback told of every transcript recorded.
type OnRecorded = Arc<dyn Fn(&Transcript) + Send + Sync>;

/// Records the connections of the factories it [`wrap`](Recorder::wrap)s, one
/// [`Transcript`] per connection, and keeps them in memory or writes them to a
/// directory. Nothing is recorded on a port or connection whose factory is not wrapped.
///
/// What a connection's transcript holds is bounded by the recorder's
/// [limit](Recorder::with_limit): past it the recording of that connection stops with a
/// [`Truncated`](super::EventKind::Truncated) event. A transcript is complete when its
/// connection ends (or its reactor drops it).
///
/// Clones share the recorder.
///
/// # Examples
///
/// Record a greeting server's connections, keeping the last 100 in memory (here: one
/// connection, then the reactor stops):
///
/// ```
/// use bytes::Bytes;
/// use torsade::prelude::*;
/// use torsade::record::Recorder;
/// use torsade::{factory_fn, Address, Reactor};
/// use torsade_protocols::GreetingServer;
///
/// /// Asks for one greeting and hangs up when it has come.
/// struct Ask;
/// impl Protocol for Ask {
///     fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
///         cx.write(b"World\r\n");
///     }
///     fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
///         if data.ends_with(b"\n") {
///             cx.lose_connection();
///         }
///     }
/// }
///
/// let reactor = Reactor::new()?;
/// let stopper = reactor.clone();
/// let recorder = Recorder::in_memory(100)
///     .with_limit(64 * 1024)
///     .on_recorded(move |_| {
///         let _ = stopper.stop();
///     });
/// let port = reactor.listen("127.0.0.1:0", recorder.wrap(GreetingServer::factory()))?;
/// reactor.connect(port.local_addr(), factory_fn(|_: &Address| Ask)).detach();
/// reactor.run()?;
///
/// let transcripts = recorder.transcripts();
/// assert_eq!(transcripts[0].received(), b"World\r\n");
/// assert_eq!(transcripts[0].sent(), b"Hello, World!\r\n");
/// print!("{}", transcripts[0].to_text());
/// # Ok::<(), torsade::Error>(())
/// ```
#[derive(Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
}

struct Shared {
    limit: AtomicUsize,
    sink: Sink,
    /// Transcripts started being delivered (numbers the files of a directory).
    numbered: AtomicU64,
    /// Transcripts delivered.
    recorded: AtomicU64,
    on_recorded: Mutex<Option<OnRecorded>>,
}

enum Sink {
    /// The last `keep` transcripts.
    Memory {
        keep: usize,
        kept: Mutex<VecDeque<Transcript>>,
    },
    /// One file per transcript in `dir`.
    Directory { dir: PathBuf },
}

impl Recorder {
    /// A recorder keeping the last `keep` transcripts in memory (see
    /// [`transcripts`](Recorder::transcripts)).
    pub fn in_memory(keep: usize) -> Recorder {
        Recorder::with_sink(Sink::Memory {
            keep,
            kept: Mutex::new(VecDeque::new()),
        })
    }

    /// A recorder writing each transcript, once its connection ends, to a file of its own
    /// in `dir` (created if missing): `NUMBER-SIDE-PEER.transcript`, numbered on from the
    /// highest number of the transcripts already there (so a new run adds to an old
    /// one's). The file is written on a blocking-task thread, off the reactor.
    ///
    /// # Errors
    ///
    /// The directory cannot be created.
    pub fn to_directory(dir: impl AsRef<Path>) -> std::io::Result<Recorder> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let highest = std::fs::read_dir(&dir)?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".transcript"))
            .filter_map(|name| name.split('-').next()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let recorder = Recorder::with_sink(Sink::Directory { dir });
        recorder.shared.numbered.store(highest, Ordering::Relaxed);
        Ok(recorder)
    }

    fn with_sink(sink: Sink) -> Recorder {
        Recorder {
            shared: Arc::new(Shared {
                limit: AtomicUsize::new(DEFAULT_LIMIT),
                sink,
                numbered: AtomicU64::new(0),
                recorded: AtomicU64::new(0),
                on_recorded: Mutex::new(None),
            }),
        }
    }

    /// Bounds each connection's transcript to about `bytes`: the bytes recorded, and 16
    /// for each event. Connections that start later get the new limit.
    pub fn with_limit(self, bytes: usize) -> Recorder {
        self.shared.limit.store(bytes, Ordering::Relaxed);
        self
    }

    /// Calls `on_recorded` with each transcript once it is complete (after it is kept or
    /// its file is started), on the thread of the connection that ended.
    pub fn on_recorded(self, on_recorded: impl Fn(&Transcript) + Send + Sync + 'static) -> Self {
        *self
            .shared
            .on_recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(on_recorded));
        self
    }

    /// The limit on each connection's transcript.
    pub fn limit(&self) -> usize {
        self.shared.limit.load(Ordering::Relaxed)
    }

    /// `factory`, with every connection it makes recorded here: listen with it to record
    /// a port's connections, connect with it to record a client's.
    pub fn wrap<F: ProtocolFactory>(&self, factory: F) -> Recorded<F> {
        Recorded::new(factory, self.clone())
    }

    /// The transcripts kept in memory, oldest first (none for a directory's recorder).
    pub fn transcripts(&self) -> Vec<Transcript> {
        match &self.shared.sink {
            Sink::Memory { kept, .. } => lock(kept).iter().cloned().collect(),
            Sink::Directory { .. } => Vec::new(),
        }
    }

    /// Takes the transcripts kept in memory, oldest first.
    pub fn take_transcripts(&self) -> Vec<Transcript> {
        match &self.shared.sink {
            Sink::Memory { kept, .. } => lock(kept).drain(..).collect(),
            Sink::Directory { .. } => Vec::new(),
        }
    }

    /// How many transcripts have been completed (and kept, or their files started).
    pub fn recorded(&self) -> u64 {
        self.shared.recorded.load(Ordering::Acquire)
    }

    /// A recording of a connection that starts at `start` on its clock.
    pub(crate) fn tap(
        &self,
        side: Side,
        local: &Address,
        peer: &Address,
        tls: bool,
        start: std::time::Duration,
    ) -> Tap {
        Tap::new(self, side, local, peer, tls, start)
    }

    /// A connection's transcript is complete.
    pub(crate) fn deliver(&self, transcript: Transcript) {
        let number = self.shared.numbered.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.shared.sink {
            Sink::Memory { keep, kept } => {
                let mut kept = lock(kept);
                if *keep > 0 {
                    while kept.len() >= *keep {
                        kept.pop_front();
                    }
                    kept.push_back(transcript.clone());
                }
            }
            Sink::Directory { dir } => {
                let path = dir.join(file_name(number, &transcript));
                let text = transcript.to_text();
                let write = move || {
                    if let Err(error) = std::fs::write(&path, text) {
                        tracing::warn!(path = %path.display(), "could not write a transcript: {error}");
                    }
                };
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => drop(runtime.spawn_blocking(write)),
                    Err(_) => write(),
                }
            }
        }
        self.shared.recorded.fetch_add(1, Ordering::AcqRel);
        let on_recorded = lock(&self.shared.on_recorded).clone();
        if let Some(on_recorded) = on_recorded {
            on_recorded(&transcript);
        }
    }
}

/// A transcript's file name: only ASCII letters, digits, `.`, `-` and `_`.
fn file_name(number: u64, transcript: &Transcript) -> String {
    let side = match transcript.side {
        Side::Server => "server",
        Side::Client => "client",
    };
    let peer: String = transcript
        .peer
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{number:06}-{side}-{peer}.transcript")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sink = match &self.shared.sink {
            Sink::Memory { keep, .. } => format!("memory (last {keep})"),
            Sink::Directory { dir } => format!("{}", dir.display()),
        };
        f.debug_struct("Recorder")
            .field("sink", &sink)
            .field("limit", &self.limit())
            .field("recorded", &self.recorded())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Recorder;
    use crate::record::{EventKind, Side, Transcript};

    #[test]
    fn a_directory_recorder_writes_one_file_per_transcript_numbered_on() {
        let dir = std::env::temp_dir().join(format!("torsade-record-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut transcript = Transcript::new(Side::Server, "127.0.0.1:1", "[::1]:2", false);
        transcript.push(Duration::from_micros(5), EventKind::Received("hi".into()));
        // Outside a runtime the file is written at once.
        Recorder::to_directory(&dir)
            .unwrap()
            .deliver(transcript.clone());
        let again = Recorder::to_directory(&dir).unwrap();
        again.deliver(transcript.clone());
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "000001-server-___1__2.transcript",
                "000002-server-___1__2.transcript"
            ]
        );
        let text = std::fs::read_to_string(dir.join(&names[1])).unwrap();
        assert_eq!(Transcript::parse(&text).unwrap(), transcript);
        assert!(again.transcripts().is_empty());
        assert_eq!(again.recorded(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
