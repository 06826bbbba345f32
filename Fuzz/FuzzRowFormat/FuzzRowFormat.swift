import FuzzSupport
import PlinthEncoding

/// Stored row values: a value is parsed; a split header's chunks are taken
/// from the rest of the input and checked as a read assembles them, into a
/// buffer of the size the header claims (ASan catches any write past it).
/// Stored integers too.
@_cdecl("FuzzRowFormat_main")
public func fuzzRowFormatMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { input in
        _ = StoredInt.decode(Bytes(input))
        let cut = input.count >= 13 ? 13 : input.count
        let value = UnsafeRawBufferPointer(rebasing: input[0..<cut])
        switch RowFormat.parse(input) {
        case .inline?:
            precondition(input.count >= RowFormat.inlineHeaderBytes, "short inline value accepted")
        default:
            break
        }
        guard case .split(let h)? = RowFormat.parse(value) else { return }
        precondition(h.total <= RowFormat.maxTupleBytes && h.chunks == RowFormat.chunkCount(forLength: h.total),
                     "split header accepted with an impossible size")
        // The rest of the input as chunks of up to 200 bytes each (a real
        // read's chunks would be 99,000): whatever they are, a read only
        // copies what chunkPayload accepts, within the tuple.
        let tuple = UnsafeMutableRawBufferPointer.allocate(byteCount: h.total, alignment: 8)
        defer { tuple.deallocate() }
        var o = cut, i = 0
        while o < input.count, i < h.chunks {
            let n = min(Int(input[o]) + 1, input.count - o)
            let chunk = UnsafeRawBufferPointer(rebasing: input[o..<(o + n)])
            if let (offset, length) = RowFormat.chunkPayload(chunk, index: i, of: h) {
                precondition(offset >= 0 && offset + length <= h.total, "chunk placed outside the tuple")
                (tuple.baseAddress! + offset).copyMemory(from: chunk.baseAddress! + 1, byteCount: length)
            }
            o += n
            i += 1
        }
        _ = RowFormat.checkTupleHeader(UnsafeRawBufferPointer(tuple))
    }
}
