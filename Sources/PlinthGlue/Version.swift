import CPlinth

/// The version string reported by `plinth_version()`; static, never freed.
@_cdecl("plinth_swift_version")
public func plinthSwiftVersion() -> UnsafePointer<CChar> {
    return PlinthVersion.cString
}

enum PlinthVersion {
    static let string = "0.1.0"
    nonisolated(unsafe) static let cString: UnsafePointer<CChar> = {
        let bytes = Array(string.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        p.initialize(from: bytes, count: bytes.count)
        return UnsafePointer(p)
    }()
}
