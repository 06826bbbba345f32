import CLMDB
import PlinthStore
#if canImport(Glibc)
import Glibc
#endif

/// Plain LMDB, for the benchmark's baseline: the same key-value work without
/// the store's transaction layer (no conflict checks, no read-your-writes).
final class RawLMDB {
    let env: OpaquePointer
    var dbi: MDB_dbi = 0

    init(_ dir: String, durable: Bool) {
        var e: OpaquePointer?
        mdb_env_create(&e)
        env = e!
        mdb_env_set_mapsize(env, 8 << 30)
        mdb_env_set_maxdbs(env, 2)
        mdb_env_set_maxreaders(env, 1024)
        mkdir(dir, 0o700)
        let flags = UInt32(MDB_NOTLS) | (durable ? 0 : UInt32(MDB_NOSYNC))
        guard mdb_env_open(env, dir, flags, 0o600) == 0 else { fatalError("raw open \(dir)") }
        var t: OpaquePointer?
        mdb_txn_begin(env, nil, 0, &t)
        mdb_dbi_open(t, "data", UInt32(MDB_CREATE), &dbi)
        mdb_txn_commit(t)
    }

    struct Txn {
        let t: OpaquePointer
        let dbi: MDB_dbi
        func get(_ k: Bytes) -> UnsafeRawBufferPointer? {
            k.withUnsafeBytes { kb in
                var key = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
                var v = MDB_val()
                return mdb_get(t, dbi, &key, &v) == 0 ? UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size) : nil
            }
        }
        func put(_ k: Bytes, _ value: Bytes) {
            k.withUnsafeBytes { kb in
                value.withUnsafeBytes { vb in
                    var key = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
                    var v = MDB_val(mv_size: vb.count, mv_data: UnsafeMutableRawPointer(mutating: vb.baseAddress))
                    _ = mdb_put(t, dbi, &key, &v, 0)
                }
            }
        }
        /// Copies [begin, end) into one batch, as the store's range read does.
        func range(_ begin: Bytes, _ end: Bytes) -> KVBatch {
            var out = KVBatch()
            var c: OpaquePointer?
            mdb_cursor_open(t, dbi, &c)
            defer { mdb_cursor_close(c) }
            begin.withUnsafeBytes { bb in
                var k = MDB_val(mv_size: bb.count, mv_data: UnsafeMutableRawPointer(mutating: bb.baseAddress))
                var v = MDB_val()
                var rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)
                while rc == 0 {
                    let kb = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
                    if end.withUnsafeBytes({ compareBytes(kb, $0) }) >= 0 { break }
                    out.append(key: kb, value: UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
                    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)
                }
            }
            return out
        }
    }

    func write(_ body: (Txn) -> Void) {
        var t: OpaquePointer?
        mdb_txn_begin(env, nil, 0, &t)
        body(Txn(t: t!, dbi: dbi))
        mdb_txn_commit(t)
    }

    func read(_ body: (Txn) -> Void) {
        var t: OpaquePointer?
        mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &t)
        body(Txn(t: t!, dbi: dbi))
        mdb_txn_abort(t)
    }
}
