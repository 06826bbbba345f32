/*
 * CFDB: loads libfdb_c with dlopen, owns the function table and the network
 * thread, and calls through. No other logic lives here (see cfdb.h).
 */
#define _GNU_SOURCE
#include "cfdb.h"

#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <errno.h>
#include <time.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The functions Plinth calls, with fdb_c.h's signatures at API 710 (enums as int). */
struct cfdb_api {
    int (*get_max_api_version)(void);
    fdb_error_t (*select_api_version_impl)(int runtime_version, int header_version);
    const char *(*get_client_version)(void);
    const char *(*get_error)(fdb_error_t);
    fdb_bool_t (*error_predicate)(int, fdb_error_t);
    fdb_error_t (*network_set_option)(int, const uint8_t *, int);
    fdb_error_t (*setup_network)(void);
    fdb_error_t (*run_network)(void);
    fdb_error_t (*stop_network)(void);
    fdb_error_t (*create_database)(const char *, FDBDatabase **);
    void (*database_destroy)(FDBDatabase *);
    fdb_error_t (*database_set_option)(FDBDatabase *, int, const uint8_t *, int);
    fdb_error_t (*database_create_transaction)(FDBDatabase *, FDBTransaction **);
    void (*transaction_destroy)(FDBTransaction *);
    fdb_error_t (*transaction_set_option)(FDBTransaction *, int, const uint8_t *, int);
    FDBFuture *(*transaction_get_read_version)(FDBTransaction *);
    FDBFuture *(*transaction_get)(FDBTransaction *, const uint8_t *, int, fdb_bool_t);
    FDBFuture *(*transaction_get_key)(FDBTransaction *, const uint8_t *, int, fdb_bool_t, int, fdb_bool_t);
    FDBFuture *(*transaction_get_range)(FDBTransaction *, const uint8_t *, int, fdb_bool_t, int,
                                       const uint8_t *, int, fdb_bool_t, int,
                                       int, int, int, int, fdb_bool_t, fdb_bool_t);
    void (*transaction_set)(FDBTransaction *, const uint8_t *, int, const uint8_t *, int);
    void (*transaction_clear)(FDBTransaction *, const uint8_t *, int);
    void (*transaction_clear_range)(FDBTransaction *, const uint8_t *, int, const uint8_t *, int);
    void (*transaction_atomic_op)(FDBTransaction *, const uint8_t *, int, const uint8_t *, int, int);
    FDBFuture *(*transaction_commit)(FDBTransaction *);
    FDBFuture *(*transaction_watch)(FDBTransaction *, const uint8_t *, int);
    fdb_error_t (*transaction_get_committed_version)(FDBTransaction *, int64_t *);
    FDBFuture *(*transaction_get_approximate_size)(FDBTransaction *);
    FDBFuture *(*transaction_on_error)(FDBTransaction *, fdb_error_t);
    void (*transaction_reset)(FDBTransaction *);
    void (*transaction_cancel)(FDBTransaction *);
    fdb_error_t (*transaction_add_conflict_range)(FDBTransaction *, const uint8_t *, int, const uint8_t *, int, int);
    fdb_error_t (*future_block_until_ready)(FDBFuture *);
    fdb_error_t (*future_set_callback)(FDBFuture *, void (*)(FDBFuture *, void *), void *);
    fdb_bool_t (*future_is_ready)(FDBFuture *);
    fdb_error_t (*future_get_error)(FDBFuture *);
    fdb_error_t (*future_get_int64)(FDBFuture *, int64_t *);
    fdb_error_t (*future_get_key)(FDBFuture *, const uint8_t **, int *);
    fdb_error_t (*future_get_value)(FDBFuture *, fdb_bool_t *, const uint8_t **, int *);
    fdb_error_t (*future_get_keyvalue_array)(FDBFuture *, const FDBKeyValue **, int *, fdb_bool_t *);
    void (*future_cancel)(FDBFuture *);
    void (*future_destroy)(FDBFuture *);
};

