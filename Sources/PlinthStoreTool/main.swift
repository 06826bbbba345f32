// plinth-store-tool: the embedded store's benchmark, and the worker processes
// of the store's multi-process tests (Tests/PlinthStoreTests).
//
//   plinth-store-tool bench [--keys N] [--seconds S] [--durable on|off]
//   plinth-store-tool bank-init DIR ACCOUNTS INITIAL
//   plinth-store-tool bank-worker DIR ACCOUNTS TRANSFERS SEED WORKER
//   plinth-store-tool bank-check DIR ACCOUNTS
//   plinth-store-tool crash-writer DIR WRITER
//   plinth-store-tool crash-check DIR
//   plinth-store-tool clear DIR        every key Plinth wrote: ("pl", ...)
//
// DIR is the embedded store's directory, or fdb:CLUSTER_FILE for a
// FoundationDB cluster (fdb: alone: FoundationDB's default cluster file).
import PlinthEncoding
import PlinthStore
import PlinthLMDB
import PlinthFDB
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = "plinth-store-tool: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

func openStore(_ dir: String, durable: Bool = true, lifetime: Int = 5000) -> any Store {
    if dir.hasPrefix("fdb:") {
        let file = String(dir.dropFirst(4))
        let library = getenv("PLINTH_FDB_LIBRARY").map { String(cString: $0) }
        do { return try FDBStore.open(clusterFile: file.isEmpty ? nil : file, libraryPath: library) } catch {
            fail("open \(dir): \(error)")
        }
    }
    return openEmbedded(dir, durable: durable, lifetime: lifetime)
}

func openEmbedded(_ dir: String, durable: Bool = true, lifetime: Int = 5000) -> LMDBStore {
    var o = LMDBStore.Options()
    o.durable = durable
    o.mapSizeBytes = 8 << 30
    o.lifetimeMilliseconds = lifetime
    do { return try LMDBStore(path: dir, options: o) } catch { fail("open \(dir): \(error)") }
}

/// FoundationDB's retry loop.
@discardableResult
func transact<R>(_ store: any Store, retries: inout Int, _ body: (any StoreTransaction) throws(StoreError) -> R) -> R {
    let tr: any StoreTransaction
    do { tr = try store.beginTransaction() } catch { fail("begin: \(error)") }
    while true {
        do throws(StoreError) {
            let r = try body(tr)
            _ = try tr.commit()
            return r
        } catch {
            retries += 1
            do { try tr.onError(error) } catch { fail("transaction failed: \(error)") }
        }
    }
}

func le64(_ x: Int64) -> Bytes { withUnsafeBytes(of: x.littleEndian) { Bytes($0) } }
func readLE64(_ b: Bytes?) -> Int64 {
    guard let b, b.count == 8 else { return 0 }
    return b.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
}
func key(_ s: String) -> Bytes { Array(s.utf8) }
func account(_ i: Int) -> Bytes { key("acct/" + String(repeating: "0", count: 6 - String(i).count) + String(i)) }


// MARK: bank transfers: the total never changes, no transfer lost or doubled

func bankInit(_ dir: String, _ accounts: Int, _ initial: Int64) {
    let store = openStore(dir)
    var retries = 0
    transact(store, retries: &retries) { tr throws(StoreError) in
        // A cluster may hold an earlier run's accounts and records.
        try tr.clearRange(key("acct/"), key("acct0"))
        try tr.clearRange(key("xfer/"), key("xfer0"))
        for i in 0..<accounts { try tr.set(account(i), le64(initial)) }
    }
}

func bankWorker(_ dir: String, _ accounts: Int, _ transfers: Int, _ seed: UInt64, _ worker: Int) {
    let store = openStore(dir, durable: false)
    var rng = SplitMix64(seed: seed)
    var retries = 0
    for n in 0..<transfers {
        let from = Int.random(in: 0..<accounts, using: &rng)
        var to = Int.random(in: 0..<(accounts - 1), using: &rng)
        if to >= from { to += 1 }
        let amount = Int64.random(in: 1...50, using: &rng)
        transact(store, retries: &retries) { tr throws(StoreError) in
            let a = readLE64(try tr.get(account(from), snapshot: false))
            let b = readLE64(try tr.get(account(to), snapshot: false))
            let moved = min(a, amount)
            try tr.set(account(from), le64(a - moved))
            try tr.set(account(to), le64(b + moved))
            // The record of this transfer: written once, or the whole
            // transaction is retried and it is written then.
            try tr.set(key("xfer/\(worker)/\(n)"), le64(Int64(from)) + le64(Int64(to)) + le64(moved))
        }
    }
    print("done \(transfers) retries \(retries)")
}

