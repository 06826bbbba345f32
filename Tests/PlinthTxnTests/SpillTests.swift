import Foundation
import Testing
import PlinthStore
import PlinthLMDB
import PlinthTxn
import PlinthEncoding

/// A transaction whose write buffer spills to disk must answer every read,
/// and commit, exactly as one that keeps everything in memory: the same
/// random work runs on both, and they are compared as it goes.
@Suite struct SpillTests {
    static func key(_ i: Int) -> Bytes {
        // Every seventh key is longer than LMDB's own key limit (the spill
        // area keeps long keys as the store does).
        let base = b("k" + String(format: "%04d", i))
        return i % 7 == 0 ? base + Bytes(repeating: UInt8(65 + i % 26), count: 700) : base
    }

    static func spilling(_ t: Transaction, threshold: Int) -> Transaction {
        let directory = NSTemporaryDirectory() + "plinth-spill-test-" + UUID().uuidString
        t.buffer.spillThresholdBytes = threshold
        t.buffer.spillFactory = { () throws(StoreError) in try LMDBSpillArea(directory: directory) }
        return t
    }

    static func everything(_ store: LMDBStore) throws -> [String] {
        let t = Transaction(store: store)
        defer { t.abort() }
        return try scanAll(t, .all, "", "\u{7f}")
    }

