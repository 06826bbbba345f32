import FuzzSupport
import PlinthEncoding

/// Decoders of keys Plinth reads back from the store: index entries (column
/// spans and row ids), row keys, statistics keys, and the index tuples
/// stored as entries' values. The first byte chooses a prefix length and a
/// column count.
@_cdecl("FuzzIndexKey_main")
public func fuzzIndexKeyMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { input in
        guard let first = input.first else { return }
        let key = UnsafeRawBufferPointer(rebasing: input[1...])
        let prefix = Int(first & 0x1F) % (key.count + 1)
        let columns = Int(first >> 5) + 1
        if let spans = IndexKey.columnSpans(key, from: prefix, count: columns) {
            precondition(spans.count == columns, "wrong number of spans")
            var o = prefix
            for s in spans {
                precondition(s.lowerBound == o && s.upperBound <= key.count, "span out of order or past the end")
                o = s.upperBound
            }
        }
        _ = Keyspace.rowID(fromKey: key, prefixLength: prefix)
        _ = Keyspace.statsField(fromKey: key, prefixLength: prefix)
        _ = IndexTupleFormat.check(key)
    }
}
