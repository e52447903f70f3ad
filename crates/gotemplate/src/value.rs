//! Dynamic values modelling the subset of Go's type system that templates
//! over `map[string]string` plus the Sprig functions can produce.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::budget::{Exceeded, Meter};

/// Memory cost charged per element of a list (the element itself).
pub(crate) const ELEM_BYTES: usize = std::mem::size_of::<Value>();
/// Memory cost charged per entry of a map: key, value and B-tree overhead.
pub(crate) const ENTRY_BYTES: usize =
    std::mem::size_of::<String>() + std::mem::size_of::<Value>() + 16;

/// Element type of a slice value (Go's static slice type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ElemType {
    /// `[]interface {}`
    Any,
    /// `[]string`
    Str,
    /// `[]int`
    Int,
    /// `[][]interface {}`
    AnyList,
}

#[derive(Clone, Debug)]
pub(crate) struct ListVal {
    pub elem: ElemType,
    pub items: Rc<Vec<Value>>,
    /// A nil slice (prints as `[]`, but encodes to JSON as `null`).
    pub is_nil: bool,
    /// Nesting depth (1 + the deepest element; maps count as known when
    /// the list was built), bounded when the value is built.
    pub depth: u32,
}

impl ListVal {
    pub(crate) fn new(elem: ElemType, items: Vec<Value>, is_nil: bool) -> ListVal {
        let depth = 1 + items.iter().map(Value::list_depth).max().unwrap_or(0);
        ListVal {
            elem,
            items: Rc::new(items),
            is_nil,
            depth,
        }
    }
}

/// Handle of a `map[string]interface {}` stored in the [`Heap`]. Go maps
/// are reference types (Sprig's `set` mutates in place), so they live in an
/// arena owned by one execution and are freed when it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MapId(usize);

#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// Go's invalid `reflect.Value` ("no value"): a missing map key.
    Invalid,
    /// A nil `interface {}`.
    Nil,
    Bool(bool),
    /// Go `int`.
    Int(i64),
    /// Go `int64`.
    Int64(i64),
    /// Go `uint8` (a byte obtained by indexing a string).
    Uint8(u8),
    /// Go `float64`.
    Float(f64),
    Str(Rc<str>),
    List(ListVal),
    /// `map[string]interface {}`
    Map(MapId),
    /// `map[string]string` (the template data, or Sprig's `split`).
    StrMap(Rc<BTreeMap<String, String>>),
}

impl Value {
    pub(crate) fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }

    pub(crate) fn list(elem: ElemType, items: Vec<Value>) -> Value {
        Value::List(ListVal::new(elem, items, false))
    }

    pub(crate) fn nil_list(elem: ElemType) -> Value {
        Value::List(ListVal::new(elem, Vec::new(), true))
    }

    /// Nesting depth as far as it is known without the heap (maps count 1).
    fn list_depth(&self) -> u32 {
        match self {
            Value::List(l) => l.depth,
            Value::Map(_) | Value::StrMap(_) => 1,
            _ => 0,
        }
    }

    pub(crate) fn str_list(items: Vec<String>) -> Value {
        Value::list(ElemType::Str, items.into_iter().map(Value::str).collect())
    }

    /// True for Go's nil interface and for the invalid value.
    pub(crate) fn is_nilish(&self) -> bool {
        matches!(self, Value::Invalid | Value::Nil)
    }

    /// Is this a Go integer kind (int, int64, uint8)?
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Int64(i) => Some(*i),
            Value::Uint8(b) => Some(i64::from(*b)),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct MapObj {
    pub entries: BTreeMap<String, Value>,
    pub is_nil: bool,
    /// Nesting depth when last built or assigned to (a map can later become
    /// deeper through `set` on a map it contains, or even cyclic: walks over
    /// values therefore also check their depth).
    pub depth: u32,
}

/// Arena of mutable maps for one template execution, and the meter of the
/// render's budget (so that everything that builds or walks values can
/// charge it).
#[derive(Debug)]
pub(crate) struct Heap {
    maps: Vec<MapObj>,
    pub meter: Meter,
}

