/*
 * daemon-keys.h - the configuration keys of the whole stack: one table
 * per daemon and one of the keys every daemon reads, each key defined once
 * (type, bounds, default, help).  One config file serves the whole stack,
 * so every daemon validates its config against all the tables
 * (daemon_main, see daemon.h); man/chat.conf.5 documents exactly these
 * keys (tests/unit/test-daemon-keys.c checks it).
 */
#ifndef CHAT_DAEMON_KEYS_H
#define CHAT_DAEMON_KEYS_H

#include "config.h"

/* Each table ends with an entry whose name is NULL. */
extern const struct config_key daemon_keys_common[];	/* every daemon */
extern const struct config_key daemon_keys_gatewayd[];
extern const struct config_key daemon_keys_userd[];
extern const struct config_key daemon_keys_sessiond[];
extern const struct config_key daemon_keys_aid[];
extern const struct config_key daemon_keys_analyticsd[];
extern const struct config_key daemon_keys_notifyd[];

/* All of the above, NULL-terminated. */
extern const struct config_key *const daemon_keys_stack[];

/* The stack's daemons, NULL-terminated; a daemon's index is its port
 * offset from the gateway's port (the one place offsets are defined). */
extern const char *const daemon_keys_daemons[];

/* CHAT_* variables that are not keys ("CHAT_TEST_*": any with that
 * prefix), NULL-terminated. */
extern const char *const daemon_keys_not_keys[];

#endif
