/*
 * CFDB: FoundationDB's C client (libfdb_c), loaded at run time.
 *
 * The declarations below are written from FoundationDB's C API documentation
 * (api-c.rst) and fdb_c.h / fdb_c_options.g.h at API version 710, the ABI
 * passed as header_version to fdb_select_api_version_impl. Nothing here links
 * against libfdb_c: cfdb_load() dlopen()s it and keeps the function table in
 * cfdb.c, so Plinth builds and runs (on its embedded engine) without
 * FoundationDB installed. Swift calls the thin cfdb_* wrappers.
 *
 * Process rules (a Postgres backend): the network thread is started on first
 * use, after fork, never at library load; a forked child never uses the
 * network thread of its parent. Nothing ever calls back from the network
 * thread into Plinth.
 */
#ifndef CFDB_H
#define CFDB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI of these declarations (FDB_API_VERSION of the fdb_c.h they follow). */
#define CFDB_HEADER_API_VERSION 710

/* Opaque handles of the C API. */
typedef struct FDB_future FDBFuture;
typedef struct FDB_database FDBDatabase;
typedef struct FDB_transaction FDBTransaction;

typedef int fdb_error_t;
typedef int fdb_bool_t;

/*
 * One row of fdb_future_get_keyvalue_array. fdb_c.h declares it inside
 * #pragma pack(push, 4): on 64-bit platforms the value pointer sits at
 * offset 12 and the struct is 24 bytes, not 32.
 */
#pragma pack(push, 4)
typedef struct {
    const uint8_t *key;
    int key_length;
    const uint8_t *value;
    int value_length;
} FDBKeyValue;
#pragma pack(pop)

#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof(FDBKeyValue) == 24, "FDBKeyValue must have fdb_c.h's packed layout");
_Static_assert(offsetof(FDBKeyValue, value) == 12, "FDBKeyValue must have fdb_c.h's packed layout");
_Static_assert(offsetof(FDBKeyValue, value_length) == 20, "FDBKeyValue must have fdb_c.h's packed layout");
#endif

/* Network options (FDBNetworkOption). Set before the network starts. */
#define CFDB_NET_OPTION_TRACE_ENABLE 30      /* String: directory for client trace files */
#define CFDB_NET_OPTION_TRACE_LOG_GROUP 33   /* String: logGroup attribute of trace events */
#define CFDB_NET_OPTION_TRACE_FORMAT 34      /* String: "xml" or "json" */
#define CFDB_NET_OPTION_KNOB 40              /* String: "knob_name=knob_value" */

/* Database options (FDBDatabaseOption): defaults for every transaction. */
#define CFDB_DB_OPTION_TRANSACTION_TIMEOUT 500         /* Int: milliseconds, 0 = none (API >= 610) */
#define CFDB_DB_OPTION_TRANSACTION_RETRY_LIMIT 501     /* Int: -1 = unlimited */
#define CFDB_DB_OPTION_TRANSACTION_MAX_RETRY_DELAY 502 /* Int: milliseconds */
#define CFDB_DB_OPTION_TRANSACTION_SIZE_LIMIT 503      /* Int: bytes, [32, 10,000,000] */

/* Transaction options (FDBTransactionOption). */
#define CFDB_TR_OPTION_READ_YOUR_WRITES_DISABLE 51
#define CFDB_TR_OPTION_TIMEOUT 500         /* Int: milliseconds, [0, INT_MAX] */
#define CFDB_TR_OPTION_RETRY_LIMIT 501     /* Int: [-1, INT_MAX] */
#define CFDB_TR_OPTION_MAX_RETRY_DELAY 502 /* Int: milliseconds, [0, INT_MAX] */
#define CFDB_TR_OPTION_SIZE_LIMIT 503      /* Int: bytes, [32, 10,000,000] */
#define CFDB_TR_OPTION_SNAPSHOT_RYW_DISABLE 601

/* Streaming modes (FDBStreamingMode). */
#define CFDB_STREAMING_MODE_WANT_ALL (-2)
#define CFDB_STREAMING_MODE_ITERATOR (-1)
#define CFDB_STREAMING_MODE_EXACT 0
#define CFDB_STREAMING_MODE_SMALL 1
#define CFDB_STREAMING_MODE_MEDIUM 2
#define CFDB_STREAMING_MODE_LARGE 3
#define CFDB_STREAMING_MODE_SERIAL 4

