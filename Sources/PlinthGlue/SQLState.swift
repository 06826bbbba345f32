/// A Postgres SQLSTATE: five characters, stable for clients and ORMs.
struct SQLState: Equatable, Sendable {
    let code: String
    init(_ code: String) { self.code = code }

    static let internalError = SQLState("XX000")
    static let serializationFailure = SQLState("40001")
    static let programLimitExceeded = SQLState("54000")
    static let featureNotSupported = SQLState("0A000")
    static let uniqueViolation = SQLState("23505")
    static let objectNotInPrerequisiteState = SQLState("55000")
    static let connectionFailure = SQLState("08006")
    static let undefinedFile = SQLState("58P01")
    static let ioError = SQLState("58030")
    static let queryCanceled = SQLState("57014")
    static let invalidParameterValue = SQLState("22023")
    static let outOfMemory = SQLState("53200")
    static let diskFull = SQLState("53100")
    static let dataCorrupted = SQLState("XX001")
    static let transactionTooOld = SQLState("72000")   // snapshot_too_old: the class Postgres uses for an expired snapshot
}
