//! Finding a line delimiter in bytes that arrive in pieces: `Delimiter`.
//!
//! The searches the framer needs, each without copying: the first whole delimiter in a
//! slice (`memchr` for one or two bytes, a `memmem::Finder` built once for longer ones;
//! which of them is decided once, not per line), a
//! delimiter that straddles the end of buffered bytes and the start of new ones, and how
//! far an unfinished line can still run before it can no longer end within the limit.

use std::fmt;

use bytes::Bytes;
use memchr::memmem;

/// A non-empty line delimiter and its search machinery.
#[derive(Clone)]
pub(crate) struct Delimiter {
    bytes: Bytes,
    /// How to search, decided once: [`find`](Delimiter::find) runs for every line.
    search: Search,
}

/// The search for a delimiter of one, two, or more bytes.
#[derive(Clone)]
enum Search {
    One(u8),
    Pair(u8, u8),
    /// Boxed: most connections use `\r\n` or `\n` and should not carry its few hundred
    /// bytes.
    Long(Box<memmem::Finder<'static>>),
}

impl Delimiter {
    /// Prepares `bytes` for searching.
    ///
    /// # Panics
    ///
    /// If `bytes` is empty: a line receiver needs something to split on.
    pub(crate) fn new(bytes: Bytes) -> Delimiter {
        let search = match bytes[..] {
            [] => panic!("a line delimiter must not be empty"),
            [byte] => Search::One(byte),
            [first, second] => Search::Pair(first, second),
            _ => Search::Long(Box::new(memmem::Finder::new(&bytes[..]).into_owned())),
        };
        Delimiter { bytes, search }
    }

    /// The delimiter's bytes.
    pub(crate) fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The delimiter's length (at least 1).
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// A searcher for runs of searches: see [`Searcher`].
    #[inline]
    pub(crate) fn searcher(&self) -> Searcher {
        match self.search {
            Search::One(byte) => Searcher::one(byte),
            Search::Pair(first, second) => Searcher::pair(first, second),
            Search::Long(_) => Searcher::Long,
        }
    }

    /// Where the first whole delimiter in `haystack` starts, searched with `searcher`
    /// (from [`searcher`](Delimiter::searcher) on this delimiter).
    #[inline]
    pub(crate) fn find_with(&self, searcher: &Searcher, haystack: &[u8]) -> Option<usize> {
        // The vector searchers first, tested one by one: they are what runs where the
        // CPU has AVX2, and a test per kind is cheaper than a jump through a table.
        #[cfg(target_arch = "x86_64")]
        if let Searcher::OneAvx2(one) = searcher {
            return one.find(haystack);
        }
        #[cfg(target_arch = "x86_64")]
        if let Searcher::PairAvx2(first, second) = searcher {
            return find_pair(|haystack| first.find(haystack), *second, haystack);
        }
        self.find_portably(searcher, haystack)
    }

    /// [`find_with`](Delimiter::find_with) without a vector searcher of its own.
    #[inline(never)]
    fn find_portably(&self, searcher: &Searcher, haystack: &[u8]) -> Option<usize> {
        match searcher {
            Searcher::One(byte) => memchr::memchr(*byte, haystack),
            Searcher::Pair(first, second) => find_pair(
                |haystack| memchr::memchr(*first, haystack),
                *second,
                haystack,
            ),
            _ => self.find(haystack),
        }
    }

    /// Where the first whole delimiter in `haystack` starts.
    #[inline]
    pub(crate) fn find(&self, haystack: &[u8]) -> Option<usize> {
        match &self.search {
            Search::One(byte) => memchr::memchr(*byte, haystack),
            Search::Pair(first, second) => find_pair(
                |haystack| memchr::memchr(*first, haystack),
                *second,
                haystack,
            ),
            Search::Long(finder) => finder.find(haystack),
        }
    }

    /// Where the first delimiter that starts in `tail` and ends in `head` starts, as an
    /// index into `tail`.
    ///
    /// `tail` is the end of bytes already searched (it holds no whole delimiter), `head`
    /// the start of the bytes that follow. `None` when there is no such delimiter, or when
    /// `head` is too short to tell yet (then no later start can be told either).
    pub(crate) fn find_straddling(&self, tail: &[u8], head: &[u8]) -> Option<usize> {
        let delimiter = self.bytes.as_ref();
        let longest = tail.len().min(delimiter.len() - 1);
        // The earliest start holds the most delimiter bytes in `tail`: try those first.
        for in_tail in (1..=longest).rev() {
            let (front, back) = delimiter.split_at(in_tail);
            if !tail.ends_with(front) {
                continue;
            }
            if head.len() < back.len() {
                return None;
            }
            if head.starts_with(back) {
                return Some(tail.len() - in_tail);
            }
        }
        None
    }

    /// How long the unfinished line `first ++ second` can be and still become a line of
    /// at most `max_length` bytes: the end of the longest delimiter prefix that starts at
    /// or before `max_length`. The line holds no whole delimiter starting at or before
    /// `max_length`.
    ///
    /// The line is still viable if the result is at least its length; otherwise it fails
    /// at the byte after the result. Always at least `max_length`.
    pub(crate) fn viable_len(&self, first: &[u8], second: &[u8], max_length: usize) -> usize {
        let delimiter = self.bytes.as_ref();
        let byte_at = |index: usize| match index.checked_sub(first.len()) {
            None => first.get(index),
            Some(index) => second.get(index),
        };
        let lowest = max_length.saturating_add(1).saturating_sub(delimiter.len());
        let mut viable = max_length;
        for start in lowest..=max_length {
            let matched = delimiter
                .iter()
                .enumerate()
                .take_while(|(offset, expected)| {
                    start
                        .checked_add(*offset)
                        .and_then(byte_at)
                        .is_some_and(|byte| byte == *expected)
                })
                .count();
            viable = viable.max(start.saturating_add(matched));
        }
        viable
    }
}

/// The first pair of a first byte (found by `find_first`) and `second` in `haystack`: a
/// search for the first byte, then a look at the next. Linear even on input made of
/// first bytes.
#[inline]
fn find_pair(
    find_first: impl Fn(&[u8]) -> Option<usize>,
    second: u8,
    haystack: &[u8],
) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + find_first(haystack.get(from..)?)?;
        match haystack.get(at + 1) {
            Some(&next) if next == second => return Some(at),
            Some(_) => from = at + 1,
            None => return None,
        }
    }
}

