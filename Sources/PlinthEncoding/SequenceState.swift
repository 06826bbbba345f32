/// Where a sequence shared by the servers of a store stands
/// (`Keyspace.Database.sequenceStateKey`): Postgres's own `last_value` and
/// `is_called`, without `log_cnt` (the store commits every lease).
public struct SequenceState: Equatable, Sendable {
    public var last: Int64
    /// false: `last` is the value the next nextval returns (a new or
    /// restarted sequence, or setval(..., false)).
    public var isCalled: Bool

    public init(last: Int64, isCalled: Bool) {
        self.last = last
        self.isCalled = isCalled
    }

    /// A tuple: (last, is_called as 0 or 1).
    public var encoded: [UInt8] { Tuple([.int(last), .int(isCalled ? 1 : 0)]).pack() }

    /// nil when the bytes are not a state this Plinth wrote.
    public static func decode(_ bytes: [UInt8]) -> SequenceState? {
        guard let t = try? Tuple.unpack(bytes), t.elements.count == 2,
              case .int(let last) = t.elements[0], case .int(let called) = t.elements[1],
              called == 0 || called == 1 else { return nil }
        return SequenceState(last: last, isCalled: called == 1)
    }
}

/// A sequence's definition (pg_sequence), as nextval uses it.
public struct SequenceDefinition: Equatable, Sendable {
    public var increment: Int64
    public var min: Int64
    public var max: Int64
    public var cycle: Bool

    public init(increment: Int64, min: Int64, max: Int64, cycle: Bool) {
        self.increment = increment
        self.min = min
        self.max = max
        self.cycle = cycle
    }
}

/// A block of values leased to one backend: `first`, `first + increment`,
/// ... up to `last`, in order, with no wrap inside.
public struct SequenceLease: Equatable, Sendable {
    public var first: Int64
    public var last: Int64
    public var count: Int64
    /// The state once the block is handed out.
    public var state: SequenceState

    public init(first: Int64, last: Int64, count: Int64, state: SequenceState) {
        self.first = first
        self.last = last
        self.count = count
        self.state = state
    }
}

public enum SequenceLimit: Error, Equatable {
    case reachedMaximum
    case reachedMinimum
}

extension SequenceDefinition {
    /// The next `count` values after `state`, as Postgres's nextval_internal
    /// fetches its cache: a block stops short of a wrap (CYCLE) rather than
    /// crossing it, and fails only if not even one value is left.
    public func lease(after state: SequenceState, count: Int64) -> Result<SequenceLease, SequenceLimit> {
        var next = state.last, result = state.last, last = state.last
        var fetched: Int64 = 0, wanted = Swift.max(count, 1)
        if !state.isCalled {
            fetched = 1
            wanted -= 1
        }
        while wanted > 0 {
            if increment > 0 {
                // The comparisons are Postgres's: none of them can overflow.
                if (max >= 0 && next > max - increment) || (max < 0 && next + increment > max) {
                    if fetched > 0 { break }
                    guard cycle else { return .failure(.reachedMaximum) }
                    next = min
                } else {
                    next += increment
                }
            } else {
                if (min < 0 && next < min - increment) || (min >= 0 && next + increment < min) {
                    if fetched > 0 { break }
                    guard cycle else { return .failure(.reachedMinimum) }
                    next = max
                } else {
                    next += increment
                }
            }
            wanted -= 1
            fetched += 1
            last = next
            if fetched == 1 { result = next }
        }
        return .success(SequenceLease(first: result, last: last, count: fetched,
                                      state: SequenceState(last: last, isCalled: true)))
    }
}
