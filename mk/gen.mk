# mk/gen.mk - C headers generated from Python tables into build/gen (never
# committed). Included by mk/sidecar.mk and mk/fuzz.mk (and the top
# Makefile); setup.py writes the same files for the extension.
ifndef PH_GEN_MK
PH_GEN_MK := 1
PH_GEN_DIR := build/gen
PH_SETTINGS_DEF := $(PH_GEN_DIR)/ph_settings.def

# The sidecar's settings (realtime/settings_table.py): standard library only.
$(PH_SETTINGS_DEF): realtime/settings_table.py
	python3 realtime/settings_table.py $@
endif
