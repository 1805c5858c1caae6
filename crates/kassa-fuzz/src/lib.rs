//! A small mutational fuzzer that runs on stable Rust as an ordinary `#[test]` (cargo-fuzz needs
//! nightly). Each target starts from a seed corpus of valid inputs, replays its saved regressions
//! first, then mutates (bit flips, interesting bytes and Unicode, insertions, deletions,
//! repetitions, dictionary words, splices) for a bounded time, checking the target's properties.
//!
//! * `KASSA_FUZZ_SECS`: seconds per target (default 3; `scripts/fuzz` sets more).
//! * `KASSA_FUZZ_ITERS`: a number of iterations instead of a time.
//! * `KASSA_FUZZ_SEED`: the seed (default: fixed per target, so the suite is deterministic;
//!   `random` picks one from the clock). The seed is printed on failure.
//!
//! A failing input (a panic in the check: a crash or a broken property) is printed as hex and
//! saved under `<crate>/tests/fuzz-regressions/<target>/`; every file there is replayed before
//! any mutation, so it stays a regression test once committed. There is no coverage feedback;
//! instead an input whose *outcome* (the value the check returns, hashed) was not seen before
//! joins the corpus, which steers mutation towards new error paths.
//!
//! A stack overflow aborts the process and cannot be caught: the seed and the iteration are
//! printed periodically with `KASSA_FUZZ_VERBOSE=1` to find it again.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Separates the fields of a structured input (see [`fields`]). Never part of UTF-8 text.
pub const SEP: u8 = 0xFF;

/// Splits an input into `N` fields at [`SEP`]; missing fields are empty, extra separators stay
/// in the last field.
pub fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        if i + 1 == N {
            *slot = rest;
            break;
        }
        match rest.iter().position(|&b| b == SEP) {
            Some(p) => {
                *slot = &rest[..p];
                rest = &rest[p + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out
}

/// The inverse of [`fields`], to write seeds.
pub fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        out.extend_from_slice(p);
    }
    out
}

/// A field as text (invalid UTF-8 replaced), as a header or form value would reach the code.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A number from a field: its decimal value when it is one, else a hash of its bytes, so every
/// input names some number and small edits to digits move it.
pub fn number(b: &[u8]) -> i64 {
    match std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        Some(n) => n,
        None => {
            let mut h = DefaultHasher::new();
            b.hash(&mut h);
            h.finish() as i64
        }
    }
}

pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// splitmix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n == 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const INTERESTING_BYTES: &[u8] = &[
    0x00, 0x01, 0x7F, 0x80, 0xFF, 0xC3, 0xE2, b' ', b'\t', b'\n', b'\r', b'=', b'&', b'%', b'+',
    b',', b':', b';', b'.', b'-', b'_', b'[', b']', b'*', b'"', b'\'', b'<', b'>', b'\\', b'0',
    b'9', b'a', b'f', b'A', b'Z',
];

const INTERESTING_TEXT: &[&str] = &[
    "é",
    "É",
    "ü",
    "ß",
    "×",
    "÷",
    "ɏ",
    "ɐ",
    "À",
    "ÿ",
    "Ā",
    "€",
    "И",
    "お",
    "😀",
    "\u{0}",
    "\u{A0}",
    "\u{200B}",
    "\u{FEFF}",
    "\u{0301}",
    "\u{2028}",
    "%00",
    "%ZZ",
    "%C3%A9",
    "%5B",
    "%5D",
    "%",
    "+",
    "[]",
    "[0]",
    "][",
    "[[",
    "]]",
    "0",
    "-1",
    "+1",
    "1e3",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "-9223372036854775807",
    "2147483648",
    "4294967296",
];

/// A fuzz target: its name, where its regressions live, its seeds and dictionary.
pub struct Fuzz {
    name: String,
    regressions: PathBuf,
    seeds: Vec<Vec<u8>>,
    dict: Vec<Vec<u8>>,
    max_len: usize,
}

impl Fuzz {
    /// `crate_dir` is the crate's `env!("CARGO_MANIFEST_DIR")`.
    pub fn new(name: &str, crate_dir: &str) -> Self {
        Fuzz {
            name: name.to_string(),
            regressions: Path::new(crate_dir)
                .join("tests/fuzz-regressions")
                .join(name),
            seeds: Vec::new(),
            dict: INTERESTING_TEXT
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect(),
            max_len: 4096,
        }
    }

    pub fn seed(mut self, s: impl AsRef<[u8]>) -> Self {
        self.seeds.push(s.as_ref().to_vec());
        self
    }

