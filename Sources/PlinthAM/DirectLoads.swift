import PlinthEncoding
import PlinthStore
import PlinthTxn

/// An index build writes its entries straight to the store, in store
/// transactions of about a megabyte, instead of into the write buffer: the
/// index's storage is new (this transaction created it), so no other
/// transaction reads or writes its keys before this one commits, and its
/// entries need neither the backend's memory nor a staged commit (which
/// writes them three times). The storage's mapping goes with the first
/// chunk, so that a crash before the commit leaves an orphan the sweep
/// finds (`plinth_sweep_orphans`); an abort clears what was written at once.
/// A build that never fills a chunk writes through the buffer as before:
/// small builds cost no store commit of their own.
///
/// Only in transactions that read snapshots (SERIALIZABLE's reads and
/// writes must meet in one store transaction) and never in a replay (whose
/// writes are discarded: the first server wrote the entries).
struct DirectLoad {
    let subid: UInt32
    let mapping: (key: Bytes, value: Bytes)
    var pending: [(key: Bytes, value: Bytes)] = []
    var pendingBytes = 0
    /// Chunks are in the store: reads of the index read the newest
    /// committed state (`TransactionState.readsDirectLoad`), and an abort
    /// clears it.
    var written = false
    /// The build ended; later entries go through the buffer.
    var done = false

    static let chunkBytes = StagedCommit.chunkBytes
}

extension Session {
    /// An index build into new storage begins (ambuild): its entries may
    /// go straight to the store.
    public func beginIndexBuild(index: Int64, relfilenode: UInt32, subid: UInt32) throws(PlinthError) {
        let t = try transaction()
        guard !replaying, t.txn.mode == .snapshot, t.txn.discardedPrefix == nil else { return }
        let key = try mappingKey(relfilenode)
        guard case .value(let value, _) = try t.txn.buffer.ownState(key, .all) else { return }
        t.directLoads[index] = DirectLoad(subid: subid, mapping: (key, value))
    }

    /// The build ended: what it wrote directly is complete in the store;
    /// a build too small to fill a chunk goes to the buffer.
    public func endIndexBuild(index: Int64, cid: UInt32) throws(PlinthError) {
        guard let t = current, var load = t.directLoads[index], !load.done else { return }
        load.done = true
        let rest = load.pending
        load.pending = []
        if load.written {
            try writeChunk(t, rest, mapping: nil)
            t.directLoads[index] = load
        } else {
            t.directLoads[index] = nil
            try storeCall { () throws(StoreError) in
                for (k, v) in rest { try t.txn.put(k, v, cid: cid, subid: load.subid, fresh: true) }
            }
        }
    }

    /// Takes an entry of an index being built; false when the entry is not
    /// the build's to write directly.
    func directPut(index: Int64, key: Bytes, value: Bytes) throws(PlinthError) -> Bool {
        guard let t = current, var load = t.directLoads[index], !load.done else { return false }
        t.directLoads[index] = nil    // the array below is not copied
        load.pending.append((key, value))
        load.pendingBytes += key.count + value.count + 16
        if load.pendingBytes >= DirectLoad.chunkBytes {
            let chunk = load.pending
            load.pending = []
            load.pendingBytes = 0
            do {
                try writeChunk(t, chunk, mapping: load.written ? nil : load.mapping)
            } catch {
                t.directLoads[index] = load
                throw error
            }
            load.written = true
        }
        t.directLoads[index] = load
        return true
    }

    private func writeChunk(_ t: TransactionState, _ entries: [(key: Bytes, value: Bytes)],
                            mapping: (key: Bytes, value: Bytes)?) throws(PlinthError) {
        guard !entries.isEmpty || mapping != nil else { return }
        try storeCall { () throws(StoreError) in
            try transact { tr throws(StoreError) in
                if let mapping { try tr.set(mapping.key, mapping.value) }
                for (k, v) in entries { try tr.set(k, v) }
            }
        }
    }

    /// The (sub)transaction that created these indexes ended without
    /// committing: their entries and mappings go now. Best effort: what a
    /// failure here leaves, the orphan sweep finds.
    public func abandonDirectLoads(fromSubid subid: UInt32) {
        guard let t = current, !t.directLoads.isEmpty else { return }
        for (index, load) in t.directLoads where load.subid >= subid {
            t.directLoads[index] = nil
            guard load.written else { continue }
            _ = try? storeCall { () throws(StoreError) in
                try transact { tr throws(StoreError) in
                    for (lo, hi) in t.db.allRanges(of: index) { try tr.clearRange(lo, hi) }
                    try tr.clear(load.mapping.key)
                }
            }
        }
    }
}

extension TransactionState {
    /// Whether reads of this index must read the newest committed state:
    /// its entries were written straight to the store, after this
    /// transaction's snapshot.
    func readsDirectLoad(_ index: Int64) -> Bool {
        !directLoads.isEmpty && directLoads[index]?.written == true
    }
}
