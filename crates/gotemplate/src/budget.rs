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

    /// Charges `n` evaluation steps; the wall clock is checked every
    /// [`TIME_CHECK_STEPS`] steps.
    pub(crate) fn step(&self, n: u64) -> Result<(), Exceeded> {
        if self.exceeded.get().is_some() {
            return Err(Exceeded);
        }
        let left = self.steps_left.get();
        if n > left {
            self.steps_left.set(0);
            return Err(self.fail(Limit::Steps));
        }
        self.steps_left.set(left - n);
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
        if self.exceeded.get().is_some() {
            return Err(Exceeded);
        }
        let left = self.alloc_left.get();
        if n > left {
            self.alloc_left.set(0);
            return Err(self.fail(Limit::Alloc));
        }
        self.alloc_left.set(left - n);
        Ok(())
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
