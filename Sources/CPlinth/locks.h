/*
 * locks.h — waiting for the holder of a row or key lock (locks.c). Depends
 * only on the boundary.
 */
#ifndef PLINTH_LOCKS_H
#define PLINTH_LOCKS_H

#include "postgres.h"

#include "storage/itemptr.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

#include "boundary.h"

extern void plinth_lock_ids(PlinthLockIds *ids);
extern void plinth_lock_ids_if_any(PlinthLockIds *ids);
extern void plinth_wait_for_holder(const PlinthLockWait *wait, Relation rel, ItemPointer tid, XLTW_Oper oper);

#endif							/* PLINTH_LOCKS_H */
