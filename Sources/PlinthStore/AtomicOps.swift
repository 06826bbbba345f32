/// FoundationDB's atomic mutations (API version 510 and later), applied to
/// the value a key holds at commit. Returns the new value, or nil to clear
/// the key. Numeric operands are little-endian and the result has the length
/// of the operand: the existing value is zero-extended or truncated to it.
public func applyAtomic(_ op: MutationType, existing: Bytes?, param: Bytes) -> Bytes? {
    switch op {
    case .add:
        let base = resized(existing ?? [], to: param.count)
        var out = Bytes(repeating: 0, count: param.count)
        var carry: UInt16 = 0
        for i in 0..<param.count {
            let s = UInt16(base[i]) + UInt16(param[i]) + carry
            out[i] = UInt8(truncatingIfNeeded: s)
            carry = s >> 8
        }
        return out
    case .bitAnd:
        guard let existing else { return param }
        let base = resized(existing, to: param.count)
        return zip(base, param).map { $0 & $1 }
    case .bitOr:
        let base = resized(existing ?? [], to: param.count)
        return zip(base, param).map { $0 | $1 }
    case .bitXor:
        let base = resized(existing ?? [], to: param.count)
        return zip(base, param).map { $0 ^ $1 }
    case .appendIfFits:
        let base = existing ?? []
        return base.count + param.count <= StoreLimits.valueBytes ? base + param : base
    case .max:
        guard let existing else { return param }
        let base = resized(existing, to: param.count)
        return compareLittleEndian(base, param) >= 0 ? base : param
    case .min:
        guard let existing else { return param }
        let base = resized(existing, to: param.count)
        return compareLittleEndian(base, param) <= 0 ? base : param
    case .byteMin:
        guard let existing else { return param }
        return compareBytes(existing, param) <= 0 ? existing : param
    case .byteMax:
        guard let existing else { return param }
        return compareBytes(existing, param) >= 0 ? existing : param
    case .compareAndClear:
        guard let existing else { return nil }
        return existing == param ? nil : existing
    }
}

private func resized(_ v: Bytes, to n: Int) -> Bytes {
    if v.count == n { return v }
    if v.count > n { return Bytes(v[0..<n]) }
    return v + Bytes(repeating: 0, count: n - v.count)
}

/// Compares two equal-length little-endian unsigned integers.
private func compareLittleEndian(_ a: Bytes, _ b: Bytes) -> Int {
    var i = a.count - 1
    while i >= 0 {
        if a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        i -= 1
    }
    return 0
}