    pub fn seeds<I: IntoIterator<Item = S>, S: AsRef<[u8]>>(mut self, seeds: I) -> Self {
        for s in seeds {
            self.seeds.push(s.as_ref().to_vec());
        }
        self
    }

    /// Words that mutation inserts or writes over (tokens of the format under test).
    pub fn dict(mut self, words: &[&str]) -> Self {
        self.dict
            .extend(words.iter().map(|w| w.as_bytes().to_vec()));
        self
    }

    /// Inputs grow to at most this many bytes (default 4096).
    pub fn max_len(mut self, n: usize) -> Self {
        self.max_len = n;
        self
    }

    /// Runs `check` on the regressions, the seeds, then mutants until the time or iteration
    /// budget is spent. `check` panics when a property does not hold; what it returns is the
    /// input's outcome class (new classes grow the corpus). Returns the iteration count.
    pub fn run<R: Hash>(self, check: impl Fn(&[u8]) -> R) -> u64 {
        let budget = Budget::from_env();
        let seed = seed_from_env(&self.name);
        let verbose = std::env::var_os("KASSA_FUZZ_VERBOSE").is_some();
        let mut rng = Rng::new(seed);
        let mut seen: HashSet<u64> = HashSet::new();
        let mut corpus: Vec<Vec<u8>> = Vec::new();
        let started = Instant::now();

        let mut replay = self.saved_regressions();
        let n_regressions = replay.len();
        replay.extend(self.seeds.iter().cloned());
        // Regressions and seeds always stay in the corpus; mutants join it with a new outcome.
        for input in replay {
            seen.insert(self.attempt(&check, &input, seed, 0));
            corpus.push(input);
        }
        assert!(!corpus.is_empty(), "fuzz target {} has no seeds", self.name);

        let mut iters: u64 = 0;
        while !budget.spent(iters, started) {
            iters += 1;
            let mut input = corpus[rng.below(corpus.len())].clone();
            for _ in 0..1 + rng.below(4) {
                self.mutate(&mut input, &corpus, &mut rng);
            }
            if verbose && iters.is_multiple_of(100_000) {
                eprintln!("fuzz {}: seed {seed} iteration {iters}", self.name);
            }
            let outcome = self.attempt(&check, &input, seed, iters);
            if seen.insert(outcome) && corpus.len() < 4096 {
                corpus.push(input);
            }
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "fuzz {}: {iters} iterations in {secs:.1} s ({:.0}/s), seed {seed}, {n_regressions} regressions replayed, {} outcome classes, corpus {}",
            self.name,
            iters as f64 / secs.max(1e-9),
            seen.len(),
            corpus.len()
        );
        iters
    }

