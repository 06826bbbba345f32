import FuzzSupport
@testable import PlinthLMDB
import PlinthStore

/// The embedded engine's write log entries (its conflict history), as the
/// resolver and the pruner read them.
@_cdecl("FuzzConflictLog_main")
public func fuzzConflictLogMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { bytes in
        _ = try? LogEntry.walkRanges(bytes) { r in _ = r.isEmpty }
        try? LogEntry.walkPoints(bytes) { p in _ = p.count }
    }
}
