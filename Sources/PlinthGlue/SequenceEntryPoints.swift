import CPlinth
import PlinthAM
import PlinthEncoding

// Entry points of sequences shared by the servers of a store (called by
// sequences.c): their store ids, and the leases and settings of values.

@_cdecl("plinth_swift_sequence_create")
public func plinthSwiftSequenceCreate(_ oid: UInt32, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try session.createSequence(oid: oid, cid: cid, subid: subid) }
}

@_cdecl("plinth_swift_sequence_lookup")
public func plinthSwiftSequenceLookup(_ oid: UInt32, _ id: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in id.pointee = try session.sequenceID(oid: oid) ?? 0 }
}

@_cdecl("plinth_swift_sequence_drop")
public func plinthSwiftSequenceDrop(_ oid: UInt32, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try session.dropSequence(oid: oid, cid: cid, subid: subid) }
}

@_cdecl("plinth_swift_sequence_restart")
public func plinthSwiftSequenceRestart(_ id: Int64, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try session.restartSequence(id: id, cid: cid, subid: subid) }
}

@_cdecl("plinth_swift_sequence_state")
public func plinthSwiftSequenceState(_ id: Int64, _ found: UnsafeMutablePointer<Bool>,
                                     _ last: UnsafeMutablePointer<Int64>, _ isCalled: UnsafeMutablePointer<Bool>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let s = try session.sequenceState(id: id)
        found.pointee = s != nil
        last.pointee = s?.last ?? 0
        isCalled.pointee = s?.isCalled ?? false
    }
}

@_cdecl("plinth_swift_sequence_lease")
public func plinthSwiftSequenceLease(_ id: Int64, _ d: UnsafePointer<PlinthSequenceDefinition>,
                                     _ localLast: Int64, _ localIsCalled: Bool, _ count: Int64,
                                     _ out: UnsafeMutablePointer<PlinthSequenceLease>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let def = SequenceDefinition(increment: d.pointee.increment, min: d.pointee.min, max: d.pointee.max,
                                     cycle: d.pointee.cycle)
        switch try session.leaseSequence(id: id, definition: def, local: SequenceState(last: localLast, isCalled: localIsCalled),
                                         count: count) {
        case .success(let l):
            out.pointee = PlinthSequenceLease(first: l.first, last: l.last, count: l.count, limit: Int32(PLINTH_SEQUENCE_OK.rawValue))
        case .failure(let limit):
            let code = limit == .reachedMaximum ? PLINTH_SEQUENCE_REACHED_MAXIMUM : PLINTH_SEQUENCE_REACHED_MINIMUM
            out.pointee = PlinthSequenceLease(first: 0, last: 0, count: 0, limit: Int32(code.rawValue))
        }
    }
}

@_cdecl("plinth_swift_sequence_set")
public func plinthSwiftSequenceSet(_ id: Int64, _ last: Int64, _ isCalled: Bool, _ onlyForward: Bool,
                                   _ ascending: Bool) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        try session.setSequence(id: id, to: SequenceState(last: last, isCalled: isCalled), onlyForward: onlyForward,
                                ascending: ascending)
    }
}

@_cdecl("plinth_swift_sequence_give_back")
public func plinthSwiftSequenceGiveBack(_ id: Int64, _ leasedLast: Int64, _ lastUsed: Int64) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try session.giveBackSequence(id: id, leasedLast: leasedLast, lastUsed: lastUsed) }
}