#define SYMBOL(field, name) { name, offsetof(struct cfdb_api, field) }
static const struct {
    const char *name;
    size_t offset;
} required_symbols[] = {
    SYMBOL(get_max_api_version, "fdb_get_max_api_version"),
    SYMBOL(select_api_version_impl, "fdb_select_api_version_impl"),
    SYMBOL(get_client_version, "fdb_get_client_version"),
    SYMBOL(get_error, "fdb_get_error"),
    SYMBOL(error_predicate, "fdb_error_predicate"),
    SYMBOL(network_set_option, "fdb_network_set_option"),
    SYMBOL(setup_network, "fdb_setup_network"),
    SYMBOL(run_network, "fdb_run_network"),
    SYMBOL(stop_network, "fdb_stop_network"),
    SYMBOL(create_database, "fdb_create_database"),
    SYMBOL(database_destroy, "fdb_database_destroy"),
    SYMBOL(database_set_option, "fdb_database_set_option"),
    SYMBOL(database_create_transaction, "fdb_database_create_transaction"),
    SYMBOL(transaction_destroy, "fdb_transaction_destroy"),
    SYMBOL(transaction_set_option, "fdb_transaction_set_option"),
    SYMBOL(transaction_get_read_version, "fdb_transaction_get_read_version"),
    SYMBOL(transaction_get, "fdb_transaction_get"),
    SYMBOL(transaction_get_key, "fdb_transaction_get_key"),
    SYMBOL(transaction_get_range, "fdb_transaction_get_range"),
    SYMBOL(transaction_set, "fdb_transaction_set"),
    SYMBOL(transaction_clear, "fdb_transaction_clear"),
    SYMBOL(transaction_clear_range, "fdb_transaction_clear_range"),
    SYMBOL(transaction_atomic_op, "fdb_transaction_atomic_op"),
    SYMBOL(transaction_commit, "fdb_transaction_commit"),
    SYMBOL(transaction_watch, "fdb_transaction_watch"),
    SYMBOL(transaction_get_committed_version, "fdb_transaction_get_committed_version"),
    SYMBOL(transaction_get_approximate_size, "fdb_transaction_get_approximate_size"),
    SYMBOL(transaction_on_error, "fdb_transaction_on_error"),
    SYMBOL(transaction_reset, "fdb_transaction_reset"),
    SYMBOL(transaction_cancel, "fdb_transaction_cancel"),
    SYMBOL(transaction_add_conflict_range, "fdb_transaction_add_conflict_range"),
    SYMBOL(future_block_until_ready, "fdb_future_block_until_ready"),
    SYMBOL(future_set_callback, "fdb_future_set_callback"),
    SYMBOL(future_is_ready, "fdb_future_is_ready"),
    SYMBOL(future_get_error, "fdb_future_get_error"),
    SYMBOL(future_get_int64, "fdb_future_get_int64"),
    SYMBOL(future_get_key, "fdb_future_get_key"),
    SYMBOL(future_get_value, "fdb_future_get_value"),
    SYMBOL(future_get_keyvalue_array, "fdb_future_get_keyvalue_array"),
    SYMBOL(future_cancel, "fdb_future_cancel"),
    SYMBOL(future_destroy, "fdb_future_destroy"),
};
#undef SYMBOL

/* Process state, guarded by state_lock (Swift Testing calls in from several
   threads; a Postgres backend from one). */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cfdb_api api;
static void *library;
static char library_path[1024];
static int selected_api_version;
/* The process that started the network thread; 0 before. A forked child sees
   its parent's pid here and knows the thread is not its own. */
static pid_t network_pid;
static pthread_t network_thread;
/* The thread that set the network up: FoundationDB's client keeps
   per-thread state (its trace events' random source) made there. */
static pthread_t setup_thread;
static volatile int network_running;
static volatile fdb_error_t network_exit_code;

static void set_error(char *err, size_t err_len, const char *format, ...) {
    if (err == NULL || err_len == 0) return;
    va_list ap;
    va_start(ap, format);
    vsnprintf(err, err_len, format, ap);
    va_end(ap);
}

/* Opens one candidate and resolves every symbol into table; on failure
   closes it and leaves a message. */
static void *open_library(const char *path, struct cfdb_api *table, char *err, size_t err_len) {
    dlerror();
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *why = dlerror();
        set_error(err, err_len, "%s", why ? why : "dlopen failed");
        return NULL;
    }
    for (size_t i = 0; i < sizeof(required_symbols) / sizeof(required_symbols[0]); i++) {
        dlerror();
        void *fn = dlsym(handle, required_symbols[i].name);
        if (fn == NULL) {
            set_error(err, err_len, "%s does not export %s: not a FoundationDB 7.1 or later client library",
                      path, required_symbols[i].name);
            dlclose(handle);
            return NULL;
        }
        /* POSIX guarantees function pointers survive the trip through void *. */
        memcpy((char *)table + required_symbols[i].offset, &fn, sizeof(fn));
    }
    return handle;
}

