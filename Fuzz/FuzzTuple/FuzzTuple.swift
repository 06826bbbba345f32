import FuzzSupport
import PlinthEncoding

/// The tuple layer's decoders on arbitrary bytes: a whole tuple, element by
/// element, and the typed fast paths at every offset.
@_cdecl("FuzzTuple_main")
public func fuzzTupleMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { bytes in
        if let t = try? Tuple.unpack(bytes) {
            // Decoders accept non-minimal encodings (as FoundationDB's do);
            // what decodes encodes to a tuple that decodes to itself.
            precondition((try? Tuple.unpack(t.pack())) == t, "tuple does not round-trip")
        }
        var o = 0
        while o < bytes.count, let next = try? TupleDecoder.skipElement(bytes, at: o) {
            precondition(next > o && next <= bytes.count, "skipElement went nowhere or past the end")
            _ = try? TupleDecoder.decodeElement(bytes, at: o)
            o = next
        }
        for i in 0..<min(bytes.count, 64) {
            _ = try? TupleDecoder.decodeInt(bytes, at: i)
            _ = try? TupleDecoder.decodeUInt(bytes, at: i)
        }
    }
}
