/*
 * shim.h — internal declarations of the C shim (never seen by Swift).
 */
#ifndef PLINTH_SHIM_H
#define PLINTH_SHIM_H

#include "plinth_bridge.h"
#include "swift_api.h"

/* boundary.c */
extern void plinth_raise_pending(void) pg_attribute_noreturn();
extern void plinth_boundary_reset(void);

/* Call a Swift entry point and raise its error, if any, once it returned. */
#define PLINTH_CHECK(call) \
	do { \
		if ((call) != PLINTH_OK) \
			plinth_raise_pending(); \
	} while (0)

/* plinth.c: settings (GUCs) */
extern char *plinth_data_directory;
extern char *plinth_cluster_file;
extern int	plinth_api_version;
extern char *plinth_fdb_library;
extern int	plinth_timeout_ms;
extern bool plinth_durable;
extern int	plinth_transaction_lifetime_ms;
extern int	plinth_map_size_mb;
extern bool plinth_bulk_load;
extern bool plinth_preloaded;
extern void plinth_require_preload(void);

/* xact.c */
extern void plinth_register_callbacks(void);

#endif							/* PLINTH_SHIM_H */
