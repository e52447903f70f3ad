//! The resource budget shared by all template entries of one object.
//!
//! A [`Budget`] is created once per object (a SealedSecret's
//! `spec.template.data`) and handed to [`crate::render_with_budget`] for every
//! entry, so that the limits bound the whole object, not each entry.
//! During one render the remaining amounts live in a [`Meter`] reachable from
//! every place that builds or walks values (through the execution's `Heap`),
//! so that functions check the budget *before* they allocate.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Default number of evaluation steps per object. Ordinary evaluation ran
/// at 4.3 million steps per second in a release build on the (loaded)
/// development machine (see `BCRYPT_STEPS`), so this is about a second of
/// CPU time.
pub const DEFAULT_STEPS: u64 = 5_000_000;
/// Default cumulative size of the values built by all entries of an object.
pub const DEFAULT_ALLOC_BYTES: u64 = 64 << 20;
/// Default total size of the rendered output of all entries of an object
/// (Kubernetes rejects Secrets larger than 1 MiB anyway).
pub const DEFAULT_OUTPUT_BYTES: u64 = 1 << 20;
/// Default maximum nesting depth of a value (lists, maps).
pub const DEFAULT_VALUE_DEPTH: usize = 64;
/// Hard cap on [`Limits::value_depth`]: the recursive walks over values
/// (printing, JSON, comparison, copies) are only known to fit in a small
/// stack up to this depth.
pub const MAX_VALUE_DEPTH: usize = 100;
/// Default wall-clock time for all entries of an object, measured from the
/// budget's first use.
pub const DEFAULT_TIME: Duration = Duration::from_secs(2);
/// Maximum size of the text of one template entry.
pub const MAX_TEMPLATE_BYTES: usize = 256 << 10;

/// How often (in evaluation steps) the wall clock is consulted.
const TIME_CHECK_STEPS: u64 = 1024;

/// The limits of one [`Budget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Evaluation steps: actions, commands, loop iterations, nodes visited
    /// while printing or comparing values, and function calls weighted by
    /// their real cost (input size; bcrypt by its CPU time).
    pub steps: u64,
    /// Cumulative bytes of values built by functions (strings, and the
    /// per-element overhead of lists and maps), charged before allocating.
    /// Nothing is refunded when a value is dropped.
    pub alloc_bytes: u64,
    /// Total bytes of rendered output.
    pub output_bytes: u64,
    /// Maximum nesting depth of a value (capped at [`MAX_VALUE_DEPTH`]).
    pub value_depth: usize,
    /// Wall-clock time from the budget's first use.
    pub time: Duration,
}

impl Default for Limits {
    /// 5,000,000 steps, 64 MiB of allocation, 1 MiB of output, values nested
    /// at most 64 deep, 2 seconds.
    fn default() -> Self {
        Limits {
            steps: DEFAULT_STEPS,
            alloc_bytes: DEFAULT_ALLOC_BYTES,
            output_bytes: DEFAULT_OUTPUT_BYTES,
            value_depth: DEFAULT_VALUE_DEPTH,
            time: DEFAULT_TIME,
        }
    }
}

/// Which limit was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Steps,
    Alloc,
    Output,
    Depth,
    Time,
    /// The text of one entry is larger than [`MAX_TEMPLATE_BYTES`].
    TemplateSize,
}

impl Limit {
    /// The configured value of this limit and its unit, for messages.
    pub(crate) fn describe(self, limits: &Limits) -> (u64, &'static str) {
        match self {
            Limit::Steps => (limits.steps, "evaluation steps"),
            Limit::Alloc => (limits.alloc_bytes, "bytes of allocated values"),
            Limit::Output => (limits.output_bytes, "bytes of output"),
            Limit::Depth => (effective_depth(limits) as u64, "levels of value nesting"),
            Limit::Time => (
                u64::try_from(limits.time.as_millis()).unwrap_or(u64::MAX),
                "milliseconds of evaluation time",
            ),
            Limit::TemplateSize => (
                MAX_TEMPLATE_BYTES as u64,
                "bytes of template text per entry",
            ),
        }
    }
}