    fn attempt<R: Hash>(
        &self,
        check: &impl Fn(&[u8]) -> R,
        input: &[u8],
        seed: u64,
        iter: u64,
    ) -> u64 {
        match panic::catch_unwind(AssertUnwindSafe(|| check(input))) {
            Ok(outcome) => {
                let mut h = DefaultHasher::new();
                outcome.hash(&mut h);
                h.finish()
            }
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let saved = self.save(input);
                panic!(
                    "fuzz target {} failed at iteration {iter} (KASSA_FUZZ_SEED={seed}): {msg}\ninput ({} bytes): {}\ninput (text): {:?}\nsaved as {}",
                    self.name,
                    input.len(),
                    hex(input),
                    String::from_utf8_lossy(input),
                    saved
                );
            }
        }
    }

    fn saved_regressions(&self) -> Vec<Vec<u8>> {
        let Ok(dir) = std::fs::read_dir(&self.regressions) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        paths
            .iter()
            .filter(|p| p.is_file())
            .filter_map(|p| std::fs::read(p).ok())
            .collect()
    }

    fn save(&self, input: &[u8]) -> String {
        let mut h = DefaultHasher::new();
        input.hash(&mut h);
        let path = self.regressions.join(format!("crash-{:016x}", h.finish()));
        match std::fs::create_dir_all(&self.regressions).and_then(|_| std::fs::write(&path, input))
        {
            Ok(()) => path.display().to_string(),
            Err(e) => format!("(not saved: {e})"),
        }
    }

    fn mutate(&self, data: &mut Vec<u8>, corpus: &[Vec<u8>], rng: &mut Rng) {
        let len = data.len();
        match rng.below(12) {
            // Flip one bit.
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            // Write an interesting byte.
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
            }
            // Insert an interesting or random byte.
            2 => {
                let b = if rng.chance(2) {
                    INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())]
                } else {
                    rng.next_u64() as u8
                };
                data.insert(rng.below(len + 1), b);
            }
            // Delete a range.
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                data.drain(i..i + n);
            }
            // Insert a dictionary word.
            4 | 5 => {
                let w = &self.dict[rng.below(self.dict.len())];
                let i = rng.below(len + 1);
                data.splice(i..i, w.iter().copied());
            }
            // Write a dictionary word over what is there.
            6 if len > 0 => {
                let w = &self.dict[rng.below(self.dict.len())];
                let i = rng.below(len);
                let end = (i + w.len()).min(len);
                data.splice(i..end, w.iter().copied());
            }
            // Repeat a range (many times now and then: depth and size limits).
            7 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(8));
                let times = if rng.chance(8) {
                    1 + rng.below(2000)
                } else {
                    1 + rng.below(8)
                };
                let chunk: Vec<u8> = data[i..i + n].to_vec();
                let at = i + n;
                data.splice(at..at, chunk.iter().copied().cycle().take(n * times));
            }
            // Splice in part of another corpus entry.
            8 => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = a + 1 + rng.below(other.len() - a);
                    let i = rng.below(len + 1);
                    let end = (i + rng.below(len - i + 1)).min(len);
                    data.splice(i..end, other[a..b].iter().copied());
                }
            }
            // Change the case of an ASCII letter.
            9 if len > 0 => {
                let i = rng.below(len);
                if data[i].is_ascii_alphabetic() {
                    data[i] ^= 0x20;
                }
            }
            // Truncate.
            10 if len > 0 => data.truncate(rng.below(len)),
            // Change a digit (timestamps, indexes, lengths).
            _ => {
                if let Some(i) = (0..len.min(64))
                    .map(|_| rng.below(len))
                    .find(|&i| data[i].is_ascii_digit())
                {
                    data[i] = b'0' + rng.below(10) as u8;
                } else {
                    data.push(b'0' + rng.below(10) as u8);
                }
            }
        }
        data.truncate(self.max_len);
    }
}

enum Budget {
    Iters(u64),
    Time(Duration),
}

impl Budget {
    fn from_env() -> Self {
        if let Some(n) = env_parse::<u64>("KASSA_FUZZ_ITERS") {
            return Budget::Iters(n);
        }
        let secs = env_parse::<f64>("KASSA_FUZZ_SECS").unwrap_or(3.0).max(0.0);
        Budget::Time(Duration::from_secs_f64(secs))
    }

    fn spent(&self, iters: u64, started: Instant) -> bool {
        match self {
            Budget::Iters(n) => iters >= *n,
            // The clock is read every 64 iterations.
            Budget::Time(d) => iters.is_multiple_of(64) && started.elapsed() >= *d,
        }
    }
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn seed_from_env(name: &str) -> u64 {
    match std::env::var("KASSA_FUZZ_SEED") {
        Ok(v) if v.trim() == "random" => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
        Ok(v) => match v.trim().parse() {
            Ok(n) => n,
            Err(_) => panic!("KASSA_FUZZ_SEED must be a number or `random`, not {v:?}"),
        },
        // FNV-1a of the name: fixed per target, different between targets.
        Err(_) => name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_and_join() {
        let j = join(&[b"a", b"", b"c"]);
        assert_eq!(fields::<3>(&j), [&b"a"[..], b"", b"c"]);
        assert_eq!(fields::<2>(&j), [&b"a"[..], &j[2..]]);
        assert_eq!(fields::<4>(b"x"), [&b"x"[..], b"", b"", b""]);
    }

    #[test]
    fn finds_a_planted_bug_and_saves_it() {
        let dir = std::env::temp_dir().join(format!("kassa-fuzz-self-{}", std::process::id()));
        let target = Fuzz::new("planted", dir.to_str().unwrap()).seed("hello world");
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            target.run(|d| {
                assert!(!d.windows(2).any(|w| w == b"[["), "planted");
            })
        }));
        assert!(r.is_err(), "the planted bug was not found");
        let saved = std::fs::read_dir(dir.join("tests/fuzz-regressions/planted"))
            .unwrap()
            .count();
        assert_eq!(saved, 1);
        // Replayed first next time.
        let again = panic::catch_unwind(AssertUnwindSafe(|| {
            Fuzz::new("planted", dir.to_str().unwrap())
                .seed("x")
                .run(|d| assert!(!d.windows(2).any(|w| w == b"[["), "planted"))
        }));
        assert!(again.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