int cfdb_load(const char *path, char *err, size_t err_len) {
    pthread_mutex_lock(&state_lock);
    int result = 0;
    if (library != NULL) goto done;

    struct cfdb_api table;
    memset(&table, 0, sizeof(table));
    void *handle = NULL;
    const char *chosen = NULL;
    if (path != NULL && path[0] != '\0') {
        char why[512] = "";
        handle = open_library(path, &table, why, sizeof(why));
        chosen = path;
        if (handle == NULL) {
            set_error(err, err_len,
                      "Cannot load the FoundationDB client library libfdb_c from %s: %s. "
                      "Install the FoundationDB client package (7.1 or later) or give the path of libfdb_c.so",
                      path, why);
        }
    } else {
        static const char *const candidates[] = { "libfdb_c.so", "libfdb_c.so.7" };
        char why[2][512] = { "", "" };
        for (int i = 0; i < 2 && handle == NULL; i++) {
            handle = open_library(candidates[i], &table, why[i], sizeof(why[i]));
            chosen = candidates[i];
        }
        if (handle == NULL) {
            set_error(err, err_len,
                      "The FoundationDB client library libfdb_c is not installed (tried libfdb_c.so: %s; "
                      "libfdb_c.so.7: %s). Install the FoundationDB client package (foundationdb-clients 7.1 or "
                      "later, which puts libfdb_c.so in /usr/lib) or give the full path of libfdb_c.so",
                      why[0], why[1]);
        }
    }
    if (handle == NULL) {
        result = CFDB_UNAVAILABLE;
        goto done;
    }
    api = table;
    library = handle;
    snprintf(library_path, sizeof(library_path), "%s", chosen);
done:
    pthread_mutex_unlock(&state_lock);
    return result;
}

const char *cfdb_loaded_path(void) {
    return library != NULL ? library_path : NULL;
}

int cfdb_get_max_api_version(void) {
    return api.get_max_api_version();
}

const char *cfdb_get_client_version(void) {
    const char *v = api.get_client_version();
    return v != NULL ? v : "unknown";
}

int cfdb_select_api_version(int version, char *err, size_t err_len) {
    pthread_mutex_lock(&state_lock);
    int result = 0;
    if (selected_api_version == version) goto done;
    if (selected_api_version != 0) {
        result = 2201; /* api_version_already_set */
        set_error(err, err_len, "FoundationDB API version %d is already selected in this process; cannot select %d",
                  selected_api_version, version);
        goto done;
    }
    result = api.select_api_version_impl(version, CFDB_HEADER_API_VERSION);
    if (result != 0) {
        set_error(err, err_len, "fdb_select_api_version(%d): %s", version, api.get_error(result));
        goto done;
    }
    selected_api_version = version;
done:
    pthread_mutex_unlock(&state_lock);
    return result;
}

int cfdb_network_set_option(int option, const uint8_t *value, int value_length, char *err, size_t err_len) {
    pthread_mutex_lock(&state_lock);
    int result = 0;
    if (network_pid == 0) {
        result = api.network_set_option(option, value, value_length);
        if (result != 0) set_error(err, err_len, "network option %d: %s", option, api.get_error(result));
    }
    pthread_mutex_unlock(&state_lock);
    return result;
}

static void *run_network(void *unused) {
    (void)unused;
    /* Only FoundationDB runs on this thread: it never calls into Plinth. */
    network_exit_code = api.run_network();
    __atomic_store_n(&network_running, 0, __ATOMIC_RELEASE);
    return NULL;
}

/* fdb_stop_network must be called, and fdb_run_network waited for, before
   the process exits. Only in the process that owns the thread: a forked
   child inherits this handler but not the thread. And only from the thread
   that set the network up (a backend's main thread): called from another
   (a test runner exits from a worker thread), libfdb_c's stop_network
   traces with that thread's missing state and crashes; the process is
   ending anyway, and the network thread goes with it. */
static void stop_network_at_exit(void) {
    if (network_pid != getpid() || !__atomic_load_n(&network_running, __ATOMIC_ACQUIRE)) return;
    if (!pthread_equal(pthread_self(), setup_thread)) return;
    if (api.stop_network() == 0) pthread_join(network_thread, NULL);
}

void cfdb_stop_network(void) {
    pthread_mutex_lock(&state_lock);
    stop_network_at_exit();
    pthread_mutex_unlock(&state_lock);
}

