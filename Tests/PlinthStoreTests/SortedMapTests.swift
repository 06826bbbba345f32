import Testing
import PlinthStore

@Suite struct SortedMapTests {
    struct Rng: RandomNumberGenerator {
        var s: UInt64
        mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s ^ (s >> 29) }
    }

    /// Walks the map forward and backward against the reference; returns
    /// the reference's keys in order.
    @discardableResult
    static func expectSameWalks(_ map: SortedMap<Int>, _ ref: [Bytes: Int]) -> [Bytes] {
        let sortedRef = ref.keys.sorted { compareBytes($0, $1) < 0 }
        var forward: [Bytes] = []
        map.forEach { k, v in forward.append(k); #expect(ref[k] == v) }
        #expect(forward == sortedRef)
        #expect(map.count == ref.count)
        var backward: [Bytes] = []
        var i = map.lastIndex
        while map.isValid(i) { backward.append(map.key(at: i)); i = map.index(before: i) }
        #expect(backward == sortedRef.reversed())
        return sortedRef
    }

    /// Compaction, at any size (empty, one leaf, several levels) and at
    /// random moments, keeps every entry and every walk as they were, and
    /// the map keeps working afterwards.
    @Test(arguments: [0, 1, 40, 48, 49, 3_000, 40_000])
    func compactionKeepsEverything(size: Int) {
        var rng = Rng(s: UInt64(size) + 7)
        let map = SortedMap<Int>()
        var ref: [Bytes: Int] = [:]
        func key(_ i: Int) -> Bytes { withUnsafeBytes(of: UInt32(i).bigEndian) { Bytes($0) } }
        for i in 0..<size { map.set(key(i), i); ref[key(i)] = i }
        // Remove most, leaving empty and sparse leaves.
        for i in 0..<size where Int.random(in: 0..<10, using: &rng) < 8 { _ = map.remove(key(i)); ref[key(i)] = nil }
        for round in 0..<3 {
            map.compact()
            let sortedRef = Self.expectSameWalks(map, ref)
            for _ in 0..<200 {
                let probe = key(Int.random(in: 0...(size + 1), using: &rng))
                let ge = map.index(atOrAfter: probe)
                #expect((map.isValid(ge) ? map.key(at: ge) : nil) == sortedRef.first { compareBytes($0, probe) >= 0 })
                let lt = map.index(before: probe)
                #expect((map.isValid(lt) ? map.key(at: lt) : nil) == sortedRef.last { compareBytes($0, probe) < 0 })
                #expect(map[probe] == ref[probe])
            }
            // Inserts and removals after compaction split and empty leaves again.
            for _ in 0..<(size / 2 + 5) {
                let k = key(Int.random(in: 0...(size + 100), using: &rng))
                if Bool.random(using: &rng) { map.set(k, round); ref[k] = round } else { #expect(map.remove(k) == ref.removeValue(forKey: k)) }
            }
        }
    }

    @Test func matchesAReferenceUnderRandomOperations() {
        var rng = Rng(s: 42)
        let map = SortedMap<Int>()
        var ref: [Bytes: Int] = [:]
        for step in 0..<20_000 {
            let len = Int.random(in: 0...4, using: &rng)
            let k = (0..<len).map { _ in UInt8.random(in: 0...3, using: &rng) }
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<6: map.set(k, step); ref[k] = step
            case 6..<8: #expect(map.remove(k) == ref.removeValue(forKey: k))
            default: #expect(map[k] == ref[k])
            }
        }
        let sortedRef = Self.expectSameWalks(map, ref)
        // Bounds.
        for probe in [[], [1], [1, 2], [3, 3, 3, 3, 3]] as [Bytes] {
            let ge = map.index(atOrAfter: probe)
            let expectGE = sortedRef.first { compareBytes($0, probe) >= 0 }
            #expect((map.isValid(ge) ? map.key(at: ge) : nil) == expectGE)
            let lt = map.index(before: probe)
            let expectLT = sortedRef.last { compareBytes($0, probe) < 0 }
            #expect((map.isValid(lt) ? map.key(at: lt) : nil) == expectLT)
        }
        map.removeAll { _, v in v % 2 == 0 }
        #expect(map.count == ref.values.filter { $0 % 2 != 0 }.count)
    }
}