/* Atomic mutations (FDBMutationType). */
#define CFDB_MUTATION_TYPE_ADD 2
#define CFDB_MUTATION_TYPE_BIT_AND 6
#define CFDB_MUTATION_TYPE_BIT_OR 7
#define CFDB_MUTATION_TYPE_BIT_XOR 8
#define CFDB_MUTATION_TYPE_APPEND_IF_FITS 9
#define CFDB_MUTATION_TYPE_MAX 12
#define CFDB_MUTATION_TYPE_MIN 13
#define CFDB_MUTATION_TYPE_BYTE_MIN 16
#define CFDB_MUTATION_TYPE_BYTE_MAX 17
#define CFDB_MUTATION_TYPE_COMPARE_AND_CLEAR 20

/* Conflict range types (FDBConflictRangeType). */
#define CFDB_CONFLICT_RANGE_TYPE_READ 0
#define CFDB_CONFLICT_RANGE_TYPE_WRITE 1

/* fdb_error_predicate tests (FDBErrorPredicate). */
#define CFDB_ERROR_PREDICATE_RETRYABLE 50000
#define CFDB_ERROR_PREDICATE_MAYBE_COMMITTED 50001
#define CFDB_ERROR_PREDICATE_RETRYABLE_NOT_COMMITTED 50002

/*
 * Setup. These return 0 on success, a FoundationDB error code (> 0), or
 * CFDB_UNAVAILABLE; on failure err holds a message (NUL-terminated,
 * truncated to err_len).
 */
#define CFDB_UNAVAILABLE (-1)

/* Loads libfdb_c and resolves every function Plinth calls, once per process.
   path: the library file, or NULL / "" for libfdb_c.so, then libfdb_c.so.7. */
int cfdb_load(const char *path, char *err, size_t err_len);
/* The file loaded, or NULL. */
const char *cfdb_loaded_path(void);

/* fdb_get_max_api_version() of the loaded library. */
int cfdb_get_max_api_version(void);
/* fdb_get_client_version(), or "unknown". */
const char *cfdb_get_client_version(void);

/* fdb_select_api_version_impl(version, CFDB_HEADER_API_VERSION), once per
   process: selecting the version already selected succeeds, another one fails
   with api_version_already_set (2201). */
int cfdb_select_api_version(int version, char *err, size_t err_len);

/* fdb_network_set_option. Options only apply before the network starts:
   once it runs in this process the call does nothing and returns 0. */
int cfdb_network_set_option(int option, const uint8_t *value, int value_length, char *err, size_t err_len);

/* fdb_setup_network and a thread running fdb_run_network, once per process.
   Fails (CFDB_UNAVAILABLE) in a process forked after its parent started the
   network: the thread did not survive the fork. */
int cfdb_start_network(char *err, size_t err_len);
/* Whether this process's network thread is running. If not, *exit_code is
   what fdb_run_network returned, or CFDB_UNAVAILABLE when this process never
   started the network (a child forked from the process that did). */
int cfdb_network_running(fdb_error_t *exit_code);

/* Stops the network thread and waits for it, if this process and thread
   started it; nothing otherwise, or if it is stopped already. For a host
   whose exit runs its own cleanup first (Postgres's proc_exit): called from
   there, before exit() destroys the main thread's thread-local state that
   libfdb_c's stop_network still uses (it traces). The atexit handler then
   finds nothing to do. */
void cfdb_stop_network(void);

/* Calls through to libfdb_c. Only valid after a successful cfdb_load (and,
   for everything but the error functions, cfdb_select_api_version). */
const char *cfdb_get_error(fdb_error_t code);
fdb_bool_t cfdb_error_predicate(int predicate_test, fdb_error_t code);

fdb_error_t cfdb_create_database(const char *cluster_file_path, FDBDatabase **out_database);
void cfdb_database_destroy(FDBDatabase *d);
fdb_error_t cfdb_database_set_option(FDBDatabase *d, int option, const uint8_t *value, int value_length);
fdb_error_t cfdb_database_create_transaction(FDBDatabase *d, FDBTransaction **out_transaction);

