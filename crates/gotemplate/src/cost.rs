//! What a function call costs against the budget, computed from its name and arguments
//! before it runs.

use super::call::arg;
use super::value::{ELEM_BYTES, ENTRY_BYTES, Heap, Value};

/// Steps charged for one bcrypt hash at Sprig's cost (10).
///
/// Calibration (`cargo bench -p gotemplate --bench calibrate`, release
/// build, on the shared 2-core development machine under load, 2026-11-30):
/// ordinary evaluation (a `range`/`printf`/`b64enc`/`len` loop) ran at 4.3
/// million steps per second, and one bcrypt hash at cost 10 took 145 ms,
/// i.e. about 625,000 steps at that rate; rounded up to 800,000. With the
/// default budget of 5,000,000 steps an object can hash 6 passwords.
pub(crate) const BCRYPT_STEPS: u64 = 800_000;

fn str_len(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len(),
        _ => 0,
    }
}

fn list_len(v: &Value) -> usize {
    match v {
        Value::List(l) => l.items.len(),
        _ => 0,
    }
}

fn total_str_len(a: &[Value]) -> usize {
    a.iter().map(str_len).fold(0, usize::saturating_add)
}

fn int_of_arg(a: &[Value], n: usize) -> i64 {
    arg(a, n).as_int().unwrap_or(0)
}

