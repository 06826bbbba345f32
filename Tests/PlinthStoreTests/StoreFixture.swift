import Foundation
import Testing
import PlinthStore
import PlinthLMDB

/// A store for one test: the embedded engine in a fresh temporary directory
/// (the FoundationDB engine joins when a cluster file is given; see
/// FDBConformanceTests).
final class StoreFixture {
    let path: String
    let store: LMDBStore

    init(lifetimeMilliseconds: Int = 5000, durable: Bool = false, mapSizeBytes: Int = 1 << 30) throws {
        path = NSTemporaryDirectory() + "plinth-store-test-" + UUID().uuidString
        var o = LMDBStore.Options()
        o.lifetimeMilliseconds = lifetimeMilliseconds
        o.durable = durable
        o.mapSizeBytes = mapSizeBytes
        store = try LMDBStore(path: path, options: o)
    }

    /// Another handle on the same directory, as another process would have.
    func reopen(lifetimeMilliseconds: Int = 5000) throws -> LMDBStore {
        var o = LMDBStore.Options()
        o.lifetimeMilliseconds = lifetimeMilliseconds
        o.durable = false
        o.mapSizeBytes = 1 << 30
        return try LMDBStore(path: path, options: o)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func b(_ s: String) -> Bytes { Array(s.utf8) }
func s(_ b: Bytes?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }

/// Runs body in a transaction with FoundationDB's retry loop.
@discardableResult
func transact<R>(_ store: any Store, _ body: (any StoreTransaction) throws(StoreError) -> R) throws(StoreError) -> R {
    let tr = try store.beginTransaction()
    while true {
        do throws(StoreError) {
            let r = try body(tr)
            _ = try tr.commit()
            return r
        } catch {
            try tr.onError(error)
        }
    }
}

func readAll(_ tr: any StoreTransaction, _ begin: Bytes, _ end: Bytes, reverse: Bool = false,
             snapshot: Bool = false, batch: Int = 0) throws(StoreError) -> [(Bytes, Bytes)] {
    var out: [(Bytes, Bytes)] = []
    var lo = begin, hi = end
    var iteration = 1
    while true {
        let r = try tr.getRange(.firstGreaterOrEqual(lo), .firstGreaterOrEqual(hi),
                                options: RangeOptions(limit: batch, reverse: reverse, snapshot: snapshot, iteration: iteration))
        for i in 0..<r.count { out.append((r.keyBytes(i), r.valueBytes(i))) }
        guard r.more, let last = r.lastKey else { break }
        if reverse { hi = last } else { lo = keyAfter(last) }
        iteration += 1
    }
    return out
}

/// Expects `body` to fail with the store error `code`: an issue is recorded
/// when it succeeds or fails otherwise.
func expectStoreError(_ code: StoreError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                      _ body: () throws(StoreError) -> Void) {
    do {
        try body()
        Issue.record("expected store error \(code) (\(code.rawValue)); nothing was thrown", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == code.rawValue, "\(error)", sourceLocation: sourceLocation)
    }
}
