/// A half-open key range [begin, end).
public struct KeyRange: Sendable, Equatable {
    public var begin: Bytes
    public var end: Bytes
    public init(_ begin: Bytes, _ end: Bytes) {
        self.begin = begin
        self.end = end
    }
    public var isEmpty: Bool { compareBytes(begin, end) >= 0 }
    public func contains(_ key: Bytes) -> Bool { compareBytes(key, begin) >= 0 && compareBytes(key, end) < 0 }
    public func intersects(_ other: KeyRange) -> Bool {
        compareBytes(begin, other.end) < 0 && compareBytes(other.begin, end) < 0
    }
    /// The range holding exactly one key.
    public static func single(_ key: Bytes) -> KeyRange { KeyRange(key, keyAfter(key)) }
}

/// Sorts ranges and merges the overlapping and adjacent ones; drops empty
/// ranges. The result is ordered and disjoint.
public func coalesce(_ ranges: [KeyRange]) -> [KeyRange] {
    let sorted = ranges.filter { !$0.isEmpty }.sorted { compareBytes($0.begin, $1.begin) < 0 }
    var out: [KeyRange] = []
    out.reserveCapacity(sorted.count)
    for r in sorted {
        if var last = out.last, compareBytes(r.begin, last.end) <= 0 {
            if compareBytes(r.end, last.end) > 0 { last.end = r.end }
            out[out.count - 1] = last
        } else {
            out.append(r)
        }
    }
    return out
}

/// Whether `range` intersects any range of `disjoint` (ordered, disjoint).
public func intersectsAny(_ range: KeyRange, _ disjoint: [KeyRange]) -> Bool {
    // First range whose end is after range.begin.
    var lo = 0, hi = disjoint.count
    while lo < hi {
        let mid = (lo + hi) >> 1
        if compareBytes(disjoint[mid].end, range.begin) <= 0 { lo = mid + 1 } else { hi = mid }
    }
    return lo < disjoint.count && compareBytes(disjoint[lo].begin, range.end) < 0
}
