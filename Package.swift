// swift-tools-version:6.0
//
// Plinth: PostgreSQL tables and indexes stored in a FoundationDB-style
// transactional key-value store. The layers of ../DESIGN (docs/design.md) are
// one target each; see README.md for how the shared library is built and
// installed. No external packages: every CI run builds from a clean clone.
import PackageDescription
import Foundation

/// Fuzz targets, one per decoder of store bytes (Fuzz/, scripts/fuzz.sh):
/// built only with PLINTH_FUZZ set, with libFuzzer and AddressSanitizer.
let fuzzTargets: [(name: String, product: String, dependencies: [Target.Dependency])] = [
    ("FuzzTuple", "fuzz-tuple", ["PlinthEncoding"]),
    ("FuzzIndexKey", "fuzz-index-key", ["PlinthEncoding"]),
    ("FuzzRowFormat", "fuzz-row-format", ["PlinthEncoding"]),
    ("FuzzConflictLog", "fuzz-conflict-log", ["PlinthLMDB", "PlinthStore"]),
    ("FuzzLongKeys", "fuzz-long-keys", ["PlinthLMDB", "PlinthStore"]),
]
let fuzzing = ProcessInfo.processInfo.environment["PLINTH_FUZZ"] != nil

let package = Package(
    name: "Plinth",
    products: [
        // The Postgres extension: `make install` copies libplinth.so to
        // $(pg_config --pkglibdir)/plinth.so.
        .library(name: "plinth", type: .dynamic, targets: ["CPlinth", "PlinthGlue"]),
        // Store benchmark and the worker processes of the multi-process tests.
        .executable(name: "plinth-store-tool", targets: ["PlinthStoreTool"]),
    ],
    targets: [
        // 1. C shim: the only C, compiled against the Postgres server headers
        //    (the Makefile passes -I$(pg_config --includedir-server)).
        //    libpq: the "plinth schema" worker replays DDL through a connection
        //    to its own server (schema.c).
        .target(name: "CPlinth", path: "Sources/CPlinth", linkerSettings: [.linkedLibrary("pq")]),
        // 2. Postgres glue: the table/index access methods and transaction
        //    callbacks, called from the shim through @_cdecl entry points.
        .target(name: "PlinthGlue",
                dependencies: ["CPlinth", "PlinthAM", "PlinthTxn", "PlinthEncoding", "PlinthStore"]),
        // 2b. The access methods' logic that needs no Postgres header: the
        //     session, rows, scans, index entries, end-of-statement work.
        //     Unit-tested on the embedded store, without a server.
        .target(name: "PlinthAM",
                dependencies: ["PlinthTxn", "PlinthEncoding", "PlinthStore", "PlinthLMDB", "PlinthFDB"]),
        // 3. Row and key encoding: pure functions.
        .target(name: "PlinthEncoding"),
        // 4. Transaction layer: write buffer, statement visibility, savepoints.
        .target(name: "PlinthTxn", dependencies: ["PlinthStore", "PlinthEncoding"]),
        // 5. Store protocol and its two engines.
        .target(name: "PlinthStore", dependencies: ["PlinthEncoding"]),
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB"),
        .target(name: "PlinthLMDB", dependencies: ["PlinthStore", "CLMDB"]),
        .target(name: "CFDB", path: "Sources/CFDB"),
        .target(name: "PlinthFDB", dependencies: ["PlinthStore", "CFDB"]),

        .executableTarget(name: "PlinthStoreTool", dependencies: ["PlinthEncoding", "PlinthStore", "PlinthLMDB", "PlinthFDB", "CLMDB"]),

        .testTarget(name: "PlinthEncodingTests", dependencies: ["PlinthEncoding"]),
        .testTarget(name: "PlinthStoreTests", dependencies: ["PlinthStore", "PlinthLMDB", "PlinthFDB", "PlinthStoreTool"]),
        .testTarget(name: "PlinthTxnTests", dependencies: ["PlinthTxn", "PlinthStore", "PlinthLMDB", "PlinthEncoding"]),
        .testTarget(name: "PlinthAMTests", dependencies: ["PlinthAM", "PlinthTxn", "PlinthStore", "PlinthLMDB", "PlinthEncoding"]),
    ]
)

if fuzzing {
    package.targets.append(.target(name: "FuzzSupport", path: "Fuzz/FuzzSupport"))
    for t in fuzzTargets {
        package.targets.append(.executableTarget(name: t.name, dependencies: ["FuzzSupport"] + t.dependencies,
                                                 path: "Fuzz/\(t.name)"))
        package.products.append(.executable(name: t.product, targets: [t.name]))
    }
}
