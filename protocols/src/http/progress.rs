//! What a download's progress callback sees: [`Progress`].

/// One chunk of a body as it arrives, passed to
/// [`GetPage::on_progress`](super::GetPage::on_progress).
///
/// # Examples
///
/// ```
/// use torsade_protocols::http::{GetPage, Progress};
///
/// let options = GetPage::new().on_progress(|progress: Progress<'_>| {
///     match progress.content_length {
///         Some(total) => eprintln!("{} of {total} bytes", progress.received),
///         None => eprintln!("{} bytes", progress.received),
///     }
/// });
/// # drop(options);
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Progress<'a> {
    /// The bytes that just arrived (never empty).
    pub chunk: &'a [u8],
    /// How many bytes of the body arrived so far, this chunk included.
    pub received: u64,
    /// The body's length as its `Content-Length` announced, if it did.
    pub content_length: Option<u64>,
}