    func compare(_ a: Transaction, _ b: Transaction, cid: UInt32, keys: Int, rng: inout SplitMix64) throws {
        let views: [Visibility] = [.command(cid), .command(cid + 1), cid > 0 ? .command(cid - 1) : .all, .all]
        for i in 0..<keys {
            let k = Self.key(i)
            for v in views { #expect(try a.get(k, v) == b.get(k, v), "key \(i) \(v)") }
            #expect(try a.getAnyVersion(k) == b.getAnyVersion(k), "any version of key \(i)")
            let la = try a.buffer.latestVersion(k), lb = try b.buffer.latestVersion(k)
            #expect(la?.value == lb?.value && la?.cid == lb?.cid && la?.xid == lb?.xid && la?.subid == lb?.subid,
                    "latest version of key \(i)")
            #expect(try a.buffer.latestReplacedAValue(k) == b.buffer.latestReplacedAValue(k))
        }
        // Scans of random ranges, both ways.
        for _ in 0..<4 {
            let lo = rng.below(keys), hi = lo + rng.below(keys - lo + 1)
            let (begin, end) = (String(decoding: Self.key(lo).prefix(5), as: UTF8.self),
                                String(decoding: Self.key(hi).prefix(5), as: UTF8.self))
            for v in views {
                #expect(try scanAll(a, v, begin, end) == scanAll(b, v, begin, end), "scan \(begin)..<\(end) \(v)")
                #expect(try scanAll(a, v, begin, end, reverse: true) == scanAll(b, v, begin, end, reverse: true))
            }
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func spilledBufferAnswersAsOneInMemory(seed: UInt64) throws {
        let fa = try TxnFixture(), fb = try TxnFixture()
        let keys = 240
        let seeded = (0..<keys).filter { $0 % 3 == 0 }.map { (String(decoding: Self.key($0), as: UTF8.self), "stored\($0)") }
        try fa.seed(seeded)
        try fb.seed(seeded)
        let plain = Transaction(store: fa.store)
        plain.mode = .snapshot
        let spilled = Self.spilling(Transaction(store: fb.store), threshold: 4_000)
        spilled.mode = .snapshot
        var rng = SplitMix64(seed: seed)
        var cid: UInt32 = 1
        var subids: [UInt32] = [WriteBuffer.topSubid]
        var nextSubid: UInt32 = 1
        var freshKeys = 0
        for step in 0..<1_500 {
            let sub = subids.last!
            let xid = 100 + sub
            switch rng.below(100) {
            case 0..<45:
                let k = Self.key(rng.below(keys))
                let v = b("v\(step)") + Bytes(repeating: 1, count: rng.below(300))
                for t in [plain, spilled] { try t.put(k, v, cid: cid, subid: sub, xid: xid) }
            case 45..<55:
                // A new row id: never written before.
                freshKeys += 1
                let k = b("n" + String(format: "%05d", freshKeys))
                for t in [plain, spilled] { try t.put(k, b("fresh\(step)"), cid: cid, subid: sub, fresh: true, xid: xid) }
            case 55..<72:
                let k = Self.key(rng.below(keys))
                let prior = try plain.get(k, .all)
                #expect(try spilled.get(k, .all) == prior)
                for t in [plain, spilled] { try t.delete(k, prior: prior, cid: cid, subid: sub) }
            case 72..<74:
                let lo = rng.below(keys), hi = min(keys, lo + rng.below(12))
                let r = KeyRange(Self.key(lo), Self.key(hi))
                for t in [plain, spilled] where !r.isEmpty { try t.clearRange(r, cid: cid, subid: sub) }
            case 74..<84:
                cid += 1
            case 84..<90:
                nextSubid += 1
                subids.append(nextSubid)
            case 90..<95 where subids.count > 1:
                // ROLLBACK TO SAVEPOINT: the subtransaction and those after
                // it are undone; a new one begins in its place.
                let at = rng.below(subids.count - 1) + 1
                for t in [plain, spilled] { t.rollback(subid: subids[at]) }
                subids.removeSubrange(at...)
                nextSubid += 1
                subids.append(nextSubid)
            case 95..<100 where subids.count > 1:
                // RELEASE SAVEPOINT: its writes go to the parent.
                let at = rng.below(subids.count - 1) + 1
                for t in [plain, spilled] { t.release(subid: subids[at], to: subids[at - 1]) }
                subids.removeSubrange(at...)
            default:
                break
            }
            if step % 150 == 149 { try compare(plain, spilled, cid: cid, keys: keys, rng: &rng) }
        }
        try compare(plain, spilled, cid: cid, keys: keys, rng: &rng)
        #expect(spilled.buffer.spilledKeys > 0, "the test must make the buffer spill")
        #expect(plain.buffer.spilledKeys == 0)
        #expect(plain.estimatedCommitSize == spilled.estimatedCommitSize)
        try plain.commit()
        try spilled.commit()
        #expect(try Self.everything(fa.store) == Self.everything(fb.store))
    }

    @Test func aLoadLeavesMemoryBoundedAndCommitsInSteps() throws {
        let f = try TxnFixture()
        let t = Self.spilling(Transaction(store: f.store), threshold: 1 << 20)
        t.mode = .snapshot
        t.oneStepCommitBytes = 2_000_000
        t.stagedChunkBytes = 500_000
        let value = Bytes(repeating: 7, count: 200)
        var largest = 0
        for i in 0..<40_000 {
            try t.put(b("row" + String(format: "%06d", i)), value, cid: 0, subid: WriteBuffer.topSubid, fresh: true)
            largest = max(largest, t.buffer.memoryBytes)
        }
        #expect(largest < 2 << 20)
        #expect(t.buffer.spilledKeys > 30_000)
        // The load's own statement does not see it; the next one sees all.
        #expect(try scanAll(t, .command(0), "row", "rox").isEmpty)
        #expect(try scanAll(t, .command(1), "row", "rox").count == 40_000)
        try t.commit()
        #expect(t.stepsCommitted == 1)
        #expect(try Self.everything(f.store).count == 40_000)
    }

    /// Loads inside savepoints spill too; RELEASE keeps them, ROLLBACK TO
    /// SAVEPOINT drops them, without walking the spilled keys.
    @Test func loadsInsideSavepointsSpill() throws {
        let f = try TxnFixture()
        let t = Self.spilling(Transaction(store: f.store), threshold: 1 << 20)
        t.mode = .snapshot
        let value = Bytes(repeating: 7, count: 200)
        func load(_ prefix: String, subid: UInt32, cid: UInt32) throws {
            for i in 0..<10_000 {
                try t.put(b(prefix + String(format: "%05d", i)), value, cid: cid, subid: subid, fresh: true)
            }
        }
        let empty = t.estimatedCommitSize
        // Savepoint 2 inside 1 (top): kept, released to the top.
        try load("kept", subid: 2, cid: 0)
        #expect(t.buffer.memoryBytes < 2 << 20)
        #expect(t.buffer.spilledKeys > 5_000)
        t.release(subid: 2, to: WriteBuffer.topSubid)
        let kept = t.estimatedCommitSize
        // Savepoint 3, with 4 inside it: 4 released to 3, then 3 rolled back.
        try load("gone", subid: 3, cid: 1)
        try load("lost", subid: 4, cid: 2)
        t.release(subid: 4, to: 3)
        #expect(try scanAll(t, .command(3), "gone", "gonf").count == 10_000)
        t.rollback(subid: 3)
        #expect(try scanAll(t, .command(3), "gone", "gonf").isEmpty)
        #expect(try scanAll(t, .command(3), "lost", "losu").isEmpty)
        #expect(try t.get(b("gone00042"), .all) == nil)
        #expect(t.estimatedCommitSize == kept && kept > empty)
        // A rolled-back key written again is a new write.
        try t.put(b("gone00042"), b("again"), cid: 3, subid: 5, fresh: true)
        #expect(try t.get(b("gone00042"), .all) == b("again"))
        try t.commit()
        let stored = try Self.everything(f.store)
        #expect(stored.count == 10_001)
        #expect(stored.filter { $0.hasPrefix("gone") }.count == 1)
    }

    @Test func spillAreaIsRemovedWithTheTransaction() throws {
        let f = try TxnFixture()
        let directory = NSTemporaryDirectory() + "plinth-spill-test-" + UUID().uuidString
        do {
            let t = Transaction(store: f.store)
            t.mode = .snapshot
            t.buffer.spillThresholdBytes = 10_000
            t.buffer.spillFactory = { () throws(StoreError) in try LMDBSpillArea(directory: directory) }
            for i in 0..<1_000 { try t.put(b("x\(i)"), b("value \(i)"), cid: 0, subid: WriteBuffer.topSubid) }
            #expect(FileManager.default.fileExists(atPath: directory + "/data.mdb"))
            t.abort()
        }
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func aSpillThatCannotBeMadeIsAnError() throws {
        let f = try TxnFixture()
        let t = Transaction(store: f.store)
        t.mode = .snapshot
        t.buffer.spillThresholdBytes = 10_000
        t.buffer.spillFactory = { () throws(StoreError) in try LMDBSpillArea(directory: "/proc/no-such-place/spill") }
        #expect(throws: StoreError.self) {
            for i in 0..<1_000 { try t.put(b("x\(i)"), b("value \(i)"), cid: 0, subid: WriteBuffer.topSubid) }
        }
    }
}
