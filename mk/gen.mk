# mk/gen.mk - C headers generated from Python tables into build/gen (never
# committed). Included by mk/sidecar.mk and mk/fuzz.mk (and the top
# Makefile); setup.py writes the same files for the extension.
ifndef PH_GEN_MK
PH_GEN_MK := 1
PH_GEN_DIR := build/gen
PH_SETTINGS_DEF := $(PH_GEN_DIR)/ph_settings.def
PH_COUNTERS_DEF := $(PH_GEN_DIR)/ph_counters.def
PH_GEN_DEFS := $(PH_SETTINGS_DEF) $(PH_COUNTERS_DEF)

# The sidecar's settings and counters tables (standard library only).
$(PH_GEN_DEFS) &: realtime/c_tables.py realtime/settings_table.py realtime/counters_table.py
	python3 -m realtime.c_tables $(PH_GEN_DIR)
endif