func bankCheck(_ dir: String, _ accounts: Int) {
    let store = openStore(dir)
    var retries = 0
    let (total, records, replayOK) = transact(store, retries: &retries) { tr throws(StoreError) -> (Int64, Int, Bool) in
        var balances: [Int64] = []
        for i in 0..<accounts { balances.append(readLE64(try tr.get(account(i), snapshot: true))) }
        // Replay every recorded transfer from the initial balances.
        var replay = [Int64](repeating: 0, count: accounts)
        var begin = key("xfer/"), records = 0
        while true {
            let r = try tr.getRange(.firstGreaterOrEqual(begin), .firstGreaterOrEqual(key("xfer0")),
                                    options: RangeOptions(limit: 1000, snapshot: true))
            for i in 0..<r.count {
                let v = r.valueBytes(i)
                let from = Int(readLE64(Bytes(v[0..<8]))), to = Int(readLE64(Bytes(v[8..<16]))), moved = readLE64(Bytes(v[16..<24]))
                replay[from] -= moved
                replay[to] += moved
                records += 1
            }
            guard r.more, let last = r.lastKey else { break }
            begin = keyAfter(last)
        }
        let initial = balances.reduce(0, +) / Int64(accounts)
        let ok = (0..<accounts).allSatisfy { balances[$0] == initial + replay[$0] }
        return (balances.reduce(0, +), records, ok)
    }
    print("total \(total) records \(records) replay \(replayOK ? "ok" : "MISMATCH")")
}

// MARK: crash test: every acknowledged commit survives, no partial commit

func crashWriter(_ dir: String, _ writer: Int) {
    let store = openStore(dir, durable: true)
    var retries = 0
    let padding = Bytes(repeating: 0xAB, count: 2000)
    var i = 0
    while true {
        transact(store, retries: &retries) { tr throws(StoreError) in
            // One transaction: a pair of keys and a few padding keys, all or nothing.
            try tr.set(key("crash/\(writer)/\(i)/a"), le64(Int64(i)))
            for p in 0..<4 { try tr.set(key("crash/\(writer)/\(i)/p\(p)"), padding) }
            try tr.set(key("crash/\(writer)/\(i)/b"), le64(Int64(i)))
        }
        // Acknowledged only once commit returned.
        print("ack \(writer) \(i)")
        fflush(nil)
        i += 1
    }
}

func crashCheck(_ dir: String) {
    let store = openStore(dir)
    var retries = 0
    let groups = transact(store, retries: &retries) { tr throws(StoreError) -> [String: Int] in
        var counts: [String: Int] = [:]
        var begin = key("crash/")
        while true {
            let r = try tr.getRange(.firstGreaterOrEqual(begin), .firstGreaterOrEqual(key("crash0")),
                                    options: RangeOptions(limit: 5000, snapshot: true))
            for i in 0..<r.count {
                let k = String(decoding: r.key(i), as: UTF8.self)
                let parts = k.split(separator: "/")
                counts["\(parts[1]) \(parts[2])", default: 0] += 1
            }
            guard r.more, let last = r.lastKey else { break }
            begin = keyAfter(last)
        }
        return counts
    }
    // Every transaction present has all six of its keys.
    let partial = groups.filter { $0.value != 6 }
    print("present \(groups.count) partial \(partial.count)")
    for g in groups.keys.sorted() { print("have \(g)") }
}

// MARK: benchmark: the store beside raw LMDB doing the same key-value work

func seconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let selfPath: String = {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
}()

func spawn(_ args: [String]) -> pid_t {
    var pid: pid_t = 0
    let argv = ([selfPath] + args).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let rc = posix_spawn(&pid, selfPath, nil, nil, argv, environ)
    if rc != 0 { fail("posix_spawn: \(rc)") }
    return pid
}

