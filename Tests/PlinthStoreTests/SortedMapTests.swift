import Testing
import PlinthStore

@Suite struct SortedMapTests {
    struct Rng: RandomNumberGenerator {
        var s: UInt64
        mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s ^ (s >> 29) }
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
        let sortedRef = ref.keys.sorted { compareBytes($0, $1) < 0 }
        var forward: [Bytes] = []
        map.forEach { k, v in forward.append(k); #expect(ref[k] == v) }
        #expect(forward == sortedRef)
        #expect(map.count == ref.count)
        var backward: [Bytes] = []
        var i = map.lastIndex
        while map.isValid(i) { backward.append(map.key(at: i)); i = map.index(before: i) }
        #expect(backward == sortedRef.reversed())
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
