//! Typed `u32` ids and the tables they index. An id of one table can never
//! index another, and ranges of ids describe the contiguous slices that make
//! the plan bytecode-like (a node's edges are one slice).

use std::fmt;
use std::marker::PhantomData;
use std::ops::Index;

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl From<usize> for $name {
            fn from(index: usize) -> Self {
                $name(index as u32)
            }
        }

        impl Id for $name {
            fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

/// Anything usable as a table index.
pub trait Id: Copy + From<usize> {
    fn index(self) -> usize;
}

id!(/// A loop bound to one plane of the plan.
    LoopId);
id!(/// A stage kind.
    StageId);
id!(/// One declared outcome of one stage kind.
    OutcomeId);
id!(/// A node of a loop: an instance of a stage kind with its routes.
    NodeId);
id!(/// A route from a node on one outcome.
    EdgeId);
id!(/// A step of a route: a destination, maybe guarded by a counter.
    BranchId);
id!(/// A terminal of a loop.
    TerminalId);
id!(/// A bounded counter of a loop.
    CounterId);

/// A table indexed by a typed id; serializes as a plain array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdVec<I, T> {
    rows: Vec<T>,
    #[serde(skip)]
    marker: PhantomData<fn(I)>,
}

impl<I: Id, T> IdVec<I, T> {
    pub fn new() -> Self {
        Self {
            rows: Vec::new(),
            marker: PhantomData,
        }
    }

    pub fn push(&mut self, row: T) -> I {
        self.rows.push(row);
        I::from(self.rows.len() - 1)
    }

    pub fn get(&self, id: I) -> Option<&T> {
        self.rows.get(id.index())
    }

    pub fn get_mut(&mut self, id: I) -> Option<&mut T> {
        self.rows.get_mut(id.index())
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.rows.iter()
    }

    /// Rows with their ids.
    pub fn enumerate(&self) -> impl Iterator<Item = (I, &T)> {
        self.rows.iter().enumerate().map(|(i, row)| (I::from(i), row))
    }

    pub fn ids(&self) -> impl Iterator<Item = I> + use<I, T> {
        (0..self.rows.len()).map(I::from)
    }

    pub fn contains(&self, id: I) -> bool {
        id.index() < self.rows.len()
    }

    pub fn as_slice(&self) -> &[T] {
        &self.rows
    }
}

impl<I: Id, T> Default for IdVec<I, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: Id, T> Index<I> for IdVec<I, T> {
    type Output = T;
    fn index(&self, id: I) -> &T {
        &self.rows[id.index()]
    }
}

impl<I: Id, T> FromIterator<T> for IdVec<I, T> {
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Self {
        Self {
            rows: iter.into_iter().collect(),
            marker: PhantomData,
        }
    }
}

/// A contiguous half-open range of ids, serialized as `[start, end]`.
#[derive(Serialize, Deserialize)]
#[serde(from = "[u32; 2]", into = "[u32; 2]")]
pub struct IdRange<I> {
    pub start: u32,
    pub end: u32,
    marker: PhantomData<fn(I)>,
}

impl<I: Id> IdRange<I> {
    pub fn new(start: usize, end: usize) -> Self {
        Self {
            start: start as u32,
            end: end as u32,
            marker: PhantomData,
        }
    }

    pub fn empty() -> Self {
        Self::new(0, 0)
    }

    pub fn iter(self) -> impl Iterator<Item = I> {
        (self.start as usize..self.end as usize).map(I::from)
    }

    pub fn contains(self, id: I) -> bool {
        (self.start as usize..self.end as usize).contains(&id.index())
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

// Manual impls: the id type only appears in `PhantomData`, so no bounds on
// `I` are needed.
impl<I> Clone for IdRange<I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I> Copy for IdRange<I> {}

impl<I> PartialEq for IdRange<I> {
    fn eq(&self, other: &Self) -> bool {
        (self.start, self.end) == (other.start, other.end)
    }
}

impl<I> Eq for IdRange<I> {}

impl<I> fmt::Debug for IdRange<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl<I> From<[u32; 2]> for IdRange<I> {
    fn from([start, end]: [u32; 2]) -> Self {
        Self {
            start,
            end,
            marker: PhantomData,
        }
    }
}

impl<I> From<IdRange<I>> for [u32; 2] {
    fn from(range: IdRange<I>) -> Self {
        [range.start, range.end]
    }
}
