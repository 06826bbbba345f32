// The driver of every fuzz target (scripts/fuzz.sh): libFuzzer's own loop,
// started from the target's main with the body it runs on each input.
// Built only with PLINTH_FUZZ set and -sanitize=fuzzer,address.

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                                 _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                                 _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

nonisolated(unsafe) private var target: ((UnsafeRawBufferPointer) -> Void)?

/// libFuzzer's entry for each input. Its own main (linked whole with the
/// runtime) refers to it; the target's main runs instead and sets `target`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    target?(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// Runs libFuzzer with `body` as the target: each input is handed to it as
/// bytes. A trap, an out-of-bounds access or a leak is a finding.
public func runFuzzer(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                      _ body: @escaping (UnsafeRawBufferPointer) -> Void) -> Int32 {
    target = body
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v) { data, size in fuzzerTestOneInput(data, size) }
}
