/*
 * indexam.h — the index access method behind btree's name (indexam.c).
 */
#ifndef PLINTH_INDEXAM_H
#define PLINTH_INDEXAM_H

#include "postgres.h"

struct RelOptInfo;

extern void plinth_install_btree_dispatch(void);
extern void plinth_index_planner_info(struct RelOptInfo *rel);

#endif							/* PLINTH_INDEXAM_H */
