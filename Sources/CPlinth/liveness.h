/*
 * liveness.h — the server's heartbeat worker (liveness.c). Depends on the
 * session.
 */
#ifndef PLINTH_LIVENESS_H
#define PLINTH_LIVENESS_H

extern void plinth_register_liveness_worker(void);

#endif							/* PLINTH_LIVENESS_H */
