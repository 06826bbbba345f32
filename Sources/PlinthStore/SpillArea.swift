/// Where a transaction's buffered writes go when they outgrow the memory
/// they may use (`WriteBuffer.spillThresholdBytes`): an ordered map of the
/// backend's own, in a temporary file on local disk, gone when the
/// transaction ends. Nothing in it is shared or durable.
public protocol SpillArea: AnyObject {
    /// Sets each key to its value (a key set before is replaced).
    func put(_ items: [(key: Bytes, value: Bytes)]) throws(StoreError)
    func get(_ key: Bytes) throws(StoreError) -> Bytes?
    /// The first key of `range` after `after` (from the range's begin when
    /// nil), or the last one before it when `reverse`.
    func nextKey(in range: KeyRange, after: Bytes?, reverse: Bool) throws(StoreError) -> Bytes?
    /// Every entry, in key order.
    func forEach(_ body: (Bytes, Bytes) throws(StoreError) -> Void) throws(StoreError)
    /// Keys put so far (a key put twice counts twice): zero means empty.
    var puts: Int { get }
}
