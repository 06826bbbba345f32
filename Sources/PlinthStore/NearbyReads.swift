/// Reads of many keys or small ranges that lie close together — the rows
/// of a batch of row locks, and their lock keys, in a table's row order —
/// as one range read spanning them all. On FoundationDB every key of a
/// `getMany` and every range of a `getRanges` is a request of its own to a
/// storage server: they share one round trip of latency, but each costs
/// the client's network thread and the server a request; 256 neighbouring
/// rows cost 256 requests, one span costs one. When the span holds more
/// than `spanLimit` pairs (the keys are not close after all), the reads
/// fall back to one request per key or range: one request more than
/// before, never unbounded bytes.
extension StoreTransaction {
    /// `getRanges(ranges)` through one read of their span. `ranges` must be
    /// disjoint (any order). Unless `snapshot`, each range — not the span —
    /// is added as a read conflict, so that writes between them (another
    /// transaction's locks on rows not in this batch) do not conflict with
    /// this transaction. Every returned batch is complete (`more` false)
    /// when the span was read; otherwise they are as `getRanges` returns.
    public func getRangesNearby(_ ranges: [KeyRange], spanLimit: Int, snapshot: Bool) throws(StoreError) -> [KVBatch] {
        let all = RangeOptions(limit: 0, snapshot: snapshot, mode: .wantAll)
        guard ranges.count > 1, let span = Self.span(ranges) else { return try getRanges(ranges, options: all) }
        guard let read = try readSpan(span, spanLimit: spanLimit) else { return try getRanges(ranges, options: all) }
        if !snapshot { for r in ranges { try addReadConflictRange(r.begin, r.end) } }
        return ranges.map { r in
            var part = KVBatch()
            for i in read.firstIndex(atOrAfter: r.begin)..<read.count {
                let inRange = read.withEntry(i) { k, v -> Bool in
                    guard r.end.withUnsafeBytes({ compareBytes(k, $0) }) < 0 else { return false }
                    part.append(key: k, value: v)
                    return true
                }
                if !inRange { break }
            }
            return part
        }
    }

    /// `getMany(keys)` through one read of their span (see
    /// `getRangesNearby`; `spanLimit` 0: key by key); for snapshot reads
    /// only — a span read would conflict with writes to keys between them.
    public func getManyNearby(_ keys: [Bytes], spanLimit: Int) throws(StoreError) -> [Bytes?] {
        guard keys.count > 1, spanLimit > 0, let span = Self.span(keys.map(KeyRange.single)) else {
            return try getMany(keys, snapshot: true)
        }
        guard let read = try readSpan(span, spanLimit: spanLimit) else { return try getMany(keys, snapshot: true) }
        return keys.map { k in
            let i = read.firstIndex(atOrAfter: k)
            guard i < read.count, read.key(i).elementsEqual(k) else { return nil }
            return read.valueBytes(i)
        }
    }

    /// Every pair of `span` (a snapshot read), or nil when it holds more
    /// than `spanLimit`. FoundationDB answers a range in parts of about
    /// 80 kB (`more` set before the limit): the rest is read on.
    private func readSpan(_ span: KeyRange, spanLimit: Int) throws(StoreError) -> KVBatch? {
        var all = try getRange(.firstGreaterOrEqual(span.begin), .firstGreaterOrEqual(span.end),
                               options: RangeOptions(limit: spanLimit + 1, snapshot: true, mode: .wantAll))
        var part = all
        while part.more && all.count <= spanLimit {
            guard let last = part.lastKey else { return nil }
            part = try getRange(.firstGreaterThan(last), .firstGreaterOrEqual(span.end),
                                options: RangeOptions(limit: spanLimit + 1 - all.count, snapshot: true, mode: .wantAll))
            for i in 0..<part.count { part.withEntry(i) { k, v in all.append(key: k, value: v) } }
        }
        return all.count > spanLimit ? nil : all
    }

    private static func span(_ ranges: [KeyRange]) -> KeyRange? {
        guard var lo = ranges.first?.begin, var hi = ranges.first?.end else { return nil }
        for r in ranges.dropFirst() {
            if compareBytes(r.begin, lo) < 0 { lo = r.begin }
            if compareBytes(r.end, hi) > 0 { hi = r.end }
        }
        return KeyRange(lo, hi)
    }
}

/// The `spanLimit` for reading the keys of these ids (row ids, which
/// order their rows' keys) as one span: three stored pairs an id, and a
/// few — when the ids lie close enough together for that to hold the
/// span, at most three apart on average; otherwise 0 (read them one by
/// one: a span among scattered rows would read the rows between).
public func nearbySpanLimit<C: Collection>(ids: C) -> Int where C.Element == Int64 {
    guard ids.count > 1, let lo = ids.min(), let hi = ids.max() else { return 0 }
    return hi.subtractingReportingOverflow(lo).partialValue < Int64(ids.count) * 3 ? nearbySpanLimit(count: ids.count) : 0
}

/// The `spanLimit` for `count` keys known to be close together.
public func nearbySpanLimit(count: Int) -> Int { count * 3 + 16 }

extension KVBatch {
    /// The index of the first key at or after `key` (count: none); keys of
    /// a range read are in order.
    func firstIndex(atOrAfter key: Bytes) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let before = withEntry(mid) { k, _ in key.withUnsafeBytes { compareBytes(k, $0) < 0 } }
            if before { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