fn effective_depth(limits: &Limits) -> usize {
    limits.value_depth.min(MAX_VALUE_DEPTH)
}

/// The remaining resources of one object's templates. Create one per object
/// and pass it to every [`crate::render_with_budget`] call for that object.
#[derive(Debug, Clone)]
pub struct Budget {
    limits: Limits,
    steps_left: u64,
    alloc_left: u64,
    output_left: u64,
    /// Set on first use; the time limit runs from here.
    start: Option<Instant>,
}

impl Budget {
    pub fn new(limits: Limits) -> Self {
        Budget {
            limits,
            steps_left: limits.steps,
            alloc_left: limits.alloc_bytes,
            output_left: limits.output_bytes,
            start: None,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Evaluation steps not yet used.
    pub fn steps_remaining(&self) -> u64 {
        self.steps_left
    }

    /// Allocation bytes not yet used.
    pub fn alloc_remaining(&self) -> u64 {
        self.alloc_left
    }

    /// Output bytes not yet used.
    pub fn output_remaining(&self) -> u64 {
        self.output_left
    }

    /// Starts the clock (if not yet started) and returns the deadline.
    pub(crate) fn deadline(&mut self) -> Option<Instant> {
        let start = *self.start.get_or_insert_with(Instant::now);
        start.checked_add(self.limits.time)
    }

    pub(crate) fn take_steps(&mut self, n: u64) -> Result<(), Limit> {
        if n > self.steps_left {
            self.steps_left = 0;
            return Err(Limit::Steps);
        }
        self.steps_left -= n;
        Ok(())
    }

    pub(crate) fn meter(&mut self) -> Meter {
        Meter {
            steps_left: Cell::new(self.steps_left),
            alloc_left: Cell::new(self.alloc_left),
            exceeded: Cell::new(None),
            depth_limit: effective_depth(&self.limits),
            deadline: self.deadline(),
            since_check: Cell::new(0),
        }
    }

    /// Takes back what a render left of the budget.
    pub(crate) fn settle(&mut self, meter: &Meter, output_left: u64) {
        self.steps_left = meter.steps_left.get();
        self.alloc_left = meter.alloc_left.get();
        self.output_left = output_left;
    }
}

/// A budget operation failed; the reason is recorded in the [`Meter`]
/// (`Meter::exceeded`), which the executor consults to report it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exceeded;

/// The live counters of one render, shared (through `&Heap`) by everything
/// that builds or walks values.
#[derive(Debug)]
pub(crate) struct Meter {
    steps_left: Cell<u64>,
    alloc_left: Cell<u64>,
    exceeded: Cell<Option<Limit>>,
    /// Maximum nesting depth of values.
    pub depth_limit: usize,
    deadline: Option<Instant>,
    since_check: Cell<u64>,
}

impl Meter {
    /// Records that `limit` was exceeded (the first reason wins).
    pub(crate) fn fail(&self, limit: Limit) -> Exceeded {
        if self.exceeded.get().is_none() {
            self.exceeded.set(Some(limit));
        }
        Exceeded
    }

    /// The limit exceeded during this render, if any.
    pub(crate) fn exceeded(&self) -> Option<Limit> {
        self.exceeded.get()
    }

    /// Takes `n` from `left`, or empties it and records `limit` as exceeded. Once any limit
    /// is exceeded every charge fails.
    fn charge(&self, left: &Cell<u64>, n: u64, limit: Limit) -> Result<(), Exceeded> {
        if self.exceeded.get().is_some() {
            return Err(Exceeded);
        }
        let have = left.get();
        if n > have {
            left.set(0);
            return Err(self.fail(limit));
        }
        left.set(have - n);
        Ok(())
    }

    /// Charges `n` evaluation steps; the wall clock is checked every
    /// [`TIME_CHECK_STEPS`] steps.
    pub(crate) fn step(&self, n: u64) -> Result<(), Exceeded> {
        self.charge(&self.steps_left, n, Limit::Steps)?;
        let since = self.since_check.get().saturating_add(n);
        if since >= TIME_CHECK_STEPS {
            self.since_check.set(0);
            self.check_time()?;
        } else {
            self.since_check.set(since);
        }
        Ok(())
    }

    pub(crate) fn check_time(&self) -> Result<(), Exceeded> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(self.fail(Limit::Time)),
            _ => Ok(()),
        }
    }

