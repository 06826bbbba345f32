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
/// Since format 3, the entry names the database log entry its server had
/// reached (`databaseLogPosition`): a server replays it only once it has
/// applied that one too, so that a database copied from a template gets
/// the template's schema as of the copy, on every server.
/// Since format 4, it carries the portable ids of the pg_type and pg_enum
/// rows the statement created (`typeIDs`, types then enum labels, each in
/// OID order): values in the store name those by portable id, which each
/// server maps to its own OIDs (portable.c).
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
    /// The last entry of the store's database log when this one was logged.
    public var databaseLogPosition: Int64
    /// Portable ids of the catalog rows the statement created (nil: an
    /// entry of format 3 or older, whose rows stay unmapped everywhere).
    public var typeIDs: [Int64]?

    public init(origin: Int64, role: String, searchPath: String, statement: String, storeIDs: [Int64],
                sequencesLogged: Bool = true, databaseLogPosition: Int64 = 0, typeIDs: [Int64]? = []) {
        self.origin = origin
        self.role = role
        self.searchPath = searchPath
        self.statement = statement
        self.storeIDs = storeIDs
        self.sequencesLogged = sequencesLogged
        self.databaseLogPosition = sequencesLogged ? databaseLogPosition : 0
        self.typeIDs = sequencesLogged ? typeIDs : nil
    }

    /// A tuple: (format, origin, role, search_path, statement,
    /// [database log position, since format 3,] [(type ids...), since
    /// format 4,] ids...).
    public var encoded: [UInt8] {
        let head: [TupleElement] = [.int(origin), .string(role), .string(searchPath), .string(statement)]
        let ids = storeIDs.map { TupleElement.int($0) }
        if !sequencesLogged { return Tuple([.int(1)] + head + ids).pack() }
        guard let typeIDs else { return Tuple([.int(3)] + head + [.int(databaseLogPosition)] + ids).pack() }
        return Tuple([.int(4)] + head + [.int(databaseLogPosition), .tuple(typeIDs.map { .int($0) })] + ids).pack()
    }

    /// nil when the bytes are not an entry this Plinth reads.
    public static func decode(_ bytes: [UInt8]) -> SchemaLogEntry? {
        guard let t = try? Tuple.unpack(bytes), t.elements.count >= 5,
              case .int(let format) = t.elements[0], (1...4).contains(format), case .int(let origin) = t.elements[1],
              case .string(let role) = t.elements[2], case .string(let path) = t.elements[3],
              case .string(let statement) = t.elements[4] else { return nil }
        var position: Int64 = 0
        if format >= 3 {
            guard t.elements.count >= 6, case .int(let p) = t.elements[5] else { return nil }
            position = p
        }
        var typeIDs: [Int64]?
        if format == 4 {
            guard t.elements.count >= 7, case .tuple(let nested) = t.elements[6],
                  let types = ints(nested) else { return nil }
            typeIDs = types
        }
        guard let ids = ints(t.elements.dropFirst(format == 4 ? 7 : format == 3 ? 6 : 5)) else { return nil }
        return SchemaLogEntry(origin: origin, role: role, searchPath: path, statement: statement, storeIDs: ids,
                              sequencesLogged: format >= 2, databaseLogPosition: position, typeIDs: typeIDs)
    }

    /// The integers of a run of elements; nil when one is not an integer.
    private static func ints<C: Collection<TupleElement>>(_ elements: C) -> [Int64]? {
        var out: [Int64] = []
        for e in elements {
            guard case .int(let v) = e else { return nil }
            out.append(v)
        }
        return out
    }
}

/// Whether a database has the extension on the servers sharing it
/// (`Keyspace.Database.extensionKey`), and the schema log entry a server
/// that creates it starts after: 0, or the last DROP EXTENSION plinth
/// (the entries before it are of objects that went with it).
public struct ExtensionState: Equatable, Sendable {
    public var created: Bool
    public var start: Int64

    public init(created: Bool, start: Int64) {
        self.created = created
        self.start = start
    }

    public var encoded: [UInt8] { Tuple([.int(created ? 1 : 0), .int(start)]).pack() }

    public static func decode(_ bytes: [UInt8]) -> ExtensionState? {
        guard let t = try? Tuple.unpack(bytes), t.elements.count == 2, case .int(let c) = t.elements[0], c == 0 || c == 1,
              case .int(let start) = t.elements[1], start >= 0 else { return nil }
        return ExtensionState(created: c == 1, start: start)
    }
}