impl Heap {
    pub(crate) fn new(meter: Meter) -> Heap {
        Heap {
            maps: Vec::new(),
            meter,
        }
    }

    pub(crate) fn alloc(&mut self, entries: BTreeMap<String, Value>) -> MapId {
        let depth = 1 + entries
            .values()
            .map(|v| self.depth_of(v))
            .max()
            .unwrap_or(0);
        self.maps.push(MapObj {
            entries,
            is_nil: false,
            depth,
        });
        MapId(self.maps.len() - 1)
    }

    pub(crate) fn alloc_nil(&mut self) -> MapId {
        self.maps.push(MapObj {
            entries: BTreeMap::new(),
            is_nil: true,
            depth: 1,
        });
        MapId(self.maps.len() - 1)
    }

    /// Sets `key` in a (non-nil) map, updating its recorded depth. Returns
    /// false for a nil or dangling map.
    pub(crate) fn map_insert(&mut self, id: MapId, key: String, val: Value) -> bool {
        let d = 1 + self.depth_of(&val);
        match self.get_mut(id) {
            Some(m) if !m.is_nil => {
                m.entries.insert(key, val);
                m.depth = m.depth.max(d);
                true
            }
            _ => false,
        }
    }

    /// Recorded nesting depth of a value (0 for scalars).
    pub(crate) fn depth_of(&self, v: &Value) -> u32 {
        match v {
            Value::List(l) => l.depth,
            Value::Map(id) => self.get(*id).map_or(1, |m| m.depth),
            Value::StrMap(_) => 1,
            _ => 0,
        }
    }

    pub(crate) fn get(&self, id: MapId) -> Option<&MapObj> {
        self.maps.get(id.0)
    }

    pub(crate) fn get_mut(&mut self, id: MapId) -> Option<&mut MapObj> {
        self.maps.get_mut(id.0)
    }

    /// Entries of a map (empty for a dangling id, which cannot happen).
    pub(crate) fn entries(&self, id: MapId) -> Vec<(String, Value)> {
        self.get(id)
            .map(|m| {
                m.entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn map_len(&self, id: MapId) -> usize {
        self.get(id).map_or(0, |m| m.entries.len())
    }

    pub(crate) fn map_get(&self, id: MapId, key: &str) -> Option<Value> {
        self.get(id).and_then(|m| m.entries.get(key).cloned())
    }

    pub(crate) fn map_is_nil(&self, id: MapId) -> bool {
        self.get(id).is_none_or(|m| m.is_nil)
    }
}

/// Go's `reflect.Type.String()` for a value (`<nil>` for nil).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Invalid | Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Int64(_) => "int64",
        Value::Uint8(_) => "uint8",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(l) => match l.elem {
            ElemType::Any => "[]interface {}",
            ElemType::Str => "[]string",
            ElemType::Int => "[]int",
            ElemType::AnyList => "[][]interface {}",
        },
        Value::Map(_) => "map[string]interface {}",
        Value::StrMap(_) => "map[string]string",
    }
}

/// Go's `reflect.Kind.String()` for a value (a scalar's kind is spelt like its type).
pub(crate) fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Invalid | Value::Nil => "invalid",
        Value::List(_) => "slice",
        Value::Map(_) | Value::StrMap(_) => "map",
        scalar => type_name(scalar),
    }
}

/// Length of a collection or string (bytes), if the value has one.
pub(crate) fn value_len(v: &Value, heap: &Heap) -> Option<usize> {
    match v {
        Value::Str(s) => Some(s.len()),
        Value::List(l) => Some(l.items.len()),
        Value::Map(id) => Some(heap.map_len(*id)),
        Value::StrMap(m) => Some(m.len()),
        _ => None,
    }
}

/// Go's `template.IsTrue` (and Sprig's `empty` negated).
pub(crate) fn is_true(v: &Value, heap: &Heap) -> bool {
    match v {
        Value::Invalid | Value::Nil => false,
        Value::Bool(b) => *b,
        Value::Int(i) | Value::Int64(i) => *i != 0,
        Value::Uint8(b) => *b != 0,
        Value::Float(f) => *f != 0.0,
        Value::Str(_) | Value::List(_) | Value::Map(_) | Value::StrMap(_) => {
            value_len(v, heap).unwrap_or(0) > 0
        }
    }
}

