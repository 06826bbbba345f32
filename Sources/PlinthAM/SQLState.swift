/// A Postgres SQLSTATE: five characters, stable for clients and ORMs.
public struct SQLState: Equatable, Sendable {
    public let code: String
    public init(_ code: String) { self.code = code }

    public static let internalError = SQLState("XX000")
    public static let serializationFailure = SQLState("40001")
    public static let programLimitExceeded = SQLState("54000")
    public static let featureNotSupported = SQLState("0A000")
    public static let uniqueViolation = SQLState("23505")
    public static let duplicateDatabase = SQLState("42P04")
    public static let objectNotInPrerequisiteState = SQLState("55000")
    public static let connectionFailure = SQLState("08006")
    public static let undefinedFile = SQLState("58P01")
    public static let ioError = SQLState("58030")
    public static let queryCanceled = SQLState("57014")
    public static let crashShutdown = SQLState("57P02")
    public static let invalidParameterValue = SQLState("22023")
    public static let outOfMemory = SQLState("53200")
    public static let diskFull = SQLState("53100")
    public static let dataCorrupted = SQLState("XX001")
    public static let transactionTooOld = SQLState("72000")   // snapshot_too_old: the class Postgres uses for an expired snapshot
}

/// An error on its way to Postgres: raised by the C entry point as an
/// ordinary `ereport(ERROR)` once the Swift frames have returned.
public struct PlinthError: Error {
    public var sqlstate: SQLState
    public var message: String
    public var detail: String?
    public var hint: String?

    public init(sqlstate: SQLState, message: String, detail: String? = nil, hint: String? = nil) {
        self.sqlstate = sqlstate
        self.message = message
        self.detail = detail
        self.hint = hint
    }

    /// A Postgres error was caught by `plinth_pg_try` and is waiting in the
    /// shim; raising it needs nothing from Swift.
    public static let postgresErrorPending = PlinthError(sqlstate: .internalError, message: "")
    public var isPostgresErrorPending: Bool { message.isEmpty && sqlstate == .internalError }
}