/// Number of elements of Sprig's `untilStep(start, stop, step)`.
fn range_count(start: i64, stop: i64, step: i64) -> u64 {
    let (start, stop, step) = (i128::from(start), i128::from(stop), i128::from(step));
    let n = if stop < start && step < 0 {
        (start - stop + (-step) - 1) / (-step)
    } else if stop > start && step > 0 {
        (stop - start + step - 1) / step
    } else {
        0
    };
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Number of elements of Sprig's `seq` with these arguments.
fn seq_count(a: &[Value]) -> u64 {
    match a.len() {
        1 => {
            let end = int_of_arg(a, 0);
            range_count(1, end, 1).max(range_count(1, end, -1)) + 1
        }
        2 => {
            let (start, end) = (int_of_arg(a, 0), int_of_arg(a, 1));
            range_count(start, end, 1).max(range_count(start, end, -1)) + 1
        }
        3 => {
            let (start, step, end) = (int_of_arg(a, 0), int_of_arg(a, 1), int_of_arg(a, 2));
            range_count(start, end, step).saturating_add(1)
        }
        _ => 0,
    }
}

/// Number of parts `strings.SplitN(s, sep, n)` produces.
fn split_count(s: &str, sep: &str, n: i64) -> usize {
    let all = if sep.is_empty() {
        s.chars().count()
    } else {
        s.matches(sep).count() + 1
    };
    if n < 0 {
        all
    } else {
        all.min(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

fn map_cost(heap: &Heap, v: &Value) -> (usize, usize) {
    match v {
        Value::Map(id) => heap.get(*id).map_or((0, 0), |m| {
            (
                m.entries.len(),
                m.entries
                    .keys()
                    .map(String::len)
                    .fold(0, usize::saturating_add),
            )
        }),
        _ => (0, 0),
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// What a call costs, charged before the function runs: `(steps, bytes)`.
///
/// Steps: 1, plus 1 per 64 bytes of argument data, plus the function's own
/// work (bcrypt by its CPU time, hashes and encodings per input byte,
/// regular expressions by pattern and input size, generated lists and
/// strings by their size). Bytes: the memory of the result (string bytes
/// and `size_of::<Value>()` per list element, key + value + B-tree
/// overhead per map entry), from the arguments alone. Functions whose
/// result size depends on more than their arguments (printing, JSON,
/// regular expression results, `deepCopy`) charge as they build instead.
pub(crate) fn cost(name: &str, a: &[Value], heap: &Heap) -> (u64, u64) {
    let weight: usize = a
        .iter()
        .map(|v| super::value::shallow_size(v, heap))
        .fold(0, usize::saturating_add);
    let mut steps = 1 + to_u64(weight / 64);
    let strs = total_str_len(a);
    let s0 = str_len(arg(a, 0));
    let s1 = str_len(arg(a, 1));
    let bytes: u64 = match name {
        "bcrypt" | "htpasswd" => {
            steps = steps.saturating_add(BCRYPT_STEPS);
            to_u64(strs) + 80
        }
        "sha1sum" | "sha256sum" | "sha512sum" | "adler32sum" => {
            steps = steps.saturating_add(to_u64(strs / 16));
            128
        }
        "b64enc" => {
            steps = steps.saturating_add(to_u64(strs / 16));
            to_u64(strs / 3 * 4 + 4)
        }
        "b32enc" => {
            steps = steps.saturating_add(to_u64(strs / 16));
            to_u64(strs / 5 * 8 + 8)
        }
        "b64dec" | "b32dec" => {
            steps = steps.saturating_add(to_u64(strs / 16));
            to_u64(strs)
        }
        "regexMatch"
        | "mustRegexMatch"
        | "regexFind"
        | "mustRegexFind"
        | "regexFindAll"
        | "mustRegexFindAll"
        | "regexReplaceAll"
        | "mustRegexReplaceAll"
        | "regexReplaceAllLiteral"
        | "mustRegexReplaceAllLiteral"
        | "regexSplit"
        | "mustRegexSplit" => {
            // Compiling is linear in the pattern, matching in input x pattern.
            let compile = to_u64(s0).saturating_mul(32);
            let matching = to_u64(s1).saturating_mul(1 + to_u64(s0 / 16)) / 8;
            steps = steps.saturating_add(compile).saturating_add(matching);
            // Results are charged as they are found.
            0
        }
        "regexQuoteMeta" => to_u64(s0).saturating_mul(2),
        "repeat" => {
            let count = u64::try_from(int_of_arg(a, 0)).unwrap_or(0);
            let total = count.saturating_mul(to_u64(s1));
            steps = steps.saturating_add(total / 64);
            total
        }
        "until" => {
            let n = int_of_arg(a, 0).unsigned_abs();
            steps = steps.saturating_add(n / 16);
            n.saturating_mul(to_u64(ELEM_BYTES))
        }
        "untilStep" => {
            let n = range_count(int_of_arg(a, 0), int_of_arg(a, 1), int_of_arg(a, 2));
            steps = steps.saturating_add(n / 16);
            n.saturating_mul(to_u64(ELEM_BYTES))
        }
        "seq" => {
            // One Vec<i64> element plus about 21 bytes of text per number.
            let n = seq_count(a);
            steps = steps.saturating_add(n / 16);
            n.saturating_mul(8 + 21)
        }
        "list" | "tuple" => to_u64(a.len().saturating_mul(ELEM_BYTES)),
        "append" | "push" | "mustAppend" | "mustPush" | "prepend" | "mustPrepend" => {
            to_u64((list_len(arg(a, 0)) + 1).saturating_mul(ELEM_BYTES))
        }
        "concat" => {
            let n = a.iter().map(list_len).fold(0, usize::saturating_add);
            to_u64(n.saturating_mul(ELEM_BYTES))
        }
        "rest" | "mustRest" | "initial" | "mustInitial" | "reverse" | "mustReverse" | "compact"
        | "mustCompact" | "uniq" | "mustUniq" | "without" | "mustWithout" | "slice"
        | "mustSlice" => to_u64(list_len(arg(a, 0)).saturating_mul(ELEM_BYTES)),
        "has" | "mustHas" => to_u64(list_len(arg(a, 1)).saturating_mul(ELEM_BYTES)),
        "chunk" | "mustChunk" => {
            // items copied, then regrouped into lists of lists.
            to_u64(list_len(arg(a, 1)).saturating_mul(3 * ELEM_BYTES))
        }
        "dict" => {
            to_u64((a.len() / 2 + 1).saturating_mul(ENTRY_BYTES)).saturating_add(to_u64(strs))
        }
        "set" => to_u64(ENTRY_BYTES + s1),
        "pick" | "omit" => {
            let (n, keys) = map_cost(heap, arg(a, 0));
            to_u64(n.saturating_mul(ENTRY_BYTES).saturating_add(keys))
        }
        "keys" | "values" => {
            let (n, keys) = a
                .iter()
                .map(|v| map_cost(heap, v))
                .fold((0usize, 0usize), |(n, k), (m, l)| {
                    (n.saturating_add(m), k.saturating_add(l))
                });
            to_u64(n.saturating_mul(ELEM_BYTES).saturating_add(keys))
        }
        "pluck" => to_u64(a.len().saturating_mul(ELEM_BYTES)),
        "split" | "splitList" => {
            let (sep, src) = match (arg(a, 0), arg(a, 1)) {
                (Value::Str(sep), Value::Str(src)) => (&**sep, &**src),
                _ => ("", ""),
            };
            let n = split_count(src, sep, -1);
            to_u64(n.saturating_mul(ENTRY_BYTES).saturating_add(s1))
        }
        "splitn" => {
            let s2 = match arg(a, 2) {
                Value::Str(s) => &**s,
                _ => "",
            };
            let sep = match arg(a, 0) {
                Value::Str(s) => &**s,
                _ => "",
            };
            let n = split_count(s2, sep, int_of_arg(a, 1));
            to_u64(n.saturating_mul(ENTRY_BYTES).saturating_add(s2.len()))
        }
        "join" | "sortAlpha" | "toStrings" => {
            // Every element becomes a String (plus the joined result).
            let list = match a.get(if name == "join" { 1 } else { 0 }) {
                Some(Value::List(l)) => {
                    let n = l.items.len();
                    let text = l.items.iter().map(str_len).fold(0, usize::saturating_add);
                    n.saturating_mul(ELEM_BYTES + s0)
                        .saturating_add(text.saturating_mul(2))
                }
                Some(v) => str_len(v).saturating_mul(2) + ELEM_BYTES,
                None => 0,
            };
            steps = steps.saturating_add(to_u64(list / 64));
            to_u64(list)
        }
        "upper" | "lower" | "title" | "untitle" => to_u64(strs.saturating_mul(3)),
        "quote" | "squote" => to_u64(strs.saturating_mul(6).saturating_add(3 * a.len())),
        "cat" => to_u64(strs.saturating_add(a.len())),
        "indent" | "nindent" => {
            let spaces = u64::try_from(int_of_arg(a, 0)).unwrap_or(0);
            let lines = match arg(a, 1) {
                Value::Str(s) => s.bytes().filter(|&b| b == b'\n').count() + 1,
                _ => 1,
            };
            spaces
                .saturating_mul(to_u64(lines))
                .saturating_mul(2)
                .saturating_add(to_u64(s1) + 1)
        }
        "replace" => {
            let (old, new, src) = (arg(a, 0), arg(a, 1), arg(a, 2));
            let count = match (old, src) {
                (Value::Str(old), Value::Str(src)) if old.is_empty() => src.chars().count() + 1,
                (Value::Str(old), Value::Str(src)) => src.matches(&**old).count(),
                _ => 0,
            };
            to_u64(str_len(src).saturating_add(count.saturating_mul(str_len(new))))
        }
        "randAlphaNum" | "randAlpha" | "randAscii" | "randNumeric" => {
            u64::try_from(int_of_arg(a, 0))
                .unwrap_or(0)
                .saturating_mul(2)
        }
        "randBytes" => u64::try_from(int_of_arg(a, 0))
            .unwrap_or(0)
            .saturating_mul(3),
        // Printing, JSON, deepCopy and fromJson charge as they build.
        "print" | "println" | "printf" | "toString" | "toJson" | "mustToJson" | "toPrettyJson"
        | "mustToPrettyJson" | "toRawJson" | "mustToRawJson" | "deepCopy" | "mustDeepCopy"
        | "fromJson" | "mustFromJson" | "html" | "js" | "urlquery" => 0,
        // Functions returning a value they were given, a number or a bool.
        "and" | "or" | "not" | "len" | "index" | "eq" | "ne" | "lt" | "le" | "gt" | "ge"
        | "default" | "empty" | "coalesce" | "all" | "any" | "ternary" | "first" | "mustFirst"
        | "last" | "mustLast" | "get" | "unset" | "hasKey" | "dig" | "contains" | "hasPrefix"
        | "hasSuffix" | "kindIs" | "typeIs" | "typeIsLike" | "deepEqual" | "isAbs" | "osIsAbs" => 0,
        // Everything else builds a string of at most its input's size, or
        // a small number.
        _ => to_u64(strs) + 32,
    };
    (steps, bytes)
}
