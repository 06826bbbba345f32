/// An ordered map from byte-string keys to values: a B+ tree whose leaves are
/// linked both ways, so that ranges can be walked forward and backward from
/// any key. Used for write buffers that must be merged, in key order, with
/// range reads from the store (read-your-writes).
///
/// Removal does not rebalance: leaves may become sparse or empty, which costs
/// a little space and never correctness (write buffers live for one
/// transaction); `compact` rebuilds the tree after many removals.
public final class SortedMap<Value> {
    @usableFromInline
    final class Node {
        var keys: [Bytes] = []
        var values: [Value] = []          // leaves
        var children: [Node] = []         // inner nodes: keys[i] is the smallest key under children[i + 1]
        var next: Node?                   // leaves: the next leaf
        weak var prev: Node?              // leaves: the previous leaf
        let isLeaf: Bool
        init(isLeaf: Bool) { self.isLeaf = isLeaf }
    }

    static var fanout: Int { 64 }

    private var root: Node
    private var first: Node
    public private(set) var count = 0

    public init() {
        root = Node(isLeaf: true)
        first = root
    }

    public var isEmpty: Bool { count == 0 }

    // MARK: search

    /// First index i with keys[i] >= key.
    @inline(__always)
    private static func lowerBound(_ keys: [Bytes], _ key: Bytes) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compareBytes(keys[mid], key) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// First index i with keys[i] > key.
    @inline(__always)
    private static func upperBound(_ keys: [Bytes], _ key: Bytes) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compareBytes(keys[mid], key) <= 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private func leaf(for key: Bytes) -> Node {
        var node = root
        while !node.isLeaf { node = node.children[Self.upperBound(node.keys, key)] }
        return node
    }

    public subscript(key: Bytes) -> Value? {
        let l = leaf(for: key)
        let i = Self.lowerBound(l.keys, key)
        return i < l.keys.count && compareBytes(l.keys[i], key) == 0 ? l.values[i] : nil
    }

    // MARK: update

    /// Inserts or changes the value of `key`: `body` gets the current value
    /// (nil if absent) and leaves the new one (nil removes the key).
    public func update(_ key: Bytes, _ body: (inout Value?) -> Void) {
        if let (sep, right) = update(root, key, body) {
            let newRoot = Node(isLeaf: false)
            newRoot.keys = [sep]
            newRoot.children = [root, right]
            root = newRoot
        }
    }

    public func set(_ key: Bytes, _ value: Value) { update(key) { $0 = value } }

    @discardableResult
    public func remove(_ key: Bytes) -> Value? {
        var old: Value?
        update(key) { v in old = v; v = nil }
        return old
    }

    /// Returns the separator and new right sibling when `node` split.
    private func update(_ node: Node, _ key: Bytes, _ body: (inout Value?) -> Void) -> (Bytes, Node)? {
        if node.isLeaf {
            let i = Self.lowerBound(node.keys, key)
            let present = i < node.keys.count && compareBytes(node.keys[i], key) == 0
            var v: Value? = present ? node.values[i] : nil
            body(&v)
            switch (present, v) {
            case (true, .some(let nv)):
                node.values[i] = nv
                return nil
            case (true, .none):
                node.keys.remove(at: i)
                node.values.remove(at: i)
                count -= 1
                return nil
            case (false, .none):
                return nil
            case (false, .some(let nv)):
                node.keys.insert(key, at: i)
                node.values.insert(nv, at: i)
                count += 1
                return node.keys.count > Self.fanout ? splitLeaf(node) : nil
            }
        }
        let ci = Self.upperBound(node.keys, key)
        guard let (sep, right) = update(node.children[ci], key, body) else { return nil }
        node.keys.insert(sep, at: ci)
        node.children.insert(right, at: ci + 1)
        return node.children.count > Self.fanout ? splitInner(node) : nil
    }

    private func splitLeaf(_ node: Node) -> (Bytes, Node) {
        let mid = node.keys.count / 2
        let right = Node(isLeaf: true)
        right.keys = Array(node.keys[mid...])
        right.values = Array(node.values[mid...])
        node.keys.removeSubrange(mid...)
        node.values.removeSubrange(mid...)
        right.next = node.next
        right.next?.prev = right
        right.prev = node
        node.next = right
        return (right.keys[0], right)
    }

    private func splitInner(_ node: Node) -> (Bytes, Node) {
        // children: c0 k0 c1 k1 ... ; move the upper half right, push the middle key up.
        let mid = node.keys.count / 2
        let sep = node.keys[mid]
        let right = Node(isLeaf: false)
        right.keys = Array(node.keys[(mid + 1)...])
        right.children = Array(node.children[(mid + 1)...])
        node.keys.removeSubrange(mid...)
        node.children.removeSubrange((mid + 1)...)
        return (sep, right)
    }

