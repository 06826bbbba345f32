/// Work a statement leaves for later, and when it is due: uniqueness checks
/// of the rows it inserted (read together at its end, not one store read per
/// row) and the parent keys its foreign key checks will look up (read ahead
/// before the checks run). The shim only says what happens — an entry
/// written, a statement finishing at some depth, a COPY batch, the commit —
/// and this decides what runs; `TransactionState` runs it.
///
/// Depth is the executor nesting of the statement that wrote (a function's
/// statement inside the query calling it, a trigger's inside the statement
/// firing it): a statement's end runs its own checks and those of
/// statements nested in it, and leaves its caller's to the caller.
public struct StatementWork {
    var uniqueChecks = PendingUniqueChecks()
    var parentKeys = ParentKeyReads()
    /// The row the last UPDATE wrote under a new row id (table, row): its
    /// entries are checked at once, as heap checks them — heap fails an
    /// UPDATE that moves a key onto one a later row will move away from
    /// (UPDATE t SET id = id + 1), and so must Plinth.
    var updatedRow: (table: Int64, row: Int64)?

    public enum Event: Equatable, Sendable {
        /// ExecutorFinish, before the AFTER triggers (foreign key checks)
        /// of the statement at `depth`: a duplicate key is reported before
        /// a foreign key the same row breaks, as heap reports it.
        case executorFinishing(depth: Int32)
        /// ExecutorFinish done: rows written while finishing (the rest of
        /// a data-modifying WITH).
        case executorFinished(depth: Int32)
        /// A utility command at `depth` ended (COPY, CREATE TABLE AS...).
        case utilityFinished(depth: Int32)
        /// An index build at `depth` has inserted every entry.
        case indexBuilt(depth: Int32)
        /// COPY inserted a batch: its foreign key checks run at the end of
        /// COPY, but the batch's parent keys are read now.
        case copyBatch
        /// Pre-commit: whatever no statement's end ran (logical
        /// replication's inserts).
        case preCommit
        /// The checks of statements at `depth` or deeper, again: they
        /// waited for another transaction (`UniqueOutcome.wait`).
        case uniqueChecks(depth: Int32)

        /// The end of a statement run by no other, or the commit. (Its
        /// batched row locks are taken before its AFTER triggers — a
        /// foreign key check of a deleted parent must run under the
        /// parent's lock — and again after them, for the triggers' own.)
        var endsOutermostStatement: Bool {
            switch self {
            case .executorFinishing(let d), .executorFinished(let d), .utilityFinished(let d): return d == 0
            case .preCommit: return true
            default: return false
            }
        }

        /// The outermost statement's AFTER triggers (its foreign key
        /// checks; COPY's fire within it) have run.
        var followsOutermostChecks: Bool {
            switch self {
            case .executorFinished(let d), .utilityFinished(let d): return d == 0
            case .preCommit: return true
            default: return false
            }
        }
    }

    public struct Due: Equatable, Sendable {
        /// Run the uniqueness checks of statements at this depth or deeper.
        public var uniqueChecksFrom: Int32?
        /// Read the noted parent keys.
        public var parentKeys = false

        public init(uniqueChecksFrom: Int32? = nil, parentKeys: Bool = false) {
            self.uniqueChecksFrom = uniqueChecksFrom
            self.parentKeys = parentKeys
        }
    }

    public func due(at event: Event) -> Due {
        let checks = uniqueChecks.count > 0
        let keys = parentKeys.count > 0
        switch event {
        case .executorFinishing(let depth):
            return Due(uniqueChecksFrom: checks ? depth + 1 : nil, parentKeys: keys)
        case .executorFinished(let depth), .utilityFinished(let depth):
            return Due(uniqueChecksFrom: checks ? depth + 1 : nil)
        case .indexBuilt(let depth):
            return Due(uniqueChecksFrom: checks ? depth : nil)
        case .copyBatch:
            return Due(parentKeys: keys)
        case .preCommit:
            return Due(uniqueChecksFrom: checks ? 0 : nil)
        case .uniqueChecks(let depth):
            return Due(uniqueChecksFrom: checks ? depth : nil)
        }
    }

    /// When an entry's uniqueness is checked.
    enum Timing: Equatable { case none, now, atStatementEnd }

    func timing(checked: Bool, check: UniqueCheckKind, building: Bool, table: Int64, row: Int64) -> Timing {
        guard checked else { return .none }
        // Deferrable constraints and ON CONFLICT use Postgres's own protocol.
        guard check == .yes else { return .now }
        if !building, let u = updatedRow, u.table == table, u.row == row { return .now }
        return .atStatementEnd
    }
}
