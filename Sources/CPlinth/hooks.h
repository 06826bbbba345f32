/*
 * hooks.h — Plinth's callbacks and hooks in Postgres (hooks.c).
 */
#ifndef PLINTH_HOOKS_H
#define PLINTH_HOOKS_H

extern void plinth_register_hooks(void);

#endif							/* PLINTH_HOOKS_H */