    /// Removes every entry for which `shouldRemove` is true.
    public func removeAll(where shouldRemove: (Bytes, Value) -> Bool) {
        var node: Node? = first
        while let l = node {
            var i = 0
            while i < l.keys.count {
                if shouldRemove(l.keys[i], l.values[i]) {
                    l.keys.remove(at: i)
                    l.values.remove(at: i)
                    count -= 1
                } else {
                    i += 1
                }
            }
            node = l.next
        }
    }

    /// Changes values in place, in key order.
    public func mutateAll(_ body: (Bytes, inout Value) -> Void) {
        var node: Node? = first
        while let l = node {
            for i in l.keys.indices { body(l.keys[i], &l.values[i]) }
            node = l.next
        }
    }

    public func removeAll() {
        root = Node(isLeaf: true)
        first = root
        count = 0
    }

    /// Rebuilds the tree from its entries, leaves three-quarters full: after
    /// many removals (which leave leaves sparse or empty, and every walk
    /// past an empty leaf costs a step) the map is as compact as if its
    /// entries had just been inserted. O(count).
    public func compact() {
        var keys: [Bytes] = [], values: [Value] = []
        keys.reserveCapacity(count)
        values.reserveCapacity(count)
        var node: Node? = first
        while let l = node {
            keys.append(contentsOf: l.keys)
            values.append(contentsOf: l.values)
            node = l.next
        }
        let fill = Self.fanout * 3 / 4
        var level: [Node] = []
        var mins: [Bytes] = []   // the smallest key under each node of `level`
        var i = 0
        repeat {
            let leaf = Node(isLeaf: true)
            let end = min(i + fill, keys.count)
            leaf.keys = Array(keys[i..<end])
            leaf.values = Array(values[i..<end])
            if let last = level.last {
                last.next = leaf
                leaf.prev = last
            }
            level.append(leaf)
            mins.append(leaf.keys.first ?? [])
            i = end
        } while i < keys.count
        first = level[0]
        while level.count > 1 {
            var up: [Node] = [], upMins: [Bytes] = []
            var j = 0
            while j < level.count {
                let end = min(j + fill, level.count)
                let inner = Node(isLeaf: false)
                inner.children = Array(level[j..<end])
                inner.keys = Array(mins[(j + 1)..<end])
                up.append(inner)
                upMins.append(mins[j])
                j = end
            }
            level = up
            mins = upMins
        }
        root = level[0]
    }

    // MARK: ordered walks

    /// A position in key order; invalid once the map is changed.
    public struct Index {
        @usableFromInline let leaf: Node?
        @usableFromInline let slot: Int
    }

    /// The first entry with key >= `key` (or > with `strictly`).
    public func index(atOrAfter key: Bytes, strictly: Bool = false) -> Index {
        let l = leaf(for: key)
        let i = strictly ? Self.upperBound(l.keys, key) : Self.lowerBound(l.keys, key)
        return normalizeForward(l, i)
    }

    /// The last entry with key < `key` (or <= with `orEqual`).
    public func index(before key: Bytes, orEqual: Bool = false) -> Index {
        let l = leaf(for: key)
        let i = orEqual ? Self.upperBound(l.keys, key) : Self.lowerBound(l.keys, key)
        return normalizeBackward(l, i - 1)
    }

    public var startIndex: Index { normalizeForward(first, 0) }

    public var lastIndex: Index {
        var node = root
        while !node.isLeaf { node = node.children[node.children.count - 1] }
        return normalizeBackward(node, node.keys.count - 1)
    }

    private func normalizeForward(_ leaf: Node, _ i: Int) -> Index {
        var l: Node? = leaf, i = i
        while let n = l, i >= n.keys.count { l = n.next; i = 0 }
        return Index(leaf: l, slot: i)
    }

    private func normalizeBackward(_ leaf: Node, _ i: Int) -> Index {
        var l: Node? = leaf, i = i
        while let n = l, i < 0 {
            l = n.prev
            i = (l?.keys.count ?? 0) - 1
        }
        return Index(leaf: l, slot: i)
    }

    public func isValid(_ index: Index) -> Bool { index.leaf != nil }
    public func key(at index: Index) -> Bytes { index.leaf!.keys[index.slot] }
    public func value(at index: Index) -> Value { index.leaf!.values[index.slot] }
    public func setValue(_ value: Value, at index: Index) { index.leaf!.values[index.slot] = value }

    public func index(after index: Index) -> Index { normalizeForward(index.leaf!, index.slot + 1) }
    public func index(before index: Index) -> Index { normalizeBackward(index.leaf!, index.slot - 1) }

    /// Every entry with begin <= key < end, in key order.
    public func forEach(from begin: Bytes, to end: Bytes?, _ body: (Bytes, Value) throws -> Void) rethrows {
        var i = index(atOrAfter: begin)
        while isValid(i) {
            let k = key(at: i)
            if let end, compareBytes(k, end) >= 0 { break }
            try body(k, value(at: i))
            i = index(after: i)
        }
    }

    public func forEach(_ body: (Bytes, Value) throws -> Void) rethrows {
        var i = startIndex
        while isValid(i) {
            try body(key(at: i), value(at: i))
            i = index(after: i)
        }
    }
}
