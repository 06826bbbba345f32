import Foundation
import Testing
import PlinthStore
import PlinthLMDB
@testable import PlinthFDB

/// Where the FoundationDB tests find a cluster: PLINTH_FDB_CLUSTER_FILE names
/// its cluster file, PLINTH_FDB_LIBRARY optionally the libfdb_c to load.
enum FDBTestCluster {
    static let clusterFile: String? = environment("PLINTH_FDB_CLUSTER_FILE")
    static let libraryPath: String? = environment("PLINTH_FDB_LIBRARY")
    static var isConfigured: Bool { clusterFile != nil }

    static func open(timeoutMilliseconds: Int = 5000) throws -> FDBStore {
        try FDBStore.open(clusterFile: clusterFile, libraryPath: libraryPath, timeoutMilliseconds: timeoutMilliseconds)
    }

    private static func environment(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}

/// The conformance suite on the embedded engine: always runs, and proves the
/// suite itself right.
@Suite struct EmbeddedConformanceTests {
    @Test(arguments: StoreConformance.all)
    func embedded(_ conformance: ConformanceCase) throws {
        let f = try StoreFixture()
        try conformance.run(on: f.store)
    }

    /// The embedded engine has no watches: its readers poll (a local read).
    @Test func noWatches() throws {
        let f = try StoreFixture()
        let tr = try f.store.beginTransaction()
        #expect(try tr.watch(Array("k".utf8)) == nil)
    }
}

/// The same suite on a FoundationDB cluster, and what only FoundationDB
/// does. Skipped, visibly, without PLINTH_FDB_CLUSTER_FILE.
@Suite(.enabled(if: FDBTestCluster.isConfigured,
                "PLINTH_FDB_CLUSTER_FILE is not set: no FoundationDB cluster to run the conformance suite against"))
struct FDBConformanceTests {
    @Test(arguments: StoreConformance.all)
    func foundationdb(_ conformance: ConformanceCase) throws {
        let store = try FDBTestCluster.open()
        #expect(store.engineName == "foundationdb")
        try conformance.run(on: store)
    }

    /// The timeout bounds each wait on the cluster, not the transaction: a
    /// healthy transaction that lives longer than it (a large insert, a slow
    /// statement) goes on — FoundationDB's own rule is the read version's
    /// age, which the conformance suite checks on both engines.
    @Test func healthyTransactionOutlivesTheWaitBound() throws {
        let store = try FDBTestCluster.open(timeoutMilliseconds: 500)
        let tr = try store.beginTransaction()
        _ = try tr.getReadVersion()
        usleepMilliseconds(900)
        _ = try tr.get(Array("plinth-test/timeout".utf8), snapshot: false)
        try tr.set(Array("plinth-test/timeout".utf8), Array("x".utf8))
        #expect(try tr.commit() > 0)
    }

    /// A cluster that does not answer is an error within the timeout, never a hang.
    @Test func unreachableClusterFailsWithinTheTimeout() throws {
        let file = NSTemporaryDirectory() + "plinth-unreachable-" + UUID().uuidString + ".cluster"
        try "plinth:unreachable@127.0.0.1:1\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let start = Date()
        do {
            _ = try FDBStore.open(clusterFile: file, libraryPath: FDBTestCluster.libraryPath, timeoutMilliseconds: 1000)
            Issue.record("opened a cluster nobody serves")
        } catch {
            #expect(error.knownCode == .storeUnavailable)
            #expect(error.message.contains(file))
        }
        #expect(Date().timeIntervalSince(start) < 10)
    }

    /// A watch set in a transaction that read the key fires once another
    /// commit changes it, not before (the schema worker polls it instead of
    /// the cluster).
    @Test func watchFiresOnAChangeOnly() throws {
        let store = try FDBTestCluster.open()
        try ConformanceCase("watch: fires on a change") { store, p in
            try transact(store) { tr throws(StoreError) in try tr.set(p["w"], [1]) }
            let w = try transact(store) { tr throws(StoreError) -> (any StoreWatch)? in
                _ = try tr.get(p["w"], snapshot: true)
                return try tr.watch(p["w"])
            }
            guard let w else { Issue.record("FoundationDB gave no watch"); return }
            // Writing the value it has changes nothing.
            try transact(store) { tr throws(StoreError) in try tr.set(p["w"], [1]) }
            usleepMilliseconds(300)
            #expect(!w.fired)
            try transact(store) { tr throws(StoreError) in try tr.set(p["w"], [2]) }
            var waited = 0
            while !w.fired && waited < 10_000 {
                usleepMilliseconds(10)
                waited += 10
            }
            #expect(w.fired)
        }.run(on: store)
    }

    @Test func getManyIsOneRequest() throws {
        let store = try FDBTestCluster.open()
        try ConformanceCase("getMany: one round trip") { store, p in
            try transact(store) { tr throws(StoreError) in
                for i in 0..<50 { try tr.set(p["g\(i)"], Array("\(i)".utf8)) }
            }
            let tr = try store.beginTransaction()
            let keys = (0..<60).map { p["g\($0)"] }
            let values = try tr.getMany(keys, snapshot: true)
            #expect(values.prefix(50).enumerated().allSatisfy { $0.element == Array("\($0.offset)".utf8) })
            #expect(values.suffix(10).allSatisfy { $0 == nil })
            #expect(tr.counters.roundTrips == 1 && tr.counters.reads == 60)
        }.run(on: store)
    }
}
