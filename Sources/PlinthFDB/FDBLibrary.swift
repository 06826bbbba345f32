import CFDB
import PlinthStore

/// The process-wide side of the client: loading libfdb_c, selecting the API
/// version and starting the network thread. The state lives in CFDB (C), so
/// it is per process and survives (or, for the thread, knowingly does not
/// survive) fork.
enum FDBLibrary {
    /// Makes the client usable in this process: loads the library (from
    /// `path`, or the default names), selects `apiVersion`, applies the
    /// network options and starts the network thread. Each step happens once
    /// per process; later calls only check.
    static func prepare(path: String?, apiVersion: Int32, network: FDBNetworkOptions) throws(StoreError) {
        try load(path: path)
        let library = String(cString: cfdb_loaded_path())
        try FDBAPIVersion.check(requested: apiVersion, libraryMaximum: cfdb_get_max_api_version(), library: library)
        try call { cfdb_select_api_version(apiVersion, $0, $1) }
        for option in network.options {
            try call { err, len in option.withParameter { cfdb_network_set_option(option.code, $0, $1, err, len) } }
        }
        try call { cfdb_start_network($0, $1) }
    }

    /// Loads libfdb_c and resolves its functions; a missing library or
    /// function is `storeUnavailable`, with a message that says what to install.
    static func load(path: String?) throws(StoreError) {
        try call { err, len in
            if let path { return cfdb_load(path, err, len) }
            return cfdb_load(nil, err, len)
        }
    }

    /// FoundationDB's message for an error code (`fdb_get_error`).
    static func describe(_ code: Int32) -> String {
        guard cfdb_loaded_path() != nil, let text = cfdb_get_error(code) else { return "FoundationDB error \(code)" }
        return String(cString: text)
    }

    /// A failure if this process has no running network thread (it stopped,
    /// or belongs to the process this one was forked from): waiting on a
    /// future would then never end.
    static func checkNetwork() throws(StoreError) {
        var exitCode: Int32 = 0
        if cfdb_network_running(&exitCode) != 0 { return }
        if exitCode == CFDB_UNAVAILABLE {
            throw StoreError(.storeUnavailable, "The FoundationDB network belongs to the process this one was forked from and cannot be started again here: use FoundationDB only in processes that opened it themselves")
        }
        throw StoreError(.storeUnavailable, "The FoundationDB network thread of this process has stopped (fdb_run_network returned \(exitCode): \(describe(exitCode)))")
    }

    /// Runs one CFDB setup call, which returns 0, a FoundationDB error code,
    /// or CFDB_UNAVAILABLE, with its message in the buffer.
    private static func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws(StoreError) {
        var buffer = [CChar](repeating: 0, count: 2048)
        let (status, message) = buffer.withUnsafeMutableBufferPointer { p in
            let status = body(p.baseAddress!, p.count)
            return (status, String(cString: p.baseAddress!))
        }
        if status == 0 { return }
        if status == CFDB_UNAVAILABLE { throw StoreError(.storeUnavailable, message) }
        throw StoreError(code: status, message: message.isEmpty ? describe(status) : message)
    }
}
