import FuzzSupport
@testable import PlinthLMDB
import PlinthStore

/// The embedded engine's buckets of long keys, as reads and writes decode
/// them.
@_cdecl("FuzzLongKeys_main")
public func fuzzLongKeysMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { bytes in
        try? Bucket.walk(bytes) { s, v in
            precondition(LongKeys.bucketPrefix + s.count <= StoreLimits.keyBytes, "suffix longer than a key allows")
            precondition(v.count <= StoreLimits.valueBytes, "value longer than the store allows")
        }
        if let b = try? Bucket(decoding: bytes) {
            // What decodes encodes back to the same bytes.
            precondition(b.encode() == Array(bytes), "bucket does not round-trip")
        }
    }
}
