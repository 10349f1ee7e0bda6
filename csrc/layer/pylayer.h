/* pylayer.h - the RedisLayer Python type and name checks. */
#ifndef PARTYHUB_PYLAYER_H
#define PARTYHUB_PYLAYER_H

#include "module.h"

/* Create the RedisLayer and _Conn heap types from `module` into `st` and
 * add RedisLayer to the module. Returns 0, or -1 with an exception set. */
int pylayer_add_types(PyObject *module, sc_state *st);

/* Check a channel name exactly like channels'
 * require_valid_channel_name(name, receive). Returns 0 if valid, or -1 with
 * TypeError set (same messages as channels). */
int pylayer_check_channel(sc_state *st, PyObject *name, int receive);

/* Check a group name like require_valid_group_name(). 0 or -1 with
 * TypeError set. */
int pylayer_check_group(sc_state *st, PyObject *name);

#endif