int cfdb_start_network(char *err, size_t err_len) {
    pthread_mutex_lock(&state_lock);
    int result = 0;
    if (network_pid == getpid()) goto done;
    if (network_pid != 0) {
        result = CFDB_UNAVAILABLE;
        set_error(err, err_len,
                  "The FoundationDB network was started by process %d, which then forked this process (%d); "
                  "its network thread does not exist here and FoundationDB cannot be set up twice in one process. "
                  "Open FoundationDB only after fork, in the process that uses it",
                  (int)network_pid, (int)getpid());
        goto done;
    }
    result = api.setup_network();
    setup_thread = pthread_self();
    if (result != 0) {
        set_error(err, err_len, "fdb_setup_network: %s", api.get_error(result));
        goto done;
    }
    /* The thread starts with every signal blocked, so that the host's signal
       handlers (Postgres: SIGINT, SIGTERM, SIGALRM, ...) run on its own thread. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    network_running = 1;
    int rc = pthread_create(&network_thread, NULL, run_network, NULL);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (rc != 0) {
        network_running = 0;
        result = CFDB_UNAVAILABLE;
        set_error(err, err_len, "Cannot start the FoundationDB network thread: %s", strerror(rc));
        goto done;
    }
    network_pid = getpid();
    atexit(stop_network_at_exit);
done:
    pthread_mutex_unlock(&state_lock);
    return result;
}

int cfdb_network_running(fdb_error_t *exit_code) {
    if (network_pid != getpid()) {
        if (exit_code != NULL) *exit_code = CFDB_UNAVAILABLE;
        return 0;
    }
    int running = __atomic_load_n(&network_running, __ATOMIC_ACQUIRE);
    if (!running && exit_code != NULL) *exit_code = network_exit_code;
    return running;
}

/* Calls through. */

const char *cfdb_get_error(fdb_error_t code) {
    return api.get_error(code);
}

fdb_bool_t cfdb_error_predicate(int predicate_test, fdb_error_t code) {
    return api.error_predicate(predicate_test, code);
}

fdb_error_t cfdb_create_database(const char *cluster_file_path, FDBDatabase **out_database) {
    return api.create_database(cluster_file_path, out_database);
}

void cfdb_database_destroy(FDBDatabase *d) {
    api.database_destroy(d);
}

fdb_error_t cfdb_database_set_option(FDBDatabase *d, int option, const uint8_t *value, int value_length) {
    return api.database_set_option(d, option, value, value_length);
}

fdb_error_t cfdb_database_create_transaction(FDBDatabase *d, FDBTransaction **out_transaction) {
    return api.database_create_transaction(d, out_transaction);
}

void cfdb_transaction_destroy(FDBTransaction *tr) {
    api.transaction_destroy(tr);
}

fdb_error_t cfdb_transaction_set_option(FDBTransaction *tr, int option, const uint8_t *value, int value_length) {
    return api.transaction_set_option(tr, option, value, value_length);
}

FDBFuture *cfdb_transaction_get_read_version(FDBTransaction *tr) {
    return api.transaction_get_read_version(tr);
}

FDBFuture *cfdb_transaction_get(FDBTransaction *tr, const uint8_t *key_name, int key_name_length, fdb_bool_t snapshot) {
    return api.transaction_get(tr, key_name, key_name_length, snapshot);
}

FDBFuture *cfdb_transaction_watch(FDBTransaction *tr, const uint8_t *key_name, int key_name_length) {
    return api.transaction_watch(tr, key_name, key_name_length);
}

FDBFuture *cfdb_transaction_get_key(FDBTransaction *tr, const uint8_t *key_name, int key_name_length,
                                    fdb_bool_t or_equal, int offset, fdb_bool_t snapshot) {
    return api.transaction_get_key(tr, key_name, key_name_length, or_equal, offset, snapshot);
}

FDBFuture *cfdb_transaction_get_range(FDBTransaction *tr,
                                      const uint8_t *begin_key_name, int begin_key_name_length,
                                      fdb_bool_t begin_or_equal, int begin_offset,
                                      const uint8_t *end_key_name, int end_key_name_length,
                                      fdb_bool_t end_or_equal, int end_offset,
                                      int limit, int target_bytes, int mode, int iteration,
                                      fdb_bool_t snapshot, fdb_bool_t reverse) {
    return api.transaction_get_range(tr, begin_key_name, begin_key_name_length, begin_or_equal, begin_offset,
                                     end_key_name, end_key_name_length, end_or_equal, end_offset,
                                     limit, target_bytes, mode, iteration, snapshot, reverse);
}

void cfdb_transaction_set(FDBTransaction *tr, const uint8_t *key_name, int key_name_length,
                          const uint8_t *value, int value_length) {
    api.transaction_set(tr, key_name, key_name_length, value, value_length);
}

void cfdb_transaction_clear(FDBTransaction *tr, const uint8_t *key_name, int key_name_length) {
    api.transaction_clear(tr, key_name, key_name_length);
}

void cfdb_transaction_clear_range(FDBTransaction *tr, const uint8_t *begin_key_name, int begin_key_name_length,
                                  const uint8_t *end_key_name, int end_key_name_length) {
    api.transaction_clear_range(tr, begin_key_name, begin_key_name_length, end_key_name, end_key_name_length);
}

void cfdb_transaction_atomic_op(FDBTransaction *tr, const uint8_t *key_name, int key_name_length,
                                const uint8_t *param, int param_length, int operation_type) {
    api.transaction_atomic_op(tr, key_name, key_name_length, param, param_length, operation_type);
}

FDBFuture *cfdb_transaction_commit(FDBTransaction *tr) {
    return api.transaction_commit(tr);
}

fdb_error_t cfdb_transaction_get_committed_version(FDBTransaction *tr, int64_t *out_version) {
    return api.transaction_get_committed_version(tr, out_version);
}

FDBFuture *cfdb_transaction_get_approximate_size(FDBTransaction *tr) {
    return api.transaction_get_approximate_size(tr);
}

FDBFuture *cfdb_transaction_on_error(FDBTransaction *tr, fdb_error_t error) {
    return api.transaction_on_error(tr, error);
}

void cfdb_transaction_reset(FDBTransaction *tr) {
    api.transaction_reset(tr);
}

void cfdb_transaction_cancel(FDBTransaction *tr) {
    api.transaction_cancel(tr);
}

fdb_error_t cfdb_transaction_add_conflict_range(FDBTransaction *tr,
                                                const uint8_t *begin_key_name, int begin_key_name_length,
                                                const uint8_t *end_key_name, int end_key_name_length, int type) {
    return api.transaction_add_conflict_range(tr, begin_key_name, begin_key_name_length,
                                              end_key_name, end_key_name_length, type);
}

fdb_error_t cfdb_future_block_until_ready(FDBFuture *f) {
    return api.future_block_until_ready(f);
}

/*
 * Interruptible waits. A waiting thread sleeps on a semaphore of its own that
 * the future's callback posts (from the network thread: sem_post is the only
 * thing it does). The semaphore is never freed, so a callback that fires after
 * its waiter gave up (a cancel, a timeout) posts to live memory; the next wait
 * of that thread sees one spurious wake-up, which it checks for.
 */
static __thread sem_t *wait_semaphore;

static void post_ready(FDBFuture *f, void *arg) {
    (void) f;
    sem_post((sem_t *) arg);
}

fdb_error_t cfdb_future_arm(FDBFuture *f) {
    if (wait_semaphore == NULL) {
        sem_t *s = malloc(sizeof(sem_t));
        if (s == NULL || sem_init(s, 0, 0) != 0) {
            free(s);
            return 4100; /* internal_error */
        }
        wait_semaphore = s;
    }
    return api.future_set_callback(f, post_ready, wait_semaphore);
}

int cfdb_future_wait(FDBFuture *f, int timeout_ms) {
    struct timespec deadline;

    if (api.future_is_ready(f))
        return 1;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    /* A post may be stale (an earlier future's): check, and wait on. */
    while (sem_timedwait(wait_semaphore, &deadline) == 0) {
        if (api.future_is_ready(f))
            return 1;
    }
    /* Timed out, or a signal arrived (never restarted): the caller polls. */
    return api.future_is_ready(f) ? 1 : 0;
}

fdb_bool_t cfdb_future_is_ready(FDBFuture *f) {
    return api.future_is_ready(f);
}

fdb_error_t cfdb_future_get_error(FDBFuture *f) {
    return api.future_get_error(f);
}

fdb_error_t cfdb_future_get_int64(FDBFuture *f, int64_t *out) {
    return api.future_get_int64(f, out);
}

fdb_error_t cfdb_future_get_key(FDBFuture *f, const uint8_t **out_key, int *out_key_length) {
    return api.future_get_key(f, out_key, out_key_length);
}

fdb_error_t cfdb_future_get_value(FDBFuture *f, fdb_bool_t *out_present, const uint8_t **out_value,
                                  int *out_value_length) {
    return api.future_get_value(f, out_present, out_value, out_value_length);
}

fdb_error_t cfdb_future_get_keyvalue_array(FDBFuture *f, const FDBKeyValue **out_kv, int *out_count,
                                           fdb_bool_t *out_more) {
    return api.future_get_keyvalue_array(f, out_kv, out_count, out_more);
}

void cfdb_future_cancel(FDBFuture *f) {
    api.future_cancel(f);
}

void cfdb_future_destroy(FDBFuture *f) {
    api.future_destroy(f);
}
