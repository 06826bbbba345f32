/// One entry of the store-wide database log (`Keyspace.databaseLogKey`):
/// CREATE, DROP, RENAME or ALTER DATABASE as a server ran it, which every
/// other server sharing the store runs against its own catalog. Databases
/// are shared by name; the statement makes the name exist (or go) on each
/// server, and the entry's fields let each one do so idempotently, since a
/// server that crashed between its catalog's commit and recording its
/// position runs an entry again.
public struct DatabaseLogEntry: Equatable, Sendable {
    public enum Kind: Int64, Sendable {
        case create = 1
        case drop = 2
        case rename = 3
        /// ALTER DATABASE ... SET / OWNER TO / CONNECTION LIMIT and the like.
        case alter = 4
    }

    public var kind: Kind
    /// The server that ran the statement first.
    public var origin: Int64
    /// The role that ran it (a new database belongs to it).
    public var role: String
    public var statement: String
    /// The database the statement is about (a rename's old name).
    public var name: String
    /// CREATE: the template's name; RENAME: the new name.
    public var other: String
    /// CREATE: the new database's store id, which every server maps its
    /// own database of that name to.
    public var databaseID: Int64
    /// CREATE from a template the store has: the template's schema log
    /// entry its catalog was copied at. A server replaying the CREATE
    /// brings its template to that entry first, so that its copy has the
    /// same schema as the first server's. 0: none.
    public var templatePosition: Int64

    public init(kind: Kind, origin: Int64, role: String, statement: String, name: String, other: String = "",
                databaseID: Int64 = 0, templatePosition: Int64 = 0) {
        self.kind = kind
        self.origin = origin
        self.role = role
        self.statement = statement
        self.name = name
        self.other = other
        self.databaseID = databaseID
        self.templatePosition = templatePosition
    }

    /// A tuple: (format 1, kind, origin, role, statement, name, other,
    /// database id, template position).
    public var encoded: [UInt8] {
        Tuple([.int(1), .int(kind.rawValue), .int(origin), .string(role), .string(statement), .string(name),
               .string(other), .int(databaseID), .int(templatePosition)]).pack()
    }

    /// nil when the bytes are not an entry this Plinth reads.
    public static func decode(_ bytes: [UInt8]) -> DatabaseLogEntry? {
        guard let t = try? Tuple.unpack(bytes), t.elements.count == 9,
              case .int(1) = t.elements[0], case .int(let k) = t.elements[1], let kind = Kind(rawValue: k),
              case .int(let origin) = t.elements[2], case .string(let role) = t.elements[3],
              case .string(let statement) = t.elements[4], case .string(let name) = t.elements[5],
              case .string(let other) = t.elements[6], case .int(let id) = t.elements[7],
              case .int(let position) = t.elements[8] else { return nil }
        return DatabaseLogEntry(kind: kind, origin: origin, role: role, statement: statement, name: name, other: other,
                                databaseID: id, templatePosition: position)
    }
}
