import Testing
import CFDB
#if canImport(Glibc)
import Glibc
#endif
import PlinthStore
@testable import PlinthFDB

/// The FoundationDB engine's pieces that need no server and no libfdb_c:
/// error classification, option encoding, argument mapping, batching, and
/// the loader's report when the library is missing (it is, here).
@Suite struct FDBUnitTests {
    // MARK: errors

    @Test func retryableNotCommitted() {
        for code: Int32 in [1020, 1007, 1009, 1037, 1038, 1042, 1051, 1078, 1213] {
            #expect(FDBErrors.classify(code) == .retryNotCommitted, "\(code)")
            #expect(FDBErrors.isRetryable(code) && FDBErrors.isRetryableNotCommitted(code) && !FDBErrors.isMaybeCommitted(code))
        }
    }

    @Test func maybeCommitted() {
        for code: Int32 in [1021, 1039] {
            #expect(FDBErrors.classify(code) == .retryMaybeCommitted, "\(code)")
            #expect(FDBErrors.isRetryable(code) && FDBErrors.isMaybeCommitted(code) && !FDBErrors.isRetryableNotCommitted(code))
        }
    }

    @Test func notRetryable() {
        // transaction_timed_out ends the retry loop: the timeout bounds it.
        for code: Int32 in [1031, 1025, 2101, 2102, 2103, 2004, 2005, 2017, 1000, 1004, 4100, 0, 9001] {
            #expect(FDBErrors.classify(code) == .fail, "\(code)")
            #expect(!FDBErrors.isRetryable(code))
        }
    }

