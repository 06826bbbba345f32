/*
 * sequences.h — sequences shared by the servers of a store (sequences.c).
 */
#ifndef PLINTH_SEQUENCES_H
#define PLINTH_SEQUENCES_H

#include "postgres.h"

#include "catalog/objectaccess.h"
#include "nodes/nodes.h"

extern void plinth_sequences_init(void);
extern void plinth_sequence_object_access(Oid relid, ObjectAccessType access);
extern void plinth_sequences_before_utility(Node *stmt);
extern void plinth_sequences_after_utility(Node *stmt);
extern void plinth_sequences_utility_reset(int depth);
extern void plinth_sequences_at_transaction_end(void);
extern void plinth_sequences_discard(void);

#endif							/* PLINTH_SEQUENCES_H */