void cfdb_transaction_destroy(FDBTransaction *tr);
fdb_error_t cfdb_transaction_set_option(FDBTransaction *tr, int option, const uint8_t *value, int value_length);
FDBFuture *cfdb_transaction_get_read_version(FDBTransaction *tr);
FDBFuture *cfdb_transaction_get(FDBTransaction *tr, const uint8_t *key_name, int key_name_length, fdb_bool_t snapshot);
/* A future that becomes ready when the key's value changes from what the transaction reads (once it committed). */
FDBFuture *cfdb_transaction_watch(FDBTransaction *tr, const uint8_t *key_name, int key_name_length);
FDBFuture *cfdb_transaction_get_key(FDBTransaction *tr, const uint8_t *key_name, int key_name_length,
                                    fdb_bool_t or_equal, int offset, fdb_bool_t snapshot);
FDBFuture *cfdb_transaction_get_range(FDBTransaction *tr,
                                      const uint8_t *begin_key_name, int begin_key_name_length,
                                      fdb_bool_t begin_or_equal, int begin_offset,
                                      const uint8_t *end_key_name, int end_key_name_length,
                                      fdb_bool_t end_or_equal, int end_offset,
                                      int limit, int target_bytes, int mode, int iteration,
                                      fdb_bool_t snapshot, fdb_bool_t reverse);
void cfdb_transaction_set(FDBTransaction *tr, const uint8_t *key_name, int key_name_length,
                          const uint8_t *value, int value_length);
void cfdb_transaction_clear(FDBTransaction *tr, const uint8_t *key_name, int key_name_length);
void cfdb_transaction_clear_range(FDBTransaction *tr, const uint8_t *begin_key_name, int begin_key_name_length,
                                  const uint8_t *end_key_name, int end_key_name_length);
void cfdb_transaction_atomic_op(FDBTransaction *tr, const uint8_t *key_name, int key_name_length,
                                const uint8_t *param, int param_length, int operation_type);
FDBFuture *cfdb_transaction_commit(FDBTransaction *tr);
fdb_error_t cfdb_transaction_get_committed_version(FDBTransaction *tr, int64_t *out_version);
FDBFuture *cfdb_transaction_get_approximate_size(FDBTransaction *tr);
FDBFuture *cfdb_transaction_on_error(FDBTransaction *tr, fdb_error_t error);
void cfdb_transaction_reset(FDBTransaction *tr);
void cfdb_transaction_cancel(FDBTransaction *tr);
fdb_error_t cfdb_transaction_add_conflict_range(FDBTransaction *tr,
                                                const uint8_t *begin_key_name, int begin_key_name_length,
                                                const uint8_t *end_key_name, int end_key_name_length, int type);

fdb_error_t cfdb_future_block_until_ready(FDBFuture *f);
/* Interruptible waits: arm a future once (fdb_future_set_callback to post
   this thread's semaphore), then wait in slices; cfdb_future_wait returns 1
   once the future is ready, 0 when timeout_ms passed or a signal came first
   (the caller then checks for interrupts and waits again). */
fdb_error_t cfdb_future_arm(FDBFuture *f);
int cfdb_future_wait(FDBFuture *f, int timeout_ms);
fdb_bool_t cfdb_future_is_ready(FDBFuture *f);
fdb_error_t cfdb_future_get_error(FDBFuture *f);
fdb_error_t cfdb_future_get_int64(FDBFuture *f, int64_t *out);
fdb_error_t cfdb_future_get_key(FDBFuture *f, const uint8_t **out_key, int *out_key_length);
fdb_error_t cfdb_future_get_value(FDBFuture *f, fdb_bool_t *out_present, const uint8_t **out_value,
                                  int *out_value_length);
fdb_error_t cfdb_future_get_keyvalue_array(FDBFuture *f, const FDBKeyValue **out_kv, int *out_count,
                                           fdb_bool_t *out_more);
void cfdb_future_cancel(FDBFuture *f);
void cfdb_future_destroy(FDBFuture *f);

#ifdef __cplusplus
}
#endif

#endif /* CFDB_H */
