import PlinthEncoding
import PlinthStore
import PlinthTxn

// VACUUM of a Plinth table: deleted rows are gone at commit, but an UPDATE
// that gives a row a new row id leaves a mark at the old key
// (RowFormat.moved) for transactions that were waiting to change the row.
// A mark written by a transaction that committed before every running
// transaction began can no longer be followed by anyone: VACUUM removes it.

extension Session {
    /// Removes the marks of moved rows of `table` written by transactions
    /// older than `horizon` (a FullTransactionId every running transaction
    /// sees as committed). Reads the table only when its counter says it
    /// holds marks; each batch of keys is read and cleared in store
    /// transactions of its own, so a table of any size fits FoundationDB's
    /// limits. Returns how many were removed.
    public func vacuumMovedRows(table: Int64, horizon: UInt64) throws(PlinthError) -> Int64 {
        let d = try db()
        let marks = try committedCounters(table).moved
        guard marks > 0 else { return 0 }
        let prefix = d.rowPrefix(table)
        let range = d.rowRange(table)
        var begin = range.0
        var removed: Int64 = 0
        while true {
            let (batch, more) = try storeCall { () throws(StoreError) -> (KVBatch, Bool) in
                try transact { tr throws(StoreError) -> (KVBatch, Bool) in
                    let b = try tr.getRange(.firstGreaterOrEqual(begin), .firstGreaterOrEqual(range.1),
                                            options: RangeOptions(limit: 10_000, snapshot: true, mode: .wantAll))
                    return (b, b.more)
                }
            }
            var gone: [Bytes] = []
            for i in 0..<batch.count {
                let old = batch.withEntry(i) { k, v -> Bool in
                    guard Keyspace.rowID(fromKey: k, prefixLength: prefix.count) != nil,
                          case .moved(_, let writer, _)? = RowFormat.parse(v) else { return false }
                    return writer < horizon
                }
                if old { gone.append(batch.keyBytes(i)) }
            }
            if !gone.isEmpty {
                let shard = Int64(config.backendID) % TransactionState.statsShards
                removed += try storeCall { () throws(StoreError) -> Int64 in
                    try transact { tr throws(StoreError) -> Int64 in
                        // Only marks still there: a row written since is not a mark.
                        let now = try tr.getMany(gone, snapshot: false)
                        var n: Int64 = 0
                        for (k, v) in zip(gone, now) where v.map(RowFormat.isMoved) ?? false {
                            try tr.clear(k)
                            n += 1
                        }
                        if n > 0 { try tr.atomicOp(.add, d.statsKey(table, shard: shard, field: .moved), StoredInt.encode(-n)) }
                        return n
                    }
                }
            }
            guard more, let last = batch.lastKey else { break }
            begin = keyAfter(last)
        }
        return removed
    }
}