    @Test func predicatesMatchTheirDefinitions() {
        for code in Int32(0)...Int32(5000) {
            #expect(FDBErrors.matches(.retryable, code)
                    == (FDBErrors.matches(.maybeCommitted, code) || FDBErrors.matches(.retryableNotCommitted, code)))
            #expect(!(FDBErrors.matches(.maybeCommitted, code) && FDBErrors.matches(.retryableNotCommitted, code)))
        }
        #expect(FDBErrors.Predicate.retryable.rawValue == CFDB_ERROR_PREDICATE_RETRYABLE)
        #expect(FDBErrors.Predicate.maybeCommitted.rawValue == CFDB_ERROR_PREDICATE_MAYBE_COMMITTED)
        #expect(FDBErrors.Predicate.retryableNotCommitted.rawValue == CFDB_ERROR_PREDICATE_RETRYABLE_NOT_COMMITTED)
    }

    /// StoreError's own predicates (used by both engines' callers) agree with
    /// FoundationDB's on every code Plinth names.
    @Test func storeErrorAgrees() {
        let named: [StoreError.Code] = [
            .operationFailed, .timedOut, .transactionTooOld, .futureVersion, .notCommitted, .commitUnknownResult,
            .transactionCancelled, .transactionTimedOut, .processBehind, .databaseLocked, .clusterVersionChanged,
            .proxyMemoryLimitExceeded, .batchTransactionThrottled, .grvProxyMemoryLimitExceeded, .tagThrottled,
            .usedDuringCommit, .invalidMutationType, .transactionTooLarge, .keyTooLarge, .valueTooLarge,
            .apiVersionNotSupported, .networkAlreadySetup, .clientInvalidOperation, .keyOutsideLegalRange,
            .invertedRange, .internalError, .storeUnavailable, .storeIOError, .storeFull, .storeCorrupted,
        ]
        for code in named {
            let e = StoreError(code)
            #expect(e.isRetryable == FDBErrors.isRetryable(code.rawValue), "\(code)")
            #expect(e.isRetryableNotCommitted == FDBErrors.isRetryableNotCommitted(code.rawValue), "\(code)")
        }
    }

    @Test func onlyFoundationDBCodesGoToOnError() {
        #expect(FDBErrors.isFoundationDBCode(1020))
        #expect(FDBErrors.isFoundationDBCode(2103))
        #expect(!FDBErrors.isFoundationDBCode(StoreError.Code.storeUnavailable.rawValue))
        #expect(!FDBErrors.isFoundationDBCode(0))
    }

    @Test func errorsCarryCodeAndMessage() {
        let e = FDBErrors.error(1020, describe: { _ in "Transaction not committed due to conflict with another transaction" })
        #expect(e.knownCode == .notCommitted && e.isRetryable)
        #expect(e.message == "Transaction not committed due to conflict with another transaction")
        let c = FDBErrors.error(2006, "database option 500", describe: { _ in "Option set with an invalid value" })
        #expect(c.code == 2006 && c.message == "database option 500: Option set with an invalid value")
        // FoundationDB's own words when its library is loaded; without it
        // the message still names the code.
        let d = FDBLibrary.describe(1031)
        #expect(d == "FoundationDB error 1031" || d == "Operation aborted because the transaction timed out")
    }

    // MARK: options

    @Test func intOptionsAreEightBytesLittleEndian() {
        #expect(FDBOption.encodeInt64(5000) == [0x88, 0x13, 0, 0, 0, 0, 0, 0])
        #expect(FDBOption.encodeInt64(-1) == Bytes(repeating: 0xFF, count: 8))
        #expect(FDBOption.encodeInt64(0x0102_0304_0506_0708) == [8, 7, 6, 5, 4, 3, 2, 1])
        #expect(FDBOption.int(500, 1).parameter?.count == 8)
        #expect(FDBOption.string(40, "min_trace_severity=10").parameter == Bytes("min_trace_severity=10".utf8))
        #expect(FDBOption.flag(51).parameter == nil)
        FDBOption.flag(51).withParameter { p, n in #expect(p == nil && n == 0) }
        FDBOption.int(500, 7).withParameter { p, n in #expect(p != nil && n == 8 && p![0] == 7) }
    }

    @Test func optionCodesAreFoundationDBs() {
        #expect(CFDB_TR_OPTION_TIMEOUT == 500 && CFDB_TR_OPTION_RETRY_LIMIT == 501)
        #expect(CFDB_TR_OPTION_MAX_RETRY_DELAY == 502 && CFDB_TR_OPTION_SIZE_LIMIT == 503)
        #expect(CFDB_TR_OPTION_READ_YOUR_WRITES_DISABLE == 51 && CFDB_TR_OPTION_SNAPSHOT_RYW_DISABLE == 601)
        #expect(CFDB_DB_OPTION_TRANSACTION_TIMEOUT == 500 && CFDB_DB_OPTION_TRANSACTION_RETRY_LIMIT == 501)
        #expect(CFDB_DB_OPTION_TRANSACTION_MAX_RETRY_DELAY == 502 && CFDB_DB_OPTION_TRANSACTION_SIZE_LIMIT == 503)
        #expect(CFDB_NET_OPTION_TRACE_ENABLE == 30 && CFDB_NET_OPTION_KNOB == 40)
        #expect(CFDB_CONFLICT_RANGE_TYPE_READ == 0 && CFDB_CONFLICT_RANGE_TYPE_WRITE == 1)
        #expect(CFDB_HEADER_API_VERSION == 710)
    }

    @Test func mutationAndStreamingCodesMatch() {
        let mutations: [(MutationType, Int32)] = [
            (.add, CFDB_MUTATION_TYPE_ADD), (.bitAnd, CFDB_MUTATION_TYPE_BIT_AND), (.bitOr, CFDB_MUTATION_TYPE_BIT_OR),
            (.bitXor, CFDB_MUTATION_TYPE_BIT_XOR), (.appendIfFits, CFDB_MUTATION_TYPE_APPEND_IF_FITS),
            (.max, CFDB_MUTATION_TYPE_MAX), (.min, CFDB_MUTATION_TYPE_MIN), (.byteMin, CFDB_MUTATION_TYPE_BYTE_MIN),
            (.byteMax, CFDB_MUTATION_TYPE_BYTE_MAX), (.compareAndClear, CFDB_MUTATION_TYPE_COMPARE_AND_CLEAR),
        ]
        #expect(mutations.count == MutationType.allCases.count)
        for (op, code) in mutations { #expect(op.rawValue == code, "\(op)") }
        let modes: [(StreamingMode, Int32)] = [
            (.wantAll, CFDB_STREAMING_MODE_WANT_ALL), (.iterator, CFDB_STREAMING_MODE_ITERATOR),
            (.exact, CFDB_STREAMING_MODE_EXACT), (.small, CFDB_STREAMING_MODE_SMALL),
            (.medium, CFDB_STREAMING_MODE_MEDIUM), (.large, CFDB_STREAMING_MODE_LARGE),
            (.serial, CFDB_STREAMING_MODE_SERIAL),
        ]
        for (mode, code) in modes { #expect(mode.rawValue == code, "\(mode)") }
    }

    @Test func transactionSettingsBecomeOptions() throws {
        // The timeout bounds each wait (FDBWaits), never the transaction:
        // FoundationDB's TIMEOUT option would end healthy long work.
        let plain = FDBTransactionSettings(timeoutMilliseconds: 5000)
        #expect(plain.databaseOptions == [])
        #expect(plain.transactionOptions == [])
        let full = FDBTransactionSettings(timeoutMilliseconds: 2000, retryLimit: -1, maxRetryDelayMilliseconds: 250)
        #expect(full.transactionOptions.map(\.code) == [501, 502])
        #expect(full.transactionOptions[0].parameter == FDBOption.encodeInt64(-1))
        #expect(full.databaseOptions.map(\.code) == [501, 502])
        #expect(full.databaseOptions[1].parameter == FDBOption.encodeInt64(250))
        try plain.validate()
        try full.validate()
    }

    @Test func transactionSettingsAreValidated() {
        let bad = [
            FDBTransactionSettings(timeoutMilliseconds: 0),   // no timeout: a backend could hang
            FDBTransactionSettings(timeoutMilliseconds: -5),
            FDBTransactionSettings(timeoutMilliseconds: Int(Int32.max) + 1),
            FDBTransactionSettings(timeoutMilliseconds: 100, retryLimit: -2),
            FDBTransactionSettings(timeoutMilliseconds: 100, maxRetryDelayMilliseconds: -1),
        ]
        for s in bad {
            #expect { try s.validate() } throws: { ($0 as? StoreError)?.code == 2006 }
        }
    }

    @Test func networkOptions() {
        let n = FDBNetworkOptions(traceDirectory: "/tmp/fdb", traceLogGroup: "plinth", traceFormat: "json",
                                  knobs: ["a=1", "b=2"])
        #expect(n.options.map(\.code) == [30, 33, 34, 40, 40])
        #expect(n.options[0].parameter == Bytes("/tmp/fdb".utf8))
        #expect(n.options[4].parameter == Bytes("b=2".utf8))
        #expect(FDBNetworkOptions().options.isEmpty)
    }

    @Test func apiVersions() throws {
        try FDBAPIVersion.check(requested: 710, libraryMaximum: 730, library: "libfdb_c.so")
        try FDBAPIVersion.check(requested: 620, libraryMaximum: 710, library: "libfdb_c.so")
        for (requested, maximum) in [(730, 730), (600, 730), (710, 630)] as [(Int32, Int32)] {
            do {
                try FDBAPIVersion.check(requested: requested, libraryMaximum: maximum, library: "libfdb_c.so")
                Issue.record("API version \(requested) accepted with a library of \(maximum)")
            } catch {
                #expect(error.knownCode == .apiVersionNotSupported)
            }
        }
        #expect {
            try FDBAPIVersion.check(requested: 710, libraryMaximum: 630, library: "/opt/libfdb_c.so")
        } throws: { e in
            let m = (e as? StoreError)?.message ?? ""
            return m.contains("7.1") && m.contains("/opt/libfdb_c.so")
        }
    }

    // MARK: arguments

    @Test func selectorsMapToFoundationDBsFourComponents() throws {
        // fdb_c.h's FDB_KEYSEL_* macros: (or_equal, offset).
        let cases: [(KeySelector, Int32, Int32)] = [
            (.lastLessThan([1]), 0, 0), (.lastLessOrEqual([1]), 1, 0),
            (.firstGreaterThan([1]), 1, 1), (.firstGreaterOrEqual([1]), 0, 1),
            (KeySelector(key: [1], orEqual: false, offset: -7), 0, -7),
        ]
        for (selector, orEqual, offset) in cases {
            let a = try SelectorArguments(selector)
            #expect(a.key == [1] && a.orEqual == orEqual && a.offset == offset, "\(selector)")
        }
        do {
            _ = try SelectorArguments(KeySelector(key: [], orEqual: false, offset: Int(Int32.max) + 1))
            Issue.record("an offset beyond int accepted")
        } catch {
            #expect(error.knownCode == .clientInvalidOperation)
        }
    }

    @Test func rangeOptionsMapToGetRangeArguments() throws {
        func fields(_ a: RangeArguments) -> [Int32] { [a.limit, a.targetBytes, a.mode, a.iteration, a.snapshot, a.reverse] }
        #expect(fields(try RangeArguments(RangeOptions())) == [0, 0, -1, 1, 0, 0])
        let r = try RangeArguments(RangeOptions(limit: 7, targetBytes: 100, reverse: true, snapshot: true,
                                                mode: .wantAll, iteration: 3))
        #expect(fields(r) == [7, 100, -2, 3, 1, 1])
        // Iteration starts at 1; limits beyond int are no limit at all.
        #expect(try RangeArguments(RangeOptions(iteration: 0)).iteration == 1)
        #expect(try RangeArguments(RangeOptions(limit: Int.max)).limit == Int32.max)
        // Negative limits are no limit, as on the embedded engine.
        #expect(try RangeArguments(RangeOptions(limit: -1, targetBytes: -5)).limit == 0)
        #expect(try RangeArguments(RangeOptions(limit: -1, targetBytes: -5)).targetBytes == 0)
        #expect(try RangeArguments(RangeOptions(limit: 3, mode: .exact)).mode == 0)
    }

    @Test func exactModeNeedsALimit() {
        do { _ = try RangeArguments(RangeOptions(mode: .exact)); Issue.record("exact without limits") } catch {
            #expect(error.code == 2210)
        }
    }

    @Test func getManyIssuesDistinctKeysInChunks() {
        let plan = GetManyPlan(keys: [[1], [2], [1], [3], [2]], chunkSize: 2)
        #expect(plan.distinct == [[1], [2], [3]])
        #expect(plan.slots == [0, 1, 0, 2, 1])
        #expect(plan.chunks == [0..<2, 2..<3])
        let one = GetManyPlan(keys: (0..<500).map { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        #expect(one.chunks == [0..<500])   // one round trip
        #expect(GetManyPlan(keys: []).chunks.isEmpty)
    }

    @Test func keyValueArrayHasFoundationDBsPackedLayout() {
        #expect(MemoryLayout<FDBKeyValue>.size == 24)
        #expect(MemoryLayout<FDBKeyValue>.offset(of: \FDBKeyValue.value) == 12)
        #expect(MemoryLayout<FDBKeyValue>.offset(of: \FDBKeyValue.value_length) == 20)
    }

    @Test func keyValueArrayCopiesIntoOneBatch() {
        let bytes: Bytes = Array("k1v1k22".utf8)
        let batch = bytes.withUnsafeBufferPointer { p -> KVBatch in
            let b = p.baseAddress!
            let rows = [
                FDBKeyValue(key: b, key_length: 2, value: b + 2, value_length: 2),
                FDBKeyValue(key: b + 4, key_length: 3, value: nil, value_length: 0),
            ]
            return rows.withUnsafeBufferPointer { copyKeyValues($0, more: true) }
        }
        #expect(batch.count == 2 && batch.more)
        #expect(batch.keyBytes(0) == Array("k1".utf8) && batch.valueBytes(0) == Array("v1".utf8))
        #expect(batch.keyBytes(1) == Array("k22".utf8) && batch.valueBytes(1) == [])
        #expect(batch.byteCount == 7)
        let empty = copyKeyValues(UnsafeBufferPointer(start: nil, count: 0), more: false)
        #expect(empty.isEmpty && !empty.more)
    }

    @Test func clientChecksMatchTheEmbeddedEngine() throws {
        #expect(throws: StoreError(.keyTooLarge, "Key length 10001 exceeds limit of 10000 bytes")) {
            try ClientChecks.key(Bytes(repeating: 1, count: 10_001))
        }
        #expect(throws: StoreError(.valueTooLarge, "Value length 100001 exceeds limit of 100000 bytes")) {
            try ClientChecks.value(Bytes(repeating: 1, count: 100_001))
        }
        try ClientChecks.key(Bytes(repeating: 1, count: 10_000))
        try ClientChecks.value(Bytes(repeating: 1, count: 100_000))
        expectStoreError(.keyOutsideLegalRange) { () throws(StoreError) in try ClientChecks.writableKey([0xFF, 0]) }
        expectStoreError(.invertedRange) { () throws(StoreError) in _ = try ClientChecks.writableRange([2], [1]) }
        expectStoreError(.keyOutsideLegalRange) { () throws(StoreError) in _ = try ClientChecks.writableRange([1], [0xFF, 0]) }
        #expect(try ClientChecks.writableRange([1], [1]) == false)
        #expect(try ClientChecks.writableRange([1], [0xFF]) == true)
    }

    @Test func settingsAreCheckedBeforeLoading() {
        do {
            _ = try FDBStore.open(clusterFile: nil, timeoutMilliseconds: 0)
            Issue.record("opened without a timeout")
        } catch {
            #expect(error.code == 2006)
        }
    }
}

/// The loader's reports, where libfdb_c is not installed (as on the build
/// machines). Where it is, the library is loaded once per process and these
/// paths cannot be taken; FDBConformanceTests covers that side.
@Suite(.enabled(if: FDBTestEnvironment.libraryAbsent, "libfdb_c is installed: the missing-library paths cannot be exercised"))
struct FDBLoaderTests {
    @Test func missingLibraryIsReportedClearly() {
        do {
            _ = try FDBStore.open(clusterFile: nil)
            Issue.record("opened FoundationDB without libfdb_c")
        } catch {
            #expect(error.knownCode == .storeUnavailable)
            #expect(error.message.contains("libfdb_c"))
            #expect(error.message.contains("Install the FoundationDB client"))
        }
        #expect(FDBStore.clientVersion == nil)
    }

    @Test func explicitLibraryPathIsNamed() {
        do {
            _ = try FDBStore.open(clusterFile: "/etc/foundationdb/fdb.cluster", libraryPath: "/nonexistent/lib/libfdb_c.so")
            Issue.record("opened FoundationDB from a missing file")
        } catch {
            #expect(error.knownCode == .storeUnavailable)
            #expect(error.message.contains("/nonexistent/lib/libfdb_c.so"))
        }
    }

    @Test func libraryWithoutTheClientFunctionsIsRefused() {
        // A real shared library that is not libfdb_c: loaded, then refused
        // for its first missing function, and unloaded again.
        do {
            _ = try FDBStore.open(clusterFile: nil, libraryPath: "libm.so.6")
            Issue.record("accepted libm as libfdb_c")
        } catch {
            #expect(error.knownCode == .storeUnavailable)
            #expect(error.message.contains("fdb_get_max_api_version"))
        }
        #expect(FDBStore.clientVersion == nil)
    }
}

enum FDBTestEnvironment {
    /// Whether dlopen finds neither default name of libfdb_c.
    static let libraryAbsent: Bool = ["libfdb_c.so", "libfdb_c.so.7"].allSatisfy { name in
        guard let handle = dlopen(name, RTLD_LAZY | RTLD_LOCAL) else { return true }
        dlclose(handle)
        return false
    }
}
