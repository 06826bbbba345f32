import Testing
import PlinthEncoding

/// A sequence's leases (SequenceState.swift) follow Postgres's
/// nextval_internal: the first value of a sequence not yet called is its
/// last_value, a block stops short of a wrap, limits fail only when not one
/// value is left, and the stored state round-trips.
@Suite struct SequenceStateTests {
    let up = SequenceDefinition(increment: 1, min: 1, max: 10, cycle: false)

    @Test func aNewSequenceStartsAtItsLastValue() throws {
        let l = try up.lease(after: SequenceState(last: 1, isCalled: false), count: 4).get()
        #expect(l == SequenceLease(first: 1, last: 4, count: 4, state: SequenceState(last: 4, isCalled: true)))
        let next = try up.lease(after: l.state, count: 2).get()
        #expect(next.first == 5 && next.last == 6 && next.count == 2)
    }

    @Test func aBlockStopsAtTheLimitAndThenFails() throws {
        let l = try up.lease(after: SequenceState(last: 8, isCalled: true), count: 100).get()
        #expect(l.first == 9 && l.last == 10 && l.count == 2)
        #expect(up.lease(after: l.state, count: 1) == .failure(.reachedMaximum))
        let down = SequenceDefinition(increment: -2, min: -3, max: 3, cycle: false)
        let d = try down.lease(after: SequenceState(last: 3, isCalled: false), count: 10).get()
        #expect(d.first == 3 && d.last == -3 && d.count == 4)
        #expect(down.lease(after: d.state, count: 1) == .failure(.reachedMinimum))
    }

    @Test func aCycleWrapsBetweenBlocksNotInside() throws {
        var def = up
        def.cycle = true
        let l = try def.lease(after: SequenceState(last: 9, isCalled: true), count: 5).get()
        #expect(l.first == 10 && l.last == 10 && l.count == 1)
        let w = try def.lease(after: l.state, count: 3).get()
        #expect(w.first == 1 && w.last == 3)
    }

    @Test func limitsNearTheEdgesOfInt64DoNotOverflow() throws {
        let big = SequenceDefinition(increment: Int64.max, min: Int64.min, max: Int64.max, cycle: false)
        let l = try big.lease(after: SequenceState(last: 0, isCalled: true), count: 3).get()
        #expect(l.first == Int64.max && l.count == 1)
        #expect(big.lease(after: l.state, count: 1) == .failure(.reachedMaximum))
    }

    @Test func statesRoundTripAndJunkIsRefused() {
        for s in [SequenceState(last: -5, isCalled: false), SequenceState(last: Int64.max, isCalled: true)] {
            #expect(SequenceState.decode(s.encoded) == s)
        }
        #expect(SequenceState.decode([]) == nil)
        #expect(SequenceState.decode(Tuple([.int(1), .int(2)]).pack()) == nil)
        #expect(SequenceState.decode(Tuple([.int(1)]).pack()) == nil)
        #expect(SequenceState.decode(Tuple([.string("1"), .int(1)]).pack()) == nil)
    }
}