/// A delimiter search set up for a run of searches (the lines of one chunk): the
/// vector searcher for the delimiter's first byte is built once for the run, where
/// `memchr::memchr` picks its implementation and broadcasts the byte on every call.
#[derive(Clone, Copy)]
pub(crate) enum Searcher {
    /// One byte, with AVX2 (found available when the run began).
    #[cfg(target_arch = "x86_64")]
    OneAvx2(Avx2Byte),
    /// One byte, with whatever `memchr` picks.
    One(u8),
    /// Two bytes: the first with AVX2, then a look at the next.
    #[cfg(target_arch = "x86_64")]
    PairAvx2(Avx2Byte, u8),
    Pair(u8, u8),
    /// Longer delimiters keep their `memmem::Finder`, built once per framer.
    Long,
}

#[cfg(target_arch = "x86_64")]
type Avx2Byte = memchr::arch::x86_64::avx2::memchr::One;

impl Searcher {
    #[inline]
    fn one(byte: u8) -> Searcher {
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = Avx2Byte::new(byte) {
            return Searcher::OneAvx2(one);
        }
        Searcher::One(byte)
    }

    #[inline]
    fn pair(first: u8, second: u8) -> Searcher {
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = Avx2Byte::new(first) {
            return Searcher::PairAvx2(one, second);
        }
        Searcher::Pair(first, second)
    }
}

impl fmt::Debug for Delimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.bytes, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delimiter(bytes: &'static [u8]) -> Delimiter {
        Delimiter::new(Bytes::from_static(bytes))
    }

    #[test]
    fn finds_the_first_whole_delimiter_of_any_length() {
        assert_eq!(delimiter(b"\n").find(b"ab\ncd\n"), Some(2));
        assert_eq!(delimiter(b"\r\n").find(b"a\r\r\nb"), Some(2));
        assert_eq!(delimiter(b"\r\n").find(b"a\rb\r"), None);
        assert_eq!(delimiter(b"+++").find(b"a++++b"), Some(1));
        assert_eq!(delimiter(b"+++").find(b"a++b"), None);
    }

    #[test]
    fn a_searcher_finds_what_find_finds() {
        let cases: [(&'static [u8], &[u8]); 6] = [
            (b"\n", b"ab\ncd\n"),
            (
                b"\n",
                b"no delimiter here, and longer than one vector of bytes....",
            ),
            (b"\r\n", b"a\r\r\nb"),
            (b"\r\n", b"\r\r\r\r"),
            (b"+++", b"a++++b"),
            (b"\n", b""),
        ];
        for (bytes, haystack) in cases {
            let delimiter = delimiter(bytes);
            let searcher = delimiter.searcher();
            assert_eq!(
                delimiter.find_with(&searcher, haystack),
                delimiter.find(haystack)
            );
        }
        let long = [b'x'; 100];
        let mut line = long.to_vec();
        line.push(b'\n');
        let newline = delimiter(b"\n");
        assert_eq!(newline.find_with(&newline.searcher(), &line), Some(100));
    }

    #[test]
    fn pair_search_is_not_fooled_by_runs_of_the_first_byte() {
        assert_eq!(delimiter(b"\r\n").find(b"\r\r\r\r\n"), Some(3));
        assert_eq!(delimiter(b"\r\n").find(b"\r\r\r\r"), None);
    }

    #[test]
    fn straddling_delimiter_is_found_at_its_earliest_start() {
        let plus = delimiter(b"+++");
        assert_eq!(plus.find_straddling(b"ab++", b"+x"), Some(2));
        assert_eq!(plus.find_straddling(b"ab+", b"++x"), Some(2));
        assert_eq!(plus.find_straddling(b"ab+", b"+x"), None);
        // Undecidable until more arrives.
        assert_eq!(plus.find_straddling(b"ab+", b"+"), None);
        let crlf = delimiter(b"\r\n");
        assert_eq!(crlf.find_straddling(b"x\r", b"\ny"), Some(1));
        assert_eq!(crlf.find_straddling(b"", b"\r\n"), None);
    }

    #[test]
    fn viable_len_allows_a_delimiter_starting_at_or_before_the_limit() {
        let crlf = delimiter(b"\r\n");
        // max 5: "abcde\r" may still end in "\n".
        assert_eq!(crlf.viable_len(b"abcde", b"\r", 5), 6);
        // "abcdef" cannot become a line of at most 5 bytes.
        assert_eq!(crlf.viable_len(b"abc", b"def", 5), 5);
        let abc = delimiter(b"abc");
        // max 5: "xxxxab" may still be "xxxx" + "abc".
        assert_eq!(abc.viable_len(b"xxxxab", b"", 5), 6);
        assert_eq!(abc.viable_len(b"xxxxa", b"bd", 5), 6);
    }
}
