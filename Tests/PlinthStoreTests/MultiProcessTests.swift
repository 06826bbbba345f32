import Foundation
import Testing
import PlinthStore
import PlinthLMDB

/// Several processes on one store: the worker processes are
/// plinth-store-tool, built next to this test binary.
@Suite(.serialized) struct MultiProcessTests {
    static let tool: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("plinth-store-tool").path
    }()

    static func run(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(args.first ?? "") exited \(p.terminationStatus)")
        return String(decoding: data, as: UTF8.self)
    }

    /// N processes move money between few accounts, retrying on conflict:
    /// the total never changes, and replaying the recorded transfers gives
    /// exactly the final balances (none lost, none applied twice).
    @Test func bankTransfersAcrossProcesses() throws {
        let dir = NSTemporaryDirectory() + "plinth-bank-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.bankTransfers(store: dir)
    }

    /// The same on a FoundationDB cluster. Skipped, visibly, without one.
    @Test(.enabled(if: FDBTestCluster.isConfigured,
                   "PLINTH_FDB_CLUSTER_FILE is not set: no FoundationDB cluster for the bank transfers"))
    func bankTransfersOnFoundationDB() throws {
        try Self.bankTransfers(store: "fdb:" + (FDBTestCluster.clusterFile ?? ""))
    }

    static func bankTransfers(store dir: String) throws {
        let accounts = 20, workers = 8, transfers = 250, initial = 1000
        _ = try Self.run(["bank-init", dir, "\(accounts)", "\(initial)"])
        let procs = try (0..<workers).map { w -> (Process, Pipe) in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.tool)
            p.arguments = ["bank-worker", dir, "\(accounts)", "\(transfers)", "\(1000 + w)", "\(w)"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            return (p, out)
        }
        var retries = 0
        for (p, out) in procs {
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            #expect(text.hasPrefix("done \(transfers)"))
            retries += Int(text.split(separator: " ").last!.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        let check = try Self.run(["bank-check", dir, "\(accounts)"])
        #expect(check.trimmingCharacters(in: .whitespacesAndNewlines)
                == "total \(accounts * initial) records \(workers * transfers) replay ok")
        // With 8 processes on 20 accounts, conflicts must have happened (and been retried).
        #expect(retries > 0)
    }

    /// Writers are killed with SIGKILL at random moments, mid-commit among
    /// them: every commit they acknowledged is there, and no transaction is
    /// visible in part.
    @Test func killedWritersLoseNothingAcknowledged() throws {
        let dir = NSTemporaryDirectory() + "plinth-crash-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var acked = Set<String>()
        for round in 0..<5 {
            let writers = try (0..<4).map { w -> (Process, Pipe) in
                let p = Process()
                p.executableURL = URL(fileURLWithPath: Self.tool)
                p.arguments = ["crash-writer", dir, "\(round * 10 + w)"]
                let out = Pipe()
                p.standardOutput = out
                try p.run()
                return (p, out)
            }
            usleep(UInt32.random(in: 300_000...900_000))
            for (p, _) in writers { kill(p.processIdentifier, SIGKILL) }
            for (p, out) in writers {
                p.waitUntilExit()
                let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                for line in text.split(separator: "\n") where line.hasPrefix("ack ") {
                    acked.insert(String(line.dropFirst(4)))
                }
            }
            let check = try Self.run(["crash-check", dir])
            let lines = check.split(separator: "\n")
            #expect(lines.first?.hasSuffix("partial 0") == true, "round \(round): \(lines.first ?? "")")
            let present = Set(lines.dropFirst().map { String($0.dropFirst(5)) })
            let lost = acked.subtracting(present)
            #expect(lost.isEmpty, "acknowledged commits lost: \(lost.sorted().prefix(5))")
        }
        #expect(acked.count > 20, "writers made too little progress to prove anything: \(acked.count)")
    }
}
