/*
 * keys.h — index key elements from Postgres values (keys.c).
 */
#ifndef PLINTH_KEYS_H
#define PLINTH_KEYS_H

#include "postgres.h"

#include "plinth_bridge.h"

/* How a btree operator family's values become key elements. */
typedef enum PlinthKeyType
{
	PLINTH_KT_NONE = 0,
	PLINTH_KT_INTEGER,
	PLINTH_KT_OID,
	PLINTH_KT_BOOL,
	PLINTH_KT_CHAR,
	PLINTH_KT_FLOAT,
	PLINTH_KT_NUMERIC,
	PLINTH_KT_TEXT,
	PLINTH_KT_TEXT_PATTERN,
	PLINTH_KT_BPCHAR,
	PLINTH_KT_BPCHAR_PATTERN,
	PLINTH_KT_BYTEA,
	PLINTH_KT_DATETIME,
	PLINTH_KT_TIME,
	PLINTH_KT_TIMETZ,
	PLINTH_KT_INTERVAL,
	PLINTH_KT_UUID,
	PLINTH_KT_NETWORK,
	PLINTH_KT_ENUM,
	PLINTH_KT_MONEY,
	PLINTH_KT_MACADDR,
	PLINTH_KT_MACADDR8,
	PLINTH_KT_LSN,
	PLINTH_KT_TID,
	PLINTH_KT_XID8,
	PLINTH_KT_ARRAY,
	PLINTH_KT_RECORD,
	PLINTH_KT_BIT,
	PLINTH_KT_OIDVECTOR,
	PLINTH_KT_JSONB,
	PLINTH_KT_RANGE,
	PLINTH_KT_MULTIRANGE,
	PLINTH_KT_TSQUERY,
	PLINTH_KT_TSVECTOR,
	PLINTH_KT_CITEXT,
	PLINTH_KT_CITEXT_PATTERN
} PlinthKeyType;

/* A growable array of elements (palloc'd in the current memory context). */
typedef struct PlinthKeyBuf
{
	PlinthKeyElement *elems;
	int			n;
	int			cap;
} PlinthKeyBuf;

extern void plinth_keybuf_init(PlinthKeyBuf *b);
extern PlinthKeyType plinth_key_type_for_opfamily(Oid opfamily);
extern char *plinth_opfamily_name(Oid opfamily);
extern void plinth_key_add_null(PlinthKeyBuf *b);
extern void plinth_key_add_value(PlinthKeyBuf *b, PlinthKeyType kt, Datum d, Oid type, Oid collation);
extern bool plinth_key_add_argument(PlinthKeyBuf *b, PlinthKeyType kt, Datum d, Oid argtype, Oid coltype,
									Oid collation);

#endif							/* PLINTH_KEYS_H */