func waitAll(_ pids: [pid_t]) {
    for p in pids {
        var status: Int32 = 0
        waitpid(p, &status, 0)
    }
}

func arg(_ name: String, _ def: String) -> String {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count { return a[i + 1] }
    return def
}

/// Commits as many small transactions as it can for `secs` seconds; prints the count.
func benchCommitWorker(_ dir: String, _ raw: Bool, _ secs: Double, _ worker: Int, _ durable: Bool) {
    let deadline = seconds() + secs
    var n = 0
    var rng = SplitMix64(seed: UInt64(worker + 1))
    if raw {
        let env = RawLMDB(dir, durable: durable)
        while seconds() < deadline {
            let k = Int.random(in: 0..<100_000, using: &rng)
            env.write { t in
                _ = t.get(key("bench/\(k)"))
                t.put(key("bench/\(k)"), le64(Int64(n)))
                t.put(key("bench/w\(worker)/\(n)"), le64(Int64(n)))
            }
            n += 1
        }
    } else {
        let store = openStore(dir, durable: durable)
        var retries = 0
        while seconds() < deadline {
            let k = Int.random(in: 0..<100_000, using: &rng)
            transact(store, retries: &retries) { tr throws(StoreError) in
                _ = try tr.get(key("bench/\(k)"), snapshot: false)
                try tr.set(key("bench/\(k)"), le64(Int64(n)))
                try tr.set(key("bench/w\(worker)/\(n)"), le64(Int64(n)))
            }
            n += 1
        }
    }
    print(n)
    fflush(nil)
}

