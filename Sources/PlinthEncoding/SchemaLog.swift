/// One entry of a database's schema log (`Keyspace.Database.schemaLogKey`):
/// a DDL statement as its server ran it, which every other server sharing
/// the store runs against its own catalog. Structure only: the data the
/// statement wrote is in the store already, so the servers that replay it
/// write none (`Session.replaying`).
///
/// The store ids the statement gave new storage, in the order it created
/// it, go with it: the same statement on the same catalog creates storage
/// in the same order, and each server maps its own relfilenode to the id
/// the first server assigned. Since format 2, sequences take store ids
/// too (`sequencesLogged`); replayed entries of format 1 leave theirs local.
public struct SchemaLogEntry: Equatable, Sendable {
    /// The server that ran the statement first.
    public var origin: Int64
    /// The role that ran it (objects it creates are owned by that role).
    public var role: String
    /// The search_path it ran with: its names resolve as they did there.
    public var searchPath: String
    public var statement: String
    public var storeIDs: [Int64]
    /// Whether the sequences the statement created are among `storeIDs`.
    public var sequencesLogged: Bool

    public init(origin: Int64, role: String, searchPath: String, statement: String, storeIDs: [Int64],
                sequencesLogged: Bool = true) {
        self.origin = origin
        self.role = role
        self.searchPath = searchPath
        self.statement = statement
        self.storeIDs = storeIDs
        self.sequencesLogged = sequencesLogged
    }

    /// A tuple: (format, origin, role, search_path, statement, ids...).
    public var encoded: [UInt8] {
        Tuple([.int(sequencesLogged ? 2 : 1), .int(origin), .string(role), .string(searchPath), .string(statement)]
              + storeIDs.map { .int($0) }).pack()
    }

    /// nil when the bytes are not an entry this Plinth reads.
    public static func decode(_ bytes: [UInt8]) -> SchemaLogEntry? {
        guard let t = try? Tuple.unpack(bytes), t.elements.count >= 5,
              case .int(let format) = t.elements[0], format == 1 || format == 2, case .int(let origin) = t.elements[1],
              case .string(let role) = t.elements[2], case .string(let path) = t.elements[3],
              case .string(let statement) = t.elements[4] else { return nil }
        var ids: [Int64] = []
        for e in t.elements.dropFirst(5) {
            guard case .int(let id) = e else { return nil }
            ids.append(id)
        }
        return SchemaLogEntry(origin: origin, role: role, searchPath: path, statement: statement, storeIDs: ids,
                              sequencesLogged: format == 2)
    }
}
