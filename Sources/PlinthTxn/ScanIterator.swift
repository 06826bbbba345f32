import PlinthStore

/// Walks a key range in order as a `Visibility` sees it: the store's
/// snapshot, read in growing batches (one round trip per batch), merged with
/// the transaction's own writes. The buffer may change during the scan
/// (INSERT INTO t SELECT * FROM t): the iterator notices and re-finds its
/// place; rows written by the scanning command itself stay invisible.
public final class ScanIterator {
    private let txn: Transaction
    private let range: KeyRange
    private let vis: Visibility
    private let reverse: Bool
    /// A store transaction of the scan's own, else the transaction's.
    private var reader: (any StoreTransaction)?
    /// The scan's own reader is replaced by a newer one when it has read
    /// for `Transaction.renewalNanoseconds`: a scan of a table no one else
    /// may write meanwhile (an index build) outlasts a store snapshot.
    private let renewing: Bool
    private var readerStarted: UInt64 = 0

    private var batch = KVBatch()
    private var bi = 0
    private var storeDone = false
    /// Where the next store batch starts (forward) or ends (reverse).
    private var storeResume: Bytes
    private var batchLimit: Int
    private var iteration = 1

    /// The next own write in scan order, if known.
    private var candidate: Bytes?
    private var candidateGeneration: UInt64 = .max
    /// The last key handed out, when it is not the batch's entry
    /// `lastFromBatch` (it came from the buffer, or its batch is gone).
    private var lastBuffered: Bytes?
    private var lastFromBatch = -1
    private var started = false

    /// `first`: the range's first batch, already read (`Transaction.scanMany`).
    init(_ txn: Transaction, _ range: KeyRange, _ vis: Visibility, reverse: Bool, firstBatch: Int, first: KVBatch? = nil,
         reader: (any StoreTransaction)? = nil, renewing: Bool = false) {
        self.txn = txn
        self.reader = reader
        self.renewing = renewing && reader != nil
        if self.renewing { readerStarted = monotonicNanos() }
        self.range = range
        self.vis = vis
        self.reverse = reverse
        storeResume = reverse ? range.end : range.begin
        batchLimit = firstBatch
        if reader == nil { txn.openScans += 1 }
        if let first { accept(first) }
    }

    deinit { close() }

    /// Done with the transaction's snapshot: at the end of the range, or
    /// when the iterator goes.
    private var closed = false
    private func close() {
        if !closed && reader == nil { txn.openScans -= 1 }
        closed = true
    }

    private func fetchBatch() throws(StoreError) {
        // The batch that held the last key handed out is about to go.
        if lastFromBatch >= 0 { lastBuffered = batch.keyBytes(lastFromBatch) }
        if renewing, monotonicNanos() - readerStarted > txn.renewalNanoseconds, let old = reader {
            reader = try txn.renewReader(old)
            readerStarted = monotonicNanos()
        }
        if reverse {
            accept(try txn.readBatch(range.begin, storeResume, limit: batchLimit, reverse: true, iteration: iteration,
                                     reader: reader))
        } else {
            accept(try txn.readBatch(storeResume, range.end, limit: batchLimit, reverse: false, iteration: iteration,
                                     reader: reader))
        }
    }

    private func accept(_ next: KVBatch) {
        batch = next
        bi = 0
        lastFromBatch = -1
        iteration += 1
        batchLimit = min(batchLimit * 4, 4096)
        if batch.more, let last = batch.lastKey {
            storeResume = reverse ? last : keyAfter(last)
        } else {
            storeDone = true
        }
    }

    /// The next buffered key after the last key handed out.
    private func refreshCandidate() throws(StoreError) {
        let buffer = txn.buffer
        if buffer.keyCount == 0 { candidate = nil; candidateGeneration = buffer.generation; return }
        if candidateGeneration == buffer.generation && started { return }
        let after: Bytes? = lastBuffered ?? (lastFromBatch >= 0 ? batch.keyBytes(lastFromBatch) : nil)
        candidate = nil
        candidate = try buffer.nextKey(range, after: after, reverse: reverse)
        candidateGeneration = buffer.generation
    }

    private func advanceCandidate(past key: Bytes) throws(StoreError) {
        candidate = nil
        candidate = try txn.buffer.nextKey(range, after: key, reverse: reverse)
        candidateGeneration = txn.buffer.generation
    }

    /// Moves to the next visible entry and passes its key and value to
    /// `body` (the pointers are valid only inside it). Returns nil at the end.
    public func next<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R) throws(StoreError) -> R? {
        try next { k, v, _ in body(k, v) }
    }

    /// The same, also telling which write made the entry when it is an own
    /// write (nil: from the store).
    public func next<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, OwnWrite?) -> R) throws(StoreError) -> R? {
        let buffer = txn.buffer
        while true {
            if bi >= batch.count && !storeDone { try fetchBatch() }
            try refreshCandidate()
            started = true
            let hasStore = bi < batch.count
            guard hasStore || candidate != nil else {
                close()
                return nil
            }
            var order = 0   // <0: store first, >0: buffer first, 0: same key
            if !hasStore {
                order = 1
            } else if let c = candidate {
                order = compareBytes(batch.key(bi), c)
                if reverse { order = -order }
            } else {
                order = -1
            }
            if order > 0 {
                // An own write the store does not have.
                let key = candidate!
                lastBuffered = key
                try advanceCandidate(past: key)
                if case .value(let v, let own) = try buffer.state(key, vis) {
                    return key.withUnsafeBytes { k in v.withUnsafeBytes { body(k, $0, own) } }
                }
                continue
            }
            let i = bi
            bi += 1
            lastFromBatch = i
            lastBuffered = nil
            if order == 0 {
                let key = candidate!
                try advanceCandidate(past: key)
                switch try buffer.state(key, vis) {
                case .value(let v, let own): return key.withUnsafeBytes { k in v.withUnsafeBytes { body(k, $0, own) } }
                case .deleted: continue
                case .unwritten: return batch.withEntry(i) { k, v in body(k, v, nil) }
                }
            }
            if !buffer.clears.isEmpty, buffer.coveringClear(batch.keyBytes(i), vis) != nil { continue }
            return batch.withEntry(i) { k, v in body(k, v, nil) }
        }
    }
}
