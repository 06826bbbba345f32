import Testing
import PlinthAM
import PlinthEncoding
import PlinthStore
import PlinthTxn

/// Sequences shared through the store (Sequences.swift): a sequence's
/// store id commits with its creator, leases never overlap, setval and
/// RESTART set what the next lease starts from, and unused values go back
/// only if no one leased since.
@Suite struct SequenceTests {
    let def = SequenceDefinition(increment: 1, min: 1, max: Int64.max, cycle: false)
    let fresh = SequenceState(last: 1, isCalled: false)

    func created(_ f: SessionFixture, oid: UInt32 = 900) throws -> Int64 {
        try f.inTransaction { _ in try f.session.createSequence(oid: oid, cid: 0, subid: 1) }
        return try #require(try f.session.sequenceID(oid: oid))
    }

    @Test func theStoreIDCommitsWithTheCreator() throws {
        let f = try SessionFixture()
        _ = try f.session.transaction()
        try f.session.createSequence(oid: 901, cid: 0, subid: 1)
        #expect(try f.session.sequenceID(oid: 901) != nil)   // seen by its own transaction
        f.session.abort()
        #expect(try f.session.sequenceID(oid: 901) == nil)
        let id = try created(f)
        try f.inTransaction { _ in try f.session.dropSequence(oid: 900, cid: 0, subid: 1) }
        #expect(try f.session.sequenceID(oid: 900) == nil)
        #expect(try f.session.sequenceState(id: id) == nil)
    }

    @Test func leasesFollowEachOtherAndTheCatalogStandsUntilTheFirst() throws {
        let f = try SessionFixture()
        let id = try created(f)
        let first = try f.session.leaseSequence(id: id, definition: def, local: SequenceState(last: 5, isCalled: false),
                                                count: 3).get()
        #expect(first.first == 5 && first.last == 7)
        // Once the store has a state, a stale catalog no longer counts.
        let second = try f.session.leaseSequence(id: id, definition: def, local: fresh, count: 2).get()
        #expect(second.first == 8 && second.last == 9)
        #expect(try f.session.sequenceState(id: id) == SequenceState(last: 9, isCalled: true))
    }

    @Test func setvalRestartAndForwardOnlyMoves() throws {
        let f = try SessionFixture()
        let id = try created(f)
        try f.session.setSequence(id: id, to: SequenceState(last: 100, isCalled: true))
        #expect(try f.session.leaseSequence(id: id, definition: def, local: fresh, count: 1).get().first == 101)
        try f.session.setSequence(id: id, to: SequenceState(last: 50, isCalled: true), onlyForward: true)
        #expect(try f.session.sequenceState(id: id)?.last == 101)
        try f.session.setSequence(id: id, to: SequenceState(last: 150, isCalled: true), onlyForward: true)
        #expect(try f.session.sequenceState(id: id)?.last == 150)
        try f.inTransaction { _ in try f.session.restartSequence(id: id, cid: 0, subid: 1) }
        #expect(try f.session.leaseSequence(id: id, definition: def, local: fresh, count: 1).get().first == 1)
    }

    @Test func unusedValuesGoBackOnlyIfNoOneLeasedSince() throws {
        let f = try SessionFixture()
        let id = try created(f)
        let a = try f.session.leaseSequence(id: id, definition: def, local: fresh, count: 10).get()
        try f.session.giveBackSequence(id: id, leasedLast: a.last, lastUsed: a.first)
        let b = try f.session.leaseSequence(id: id, definition: def, local: fresh, count: 10).get()
        #expect(b.first == 2)
        let c = try f.session.leaseSequence(id: id, definition: def, local: fresh, count: 10).get()
        try f.session.giveBackSequence(id: id, leasedLast: b.last, lastUsed: b.first)   // c leased since: a gap
        #expect(try f.session.sequenceState(id: id)?.last == c.last)
    }
}