func bench() {
    let keys = Int(arg("--keys", "100000"))!
    let secs = Double(arg("--seconds", "3"))!
    let durable = arg("--durable", "on") == "on"
    let base = "/tmp/plinth-store-bench-\(getpid())"
    let storeDir = base + "-store", rawDir = base + "-raw"
    defer { _ = system("rm -rf '\(storeDir)' '\(rawDir)'") }
    let store = openEmbedded(storeDir, durable: durable)
    let raw = RawLMDB(rawDir, durable: durable)
    let value = Bytes(repeating: 0x5A, count: 100)
    func k(_ i: Int) -> Bytes { key("k/" + String(repeating: "0", count: 8 - String(i).count) + String(i)) }
    // Load the same keys into both, 10,000 per transaction.
    var retries = 0
    for start in stride(from: 0, to: keys, by: 10_000) {
        transact(store, retries: &retries) { tr throws(StoreError) in
            for i in start..<min(start + 10_000, keys) { try tr.set(k(i), value) }
        }
        raw.write { t in for i in start..<min(start + 10_000, keys) { t.put(k(i), value) } }
    }
    print("store benchmark: \(keys) keys of 100 bytes, durable \(durable ? "on" : "off"); figures are medians of 5 alternating rounds")
    print(String(repeating: "-", count: 78))
    func row(_ name: String, _ unit: String, _ storeRate: [Double], _ rawRate: [Double]) {
        let sm = median(storeRate), rm = median(rawRate)
        let pad = { (s: String, n: Int) in s + String(repeating: " ", count: max(0, n - s.count)) }
        print(pad(name, 34) + pad(String(format2(sm)) + " " + unit, 20) + pad("raw " + format2(rm), 16) + "ratio " + format2(sm / rm))
    }
    // Point gets: 100 random gets per transaction.
    var sG: [Double] = [], rG: [Double] = []
    for _ in 0..<5 {
        var rng = SplitMix64(seed: 7)
        var t0 = seconds(), n = 0
        while seconds() - t0 < secs / 3 {
            transact(store, retries: &retries) { tr throws(StoreError) in
                for _ in 0..<100 { _ = try tr.get(k(Int.random(in: 0..<keys, using: &rng)), snapshot: false) }
            }
            n += 100
        }
        sG.append(Double(n) / (seconds() - t0))
        rng = SplitMix64(seed: 7)
        t0 = seconds(); n = 0
        while seconds() - t0 < secs / 3 {
            raw.read { t in for _ in 0..<100 { _ = t.get(k(Int.random(in: 0..<keys, using: &rng))).map { Bytes($0) } } }
            n += 100
        }
        rG.append(Double(n) / (seconds() - t0))
    }
    row("point gets", "gets/s", sG, rG)
    // A 10,000-key range read.
    var sR: [Double] = [], rR: [Double] = []
    for _ in 0..<5 {
        var t0 = seconds(), n = 0
        while seconds() - t0 < secs / 3 {
            transact(store, retries: &retries) { tr throws(StoreError) in
                let r = try tr.getRange(.firstGreaterOrEqual(k(0)), .firstGreaterOrEqual(k(10_000)), options: RangeOptions(mode: .wantAll))
                precondition(r.count == min(10_000, keys))
            }
            n += 1
        }
        sR.append(Double(n) / (seconds() - t0))
        t0 = seconds(); n = 0
        while seconds() - t0 < secs / 3 {
            raw.read { t in
                let r = t.range(k(0), k(10_000))
                precondition(r.count == min(10_000, keys))
            }
            n += 1
        }
        rR.append(Double(n) / (seconds() - t0))
    }
    row("10,000-key range read", "reads/s", sR, rR)
    // Small read-modify-write transactions, 1 and 8 processes.
    for procs in [1, 8] {
        var sC: [Double] = [], rC: [Double] = []
        for _ in 0..<3 {
            for rawSide in [false, true] {
                let dir = rawSide ? rawDir : storeDir
                let outs = (0..<procs).map { w -> (pid_t, String) in
                    let out = "\(base)-out-\(w)"
                    let pid = spawn(["bench-commit-worker", dir, rawSide ? "raw" : "store", String(secs / 2), String(w), durable ? "on" : "off", out])
                    return (pid, out)
                }
                waitAll(outs.map { $0.0 })
                var total = 0
                for (_, out) in outs {
                    if let f = fopen(out, "r") {
                        var line = [CChar](repeating: 0, count: 64)
                        if fgets(&line, 64, f) != nil {
                            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                            total += Int(text.trimmingCharacters()) ?? 0
                        }
                        fclose(f)
                        unlink(out)
                    }
                }
                (rawSide ? { rC.append(Double(total) / (secs / 2)) } : { sC.append(Double(total) / (secs / 2)) })()
            }
        }
        row("commits, \(procs) process\(procs > 1 ? "es" : "")", "txn/s", sC, rC)
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s[s.count / 2]
}

func format2(_ x: Double) -> String {
    if x >= 100 { return String(Int(x.rounded())) }
    let scaled = Int((x * 100).rounded())
    let frac = scaled % 100
    return "\(scaled / 100).\(frac < 10 ? "0" : "")\(frac)"
}

extension String {
    func trimmingCharacters() -> String {
        String(self.filter { !$0.isWhitespace })
    }
}

// MARK: main

let args = CommandLine.arguments
guard args.count >= 2 else { fail("usage: see the comment at the top of main.swift") }
switch args[1] {
case "bank-init": bankInit(args[2], Int(args[3])!, Int64(args[4])!)
case "bank-worker": bankWorker(args[2], Int(args[3])!, Int(args[4])!, UInt64(args[5])!, Int(args[6])!)
case "bank-check": bankCheck(args[2], Int(args[3])!)
case "crash-writer": crashWriter(args[2], Int(args[3])!)
case "crash-check": crashCheck(args[2])
case "bench": bench()
case "clear":
    // The test suites on one FoundationDB cluster: each suite's servers
    // begin on an empty Plinth keyspace (databases are matched by name).
    let store = openStore(args[2])
    let prefix: [UInt8] = [0x02] + Array("pl".utf8) + [0x00]
    do { try store.transact { tr throws(StoreError) in try tr.clearRange(prefix, Array(prefix.dropLast()) + [0x01]) } } catch {
        fail("clear \(args[2]): \(error)")
    }
case "bench-commit-worker":
    // Output to a file: the parent reads it after waiting.
    let out = args[7]
    let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    dup2(fd, 1)
    benchCommitWorker(args[2], args[3] == "raw", Double(args[4])!, Int(args[5])!, args[6] == "on")
default: fail("unknown command \(args[1])")
}