    /// Charges `n` bytes of allocation, before allocating them.
    pub(crate) fn alloc(&self, n: u64) -> Result<(), Exceeded> {
        self.charge(&self.alloc_left, n, Limit::Alloc)
    }

    /// [`Meter::alloc`] for a `usize` amount.
    pub(crate) fn alloc_usize(&self, n: usize) -> Result<(), Exceeded> {
        self.alloc(u64::try_from(n).unwrap_or(u64::MAX))
    }

    /// Allocation bytes left (a cap for builders that grow a buffer).
    pub(crate) fn alloc_left(&self) -> usize {
        usize::try_from(self.alloc_left.get()).unwrap_or(usize::MAX)
    }

    /// Fails with [`Limit::Depth`] if `depth` exceeds the value depth limit.
    pub(crate) fn check_depth(&self, depth: usize) -> Result<(), Exceeded> {
        if depth > self.depth_limit {
            return Err(self.fail(Limit::Depth));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(steps: u64, alloc_bytes: u64, value_depth: usize, time: Duration) -> Limits {
        Limits {
            steps,
            alloc_bytes,
            output_bytes: 99,
            value_depth,
            time,
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    /// The meter of a fresh budget of 10 steps and 100 bytes.
    fn small_meter() -> Meter {
        Budget::new(limits(10, 100, 1, HOUR)).meter()
    }

    #[test]
    fn defaults() {
        let l = Limits::default();
        assert_eq!(l.steps, 5_000_000);
        assert_eq!(l.alloc_bytes, 64 << 20);
        assert_eq!(l.output_bytes, 1 << 20);
        assert_eq!(l.value_depth, 64);
        assert_eq!(l.time, Duration::from_secs(2));
        let b = Budget::new(l);
        assert_eq!(b.limits(), &l);
        assert_eq!(b.steps_remaining(), 5_000_000);
        assert_eq!(b.alloc_remaining(), 64 << 20);
        assert_eq!(b.output_remaining(), 1 << 20);
    }

    #[test]
    fn take_steps_up_to_the_limit_exactly() {
        let mut b = Budget::new(limits(10, 0, 1, HOUR));
        assert_eq!(b.take_steps(3), Ok(()));
        assert_eq!(b.steps_remaining(), 7);
        assert_eq!(b.take_steps(7), Ok(()));
        assert_eq!(b.steps_remaining(), 0);
        assert_eq!(b.take_steps(1), Err(Limit::Steps));
        let mut b = Budget::new(limits(10, 0, 1, HOUR));
        assert_eq!(b.take_steps(11), Err(Limit::Steps));
        assert_eq!(b.steps_remaining(), 0);
    }

    #[test]
    fn meter_steps_and_allocations_up_to_the_limit_exactly() {
        let m = small_meter();
        assert!(m.step(4).is_ok());
        assert!(m.step(6).is_ok());
        assert!(m.alloc(60).is_ok());
        assert!(m.alloc_usize(40).is_ok());
        assert_eq!(m.alloc_left(), 0);
        assert_eq!(m.exceeded(), None);
        assert!(m.step(1).is_err());
        assert_eq!(m.exceeded(), Some(Limit::Steps));
        // Once exceeded, everything fails, even what would fit.
        assert!(m.step(0).is_err());
        assert!(m.alloc(0).is_err());

        let m = small_meter();
        assert!(m.alloc(101).is_err());
        assert_eq!(m.exceeded(), Some(Limit::Alloc));
        assert_eq!(m.alloc_left(), 0);
        let m = small_meter();
        assert!(m.step(11).is_err());
        assert_eq!(m.exceeded(), Some(Limit::Steps));
    }

    #[test]
    fn the_first_reason_wins() {
        let m = small_meter();
        let _ = m.fail(Limit::Depth);
        let _ = m.fail(Limit::Time);
        assert_eq!(m.exceeded(), Some(Limit::Depth));
        assert!(m.step(1).is_err());
        assert_eq!(m.exceeded(), Some(Limit::Depth));
    }

    #[test]
    fn settle_takes_back_what_is_left() {
        let mut b = Budget::new(limits(10, 100, 1, HOUR));
        let m = b.meter();
        assert!(m.step(4).is_ok());
        assert!(m.alloc(30).is_ok());
        b.settle(&m, 42);
        assert_eq!(b.steps_remaining(), 6);
        assert_eq!(b.alloc_remaining(), 70);
        assert_eq!(b.output_remaining(), 42);
        // The next render starts from there.
        let m = b.meter();
        assert!(m.step(7).is_err());
    }

    #[test]
    fn depth_limit_is_inclusive_and_capped() {
        let mut b = Budget::new(limits(10, 100, 3, HOUR));
        let m = b.meter();
        assert_eq!(m.depth_limit, 3);
        assert!(m.check_depth(3).is_ok());
        assert!(m.check_depth(4).is_err());
        assert_eq!(m.exceeded(), Some(Limit::Depth));
        let mut b = Budget::new(limits(10, 100, 500, HOUR));
        assert_eq!(b.meter().depth_limit, MAX_VALUE_DEPTH);
        assert_eq!(
            Limit::Depth.describe(&limits(1, 1, 500, HOUR)),
            (100, "levels of value nesting")
        );
    }

    #[test]
    fn the_clock_is_read_every_1024_steps() {
        // A deadline already past: found at the 1024th step, not before.
        let mut b = Budget::new(limits(1 << 20, 100, 1, Duration::ZERO));
        let m = b.meter();
        assert!(m.step(TIME_CHECK_STEPS - 1).is_ok());
        assert!(m.step(1).is_err());
        assert_eq!(m.exceeded(), Some(Limit::Time));
        let mut b = Budget::new(limits(1 << 20, 100, 1, Duration::ZERO));
        let m = b.meter();
        assert!(m.check_time().is_err());
        // Far from the deadline, many checks pass.
        let mut b = Budget::new(limits(1 << 20, 100, 1, HOUR));
        let m = b.meter();
        for _ in 0..10 {
            assert!(m.step(TIME_CHECK_STEPS).is_ok());
        }
        assert!(m.check_time().is_ok());
    }

    #[test]
    fn the_clock_check_counter_restarts_after_each_check() {
        // 1023 steps, a check at 1024 (passes), then 1023 more must not check again: with a
        // deadline that passes in between, the error comes only at step 2048.
        let mut b = Budget::new(limits(1 << 20, 100, 1, Duration::from_millis(50)));
        let m = b.meter();
        assert!(m.step(TIME_CHECK_STEPS).is_ok());
        std::thread::sleep(Duration::from_millis(80));
        assert!(m.step(TIME_CHECK_STEPS - 1).is_ok());
        assert!(m.step(1).is_err());
        assert_eq!(m.exceeded(), Some(Limit::Time));
    }

    #[test]
    fn the_clock_starts_at_first_use() {
        let mut b = Budget::new(limits(1, 1, 1, HOUR));
        std::thread::sleep(Duration::from_millis(20));
        let before = Instant::now();
        let d = b.deadline().unwrap();
        assert!(d >= before + HOUR);
        assert_eq!(b.deadline(), Some(d));
    }

    #[test]
    fn descriptions() {
        let l = limits(7, 8, 9, Duration::from_millis(1500));
        assert_eq!(Limit::Steps.describe(&l), (7, "evaluation steps"));
        assert_eq!(Limit::Alloc.describe(&l), (8, "bytes of allocated values"));
        assert_eq!(Limit::Output.describe(&l), (99, "bytes of output"));
        assert_eq!(Limit::Depth.describe(&l), (9, "levels of value nesting"));
        assert_eq!(
            Limit::Time.describe(&l),
            (1500, "milliseconds of evaluation time")
        );
        assert_eq!(
            Limit::TemplateSize.describe(&l),
            (256 << 10, "bytes of template text per entry")
        );
    }
}
