//! The shard's session table: a hash table of boxed entries keyed by the id
//! each entry carries.
//!
//! A `HashMap<SessionId, Entry>` would store every 32-byte id twice (key and
//! record) and spend 48 bytes per slot; this table's slots are 16 bytes and
//! the id lives once, in the boxed record. At a million sessions that is about
//! a third of the store's overhead (docs/BENCHMARKS.md). Ids are SHA-256
//! outputs, so their first 8 bytes are a uniform hash already.

use hashbrown::HashTable;
use hashbrown::hash_table::{Entry as TableEntry, OccupiedEntry};

use super::compact::Entry;
use crate::token::SessionId;

fn hash(id: &SessionId) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&id.as_bytes()[..8]);
    u64::from_le_bytes(head)
}

#[derive(Default)]
pub(super) struct IdTable {
    table: HashTable<Entry>,
}

impl IdTable {
    pub fn get(&self, id: &SessionId) -> Option<&Entry> {
        self.table.find(hash(id), |e| e.id() == id)
    }

    pub fn get_mut(&mut self, id: &SessionId) -> Option<&mut Entry> {
        self.table.find_mut(hash(id), |e| e.id() == id)
    }

    /// The occupied slot of `id`, to read and then replace or remove it with
    /// one lookup.
    pub fn slot(&mut self, id: &SessionId) -> Option<OccupiedEntry<'_, Entry>> {
        self.table.find_entry(hash(id), |e| e.id() == id).ok()
    }

    /// Inserts `entry` under its id; returns the entry it replaced.
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        let id = *entry.id();
        match self
            .table
            .entry(hash(&id), |e| *e.id() == id, |e| hash(e.id()))
        {
            TableEntry::Occupied(mut slot) => Some(std::mem::replace(slot.get_mut(), entry)),
            TableEntry::Vacant(slot) => {
                slot.insert(entry);
                None
            }
        }
    }

    pub fn remove(&mut self, id: &SessionId) -> Option<Entry> {
        self.slot(id).map(|slot| slot.remove().0)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }
}