/// Rough size, in bytes, of a value's own storage (for resource limits).
pub(crate) fn shallow_size(v: &Value, heap: &Heap) -> usize {
    match v {
        Value::Str(s) => s.len(),
        Value::List(l) => l.items.len().saturating_mul(16),
        Value::Map(id) => heap.map_len(*id).saturating_mul(32),
        Value::StrMap(m) => m.len().saturating_mul(32),
        _ => 0,
    }
}

/// Go's `reflect.DeepEqual` for our value model. Every node visited costs a
/// step (shared structure can make the walk much longer than the values are
/// large), and the walk fails beyond the depth limit (a cycle through maps).
pub(crate) fn deep_equal(
    a: &Value,
    b: &Value,
    heap: &Heap,
    depth: usize,
) -> Result<bool, Exceeded> {
    heap.meter.check_depth(depth)?;
    heap.meter.step(1)?;
    Ok(match (a, b) {
        (Value::Invalid | Value::Nil, Value::Invalid | Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) | (Value::Int64(x), Value::Int64(y)) => x == y,
        (Value::Uint8(x), Value::Uint8(y)) => x == y,
        #[allow(clippy::float_cmp)]
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            if x.elem != y.elem || x.is_nil != y.is_nil || x.items.len() != y.items.len() {
                return Ok(false);
            }
            if Rc::ptr_eq(&x.items, &y.items) {
                return Ok(true);
            }
            for (p, q) in x.items.iter().zip(y.items.iter()) {
                if !deep_equal(p, q, heap, depth + 1)? {
                    return Ok(false);
                }
            }
            true
        }
        (Value::Map(x), Value::Map(y)) => {
            if x == y {
                return Ok(true);
            }
            if heap.map_is_nil(*x) != heap.map_is_nil(*y) || heap.map_len(*x) != heap.map_len(*y) {
                return Ok(false);
            }
            for (k, v) in heap.entries(*x) {
                match heap.map_get(*y, &k) {
                    Some(w) => {
                        if !deep_equal(&v, &w, heap, depth + 1)? {
                            return Ok(false);
                        }
                    }
                    None => return Ok(false),
                }
            }
            true
        }
        (Value::StrMap(x), Value::StrMap(y)) => x == y,
        _ => false,
    })
}

/// Deep copy (Sprig's `deepCopy`): maps are duplicated in the heap. Each
/// copied list or map is charged to the allocation budget before it is
/// built (strings stay shared).
pub(crate) fn deep_copy(v: &Value, heap: &mut Heap, depth: usize) -> Result<Value, Exceeded> {
    heap.meter.check_depth(depth)?;
    heap.meter.step(1)?;
    Ok(match v {
        Value::List(l) => {
            heap.meter
                .alloc_usize(l.items.len().saturating_mul(ELEM_BYTES))?;
            let mut items = Vec::with_capacity(l.items.len());
            for item in l.items.iter() {
                items.push(deep_copy(item, heap, depth + 1)?);
            }
            Value::List(ListVal::new(l.elem, items, l.is_nil))
        }
        Value::Map(id) => {
            let is_nil = heap.map_is_nil(*id);
            let entries_of = heap.entries(*id);
            let key_bytes: usize = entries_of.iter().map(|(k, _)| k.len()).sum();
            heap.meter.alloc_usize(
                entries_of
                    .len()
                    .saturating_mul(ENTRY_BYTES)
                    .saturating_add(key_bytes),
            )?;
            let mut entries = BTreeMap::new();
            for (k, item) in entries_of {
                entries.insert(k, deep_copy(&item, heap, depth + 1)?);
            }
            let new = if is_nil {
                heap.alloc_nil()
            } else {
                heap.alloc(entries)
            };
            Value::Map(new)
        }
        other => other.clone(),
    })
}
